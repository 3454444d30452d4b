"""audio.headset.present, audio.headset.default, chrome.mic.device, os.mic.exclusive,
os.mic.in_use. Failure states 5 (devices) and 6 (contention) of CHECKS.md."""

from __future__ import annotations

import pytest
from readyfloor_agent.checks import Policy, State

from .factsbuilder import CTI, POLICY, assert_case, device, judged, realtek

JABRA = "Jabra Evolve2 40"
REALTEK_ID = realtek()["id"]
REALTEK = "Microphone Array (Realtek(R) Audio)"
TEAMS = {
    "app": "C:#Users#jdoe#AppData#Local#Microsoft#Teams#current#Teams.exe",
    "since": "2026-11-03T08:11:00Z",
}
CHROME_HOLDER = {"app": "C:#Program Files#Google#Chrome#Application#chrome.exe", "since": None}
PACTL_OUTSIDE_SESSION = {
    "audio": {
        "status": "unknown",
        "source": "pactl",
        "reason": "pactl could not reach the user's sound server (XDG_RUNTIME_DIR is not set)",
    }
}
MAC_MIC_DEFAULT = {
    "audio.inputs[0].is_default": False,
    "audio.inputs[1].is_default": True,
}


def approved(*patterns: str) -> Policy:
    return Policy(cti_origins=(CTI,), approved_headsets=patterns)


PRESENT = [
    # (case, os, changes, policy, state, fragment)
    (
        "no capture endpoint at all",
        "windows",
        {"audio.inputs": []},
        POLICY,
        State.FAIL,
        "No microphone of any kind is connected",
    ),
    (
        "no active capture endpoint",
        "windows",
        {
            "audio.inputs": [
                realtek(state="disabled"),
                device("Microphone (USB Audio Device)", state="not_present"),
            ]
        },
        POLICY,
        State.FAIL,
        f"No microphone is active; inputs seen: {REALTEK} (disabled)",
    ),
    (
        "headset unplugged",
        "windows",
        {"audio.inputs[0].state": "unplugged"},
        POLICY,
        State.FAIL,
        f"{JABRA} is unplugged",
    ),
    (
        "headset disabled",
        "windows",
        {"audio.inputs[0].state": "disabled"},
        POLICY,
        State.FAIL,
        f"{JABRA} is disabled in the sound settings",
    ),
    (
        "only the built-in microphone",
        "windows",
        {"audio.inputs": [realtek(is_default=True)]},
        POLICY,
        State.FAIL,
        f"No headset microphone found; inputs seen: {REALTEK} (active)",
    ),
    (
        "headset state unreadable",
        "windows",
        {"audio.inputs[0].state": "unknown"},
        POLICY,
        State.UNKNOWN,
        f"Could not tell whether {JABRA} is connected",
    ),
    ("headset present", "windows", {}, POLICY, State.PASS, f"{JABRA} is connected and active"),
    ("approved by USB id", "windows", {}, approved("0b0e:24A1"), State.PASS, "(approved model)"),
    ("approved by vendor glob", "windows", {}, approved("0b0e:*"), State.PASS, "(approved model)"),
    ("approved by name glob", "windows", {}, approved("*jabra*"), State.PASS, f"{JABRA} is connected"),
    (
        "headset of a model the policy does not approve",
        "windows",
        {},
        approved("*Poly*", "047f:*"),
        State.FAIL,
        f"{JABRA} is not an approved headset model (approved: *Poly*, 047f:*)",
    ),
    (
        "Bluetooth headset in its hands-free profile",
        "windows",
        {
            "audio.inputs": [
                device(
                    "Headset (WH-1000XM4 Hands-Free AG Audio)",
                    transport="bluetooth",
                    form_factor="unknown",
                    is_default=True,
                ),
                realtek(),
            ]
        },
        POLICY,
        State.PASS,
        "WH-1000XM4 Hands-Free",
    ),
    (
        "Bluetooth headset in a profile with no microphone",
        "macos",
        {"audio.inputs": [device("MacBook Pro Microphone", transport="builtin", is_default=True)]},
        POLICY,
        State.FAIL,
        "No headset microphone found; inputs seen: MacBook Pro Microphone (active)",
    ),
    (
        "Mac 'External Microphone' counts as a wired headset",
        "macos",
        {},
        POLICY,
        State.PASS,
        "External Microphone is connected and active",
    ),
    (
        "Mac 'External Microphone' present but not default",
        "macos",
        MAC_MIC_DEFAULT,
        POLICY,
        State.PASS,
        "External Microphone is connected",
    ),
    (
        "pactl outside the user session",
        "linux",
        PACTL_OUTSIDE_SESSION,
        POLICY,
        State.UNKNOWN,
        "Could not read the audio devices: pactl could not reach the user's sound server",
    ),
    ("USB headset on Linux", "linux", {}, POLICY, State.PASS, "Jabra Evolve2 40 Mono is connected"),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "policy", "state", "fragment"), PRESENT, ids=[r[0] for r in PRESENT]
)
def test_headset_present(
    case: str, os_name: str, changes: dict, policy: Policy, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "audio.headset.present", policy, state, fragment)


def test_headset_absence_lists_the_devices_seen_in_evidence() -> None:
    _, result = judged("windows", {"audio.inputs": [realtek(is_default=True)]}, "audio.headset.present")
    assert [d["name"] for d in result.evidence["inputs"]] == [REALTEK]
    assert result.severity == "critical"


DEFAULT = [
    (
        "built-in mic is default while the headset is present",
        "windows",
        {"audio.inputs[0].is_default": False, "audio.inputs[1].is_default": True},
        State.WARN,
        f"The default input is {REALTEK}, not the headset {JABRA}",
    ),
    (
        "Mac 'External Microphone' present but not default",
        "macos",
        MAC_MIC_DEFAULT,
        State.WARN,
        "The default input is MacBook Pro Microphone, not the headset External Microphone",
    ),
    (
        "no input marked default",
        "windows",
        {"audio.inputs[0].is_default": False},
        State.WARN,
        "No input is set as default",
    ),
    ("headset is the default", "windows", {}, State.PASS, f"{JABRA} is the default input"),
    ("headset is the default", "linux", {}, State.PASS, "Jabra Evolve2 40 Mono is the default input"),
    (
        "no headset to judge",
        "windows",
        {"audio.inputs": [realtek(is_default=True)]},
        State.NA,
        "No active headset to check",
    ),
    (
        "pactl outside the user session",
        "linux",
        PACTL_OUTSIDE_SESSION,
        State.UNKNOWN,
        "Could not read the audio",
    ),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "state", "fragment"), DEFAULT, ids=[r[0] for r in DEFAULT]
)
def test_headset_is_default_input(
    case: str, os_name: str, changes: dict, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "audio.headset.default", POLICY, state, fragment)


def test_default_input_unknown_when_the_report_does_not_say() -> None:
    facts_changes = {
        "audio.inputs": [
            {"id": "a", "name": JABRA, "state": "active", "form_factor": "headset"},
            {"id": "b", "name": REALTEK, "state": "active"},
        ]
    }
    _, result = judged("windows", facts_changes, "audio.headset.default")
    assert result.state is State.UNKNOWN
    assert "does not say which input is the default" in result.reason


NOT_DEFAULT = {"audio.inputs[0].is_default": False, "audio.inputs[1].is_default": True}

CHROME_DEVICE = [
    (
        "Chrome's ranking points at another label",
        "windows",
        {"chrome.profiles[0].audio_input_ranking": [REALTEK, "default"]},
        State.WARN,
        f"Chrome profile 'Person 1' (Default) picks {REALTEK} instead of the headset {JABRA}",
    ),
    (
        "Chrome's ranking names the headset as Chrome labels it",
        "windows",
        {**NOT_DEFAULT, "chrome.profiles[0].audio_input_ranking": ["Jabra Evolve2 40 (0b0e:24a1)"]},
        State.PASS,
        f"picks the headset {JABRA} as its microphone",
    ),
    (
        "Chrome's ranking names the Windows endpoint name",
        "windows",
        {**NOT_DEFAULT, "chrome.profiles[0].audio_input_ranking": [f"Headset Microphone ({JABRA})"]},
        State.PASS,
        f"picks the headset {JABRA}",
    ),
    (
        "a ranked device that is not plugged in is skipped",
        "windows",
        {"chrome.profiles[0].audio_input_ranking": ["Poly Blackwire 3220 (047f:c056)", "default"]},
        State.PASS,
        f"uses the system default input, which is the headset {JABRA}",
    ),
    (
        "'default' while the built-in mic is the OS default",
        "windows",
        NOT_DEFAULT,
        State.WARN,
        f"uses the system default input ({REALTEK}), not the headset {JABRA}",
    ),
    (
        "legacy preference names the built-in mic by id",
        "windows",
        {
            "chrome.profiles[0].audio_input_ranking": None,
            "chrome.profiles[0].default_audio_capture_device": REALTEK_ID,
        },
        State.WARN,
        f"picks {REALTEK} instead of the headset",
    ),
    (
        "communications device that is the headset",
        "windows",
        {**NOT_DEFAULT, "chrome.profiles[0].audio_input_ranking": ["communications"]},
        State.PASS,
        "uses the communications device, which is the headset",
    ),
    (
        "Mac: Chrome on 'default' while the internal mic is default",
        "macos",
        MAC_MIC_DEFAULT,
        State.WARN,
        "uses the system default input (MacBook Pro Microphone), not the headset External Microphone",
    ),
    (
        "Chrome never started with the profile",
        "linux",
        {"chrome.profiles[0].status": "missing"},
        State.WARN,
        "Chrome has not been started with profile 'Person 1' (Default) yet",
    ),
    (
        "no headset to judge",
        "windows",
        {"audio.inputs": [realtek(is_default=True)]},
        State.NA,
        "No active headset to check",
    ),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "state", "fragment"), CHROME_DEVICE, ids=[r[0] for r in CHROME_DEVICE]
)
def test_chrome_picks_the_headset(
    case: str, os_name: str, changes: dict, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "chrome.mic.device", POLICY, state, fragment)


EXCLUSIVE = [
    (
        "exclusive mode on while another app holds the mic",
        "windows",
        {"audio.inputs[0].exclusive_mode": True, "audio.holders": [TEAMS]},
        State.FAIL,
        f"{JABRA} allows exclusive control and Teams.exe holds the microphone now",
    ),
    (
        "exclusive mode on, nobody holding the mic",
        "windows",
        {"audio.inputs[0].exclusive_mode": True},
        State.WARN,
        f"{JABRA} lets one application take exclusive control",
    ),
    (
        "exclusive mode on, only Chrome holds the mic",
        "windows",
        {"audio.inputs[0].exclusive_mode": True, "audio.holders": [CHROME_HOLDER]},
        State.WARN,
        "lets one application take exclusive control",
    ),
    (
        "exclusive mode off",
        "windows",
        {},
        State.PASS,
        f"Applications cannot take exclusive control of {JABRA}",
    ),
    (
        "exclusive mode unreadable",
        "windows",
        {"audio.inputs[0].exclusive_mode": None},
        State.UNKNOWN,
        f"Could not read the exclusive-control setting of {JABRA}",
    ),
    ("not a Windows seat", "macos", {}, State.NA, "Does not apply on macOS"),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "state", "fragment"), EXCLUSIVE, ids=[r[0] for r in EXCLUSIVE]
)
def test_exclusive_control(case: str, os_name: str, changes: dict, state: State, fragment: str) -> None:
    assert_case(os_name, changes, "os.mic.exclusive", POLICY, state, fragment)


def test_exclusive_mode_is_judged_on_the_headset_not_the_built_in_mic() -> None:
    # The Realtek array in the builder has exclusive mode on; only the headset's endpoint counts.
    _, result = judged("windows", {}, "os.mic.exclusive")
    assert result.state is State.PASS


IN_USE = [
    (
        "another app holds the microphone (LastUsedTimeStop = 0)",
        "windows",
        {"audio.holders": [TEAMS]},
        State.WARN,
        "Teams.exe is using the microphone right now",
    ),
    (
        "two other apps",
        "windows",
        {"audio.holders": [TEAMS, {"app": "C:#Program Files#Zoom#bin#Zoom.exe", "since": None}]},
        State.WARN,
        "Teams.exe, Zoom.exe are using the microphone right now",
    ),
    (
        "only Chrome",
        "windows",
        {"audio.holders": [CHROME_HOLDER]},
        State.PASS,
        "Only Chrome is using the microphone",
    ),
    ("nobody", "windows", {}, State.PASS, "No other application is using the microphone"),
    (
        "Windows could not tell",
        "windows",
        {"audio.holders": None},
        State.UNKNOWN,
        "Could not tell which applications are using the microphone",
    ),
    ("macOS does not say", "macos", {}, State.NA, "macOS does not say which app holds the microphone"),
    (
        "Linux source-outputs",
        "linux",
        {"audio.holders": [{"app": "zoom", "since": None}]},
        State.WARN,
        "zoom is using the microphone right now",
    ),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "state", "fragment"), IN_USE, ids=[r[0] for r in IN_USE]
)
def test_microphone_in_use(case: str, os_name: str, changes: dict, state: State, fragment: str) -> None:
    assert_case(os_name, changes, "os.mic.in_use", POLICY, state, fragment)
