"""Facts of realistic seats, in the schema's shape, for the check catalog's tests.

Each ``*_seat()`` is a seat that is ready to take calls for ``CTI`` under ``POLICY``; a test
changes the one thing its failure state is about with ``changed(facts, {"path": value})``,
where a path is dotted with list indexes: ``chrome.profiles[0].mic_default``. The builders'
output is validated against report.schema.json in test_checks_catalog.py, so the fixtures
cannot drift from what collectors send.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from readyfloor_agent.checks import CheckResult, Policy, State, evaluate, fix_for
from readyfloor_agent.report import validate

CTI = "https://acme.my.salesforce.com"
POLICY = Policy(cti_origins=(CTI,))
SET_ON = "2026-10-02T09:14:31Z"
NOW = dt.datetime(2026, 11, 3, 8, 30, tzinfo=dt.timezone.utc)


def exception(
    pattern: str,
    setting: int,
    *,
    model: int | None = 0,
    last_modified: str | None = SET_ON,
    expiration: str | None = None,
) -> dict[str, Any]:
    return {
        "pattern": pattern,
        "setting": setting,
        "model": model,
        "last_modified": last_modified,
        "expiration": expiration,
    }


def profile(directory: str = "Default", **fields: Any) -> dict[str, Any]:
    """A Chrome profile whose person clicked Allow for the CTI's microphone and notifications."""
    base: dict[str, Any] = {
        "dir": directory,
        "name": "Person 1" if directory == "Default" else directory,
        "last_used": directory == "Default",
        "status": "ok",
        "reason": None,
        "mic_default": None,
        "notifications_default": None,
        "mic_exceptions": [exception("https://acme.my.salesforce.com:443,*", 1)],
        "notification_exceptions": [exception("https://acme.my.salesforce.com:443,*", 1)],
        "audio_input_ranking": ["default"],
        "default_audio_capture_device": None,
    }
    base.update(fields)
    return base


def device(name: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": fields.pop("id", "{0.0.1.00000000}." + name.lower().replace(" ", "-")),
        "name": name,
        "state": "active",
        "form_factor": "unknown",
        "transport": "unknown",
        "vendor_id": None,
        "product_id": None,
        "is_default": False,
        "is_default_communications": False,
        "exclusive_mode": None,
    }
    base.update(fields)
    return base


def jabra(**fields: Any) -> dict[str, Any]:
    """What the Windows collector reports for a Jabra Evolve2 40 on USB."""
    values: dict[str, Any] = {
        "id": "{0.0.1.00000000}.{8c4b1f2e-6a0d-4d2b-9a55-0b0e24a10001}",
        "form_factor": "headset",
        "transport": "usb",
        "vendor_id": "0b0e",
        "product_id": "24a1",
        "is_default": True,
        "is_default_communications": True,
        "exclusive_mode": False,
    }
    values.update(fields)
    return device("Jabra Evolve2 40", **values)


def realtek(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "{0.0.1.00000000}.{1d0e7c39-3f7f-4b8e-8a44-5c3f2a9b0002}",
        "form_factor": "microphone",
        "transport": "builtin",
        "exclusive_mode": True,
    }
    values.update(fields)
    return device("Microphone Array (Realtek(R) Audio)", **values)


def _chrome(version: str = "131.0.6778.86", policy_source: str = "registry") -> dict[str, Any]:
    return {
        "status": "ok",
        "source": "file",
        "reason": None,
        "installed": True,
        "version": version,
        "user_data_dir": None,
        "last_used_profile": "Default",
        "profiles": [profile()],
        "policy": {"status": "ok", "source": policy_source, "reason": None},
    }


def windows_seat() -> dict[str, Any]:
    return {
        "host": {
            "status": "ok",
            "source": "system",
            "reason": None,
            "hostname": "SEAT-0412",
            "os": "windows",
            "os_version": "10.0.22631",
            "serial": "PF3XK2QA",
            "console_user": "ACME\\jdoe",
        },
        "os_mic": {
            "status": "ok",
            "source": "registry",
            "reason": None,
            "device_access": "allow",
            "user_access": "allow",
            "desktop_apps": "allow",
            "group_policy": None,
            "chrome_tcc": None,
            "tcc_db": None,
        },
        "chrome": _chrome(),
        "audio": {
            "status": "ok",
            "source": "registry",
            "reason": None,
            "inputs": [jabra(), realtek()],
            "holders": [],
        },
    }


def mac_seat() -> dict[str, Any]:
    """A Mac with a 3.5 mm headset, which macOS calls 'External Microphone'."""
    return {
        "host": {
            "status": "ok",
            "source": "system",
            "reason": None,
            "hostname": "seat-0207.local",
            "os": "macos",
            "os_version": "14.6.1",
            "serial": "C02FK1ABMD6T",
            "console_user": "jdoe",
        },
        "os_mic": {
            "status": "ok",
            "source": "tcc.db",
            "reason": None,
            "chrome_tcc": "allowed",
            "tcc_db": "user",
        },
        "chrome": _chrome(policy_source="plist"),
        "audio": {
            "status": "ok",
            "source": "system_profiler",
            "reason": None,
            "inputs": [
                device(
                    "External Microphone",
                    id="BuiltInHeadphoneInputDevice",
                    transport="builtin",
                    is_default=True,
                ),
                device("MacBook Pro Microphone", id="BuiltInMicrophoneDevice", transport="builtin"),
            ],
            "holders": None,
        },
    }


def linux_seat() -> dict[str, Any]:
    return {
        "host": {
            "status": "ok",
            "source": "system",
            "reason": None,
            "hostname": "seat-0099",
            "os": "linux",
            "os_version": "Ubuntu 24.04.1 LTS",
            "serial": None,
            "console_user": "jdoe",
        },
        "os_mic": {
            "status": "n/a",
            "source": "none",
            "reason": "Linux has no per-app microphone permission for packaged Chrome",
        },
        "chrome": _chrome(policy_source="file"),
        "audio": {
            "status": "ok",
            "source": "pactl",
            "reason": None,
            "inputs": [
                device(
                    "Jabra Evolve2 40 Mono",
                    id="alsa_input.usb-GN_Audio_A_S_Jabra_Evolve2_40_0001-00.mono-fallback",
                    transport="usb",
                    vendor_id="0b0e",
                    product_id="24a1",
                    is_default=True,
                ),
                device(
                    "Built-in Audio Analog Stereo",
                    id="alsa_input.pci-0000_00_1f.3.analog-stereo",
                    transport="builtin",
                    form_factor="microphone",
                ),
            ],
            "holders": [],
        },
    }


SEATS = {"windows": windows_seat, "macos": mac_seat, "linux": linux_seat}

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def changed(facts: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``facts`` with each path set; a value of ``DELETE`` removes the key."""
    result = copy.deepcopy(facts)
    for path, value in changes.items():
        steps = [int(index) if index else key for key, index in _STEP.findall(path)]
        target: Any = result
        for step in steps[:-1]:
            target = target[step]
        if value is DELETE:
            del target[steps[-1]]
        else:
            target[steps[-1]] = copy.deepcopy(value)
    return result


DELETE = object()


def judged(
    os_name: str,
    changes: dict[str, Any],
    check_id: str,
    policy: Policy = POLICY,
) -> tuple[dict[str, Any], CheckResult]:
    """The seat of ``os_name`` with ``changes``, validated against the schema (a failure state
    must be a report a real collector can send), and the result of one check on it."""
    facts = changed(SEATS[os_name](), changes)
    validate("facts", facts)
    results = {result.check_id: result for result in evaluate(facts, policy, now=NOW)}
    return facts, results[check_id]


def assert_case(
    os_name: str, changes: dict[str, Any], check_id: str, policy: Policy, state: State, fragment: str
) -> CheckResult:
    """The table-driven spec of one failure state: its state, a reason naming the evidence, one
    line of text, and steps for the person at that seat's OS."""
    _, result = judged(os_name, changes, check_id, policy)
    assert result.state is state, f"{result.state}: {result.reason}"
    assert fragment in result.reason, result.reason
    assert "\n" not in result.reason
    fix = fix_for(check_id, os_name)
    assert fix.steps and all(step.strip() for step in fix.steps)
    assert fix.it_note.strip()
    return result
