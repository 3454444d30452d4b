"""macOS seats: TCC.db (both schemas), MDM overrides, system_profiler, Chrome plists."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent.collectors import _macos
from readyfloor_agent.host import LiveHost, NotFound, ReadError

from .bundle_facts import at, default_input, facts_of, input_named
from .fixture_bundles import JABRA_MAC, TccRow, system_profiler_json, tcc_database


@pytest.mark.parametrize(
    ("bundle", "path", "expected"),
    [
        ("macos-healthy", "os_mic.status", "ok"),
        ("macos-healthy", "os_mic.source", "tcc.db"),
        ("macos-healthy", "os_mic.chrome_tcc", "allowed"),
        ("macos-healthy", "os_mic.tcc_db", "user"),
        ("macos-healthy", "host.os_version", "macOS 14.4.1 (23E224)"),
        ("macos-healthy", "host.serial", "C02FX1PQMD16"),
        ("macos-healthy", "host.console_user", "mrivera"),
        ("macos-healthy", "chrome.installed", True),
        ("macos-healthy", "chrome.version", "124.0.6367.119"),
        ("macos-healthy", "chrome.user_data_dir", "/Users/mrivera/Library/Application Support/Google/Chrome"),
        ("macos-healthy", "audio.source", "system_profiler"),
        ("macos-healthy", "audio.holders", None),
        ("macos-tcc-denied-chrome", "os_mic.chrome_tcc", "denied"),
        ("macos-tcc-denied-chrome", "os_mic.tcc_db", "user"),
        ("macos-tcc-not-asked", "os_mic.status", "ok"),
        ("macos-tcc-not-asked", "os_mic.chrome_tcc", "not_asked"),
        ("macos-tcc-not-asked", "os_mic.tcc_db", None),
        ("macos-catalina-tcc-allowed", "os_mic.chrome_tcc", "allowed"),
        ("macos-catalina-tcc-allowed", "host.os_version", "macOS 10.15.7 (19H2026)"),
        ("macos-mdm-denies-mic", "os_mic.chrome_tcc", "denied"),
        ("macos-mdm-denies-mic", "os_mic.tcc_db", "mdm"),
        ("macos-mdm-denies-mic", "os_mic.source", "plist"),
        ("macos-no-full-disk-access", "os_mic.status", "unknown"),
        ("macos-no-full-disk-access", "os_mic.chrome_tcc", None),
        ("macos-tcc-db-corrupt", "os_mic.status", "unknown"),
        ("macos-tcc-db-corrupt", "os_mic.chrome_tcc", None),
        ("macos-system-profiler-truncated", "audio.status", "unknown"),
        ("macos-system-profiler-truncated", "audio.inputs", []),
        ("macos-chrome-policy-blocks-notifications", "chrome.policy.status", "ok"),
        ("macos-chrome-policy-blocks-notifications", "chrome.policy.source", "plist"),
        ("macos-chrome-policy-blocks-notifications", "chrome.policy.AudioCaptureAllowed", False),
        (
            "macos-chrome-policy-blocks-notifications",
            "chrome.policy.AudioCaptureAllowedUrls",
            ["https://acme.my.salesforce.com"],
        ),
        ("macos-chrome-policy-blocks-notifications", "chrome.policy.DefaultNotificationsSetting", 2),
        (
            "macos-chrome-policy-blocks-notifications",
            "chrome.policy.NotificationsBlockedForUrls",
            ["https://acme.my.salesforce.com"],
        ),
        ("macos-chrome-policy-plist-corrupt", "chrome.policy.status", "unknown"),
    ],
)
def test_macos_facts(bundle: str, path: str, expected: Any) -> None:
    assert at(facts_of(bundle), path) == expected


def test_without_full_disk_access_tcc_is_unknown_never_denied() -> None:
    os_mic = facts_of("macos-no-full-disk-access")["os_mic"]

    assert os_mic["reason"].startswith("no Full Disk Access")
    assert os_mic["chrome_tcc"] != "denied"


def test_a_damaged_tcc_database_says_so() -> None:
    assert "not a database" in facts_of("macos-tcc-db-corrupt")["os_mic"]["reason"]


def test_a_damaged_policy_plist_says_so() -> None:
    assert "property list" in facts_of("macos-chrome-policy-plist-corrupt")["chrome"]["policy"]["reason"]


@pytest.mark.parametrize(
    ("bundle", "default"),
    [
        ("macos-healthy", "Jabra Evolve2 40"),
        ("macos-external-mic-not-default", "MacBook Pro Microphone"),
        ("macos-bluetooth-headset-no-mic", "MacBook Pro Microphone"),
    ],
)
def test_the_default_input_is_what_system_profiler_flags(bundle: str, default: str) -> None:
    assert default_input(facts_of(bundle)) == default


def test_the_headset_jack_is_an_analog_input() -> None:
    jack = input_named(facts_of("macos-external-mic-not-default"), "External Microphone")

    assert (jack["transport"], jack["is_default"]) == ("analog", False)


def test_outputs_are_not_inputs() -> None:
    names = [item["name"] for item in facts_of("macos-bluetooth-headset-no-mic")["audio"]["inputs"]]

    assert names == ["MacBook Pro Microphone"]


def test_transports_are_named_from_coreaudio() -> None:
    transports = {item["name"]: item["transport"] for item in facts_of("macos-healthy")["audio"]["inputs"]}

    assert transports == {
        "Jabra Evolve2 40": "usb",
        "MacBook Pro Microphone": "builtin",
        "Microsoft Teams Audio": "virtual",
    }


# --- TCC.db read directly ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("catalina", "value", "verdict"),
    [
        (False, 0, "denied"),
        (False, 1, "not_asked"),
        (False, 2, "allowed"),
        (False, 3, "limited"),
        (True, 0, "denied"),
        (True, 1, "allowed"),
    ],
)
def test_tcc_values_of_both_schemas(tmp_path: Path, catalina: bool, value: int, verdict: str) -> None:
    path = tmp_path / "TCC.db"
    path.write_bytes(
        tcc_database([TccRow("kTCCServiceMicrophone", "com.google.Chrome", value)], catalina=catalina)
    )

    assert _macos.tcc_verdict(LiveHost("macos"), str(path)) == verdict


def test_no_chrome_row_is_no_verdict(tmp_path: Path) -> None:
    path = tmp_path / "TCC.db"
    path.write_bytes(tcc_database([TccRow("kTCCServiceMicrophone", "us.zoom.xos", 2)]))

    assert _macos.tcc_verdict(LiveHost("macos"), str(path)) is None


def test_a_camera_row_is_not_a_microphone_row(tmp_path: Path) -> None:
    path = tmp_path / "TCC.db"
    path.write_bytes(tcc_database([TccRow("kTCCServiceCamera", "com.google.Chrome", 0)]))

    assert _macos.tcc_verdict(LiveHost("macos"), str(path)) is None


def test_a_database_without_an_access_table_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "TCC.db"
    sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.close()

    with pytest.raises(ReadError, match="no access table"):
        _macos.tcc_verdict(LiveHost("macos"), str(path))


def test_a_missing_database_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        _macos.tcc_verdict(LiveHost("macos"), str(tmp_path / "TCC.db"))


def test_the_tcc_database_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "TCC.db"
    path.write_bytes(tcc_database([TccRow("kTCCServiceMicrophone", "com.google.Chrome", 2)]))
    before = path.read_bytes()

    _macos.tcc_verdict(LiveHost("macos"), str(path))

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["TCC.db"]


# --- system_profiler parsing -------------------------------------------------------------------


def test_system_profiler_entries_nested_deeper_are_still_found() -> None:
    nested = json.dumps(
        {"SPAudioDataType": [{"_items": [{"_items": [JABRA_MAC]}], "_name": "coreaudio_device"}]}
    )

    assert [item["name"] for item in _macos.parse_system_profiler(nested)] == ["Jabra Evolve2 40"]


@pytest.mark.parametrize("text", ["", "{", "[]", '{"SPAudioDataType": {}}', "null", "Error: no data\n"])
def test_system_profiler_output_that_is_not_the_document_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        _macos.parse_system_profiler(text)


def test_the_real_output_format_parses_to_inputs_only() -> None:
    inputs = _macos.parse_system_profiler(system_profiler_json([JABRA_MAC]))

    assert [(item["name"], item["is_default"], item["state"]) for item in inputs] == [
        ("Jabra Evolve2 40", True, "active")
    ]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_any_json_from_system_profiler_gives_inputs_or_a_value_error(document: Any) -> None:
    for text in (json.dumps(document), json.dumps({"SPAudioDataType": [{"_items": [document]}]})):
        try:
            inputs = _macos.parse_system_profiler(text)
        except ValueError:
            continue
        assert all(isinstance(item["name"], str) for item in inputs)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(system_profiler_json([JABRA_MAC]).rstrip()) - 1))
def test_system_profiler_output_cut_anywhere_is_a_value_error(cut: int) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        _macos.parse_system_profiler(system_profiler_json([JABRA_MAC])[:cut])
