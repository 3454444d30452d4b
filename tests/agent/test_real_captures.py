"""The readers against outputs captured on real machines (tests/fixtures/real/SOURCES.md says
where each was published): what a real Mac and a real PipeWire seat print, read as they mean."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent.checks.headsets import headset_evidence
from readyfloor_agent.collectors import _linux, _macos
from readyfloor_agent.host import ReadError

from .fixture_bundles import REAL

INZONE = (REAL / "system-profiler-inzone-h3.json").read_text()
CONTINUITY = (REAL / "system-profiler-continuity-iphone.json").read_text()
PIPEWIRE = (REAL / "pactl-list-sources-pipewire-corsair-hs70.txt").read_text()
PACMD = (REAL / "pacmd-list-sources-pulseaudio-4.txt").read_text()


def _by_name(inputs: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in inputs}


def test_a_mac_with_a_usb_gaming_headset_as_default() -> None:
    inputs = _by_name(_macos.parse_system_profiler(INZONE))

    assert list(inputs) == [
        "INZONE H3",
        "C922 Pro Stream Webcam",
        "MacBook Pro Microphone",
        "Microsoft Teams Audio",
    ]
    inzone = inputs["INZONE H3"]
    assert (inzone["transport"], inzone["manufacturer"], inzone["is_default"]) == ("usb", "Sony", True)
    # system_profiler gives no USB ids: the manufacturer is the evidence.
    assert headset_evidence(inzone).why == "its manufacturer is Sony, a headset maker"
    assert not headset_evidence(inputs["C922 Pro Stream Webcam"]).headset
    assert "webcam" in headset_evidence(inputs["C922 Pro Stream Webcam"]).why
    assert not headset_evidence(inputs["Microsoft Teams Audio"]).headset
    assert headset_evidence(inputs["MacBook Pro Microphone"]).why == "the computer's built-in microphone"


def test_a_mac_offering_an_iphone_as_microphone() -> None:
    inputs = _by_name(_macos.parse_system_profiler(CONTINUITY))

    assert list(inputs) == ["MacBook Pro Microphone", "iPhone (5) Microphone"]
    assert inputs["MacBook Pro Microphone"]["is_default"] is True
    assert inputs["iPhone (5) Microphone"]["transport"] == "unknown"
    assert "phone" in headset_evidence(inputs["iPhone (5) Microphone"]).why


def test_a_pipewire_seat_read_through_pactls_text() -> None:
    inputs = _linux.parse_pactl_text_sources(PIPEWIRE)

    assert [item["id"] for item in inputs] == [
        "alsa_input.pci-0000_06_00.6.analog-stereo",
        "alsa_input.usb-Corsair_CORSAIR_HS70_Pro_Wireless_Gaming_Headset-00.mono-fallback",
    ]
    builtin, headset = inputs
    assert (builtin["transport"], builtin["muted"], builtin["state"]) == ("builtin", True, "active")
    assert headset == {
        **headset,
        "name": "CORSAIR HS70 Pro Wireless Gaming Headset Mono",
        "form_factor": "headset",
        "transport": "usb",
        "vendor_id": "1b1c",
        "product_id": "0a4f",
        "manufacturer": "Corsair",
        "model": "CORSAIR HS70 Pro Wireless Gaming Headset",
        "muted": False,
        "volume_percent": 100,
    }
    assert headset_evidence(headset).headset


def test_pulseaudio_4s_pacmd_shell_output() -> None:
    # The interactive shell's greeting and prompt, the old "0: 11% 1: 11%" volume form, and
    # port properties one level deeper: the one real input comes out, and it is the default.
    inputs, default = _linux.parse_pacmd_sources(PACMD)

    assert default == "alsa_input.pci-0000_00_14.2.analog-stereo"
    assert len(inputs) == 1
    builtin = inputs[0]
    assert (builtin["name"], builtin["transport"], builtin["state"]) == (
        "Built-in Audio Analog Stereo",
        "builtin",
        "active",
    )
    assert (builtin["muted"], builtin["volume_percent"]) == (False, 11)
    assert not headset_evidence(builtin).headset


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=100_000), st.text(max_size=30))
def test_real_outputs_cut_or_spliced_anywhere_give_inputs_or_a_reason(cut: int, noise: str) -> None:
    for text, parse, error in (
        (INZONE, _macos.parse_system_profiler, ValueError),
        (CONTINUITY, _macos.parse_system_profiler, ValueError),
        (PIPEWIRE, _linux.parse_pactl_text_sources, ReadError),
        (PACMD, lambda text: _linux.parse_pacmd_sources(text)[0], ReadError),
    ):
        at = cut % (len(text) + 1)
        try:
            inputs = parse(text[:at] + noise + text[at:])
        except error:
            continue
        assert all(isinstance(item["name"], str) for item in inputs)
