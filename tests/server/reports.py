"""Building agent requests for server tests: facts of a Linux seat with a USB headset and
Chrome on the CTI site, which tests then break in the ways real seats break."""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import uuid
from typing import Any

from readyfloor_agent.report import build_checkin, facts_hash

CTI = "https://acme.my.salesforce.com"

HEALTHY_FACTS: dict[str, Any] = {
    "host": {
        "status": "ok",
        "source": "native",
        "hostname": "lyon-a01",
        "os": "linux",
        "os_version": "Ubuntu 24.04",
        "serial": None,
        "console_user": "agent1",
    },
    "os_mic": {"status": "n/a", "source": "native", "reason": "Linux has no per-app microphone permission"},
    "chrome": {
        "status": "ok",
        "source": "file",
        "installed": True,
        "version": "131.0.6778.85",
        "user_data_dir": "/home/agent1/.config/google-chrome",
        "last_used_profile": "Default",
        "profiles": [
            {
                "dir": "Default",
                "name": "Agent",
                "last_used": True,
                "status": "ok",
                "mic_default": None,
                "notifications_default": None,
                "mic_exceptions": [
                    {
                        "pattern": f"{CTI}:443,*",
                        "setting": 1,
                        "model": 0,
                        "last_modified": "2026-10-01T09:00:00Z",
                    }
                ],
                "notification_exceptions": [
                    {
                        "pattern": f"{CTI}:443,*",
                        "setting": 1,
                        "model": 0,
                        "last_modified": "2026-10-01T09:00:00Z",
                    }
                ],
                "audio_input_ranking": None,
                "default_audio_capture_device": None,
            }
        ],
        "policy": {
            "status": "ok",
            "source": "file",
            "AudioCaptureAllowed": None,
            "AudioCaptureAllowedUrls": [],
            "DefaultNotificationsSetting": None,
            "NotificationsAllowedForUrls": [],
            "NotificationsBlockedForUrls": [],
            "DefaultMediaStreamSetting": None,
        },
    },
    "audio": {
        "status": "ok",
        "source": "pactl",
        "inputs": [
            {
                "id": "alsa_input.usb-Jabra_Evolve2_40-00.mono-fallback",
                "name": "Jabra Evolve2 40 Mono",
                "state": "active",
                "form_factor": "headset",
                "transport": "usb",
                "vendor_id": "0b0e",
                "product_id": "24d1",
                "is_default": True,
                "is_default_communications": None,
                "exclusive_mode": None,
            },
            {
                "id": "alsa_input.pci-0000_00_1f.3.analog-stereo",
                "name": "Built-in Audio Analog Stereo",
                "state": "active",
                "form_factor": "microphone",
                "transport": "builtin",
                "vendor_id": None,
                "product_id": None,
                "is_default": False,
                "is_default_communications": None,
                "exclusive_mode": None,
            },
        ],
        "holders": [],
    },
}


def healthy_facts(hostname: str = "lyon-a01") -> dict[str, Any]:
    facts = copy.deepcopy(HEALTHY_FACTS)
    facts["host"]["hostname"] = hostname
    return facts


def site_blocked(facts: dict[str, Any]) -> dict[str, Any]:
    """The person clicked Block on the CTI site's microphone prompt."""
    facts = copy.deepcopy(facts)
    facts["chrome"]["profiles"][0]["mic_exceptions"] = [
        {"pattern": f"{CTI}:443,*", "setting": 2, "model": 0, "last_modified": "2026-11-20T08:12:00Z"}
    ]
    return facts


def no_headset(facts: dict[str, Any]) -> dict[str, Any]:
    facts = copy.deepcopy(facts)
    facts["audio"]["inputs"] = [i for i in facts["audio"]["inputs"] if i["form_factor"] != "headset"]
    facts["audio"]["inputs"][0]["is_default"] = True
    return facts


def checkin_body(
    facts: dict[str, Any], *, collected_at: dt.datetime | None = None, **extra: Any
) -> dict[str, Any]:
    body = build_checkin(facts, collected_at=collected_at or dt.datetime.now(dt.timezone.utc))
    body.update(extra)
    return body


def heartbeat_body(facts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = build_checkin(facts, last_acknowledged_hash=facts_hash(facts))
    body.update(extra)
    return body


def enroll_body(secret: str, host_identifier: str | None = None, seat: tuple[str, str] | None = None) -> dict:
    body: dict[str, Any] = {
        "enroll_secret": secret,
        "host_identifier": host_identifier or str(uuid.uuid4()),
        "host_details": {
            "hostname": "lyon-a01",
            "os": "linux",
            "os_version": "Ubuntu 24.04",
            "agent_version": "0.1.0",
        },
    }
    if seat:
        body["seat"] = {"floor": seat[0], "label": seat[1]}
    return body


def gzipped(body: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(body).encode())
