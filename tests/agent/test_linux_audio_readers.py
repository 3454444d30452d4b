"""Linux: the sound server is read through whatever this seat has, richest first: pactl's JSON
(pactl 16+), the text of ``pactl list sources`` and ``pactl info`` (older pactl), ``pacmd
list-sources`` (PulseAudio without pulseaudio-utils), then the kernel's sound cards. Each gives
the same facts; an unknown default is null, never "not the default"; a muted or silent headset
is noticed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent.collectors import _linux
from readyfloor_agent.host import ReadError

from .bundle_facts import facts_of
from .fixture_bundles import (
    BUILTIN_SOURCE,
    HEADSET_SOURCE,
    _muted,
    linux_sources,
    pacmd_text,
    pactl_info_text,
    pactl_text,
)

FIELDS = (
    "id",
    "name",
    "state",
    "form_factor",
    "transport",
    "vendor_id",
    "product_id",
    "manufacturer",
    "model",
)


def _described(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: item[key] for key in (*FIELDS, "muted", "volume_percent")} for item in inputs]


def test_the_three_sound_server_formats_describe_the_same_inputs() -> None:
    sources = linux_sources()
    from_json = _linux.parse_pactl_sources(json.dumps(sources))
    from_text = _linux.parse_pactl_text_sources(pactl_text(sources))
    from_pacmd, default = _linux.parse_pacmd_sources(pacmd_text(sources, HEADSET_SOURCE))

    assert _described(from_json) == _described(from_text) == _described(from_pacmd)
    assert [item["id"] for item in from_json] == [BUILTIN_SOURCE, HEADSET_SOURCE]
    assert default == HEADSET_SOURCE


def test_an_empty_jack_is_unplugged_in_every_format() -> None:
    sources = linux_sources(headset=False, jack_first=True)
    for inputs in (
        _linux.parse_pactl_sources(json.dumps(sources)),
        _linux.parse_pactl_text_sources(pactl_text(sources)),
        _linux.parse_pacmd_sources(pacmd_text(sources, None))[0],
    ):
        assert inputs[0]["state"] == "unplugged"


def test_pactl_info_names_the_default_source_or_none() -> None:
    assert _linux.pactl_info_default_source(pactl_info_text(HEADSET_SOURCE)) == HEADSET_SOURCE
    assert _linux.pactl_info_default_source(pactl_info_text(None)) is None
    assert _linux.pactl_info_default_source("Default Source: n/a\n") is None


def test_pacmd_without_a_marked_source_has_no_default() -> None:
    _inputs, default = _linux.parse_pacmd_sources(pacmd_text(linux_sources(), None))
    assert default is None


def test_muted_and_silent_inputs_are_reported() -> None:
    muted = _linux.parse_pactl_sources(json.dumps(_muted(linux_sources(), mute=True)))
    silent = _linux.parse_pactl_text_sources(pactl_text(_muted(linux_sources(), volume=0)))
    assert muted[1]["muted"] is True and muted[1]["volume_percent"] == 100
    assert silent[1]["muted"] is False and silent[1]["volume_percent"] == 0


def test_text_copied_with_spaces_instead_of_tabs_is_read_alike() -> None:
    # Outputs pasted into tickets often lose their tabs.
    text = pactl_text(linux_sources()).replace("\t", "    ")
    assert _described(_linux.parse_pactl_text_sources(text)) == _described(
        _linux.parse_pactl_sources(json.dumps(linux_sources()))
    )


@pytest.mark.parametrize(
    ("bundle", "source", "defaults"),
    [
        ("linux-healthy-pactl", "pactl", [False, True]),
        ("linux-pactl-text-pulseaudio-14", "pactl", [False, True]),
        ("linux-pacmd-only", "pacmd", [False, True]),
        ("linux-default-source-unknown", "pactl", [None, None]),
    ],
)
def test_each_reader_marks_the_default_only_when_it_knows_it(
    bundle: str, source: str, defaults: list[bool | None]
) -> None:
    audio = facts_of(bundle)["audio"]
    assert audio["source"] == source and audio["enumeration"] == "listed"
    assert [item["is_default"] for item in audio["inputs"]] == defaults


def test_older_pactl_is_read_through_its_text_and_says_so() -> None:
    audio = facts_of("linux-pactl-text-pulseaudio-14")["audio"]
    assert "text output" in audio["reason"] and "invalid option" in audio["reason"]
    assert audio["holders"] == []


def test_text_that_is_no_source_list_is_unreadable() -> None:
    for parse in (_linux.parse_pactl_text_sources, lambda text: _linux.parse_pacmd_sources(text)[0]):
        with pytest.raises(ReadError):
            parse("Connection failure: Connection refused\n")


_LINE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(st.lists(_LINE, max_size=30), st.integers(min_value=0, max_value=2000))
def test_any_text_gives_inputs_or_a_read_error(lines: list[str], cut: int) -> None:
    # A mutation of a real output: its lines with random ones spliced in, cut anywhere.
    real = pactl_text(linux_sources()).splitlines()
    text = "\n".join(real[: cut % (len(real) + 1)] + lines + real[cut % (len(real) + 1) :])
    for parse in (
        _linux.parse_pactl_text_sources,
        lambda value: _linux.parse_pacmd_sources(value)[0],
        _linux.parse_pactl_text_source_outputs,
    ):
        try:
            result = parse(text)
        except ReadError:
            continue
        assert isinstance(result, list)
    assert _linux.pactl_info_default_source(text) is None or isinstance(
        _linux.pactl_info_default_source(text), str
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.binary(max_size=20))
def test_pacmd_output_cut_or_damaged_anywhere_is_not_a_crash(cut: int, noise: bytes) -> None:
    text = pacmd_text(linux_sources(), HEADSET_SOURCE)
    cut = cut % (len(text) + 1)
    damaged = text[:cut] + noise.decode("latin-1") + text[cut:]
    try:
        inputs, _default = _linux.parse_pacmd_sources(damaged)
    except ReadError:
        return
    assert all(isinstance(item["id"], str) for item in inputs)
