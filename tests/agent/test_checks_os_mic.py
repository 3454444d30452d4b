"""os.mic.device_access and os.mic.chrome: the operating system's own microphone gate.
Failure states 1 (TCC) and 2 (Windows consent) of CHECKS.md."""

from __future__ import annotations

import pytest
from readyfloor_agent.checks import Policy, State

from .factsbuilder import POLICY, assert_case, judged

FDA_MISSING = {
    "os_mic": {
        "status": "unknown",
        "source": "tcc.db",
        "reason": "the agent lacks Full Disk Access",
    }
}

DEVICE_ACCESS = [
    # (case, os, changes, state, reason fragment)
    (
        "device-wide switch off (HKLM Deny)",
        "windows",
        {"os_mic.device_access": "deny"},
        State.FAIL,
        "Microphone access for this device is turned off",
    ),
    ("device-wide switch on", "windows", {}, State.PASS, "Microphone access for this device is on"),
    (
        "value absent is the Windows default",
        "windows",
        {"os_mic.device_access": None},
        State.PASS,
        "not restricted (Windows default)",
    ),
    (
        "registry unreadable",
        "windows",
        {
            "os_mic": {
                "status": "unknown",
                "source": "registry",
                "reason": "reading the registry timed out after 5 s",
            }
        },
        State.UNKNOWN,
        "Could not read the Windows microphone privacy settings: reading the registry timed out",
    ),
    ("not a Windows seat", "macos", {}, State.NA, "Does not apply on macOS"),
    ("not a Windows seat", "linux", {}, State.NA, "Does not apply on Linux"),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "state", "fragment"), DEVICE_ACCESS, ids=[row[0] for row in DEVICE_ACCESS]
)
def test_device_access(case: str, os_name: str, changes: dict, state: State, fragment: str) -> None:
    assert_case(os_name, changes, "os.mic.device_access", POLICY, state, fragment)


CHROME_ACCESS = [
    (
        "NonPackaged Deny: Chrome blocked while Store apps work",
        "windows",
        {"os_mic.desktop_apps": "deny"},
        State.FAIL,
        "'Let desktop apps access your microphone' is off",
    ),
    (
        "device-wide switch off stops Chrome too",
        "windows",
        {"os_mic.device_access": "deny"},
        State.FAIL,
        "whole device",
    ),
    (
        "LetAppsAccessMicrophone=2 by GPO",
        "windows",
        {"os_mic.group_policy": 2},
        State.WARN,
        "Group policy LetAppsAccessMicrophone",
    ),
    (
        "per-user apps switch off",
        "windows",
        {"os_mic.user_access": "deny"},
        State.WARN,
        "'Let apps access your microphone' is off",
    ),
    (
        "all switches on",
        "windows",
        {},
        State.PASS,
        "Windows lets desktop apps such as Chrome use the microphone",
    ),
    (
        "TCC: no Chrome row (never asked)",
        "macos",
        {"os_mic.chrome_tcc": "not_asked", "os_mic.tcc_db": None},
        State.WARN,
        "Chrome has never asked macOS for the microphone",
    ),
    (
        "TCC: auth_value 0 (denied)",
        "macos",
        {"os_mic.chrome_tcc": "denied"},
        State.FAIL,
        "macOS privacy settings deny Chrome the microphone",
    ),
    (
        "TCC: MDM deny, not in TCC.db",
        "macos",
        {"os_mic.chrome_tcc": "denied", "os_mic.tcc_db": "mdm"},
        State.FAIL,
        "A device-management profile denies Chrome the microphone",
    ),
    (
        "TCC: agent lacks Full Disk Access (unknown, not denied)",
        "macos",
        FDA_MISSING,
        State.UNKNOWN,
        "Could not read Chrome's TCC permission: the agent lacks Full Disk Access",
    ),
    ("TCC: allowed", "macos", {}, State.PASS, "macOS lets Chrome use the microphone"),
    (
        "TCC row unreadable although the group is ok",
        "macos",
        {"os_mic.chrome_tcc": None},
        State.UNKNOWN,
        "does not say whether macOS lets Chrome use the microphone",
    ),
    ("no per-app gate on Linux", "linux", {}, State.NA, "Does not apply on Linux"),
]


@pytest.mark.parametrize(
    ("case", "os_name", "changes", "state", "fragment"), CHROME_ACCESS, ids=[row[0] for row in CHROME_ACCESS]
)
def test_os_lets_chrome_use_the_microphone(
    case: str, os_name: str, changes: dict, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "os.mic.chrome", POLICY, state, fragment)


def test_missing_full_disk_access_never_fails_a_check() -> None:
    for check_id in ("os.mic.chrome", "os.mic.device_access"):
        _, result = judged("macos", FDA_MISSING, check_id)
        assert result.state is not State.FAIL


def test_os_consent_checks_are_critical_unless_policy_says_otherwise() -> None:
    blocked = {"os_mic.desktop_apps": "deny"}
    _, default = judged("windows", blocked, "os.mic.chrome", POLICY)
    _, overridden = judged(
        "windows", blocked, "os.mic.chrome", Policy(severities={"os.mic.chrome": "warning"})
    )
    assert default.severity == "critical"
    assert overridden.severity == "warning"
