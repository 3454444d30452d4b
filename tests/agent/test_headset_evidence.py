"""A headset is recognised from evidence, strongest first, and the verdict names it: the OS's form
factor, the maker (manufacturer field or USB vendor id), Bluetooth, then the name. Webcams,
monitors, phones, desk microphones and virtual devices are not headsets, whatever their maker."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from readyfloor_agent.checks import Policy, State
from readyfloor_agent.checks.headsets import (
    HEADSET_MAKER_VENDOR_IDS,
    NOT_HEADSET_VENDOR_IDS,
    VENDOR_ID_SOURCE,
    headset_evidence,
)

from .factsbuilder import POLICY, device, judged


def _input(name: str, **fields: Any) -> dict[str, Any]:
    return device(name, **{"form_factor": None, **fields})


HEADSETS = [
    # (what, device, words the evidence must contain)
    (
        "Windows form factor",
        _input("Headset Microphone (USB Audio)", transport="usb", form_factor="headset"),
        "form factor",
    ),
    ("Linux handset", _input("USB Handset", transport="usb", form_factor="handset"), "handset"),
    ("maker on a Mac", _input("Arctis Nova 7", transport="usb", manufacturer="SteelSeries"), "SteelSeries"),
    ("Jabra by manufacturer", _input("Link 380", transport="usb", manufacturer="GN Audio A/S"), "GN Audio"),
    ("Jabra by vendor id", _input("Microphone (2- Link 380)", transport="usb", vendor_id="0b0e"), "0b0e"),
    ("Poly by vendor id", _input("Microphone (BT700)", transport="usb", vendor_id="047f"), "Plantronics"),
    ("EPOS by vendor id", _input("Microphone (EPOS ADAPT 260)", transport="usb", vendor_id="1395"), "DSEA"),
    ("any Bluetooth mic", _input("Galaxy Buds2 Pro", transport="bluetooth"), "Bluetooth"),
    (
        "AirPods over Bluetooth",
        _input("AirPods Pro", transport="bluetooth", manufacturer="Apple Inc."),
        "Bluetooth",
    ),
    ("gaming model name", _input("Razer Kraken V3 X", transport="usb", vendor_id="1532"), "kraken"),
    (
        "HyperX model name",
        _input("HyperX Cloud II Wireless", transport="usb", manufacturer="HP, Inc"),
        "hyperx cloud",
    ),
    ("Logitech business", _input("Logitech H390 USB Headset", transport="usb", vendor_id="046d"), "headset"),
    ("Logitech Zone", _input("Zone Wired", transport="usb", vendor_id="046d"), "zone"),
    ("headset word", _input("USB Headset Microphone", transport="usb"), "headset"),
    ("Mac combo jack", _input("External Microphone", transport="analog"), "jack"),
]

NOT_HEADSETS = [
    (
        "Teams virtual",
        _input("Microsoft Teams Audio", transport="virtual", manufacturer="Microsoft Corp."),
        "virtual",
    ),
    ("Zoom virtual on Windows", _input("Microphone (ZoomAudioDevice)", transport="unknown"), "virtual"),
    (
        "loopback driver",
        _input("BlackHole 2ch", transport="unknown", manufacturer="Existential Audio Inc."),
        "virtual",
    ),
    ("aggregate device", _input("Aggregate Device", transport="aggregate"), "aggregate"),
    ("webcam by name", _input("Logitech BRIO", transport="usb", vendor_id="046d"), "webcam"),
    ("webcam C920", _input("Microphone (HD Pro Webcam C920)", transport="usb", vendor_id="046d"), "webcam"),
    (
        "webcam from Linux",
        _input("C922 Pro Stream Webcam Analog Stereo", transport="usb", form_factor="webcam"),
        "webcam",
    ),
    ("Yealink webcam", _input("Yealink UVC30 Microphone", transport="usb", vendor_id="6993"), "webcam"),
    ("monitor", _input("LG UltraFine Display Audio", transport="usb"), "monitor"),
    (
        "Studio Display",
        _input("Studio Display Microphone", transport="usb", manufacturer="Apple Inc."),
        "monitor",
    ),
    ("HDMI", _input("DELL P2723QE", transport="hdmi"), "HDMI"),
    (
        "iPhone Continuity",
        _input("Ana's iPhone Microphone", transport="unknown", manufacturer="Apple Inc."),
        "phone",
    ),
    (
        "Blue Yeti by vendor",
        _input("Microphone (Yeti Stereo Microphone)", transport="usb", vendor_id="b58e"),
        "Blue",
    ),
    ("QuadCast by name", _input("HyperX QuadCast S", transport="usb", vendor_id="0951"), "desk"),
    ("Razer Seiren", _input("Razer Seiren Mini", transport="usb", vendor_id="1532"), "desk"),
    ("SteelSeries Alias", _input("Alias", transport="usb", manufacturer="SteelSeries"), "desk"),
    ("RODE", _input("RODE NT-USB", transport="usb", vendor_id="19f7"), "RODE"),
    ("built-in", _input("MacBook Pro Microphone", transport="builtin"), "built-in"),
    ("unknown USB", _input("USB PnP Sound Device", transport="usb", vendor_id="0d8c"), "no headset evidence"),
]


@pytest.mark.parametrize(("what", "item", "words"), HEADSETS, ids=[case[0] for case in HEADSETS])
def test_headsets_are_recognised_from_their_evidence(what: str, item: dict[str, Any], words: str) -> None:
    evidence = headset_evidence(item)
    assert evidence.headset, evidence.why
    assert words.lower() in evidence.why.lower()


@pytest.mark.parametrize(("what", "item", "words"), NOT_HEADSETS, ids=[case[0] for case in NOT_HEADSETS])
def test_other_microphones_are_not_headsets(what: str, item: dict[str, Any], words: str) -> None:
    evidence = headset_evidence(item)
    assert not evidence.headset, evidence.why
    assert words.lower() in evidence.why.lower()


@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_the_verdict_names_the_evidence(os_name: str) -> None:
    headset = _input("Arctis Nova 7", transport="usb", manufacturer="SteelSeries", is_default=True)
    _, result = judged(os_name, {"audio.inputs": [headset]}, "audio.headset.present")

    assert result.state is State.PASS
    assert "a headset: its manufacturer is SteelSeries, a headset maker" in result.reason
    assert result.evidence["headset"]["headset_evidence"].startswith("its manufacturer")


@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_a_webcam_and_a_desk_mic_alone_fail_with_the_reason_each_is_not_a_headset(os_name: str) -> None:
    inputs = [
        _input("Logitech BRIO", transport="usb", vendor_id="046d", is_default=True),
        _input("Yeti Stereo Microphone", transport="usb", vendor_id="b58e"),
    ]
    _, result = judged(os_name, {"audio.inputs": inputs}, "audio.headset.present")

    assert result.state is State.FAIL
    assert "Logitech BRIO: a webcam's microphone" in result.reason
    assert "Yeti Stereo Microphone: USB vendor b58e is Blue Microphones" in result.reason


def test_the_policys_approved_list_still_decides() -> None:
    webcam = _input("Logitech BRIO", transport="usb", vendor_id="046d", product_id="085e", is_default=True)
    _, result = judged(
        "windows",
        {"audio.inputs": [webcam]},
        "audio.headset.present",
        Policy(cti_origins=POLICY.cti_origins, approved_headsets=("046d:085e",)),
    )
    assert result.state is State.PASS and "(approved model)" in result.reason

    gaming = _input("Arctis Nova 7", transport="usb", manufacturer="SteelSeries")
    _, result = judged(
        "windows",
        {"audio.inputs": [gaming]},
        "audio.headset.present",
        Policy(cti_origins=POLICY.cti_origins, approved_headsets=("0b0e:*",)),
    )
    assert result.state is State.FAIL and "not an approved headset model" in result.reason


def test_the_vendor_tables_name_their_source_and_do_not_overlap() -> None:
    assert "usb.ids" in VENDOR_ID_SOURCE
    assert not set(HEADSET_MAKER_VENDOR_IDS) & set(NOT_HEADSET_VENDOR_IDS)
    assert all(
        len(vid) == 4 and int(vid, 16) >= 0 for vid in [*HEADSET_MAKER_VENDOR_IDS, *NOT_HEADSET_VENDOR_IDS]
    )


_TEXT = st.one_of(st.none(), st.text(max_size=60), st.integers(), st.booleans())


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": _TEXT,
            "model": _TEXT,
            "manufacturer": _TEXT,
            "transport": st.one_of(
                _TEXT, st.sampled_from(["usb", "bluetooth", "builtin", "virtual", "hdmi"])
            ),
            "form_factor": st.one_of(_TEXT, st.sampled_from(["headset", "webcam", "microphone"])),
            "vendor_id": st.one_of(_TEXT, st.sampled_from(sorted(HEADSET_MAKER_VENDOR_IDS))),
            "product_id": _TEXT,
        },
    )
)
def test_any_device_description_gets_a_decision_and_a_reason(item: dict[str, Any]) -> None:
    evidence = headset_evidence(item)
    assert isinstance(evidence.headset, bool) and evidence.why
