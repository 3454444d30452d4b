"""Linux seats: pactl in the person's session, /proc and /sys when pactl cannot answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent.bundle import RecordingHost, open_bundle
from readyfloor_agent.collectors import _linux, collect
from readyfloor_agent.host import ReadError

from .bundle_facts import at, default_input, facts_of, input_named
from .fixture_bundles import ROOT, linux_sources

HEADSET = "Jabra Evolve2 40 Mono"
BUILTIN = "Built-in Audio Analog Stereo"


@pytest.mark.parametrize(
    ("bundle", "path", "expected"),
    [
        ("linux-healthy-pactl", "os_mic.status", "n/a"),
        ("linux-healthy-pactl", "host.os_version", "Ubuntu 22.04.4 LTS"),
        ("linux-healthy-pactl", "host.serial", None),
        ("linux-healthy-pactl", "host.console_user", "mrivera"),
        ("linux-healthy-pactl", "chrome.version", "124.0.6367.118"),
        ("linux-healthy-pactl", "chrome.user_data_dir", "/home/mrivera/.config/google-chrome"),
        ("linux-healthy-pactl", "audio.status", "ok"),
        ("linux-healthy-pactl", "audio.source", "pactl"),
        # pactl lists Chrome recording (the softphone on a call); the agent leaves it out.
        ("linux-healthy-pactl", "audio.holders", []),
        ("linux-mic-held-by-other-app", "audio.holders", [{"app": "ZOOM VoiceEngine", "since": None}]),
        ("linux-pactl-outside-session", "audio.status", "ok"),
        ("linux-pactl-outside-session", "audio.source", "proc"),
        ("linux-pactl-outside-session", "audio.holders", None),
        ("linux-pactl-json-decimal-comma", "audio.source", "proc"),
        ("linux-chrome-policy-audio-capture-off", "chrome.policy.AudioCaptureAllowed", False),
        (
            "linux-chrome-policy-audio-capture-off",
            "chrome.policy.AudioCaptureAllowedUrls",
            ["https://acme.lightning.force.com"],
        ),
        ("linux-chrome-policy-audio-capture-off", "chrome.policy.DefaultNotificationsSetting", 2),
        ("linux-chrome-policy-json-corrupt", "chrome.policy.status", "unknown"),
        ("linux-healthy-pactl", "chrome.policy.status", "ok"),
    ],
)
def test_linux_facts(bundle: str, path: str, expected: Any) -> None:
    assert at(facts_of(bundle), path) == expected


@pytest.mark.parametrize(
    ("bundle", "default"),
    [
        ("linux-healthy-pactl", HEADSET),
        ("linux-headset-not-default", BUILTIN),
        ("linux-headset-unplugged", BUILTIN),
        ("linux-bluetooth-headset-no-mic", BUILTIN),
        ("linux-pactl-outside-session", None),
    ],
)
def test_the_default_input_is_the_sound_servers_default_source(bundle: str, default: str | None) -> None:
    assert default_input(facts_of(bundle)) == default


def test_a_usb_headset_is_described_from_its_properties() -> None:
    headset = input_named(facts_of("linux-healthy-pactl"), HEADSET)

    assert headset == {
        "id": "alsa_input.usb-GN_Audio_A_S_Jabra_Evolve2_40_A0D8F4B2C1E5-00.mono-fallback",
        "name": HEADSET,
        "state": "active",
        "form_factor": "headset",
        "transport": "usb",
        "vendor_id": "0b0e",
        "product_id": "0305",
        "manufacturer": "GN Netcom A/S",
        "model": "Jabra Evolve2 40",
        "muted": False,
        "volume_percent": 100,
        "is_default": True,
        "is_default_communications": None,
        "exclusive_mode": None,
    }


def test_monitors_of_outputs_are_not_inputs() -> None:
    for bundle in ("linux-healthy-pactl", "linux-bluetooth-headset-no-mic"):
        names = [item["name"] for item in facts_of(bundle)["audio"]["inputs"]]
        assert not any("Monitor" in name for name in names)


def test_an_empty_headset_jack_is_unplugged() -> None:
    assert input_named(facts_of("linux-headset-unplugged"), BUILTIN)["state"] == "unplugged"


def test_outside_the_session_the_kernels_cards_are_reported_with_the_reason() -> None:
    """The kernel knows the cards but not the sound server's default: that stays unknown (None)."""
    audio = facts_of("linux-pactl-outside-session")["audio"]

    assert "Connection refused" in audio["reason"] and "/proc/asound" in audio["reason"]
    assert [
        (item["name"], item["transport"], item["vendor_id"], item["is_default"]) for item in audio["inputs"]
    ] == [
        ("HDA Intel PCH", "builtin", None, None),
        ("Jabra Evolve2 40", "usb", "0b0e", None),
    ]


def test_pactl_json_broken_by_a_decimal_comma_falls_back_with_a_reason() -> None:
    assert "not valid JSON" in facts_of("linux-pactl-json-decimal-comma")["audio"]["reason"]


def test_a_damaged_policy_file_is_named() -> None:
    assert "acme.json" in facts_of("linux-chrome-policy-json-corrupt")["chrome"]["policy"]["reason"]


def _commands_run(bundle_folder: Path) -> list[list[str]]:
    with open_bundle(bundle_folder) as host:
        recorder = RecordingHost(host)
        collect(recorder)
    return [argv for argv, _outcome in recorder.commands]


def test_as_a_service_pactl_runs_as_the_person_in_their_session() -> None:
    pactl = [argv for argv in _commands_run(ROOT / "linux-healthy-pactl") if "pactl" in argv]

    assert pactl[0][:7] == [
        "runuser",
        "-u",
        "mrivera",
        "--",
        "env",
        "XDG_RUNTIME_DIR=/run/user/1000",
        "LC_ALL=C",
    ]


def test_as_the_person_pactl_runs_directly(tmp_path: Path) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(ROOT / "linux-healthy-pactl", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["user"]["agent_is_user"] = True
    (folder / "manifest.json").write_text(json.dumps(manifest))

    pactl = [argv for argv in _commands_run(folder) if "pactl" in argv]

    assert pactl[0] == ["pactl", "-f", "json", "list", "sources"]
    assert default_input(collect(open_bundle(folder))) == HEADSET


def test_nobody_signed_in_means_no_pactl_and_a_reason(tmp_path: Path) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(ROOT / "linux-healthy-pactl", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["user"] = None
    (folder / "manifest.json").write_text(json.dumps(manifest))

    facts = collect(open_bundle(folder))

    assert facts["audio"]["source"] == "proc"
    assert "nobody is signed in" in facts["audio"]["reason"]
    assert facts["chrome"]["status"] == "unknown"


# --- parsers -----------------------------------------------------------------------------------


def test_pipewire_and_pulseaudio_id_spellings_both_read() -> None:
    sources = linux_sources()
    sources[3]["properties"]["device.vendor.id"] = "0b0e"
    sources[3]["properties"]["device.product.id"] = "0x305"

    headset = _linux.parse_pactl_sources(json.dumps(sources))[1]

    assert (headset["vendor_id"], headset["product_id"]) == ("0b0e", "0305")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not valid JSON"),
        ("Connection failure: Connection refused", "not valid JSON"),
        ('[{"name": 1}', "not valid JSON"),
        ("{}", "not a JSON list"),
    ],
)
def test_pactl_text_that_is_not_a_source_list_is_a_read_error(text: str, reason: str) -> None:
    with pytest.raises(ReadError, match=reason):
        _linux.parse_pactl_sources(text)


def test_peak_meters_are_not_holders() -> None:
    outputs = [{"properties": {"media.name": "Peak detect", "application.name": "PulseAudio Volume Control"}}]

    assert _linux.parse_pactl_source_outputs(json.dumps(outputs)) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            'PRETTY_NAME="Fedora Linux 40 (Workstation Edition)"\nNAME="Fedora Linux"\n',
            "Fedora Linux 40 (Workstation Edition)",
        ),
        ('NAME="Debian GNU/Linux"\nVERSION="12 (bookworm)"\n', "Debian GNU/Linux 12 (bookworm)"),
        ("", None),
    ],
)
def test_the_distribution_name_comes_from_os_release(text: str, name: str | None) -> None:
    assert _linux.os_release_name(text) == name


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=40,
)
_SOURCE_KEYS = st.sampled_from(
    ["name", "description", "state", "monitor_of_sink", "properties", "ports", "active_port"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_SOURCE_KEYS, _JSON, max_size=7) | _JSON, max_size=5))
def test_any_pactl_json_gives_inputs_or_a_read_error(sources: list[Any]) -> None:
    for parse in (_linux.parse_pactl_sources, _linux.parse_pactl_source_outputs):
        try:
            parsed = parse(json.dumps(sources))
        except ReadError:
            continue
        assert isinstance(parsed, list)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(json.dumps(linux_sources())) - 1))
def test_pactl_output_cut_anywhere_is_a_read_error(cut: int) -> None:
    with pytest.raises(ReadError, match="not valid JSON"):
        _linux.parse_pactl_sources(json.dumps(linux_sources())[:cut])
