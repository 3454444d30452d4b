"""Windows seats read from `reg export` files: consent store, capture endpoints, Chrome."""

from __future__ import annotations

from typing import Any

import pytest
from readyfloor_agent.bundle import RecordingHost, open_bundle
from readyfloor_agent.collectors import _windows, collect
from readyfloor_agent.host import RegistryKey

from .bundle_facts import at, default_input, facts_of, input_named
from .fixture_bundles import ROOT

HEADSET = "Headset Microphone (Jabra Evolve2 40)"
ARRAY = "Microphone Array (Realtek(R) Audio)"


@pytest.mark.parametrize(
    ("bundle", "path", "expected"),
    [
        ("windows-healthy", "os_mic.status", "ok"),
        ("windows-healthy", "os_mic.source", "registry"),
        ("windows-healthy", "os_mic.device_access", "allow"),
        ("windows-healthy", "os_mic.user_access", "allow"),
        ("windows-healthy", "os_mic.desktop_apps", "allow"),
        ("windows-healthy", "os_mic.group_policy", None),
        ("windows-healthy", "host.os_version", "Windows 11 Enterprise 23H2 (build 22631.3447)"),
        ("windows-healthy", "host.serial", "5CG2381KQZ"),
        ("windows-healthy", "host.console_user", "mrivera"),
        ("windows-healthy", "chrome.installed", True),
        ("windows-healthy", "chrome.version", "124.0.6367.119"),
        (
            "windows-healthy",
            "chrome.user_data_dir",
            "C:\\Users\\mrivera\\AppData\\Local\\Google\\Chrome\\User Data",
        ),
        ("windows-healthy", "audio.holders", []),
        ("windows-device-mic-off", "os_mic.device_access", "deny"),
        ("windows-desktop-apps-mic-off", "os_mic.desktop_apps", "deny"),
        ("windows-desktop-apps-mic-off", "os_mic.user_access", "allow"),
        ("windows-gpo-denies-mic", "os_mic.group_policy", 2),
        ("windows-chrome-policy-allowlist-misses-cti", "chrome.policy.source", "registry"),
        ("windows-chrome-policy-allowlist-misses-cti", "chrome.policy.AudioCaptureAllowed", False),
        (
            "windows-chrome-policy-allowlist-misses-cti",
            "chrome.policy.AudioCaptureAllowedUrls",
            ["https://acme.lightning.force.com", "https://[*.]zoom.us"],
        ),
        ("windows-chrome-policy-allowlist-misses-cti", "chrome.policy.DefaultNotificationsSetting", 2),
        (
            "windows-chrome-policy-allowlist-misses-cti",
            "chrome.policy.NotificationsAllowedForUrls",
            ["https://mail.google.com"],
        ),
        ("windows-healthy", "chrome.policy.AudioCaptureAllowed", None),
        ("windows-healthy", "chrome.policy.AudioCaptureAllowedUrls", []),
    ],
)
def test_windows_facts(bundle: str, path: str, expected: Any) -> None:
    assert at(facts_of(bundle), path) == expected


@pytest.mark.parametrize(
    ("bundle", "default"),
    [
        ("windows-healthy", HEADSET),
        ("windows-headset-not-default", ARRAY),
        ("windows-headset-disabled", ARRAY),
        ("windows-bluetooth-headset-no-mic", ARRAY),
        ("windows-no-active-capture", None),
    ],
)
def test_the_default_input_is_the_active_endpoint_last_made_default_for_the_console_role(
    bundle: str, default: str | None
) -> None:
    assert default_input(facts_of(bundle)) == default


@pytest.mark.parametrize(
    ("bundle", "name", "state"),
    [
        ("windows-healthy", HEADSET, "active"),
        ("windows-healthy", "Microphone (Realtek(R) Audio)", "unplugged"),
        ("windows-headset-not-default", HEADSET, "active"),
        # mmsys.cpl's Disable sets 0x10000000 over an ACTIVE low nibble.
        ("windows-headset-disabled", HEADSET, "disabled"),
        ("windows-no-active-capture", ARRAY, "disabled"),
        ("windows-no-active-capture", HEADSET, "not_present"),
        ("windows-bluetooth-headset-no-mic", "Headset (Jabra Evolve2 65)", "unplugged"),
    ],
)
def test_endpoint_states(bundle: str, name: str, state: str) -> None:
    assert input_named(facts_of(bundle), name)["state"] == state


def test_a_usb_headset_is_described_from_its_endpoint_properties() -> None:
    headset = input_named(facts_of("windows-healthy"), HEADSET)

    assert headset == {
        "id": "{0.0.1.00000000}.{4d7f1b92-0e3a-4c6d-a8f5-9b2e7c1d0a36}",
        "name": HEADSET,
        "state": "active",
        "form_factor": "headset",
        "transport": "usb",
        "vendor_id": "0b0e",
        "product_id": "0305",
        "manufacturer": None,
        "model": "Jabra Evolve2 40",
        "is_default": True,
        "is_default_communications": True,
        "exclusive_mode": False,
    }


def test_the_builtin_array_is_a_builtin_microphone() -> None:
    array = input_named(facts_of("windows-healthy"), ARRAY)

    assert (array["form_factor"], array["transport"], array["vendor_id"]) == ("microphone", "builtin", None)


def test_a_bluetooth_hands_free_endpoint_is_bluetooth() -> None:
    headset = input_named(facts_of("windows-bluetooth-headset-no-mic"), "Headset (Jabra Evolve2 65)")

    assert (headset["transport"], headset["form_factor"]) == ("bluetooth", "headset")


def test_exclusive_mode_and_apps_holding_the_microphone_are_reported() -> None:
    facts = facts_of("windows-exclusive-mode-held")

    assert input_named(facts, HEADSET)["exclusive_mode"] is True
    assert facts["audio"]["holders"] == [
        {"app": "MSTeams_8wekyb3d8bbwe", "since": "2024-05-14T07:55:12Z"},
        {"app": "C:\\Users\\mrivera\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe", "since": "2024-05-14T07:49:30Z"},
    ]


def test_a_truncated_registry_export_is_unknown_not_absent() -> None:
    facts = facts_of("windows-registry-export-truncated")

    assert facts["os_mic"]["status"] == "unknown"
    assert "damaged" in facts["os_mic"]["reason"]
    assert facts["os_mic"]["desktop_apps"] is None
    # The machine-wide keys come from another, intact export.
    assert facts["os_mic"]["device_access"] == "allow"
    assert facts["audio"]["holders"] is None


@pytest.mark.parametrize(
    ("bundle", "hive"),
    [("windows-healthy", "HKEY_CURRENT_USER"), ("windows-desktop-apps-mic-off", "HKEY_USERS\\S-1-5-21-")],
)
def test_the_user_hive_is_hkcu_as_the_user_and_hku_sid_as_a_service(bundle: str, hive: str) -> None:
    with open_bundle(ROOT / bundle) as bundle_host:
        recorder = RecordingHost(bundle_host)
        collect(recorder)

    consent_reads = [path for path in recorder.keys if path.endswith("ConsentStore\\microphone\\NonPackaged")]
    assert consent_reads and all(path.startswith(hive) for path in consent_reads)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "active"),
        (2, "disabled"),
        (4, "not_present"),
        (8, "unplugged"),
        (0x10000001, "disabled"),
        (0x10000004, "disabled"),
        (0, "unknown"),
        ("1", "unknown"),
    ],
)
def test_device_state_values(value: object, expected: str) -> None:
    key = RegistryKey("HKEY_LOCAL_MACHINE\\X\\{guid}", {"DeviceState": ("REG_DWORD", value)})

    assert _windows._endpoint("{guid}", key, None)["input"]["state"] == expected


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        (bytes.fromhex("e8070500020e000e0009001e000500f401"), False),  # 17 bytes
        (bytes.fromhex("e80705000200 0e00 0900 1e00 0500 f401".replace(" ", "")), True),
        (bytes.fromhex("e807 0d00 0200 0e00 0900 1e00 0500 f401".replace(" ", "")), False),  # month 13
        (b"", False),
    ],
)
def test_role_timestamps_are_systemtime_structures(raw: bytes, valid: bool) -> None:
    assert (_windows.systemtime(raw) is not None) is valid


def test_windows_11_is_told_apart_by_its_build_number() -> None:
    key = RegistryKey(
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
        {
            "ProductName": ("REG_SZ", "Windows 10 Pro"),
            "DisplayVersion": ("REG_SZ", "22H2"),
            "CurrentBuild": ("REG_SZ", "19045"),
            "UBR": ("REG_DWORD", 4291),
        },
    )

    assert _windows.windows_version(key) == "Windows 10 Pro 22H2 (build 19045.4291)"


def test_chrome_on_a_call_is_not_reported_as_holding_the_microphone() -> None:
    """Chrome recording is the softphone on a call; listing it would change the seat's facts
    with every call. Other applications holding the microphone are still reported."""
    from types import SimpleNamespace

    from readyfloor_agent.collectors import audio

    chrome = {"app": "C:#Program Files#Google#Chrome#Application#chrome.exe", "since": "2026-11-21T07:00:00Z"}
    teams = {"app": "MSTeams_8wekyb3d8bbwe", "since": "2026-11-21T06:55:12Z"}
    system = SimpleNamespace(audio=lambda host: {"status": "ok", "inputs": [], "holders": [chrome, teams]})

    assert audio.collect(None, system)["holders"] == [teams]  # type: ignore[arg-type]
