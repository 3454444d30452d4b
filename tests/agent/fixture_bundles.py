"""Builds the support-bundle fixtures under tests/fixtures/bundles/ — one seat per case.

Everything is written in the formats the real machines produce, independently of the agent's
own writers: registry keys as ``reg export`` text (UTF-16 LE, BOM, CRLF), Chrome's compact
sorted JSON, XML and binary plists, TCC.db with Apple's table definitions (Big Sur+ and the
older Catalina schema), ``system_profiler -json`` as macOS 14 prints it, pactl 16 JSON.

The generated folders are committed so ``readyfloor-agent check --bundle <folder>`` works on a
fresh checkout; ``test_bundle_fixtures`` rebuilds them into a temporary folder and fails when
the committed copies drift from this file. Regenerate after editing:

    .venv/bin/python -m tests.agent.fixture_bundles
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import plistlib
import shutil
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "bundles"
# Outputs captured on real machines (their sources: tests/fixtures/real/SOURCES.md).
REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real"
REAL_CORSAIR_SOURCE = "alsa_input.usb-Corsair_CORSAIR_HS70_Pro_Wireless_Gaming_Headset-00.mono-fallback"
CTI = "https://acme.my.salesforce.com"
CAPTURED_AT = "2024-05-14T08:02:11Z"
UTC = dt.timezone.utc

# --- Bundle layout ----------------------------------------------------------------------------


def _member(path: str) -> str:
    """files/<path>: C:\\Users\\x -> files/C/Users/x; ':' (sysfs names) is %-escaped."""
    if len(path) > 1 and path[1] == ":":
        parts = [path[0], *path[2:].replace("\\", "/").split("/")]
    else:
        parts = path.split("/")
    return "/".join(["files", *(part.replace("%", "%25").replace(":", "%3A") for part in parts if part)])


@dataclass
class Bundle:
    name: str
    platform: str
    hostname: str
    user: dict[str, Any] | None
    members: dict[str, bytes] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    dirs: list[dict[str, Any]] = field(default_factory=list)
    exists: dict[str, bool] = field(default_factory=dict)
    registry: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str | None] = field(default_factory=dict)

    def file(self, path: str, data: bytes | str, modified: dt.datetime | None = None) -> None:
        member = _member(path)
        self.members[member] = data.encode("utf-8") if isinstance(data, str) else data
        entry: dict[str, Any] = {"path": path, "stored": member}
        if modified is not None:
            entry["modified"] = modified.isoformat().replace("+00:00", "Z")
        self.files.append(entry)

    def unreadable(self, path: str, error: str) -> None:
        self.files.append({"path": path, "error": error})

    def listing(self, path: str, entries: list[str]) -> None:
        self.dirs.append({"path": path, "entries": entries})

    def reg(self, stem: str, text: str) -> None:
        """A `reg export` file: UTF-16 LE with a BOM and CRLF line ends."""
        member = f"registry/{stem}.reg"
        body = ("Windows Registry Editor Version 5.00\n\n" + text.strip("\n")).replace(
            "\n", "\r\n"
        ) + "\r\n\r\n"
        self.members[member] = codecs.BOM_UTF16_LE + body.encode("utf-16-le")
        for line in text.splitlines():
            if line.startswith("[") and line.endswith("]"):
                self.registry.append({"key": line[1:-1], "stored": member})

    def reg_raw(self, stem: str, data: bytes) -> None:
        self.members[f"registry/{stem}.reg"] = data

    def command(self, argv: list[str], stdout: str, stderr: str = "", returncode: int = 0) -> None:
        number = len(self.commands) + 1
        stem = (
            f"commands/{number:02d}-{'-'.join(_word(arg) for arg in argv if not arg.startswith('XDG'))[:48]}"
        )
        self.members[f"{stem}.stdout.txt"] = stdout.encode("utf-8")
        self.members[f"{stem}.stderr.txt"] = stderr.encode("utf-8")
        self.commands.append(
            {
                "argv": argv,
                "returncode": returncode,
                "stdout": f"{stem}.stdout.txt",
                "stderr": f"{stem}.stderr.txt",
            }
        )

    def missing_command(self, argv: list[str]) -> None:
        self.commands.append({"argv": argv, "missing": True, "error": f"{argv[0]} is not installed"})

    def manifest(self) -> dict[str, Any]:
        return {
            "format_version": 1,
            "platform": self.platform,
            "hostname": self.hostname,
            "captured_at": CAPTURED_AT,
            "agent_version": "0.1.0",
            "user": self.user,
            "files": self.files,
            "dirs": self.dirs,
            "exists": self.exists,
            "registry": self.registry,
            "commands": self.commands,
            "env": self.env,
        }

    def write(self, root: Path) -> Path:
        folder = root / self.name
        if folder.exists():
            shutil.rmtree(folder)
        for name, data in self.members.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (folder / "manifest.json").write_text(json.dumps(self.manifest(), indent=2) + "\n", encoding="utf-8")
        return folder


def _word(arg: str) -> str:
    return "".join(char if char.isalnum() or char in "._" else "-" for char in arg.rsplit("/", 1)[-1]).strip(
        "-"
    )


# --- Chrome (every OS) ------------------------------------------------------------------------


def chrome_time(moment: dt.datetime) -> str:
    """Chrome's timestamps: microseconds since 1601-01-01 UTC, as a decimal string."""
    delta = moment - dt.datetime(1601, 1, 1, tzinfo=UTC)
    return str(delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds)


T_PROFILE_CREATED = dt.datetime(2023, 9, 4, 13, 21, 7, 412_000, tzinfo=UTC)
T_GRANTED = dt.datetime(2024, 3, 18, 9, 14, 52, 118_402, tzinfo=UTC)
T_RECENT = dt.datetime(2024, 5, 13, 15, 40, 3, 904_117, tzinfo=UTC)


def exception(setting: int, when: dt.datetime = T_GRANTED, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"last_modified": chrome_time(when), "setting": setting}
    if "last_visit" not in extra:
        entry["last_visit"] = chrome_time(dt.datetime(when.year, when.month, when.day, tzinfo=UTC))
    entry.update(extra)
    return entry


def site(origin: str) -> str:
    return f"{origin}:443,*"


def preferences(
    *,
    name: str = "Acme",
    version: str = "124.0.6367.119",
    mic: dict[str, Any] | None = None,
    notifications: dict[str, Any] | None = None,
    defaults: dict[str, int] | None = None,
    ranking: list[str] | None = None,
    legacy_device: str | None = None,
) -> str:
    """A Preferences file as Chrome writes it: compact JSON, keys sorted, lots around the
    few settings the agent reads."""
    engagement = {
        site(CTI): {
            "last_modified": chrome_time(T_RECENT),
            "setting": {
                "lastEngagementTime": 1.3359469600000000e16,
                "lastShortcutLaunchTime": 0.0,
                "pointsAddedToday": 4.2,
                "rawScore": 61.83,
            },
        },
        site("https://mail.google.com"): {
            "last_modified": chrome_time(T_RECENT),
            "setting": {
                "lastEngagementTime": 1.3359466800000000e16,
                "lastShortcutLaunchTime": 0.0,
                "pointsAddedToday": 1.5,
                "rawScore": 17.2,
            },
        },
    }
    media: dict[str, Any] = {
        "device_id_salt": "3E1F4C0B9A7D5E22C81B0F6A4D2E9B71",
        "engagement": {"schema_version": 5},
        "video_input": {"user_preference_ranking": ["Integrated Camera (04f2:b6ea)"]},
    }
    if ranking is not None:
        media["audio_input"] = {"user_preference_ranking": ranking}
    if legacy_device is not None:
        media["default_audio_capture_device"] = legacy_device
    document = {
        "account_tracker_service_last_update": chrome_time(T_RECENT),
        "alternate_error_pages": {"backup": True},
        "autocomplete": {"retention_policy_last_version": 124},
        "browser": {
            "has_seen_welcome_page": True,
            "window_placement": {
                "bottom": 1032,
                "left": 8,
                "maximized": True,
                "right": 1912,
                "top": 8,
                "work_area_bottom": 1040,
                "work_area_left": 0,
                "work_area_right": 1920,
                "work_area_top": 0,
            },
        },
        "countryid_at_install": 21843,
        "default_apps_install_state": 3,
        "domain_diversity": {"last_reporting_timestamp": chrome_time(T_RECENT)},
        "extensions": {
            "alerts": {"initialized": True},
            "chrome_url_overrides": {},
            "last_chrome_version": version,
        },
        "gaia_cookie": {
            "changed_time": 1715611203.114,
            "hash": "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
            "last_list_accounts_data": "[]",
        },
        "google": {"services": {"signin_scoped_device_id": "7a1d2f0e-52c4-4c1b-9f0e-1b7e0c2d8a34"}},
        "intl": {"selected_languages": "en-US,en"},
        "invalidation": {"per_sender_topics_to_handler": {"1013309121859": {}}},
        "media": media,
        "media_router": {"receiver_id_hash_token": "Zq3Vb3c2uQyWfH1mS8k9Xw=="},
        "ntp": {"num_personal_suggestions": 2},
        "optimization_guide": {"previously_registered_optimization_types": {"ABOUT_THIS_SITE": True}},
        "privacy_sandbox": {"first_party_sets_data_access_allowed_initialized": True},
        "profile": {
            "avatar_index": 26,
            "content_settings": {
                "exceptions": {
                    "3pcd_heuristics_grants": {},
                    "app_banner": {},
                    "auto_select_certificate": {},
                    "automatic_downloads": {},
                    "autoplay": {},
                    "background_sync": {},
                    "clipboard": {},
                    "cookies": {},
                    "geolocation": {},
                    "images": {},
                    "javascript": {},
                    "media_engagement": {
                        site(CTI): {
                            "expiration": chrome_time(T_RECENT + dt.timedelta(days=90)),
                            "last_modified": chrome_time(T_RECENT),
                            "lifetime": "7776000000000",
                            "setting": {
                                "hasHighScore": False,
                                "lastMediaPlaybackTime": 0.0,
                                "mediaPlaybacks": 0,
                                "visits": 38,
                            },
                        }
                    },
                    "media_stream_camera": {},
                    "media_stream_mic": mic or {},
                    "midi_sysex": {},
                    "notifications": notifications or {},
                    "popups": {},
                    "site_engagement": engagement,
                    "sound": {},
                    "usb_chooser_data": {},
                },
                "pref_version": 1,
            },
            "created_by_version": "116.0.5845.188",
            "creation_time": chrome_time(T_PROFILE_CREATED),
            "default_content_setting_values": defaults or {},
            "exit_type": "Normal",
            "managed_user_id": "",
            "name": name,
            "password_account_storage_settings": {},
            "were_old_google_logins_removed": True,
        },
        "safebrowsing": {"event_timestamps": {}, "metrics_last_log_time": "13359463200"},
        "sessions": {
            "event_log": [{"crashed": False, "time": chrome_time(T_RECENT), "type": 0}],
            "session_data_status": 3,
        },
        "signin": {"allowed": True},
        "spellcheck": {"dictionaries": ["en-US"], "dictionary": ""},
        "translate_site_blacklist_with_time": {},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def local_state(
    profiles: dict[str, str], last_used: str | None = "Default", version: str = "124.0.6367.119"
) -> str:
    info_cache = {
        folder: {
            "active_time": 1715611203.521,
            "avatar_icon": "chrome://theme/IDR_PROFILE_AVATAR_26",
            "background_apps": False,
            "force_signin_profile_locked": False,
            "gaia_given_name": "",
            "gaia_id": "",
            "gaia_name": "",
            "hosted_domain": "",
            "is_consented_primary_account": False,
            "is_ephemeral": False,
            "is_using_default_avatar": True,
            "is_using_default_name": False,
            "managed_user_id": "",
            "metrics_bucket_index": index + 1,
            "name": display,
            "signin.with_credential_provider": False,
            "user_name": "",
        }
        for index, (folder, display) in enumerate(profiles.items())
    }
    profile: dict[str, Any] = {
        "info_cache": info_cache,
        "last_active_profiles": [last_used] if last_used else [],
        "metrics": {"next_bucket_index": len(profiles) + 1},
        "profile_counts_reported": chrome_time(T_RECENT),
        "profiles_order": list(profiles),
    }
    if last_used is not None:
        profile["last_used"] = last_used
    document = {
        "autofill": {"states_data_dir": "", "ablation_seed": "S1x0Yq3e1d8="},
        "browser": {"enabled_labs_experiments": [], "last_redirect_origin": ""},
        "hardware_acceleration_mode_previous": True,
        "legacy": {"profile": {"name": {"migrated": True}}},
        "local": {"password_hash_data_list": []},
        "profile": profile,
        "shutdown": {"num_processes": 0, "num_processes_slow": 0, "type": 0},
        "tab_stats": {"last_daily_sample": chrome_time(T_RECENT), "max_tabs_per_window": 9},
        "user_experience_metrics": {
            "low_entropy_source3": 4871,
            "stability": {
                "browser_last_live_timestamp": chrome_time(T_RECENT),
                "stats_version": f"{version}-64",
            },
        },
        "variations_crash_streak": 0,
        "was": {"restarted": False},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


HEALTHY_MIC = {site(CTI): exception(1)}
HEALTHY_NOTIFICATIONS = {site(CTI): exception(1, T_GRANTED + dt.timedelta(seconds=41))}


@dataclass
class ChromeProfile:
    folder: str = "Default"
    display: str = "Acme"
    prefs: str | None = None  # None: no Preferences file (Chrome never ran with it)
    written: dt.datetime | None = None  # when Chrome last wrote its Preferences (manifest "modified")


def add_chrome(
    bundle: Bundle,
    user_data: str,
    join: Callable[..., str],
    profiles: list[ChromeProfile],
    last_used: str | None = "Default",
    with_local_state: bool = True,
) -> None:
    if with_local_state:
        bundle.file(
            join(user_data, "Local State"), local_state({p.folder: p.display for p in profiles}, last_used)
        )
    else:
        bundle.files.append({"path": join(user_data, "Local State"), "missing": True})
    for profile in profiles:
        if profile.prefs is not None:
            bundle.file(join(user_data, profile.folder, "Preferences"), profile.prefs, profile.written)


def healthy_profile(**overrides: Any) -> ChromeProfile:
    kwargs: dict[str, Any] = {
        "mic": HEALTHY_MIC,
        "notifications": HEALTHY_NOTIFICATIONS,
        "ranking": ["default"],
    }
    kwargs.update(overrides)
    return ChromeProfile(prefs=preferences(**kwargs))


# --- Windows ----------------------------------------------------------------------------------

CONSENT = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore\\microphone"
CAPTURE = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\MMDevices\\Audio\\Capture"
WIN_SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
WIN_USER = "mrivera"
WIN_HOME = f"C:\\Users\\{WIN_USER}"
WIN_CHROME = "C:\\Program Files\\Google\\Chrome\\Application"
WIN_USER_DATA = f"{WIN_HOME}\\AppData\\Local\\Google\\Chrome\\User Data"
WIN_EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application"
WIN_EDGE_USER_DATA = f"{WIN_HOME}\\AppData\\Local\\Microsoft\\Edge\\User Data"


def winjoin(*parts: str) -> str:
    return "\\".join(part.rstrip("\\") for part in parts)


def reg_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reg_hex(raw: bytes, prefix_length: int, label: str = "hex:") -> str:
    """Hex data wrapped at 80 columns the way regedit does it."""
    out = [label]
    length = prefix_length + len(label)
    for index, byte in enumerate(raw):
        out.append(f"{byte:02x}")
        if index == len(raw) - 1:
            break
        out.append(",")
        length += 3
        if length >= 77:
            out.append("\\\n  ")
            length = 2
    return "".join(out)


def reg_value(name: str, value: Any) -> str:
    prefix = f"{reg_string(name)}="
    if isinstance(value, str):
        return prefix + reg_string(value)
    if isinstance(value, int):
        return prefix + f"dword:{value:08x}"
    kind, raw = value
    if kind == "qword":
        return prefix + reg_hex(struct.pack("<Q", raw), len(prefix), "hex(b):")
    if kind == "binary":
        return prefix + reg_hex(raw, len(prefix))
    if kind == "multi":
        data = ("".join(f"{item}\0" for item in raw) + "\0").encode("utf-16-le")
        return prefix + reg_hex(data, len(prefix), "hex(7):")
    raise ValueError(kind)


def reg_key(path: str, values: dict[str, Any]) -> str:
    return "\n".join([f"[{path}]", *(reg_value(name, value) for name, value in values.items())]) + "\n"


def systemtime(moment: dt.datetime) -> tuple[str, bytes]:
    weekday = (moment.weekday() + 1) % 7
    return "binary", struct.pack(
        "<8H",
        moment.year,
        moment.month,
        weekday,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def filetime(moment: dt.datetime | None) -> tuple[str, int]:
    if moment is None:
        return "qword", 0
    delta = moment - dt.datetime(1601, 1, 1, tzinfo=UTC)
    return "qword", (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@dataclass
class Endpoint:
    guid: str
    description: str
    interface: str
    instance: str
    enumerator: str
    form_factor: int
    state: int = 1
    console: dt.datetime | None = None
    communications: dt.datetime | None = None
    exclusive: int = 1


BUILTIN_ARRAY = Endpoint(
    guid="{8f3c2d41-5b7e-4a09-9c1d-3e6f0a2b7c58}",
    description="Microphone Array",
    interface="Realtek(R) Audio",
    instance="{1}.HDAUDIO\\FUNC_01&VEN_10EC&DEV_0257&SUBSYS_17AA2258&REV_1000\\4&2C6BD2E3&0&0001",
    enumerator="HDAUDIO",
    form_factor=4,
    console=dt.datetime(2023, 9, 4, 13, 25, 40, 118_000),
    communications=dt.datetime(2023, 9, 4, 13, 25, 40, 118_000),
)
JACK_MIC = Endpoint(
    guid="{c2b6e8a0-74d1-4f3e-8b25-61a9d0e4f713}",
    description="Microphone",
    interface="Realtek(R) Audio",
    instance="{1}.HDAUDIO\\FUNC_01&VEN_10EC&DEV_0257&SUBSYS_17AA2258&REV_1000\\4&2C6BD2E3&0&0001",
    enumerator="HDAUDIO",
    form_factor=4,
    state=8,
)
JABRA = Endpoint(
    guid="{4d7f1b92-0e3a-4c6d-a8f5-9b2e7c1d0a36}",
    description="Headset Microphone",
    interface="Jabra Evolve2 40",
    instance="{1}.USB\\VID_0B0E&PID_0305&MI_00\\7&1F2A5C4B&0&0000",
    enumerator="USB",
    form_factor=5,
    console=dt.datetime(2024, 3, 18, 9, 2, 11, 604_000),
    communications=dt.datetime(2024, 3, 18, 9, 2, 11, 604_000),
    exclusive=0,
)
OLD_POLY = Endpoint(
    guid="{a90e5c37-2f84-4b1a-bd6e-07c3f9e21d84}",
    description="Headset Microphone",
    interface="Poly Blackwire 3220 Series",
    instance="{1}.USB\\VID_047F&PID_C056&MI_03\\7&3A1C0D2&0&0003",
    enumerator="USB",
    form_factor=5,
    state=4,
    console=dt.datetime(2023, 11, 2, 8, 1, 9, 250_000),
)


def endpoint_reg(endpoint: Endpoint) -> str:
    key = f"{CAPTURE}\\{endpoint.guid}"
    values: dict[str, Any] = {"DeviceState": endpoint.state}
    for role, moment in (
        ("Role:0", endpoint.console),
        ("Role:1", endpoint.console),
        ("Role:2", endpoint.communications),
    ):
        if moment is not None:
            values[role] = systemtime(moment)
    properties = {
        "{a45c254e-df1c-4efd-8020-67d146a850e0},2": endpoint.description,
        "{a45c254e-df1c-4efd-8020-67d146a850e0},24": endpoint.enumerator,
        "{b3f8fa53-0004-438e-9003-51a46e139bfc},2": endpoint.instance,
        "{b3f8fa53-0004-438e-9003-51a46e139bfc},6": endpoint.interface,
        "{b3f8fa53-0004-438e-9003-51a46e139bfc},3": endpoint.exclusive,
        "{b3f8fa53-0004-438e-9003-51a46e139bfc},4": endpoint.exclusive,
        "{1da5d803-d492-4edd-8c23-e0c0ffee7f0e},0": endpoint.form_factor,
        "{1da5d803-d492-4edd-8c23-e0c0ffee7f0e},1": f"{{2}}.\\\\?\\{endpoint.enumerator.lower()}#global",
        "{1da5d803-d492-4edd-8c23-e0c0ffee7f0e},3": ("binary", bytes.fromhex("04000000")),
        "{259abffc-50a7-47ce-af08-68c9a7d73366},12": "%windir%\\system32\\mmres.dll,-3030",
        "{9c119480-ddc2-4954-a150-5bd240d454ad},1": "{2f4d7c30-0b64-4d8e-a5f0-6d1e2b9c7a13}",
        # PKEY_AudioEngine_DeviceFormat: a WAVEFORMATEXTENSIBLE, 48 kHz.
        "{f19f064d-082c-4e27-bc73-6882a1bb8e4c},0": (
            "binary",
            bytes.fromhex(
                "41000000feff010080bb000000ee02000400100016001000040000000100000000001000800000aa00389b71"
            ),
        ),
    }
    return reg_key(key, values) + "\n" + reg_key(f"{key}\\Properties", properties)


@dataclass
class UsageEntry:
    key: str
    start: dt.datetime | None
    stop: dt.datetime | None
    value: str = "Allow"


CHROME_USAGE = UsageEntry(
    "C:#Program Files#Google#Chrome#Application#chrome.exe",
    dt.datetime(2024, 5, 13, 15, 1, 2, tzinfo=UTC),
    dt.datetime(2024, 5, 13, 15, 44, 18, tzinfo=UTC),
)
TEAMS_USAGE = UsageEntry(
    "MSTeams_8wekyb3d8bbwe",
    dt.datetime(2024, 5, 10, 11, 0, 4, tzinfo=UTC),
    dt.datetime(2024, 5, 10, 11, 31, 55, tzinfo=UTC),
)


@dataclass
class WindowsSeat:
    name: str
    hostname: str = "ACME-FL2-S014"
    device_access: str = "Allow"
    user_access: str = "Allow"
    desktop_apps: str = "Allow"
    app_privacy: int | None = None
    endpoints: list[Endpoint] = field(default_factory=lambda: [BUILTIN_ARRAY, JACK_MIC, JABRA])
    desktop_usage: list[UsageEntry] = field(default_factory=lambda: [CHROME_USAGE])
    package_usage: list[UsageEntry] = field(default_factory=lambda: [TEAMS_USAGE])
    profiles: list[ChromeProfile] = field(default_factory=lambda: [healthy_profile()])
    last_used: str | None = "Default"
    machine_policy: dict[str, Any] | None = None
    user_policy: dict[str, Any] | None = None
    as_service: bool = True  # the agent ran as SYSTEM: the user's hive is HKU\<sid>
    chrome_version: str = "124.0.6367.119"
    capture_export: bool = True  # False: a hand-made bundle without the MMDevices export
    with_local_state: bool = True
    browser: str = "chrome"  # "edge": the seat runs Microsoft Edge instead of Chrome

    def build(self) -> Bundle:
        user = {
            "name": WIN_USER,
            "home": WIN_HOME,
            "uid": None,
            "sid": WIN_SID if self.as_service else None,
            "agent_is_user": not self.as_service,
        }
        bundle = Bundle(self.name, "windows", self.hostname, user)
        hive = f"HKEY_USERS\\{WIN_SID}" if self.as_service else "HKEY_CURRENT_USER"
        bundle.reg(
            "os-version",
            reg_key(
                "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
                {
                    "SystemRoot": "C:\\WINDOWS",
                    "BuildBranch": "ni_release",
                    "CurrentBuild": "22631",
                    "CurrentBuildNumber": "22631",
                    "CurrentMajorVersionNumber": 10,
                    "CurrentMinorVersionNumber": 0,
                    "CurrentType": "Multiprocessor Free",
                    "CurrentVersion": "6.3",
                    "DisplayVersion": "23H2",
                    "EditionID": "Enterprise",
                    "InstallationType": "Client",
                    "ProductName": "Windows 10 Enterprise",
                    "RegisteredOrganization": "Acme Contact Centers",
                    "ReleaseId": "2009",
                    "UBR": 3447,
                },
            ),
        )
        bundle.reg(
            "consent-machine", reg_key(f"HKEY_LOCAL_MACHINE\\{CONSENT}", {"Value": self.device_access})
        )
        user_keys = [reg_key(f"{hive}\\{CONSENT}", {"Value": self.user_access})]
        for entry in self.package_usage:
            user_keys.append(
                reg_key(
                    f"{hive}\\{CONSENT}\\{entry.key}",
                    {
                        "Value": entry.value,
                        "LastUsedTimeStart": filetime(entry.start),
                        "LastUsedTimeStop": filetime(entry.stop),
                    },
                )
            )
        user_keys.append(reg_key(f"{hive}\\{CONSENT}\\NonPackaged", {"Value": self.desktop_apps}))
        for entry in self.desktop_usage:
            user_keys.append(
                reg_key(
                    f"{hive}\\{CONSENT}\\NonPackaged\\{entry.key}",
                    {
                        "LastUsedTimeStart": filetime(entry.start),
                        "LastUsedTimeStop": filetime(entry.stop),
                    },
                )
            )
        bundle.reg("consent-user", "\n".join(user_keys))
        if self.app_privacy is not None:
            bundle.reg(
                "app-privacy-policy",
                reg_key(
                    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\AppPrivacy",
                    {"LetAppsAccessMicrophone": self.app_privacy},
                ),
            )
        if self.capture_export:
            bundle.reg(
                "mmdevices-capture",
                "\n".join([reg_key(CAPTURE, {})] + [endpoint_reg(e) for e in self.endpoints]),
            )
        edge = self.browser == "edge"
        policy_key = "SOFTWARE\\Policies\\Microsoft\\Edge" if edge else "SOFTWARE\\Policies\\Google\\Chrome"
        stem_word = "edge" if edge else "chrome"
        for stem, root, policy in (
            (f"{stem_word}-policy-machine", "HKEY_LOCAL_MACHINE", self.machine_policy),
            (f"{stem_word}-policy-user", hive, self.user_policy),
        ):
            if policy is not None:
                bundle.reg(stem, chrome_policy_reg(f"{root}\\{policy_key}", policy))
        if edge:
            bundle.exists[winjoin(WIN_EDGE, "msedge.exe")] = True
            bundle.listing(
                WIN_EDGE,
                [
                    self.chrome_version,
                    "SetupMetrics",
                    "msedge.exe",
                    "msedge.VisualElementsManifest.xml",
                    "msedge_proxy.exe",
                ],
            )
            add_chrome(
                bundle, WIN_EDGE_USER_DATA, winjoin, self.profiles, self.last_used, self.with_local_state
            )
            bundle.exists[WIN_EDGE_USER_DATA] = True
        else:
            bundle.exists[winjoin(WIN_CHROME, "chrome.exe")] = True
            bundle.listing(
                WIN_CHROME,
                [
                    self.chrome_version,
                    "SetupMetrics",
                    "chrome.exe",
                    "chrome.VisualElementsManifest.xml",
                    "chrome_proxy.exe",
                    "master_preferences",
                ],
            )
            add_chrome(bundle, WIN_USER_DATA, winjoin, self.profiles, self.last_used, self.with_local_state)
        bundle.command(
            [
                "powershell.exe",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                "(Get-CimInstance -ClassName Win32_BIOS).SerialNumber",
            ],
            "5CG2381KQZ\r\n",
        )
        bundle.env.update(
            {"ProgramFiles": "C:\\Program Files", "ProgramFiles(x86)": "C:\\Program Files (x86)"}
        )
        return bundle


def chrome_policy_reg(path: str, policy: dict[str, Any]) -> str:
    values = {name: value for name, value in policy.items() if not isinstance(value, list)}
    parts = [reg_key(path, values)]
    for name, items in policy.items():
        if isinstance(items, list):
            parts.append(reg_key(f"{path}\\{name}", {str(i): item for i, item in enumerate(items, start=1)}))
    return "\n".join(parts)


def _cut(text: str, fraction: float) -> str:
    return text[: int(len(text) * fraction)]


def windows_cases() -> list[Bundle]:
    headset_then_builtin = Endpoint(
        **{
            **BUILTIN_ARRAY.__dict__,
            "console": dt.datetime(2024, 5, 13, 7, 58, 40, 10_000),
            "communications": dt.datetime(2024, 5, 13, 7, 58, 40, 10_000),
        }
    )
    teams_now = UsageEntry(TEAMS_USAGE.key, dt.datetime(2024, 5, 14, 7, 55, 12, tzinfo=UTC), None)
    zoom_now = UsageEntry(
        "C:#Users#mrivera#AppData#Roaming#Zoom#bin#Zoom.exe",
        dt.datetime(2024, 5, 14, 7, 49, 30, tzinfo=UTC),
        None,
    )
    jabra_exclusive = Endpoint(**{**JABRA.__dict__, "exclusive": 1})
    bt_handsfree = Endpoint(
        guid="{e1f07a63-9c2b-4d58-b3a4-5f8d2c61e0b9}",
        description="Headset",
        interface="Jabra Evolve2 65",
        instance="{1}.BTHHFENUM\\BTHHFPAUDIO\\8&2C9F8E3&0&97",
        enumerator="BTHHFENUM",
        form_factor=5,
        state=8,
    )
    cases = [
        WindowsSeat("windows-healthy", as_service=False),
        WindowsSeat("windows-device-mic-off", device_access="Deny"),
        WindowsSeat("windows-desktop-apps-mic-off", desktop_apps="Deny", package_usage=[TEAMS_USAGE]),
        WindowsSeat("windows-gpo-denies-mic", app_privacy=2),
        WindowsSeat(
            "windows-headset-not-default",
            endpoints=[headset_then_builtin, JACK_MIC, JABRA],
            profiles=[healthy_profile(ranking=["default"])],
        ),
        WindowsSeat(
            "windows-headset-disabled",
            endpoints=[
                BUILTIN_ARRAY,
                JACK_MIC,
                Endpoint(**{**JABRA.__dict__, "state": 0x10000001, "console": None, "communications": None}),
            ],
        ),
        WindowsSeat(
            "windows-no-active-capture",
            endpoints=[
                Endpoint(**{**BUILTIN_ARRAY.__dict__, "state": 0x10000001}),
                JACK_MIC,
                Endpoint(**{**JABRA.__dict__, "state": 4}),
                OLD_POLY,
            ],
        ),
        WindowsSeat(
            "windows-exclusive-mode-held",
            endpoints=[BUILTIN_ARRAY, JACK_MIC, jabra_exclusive],
            desktop_usage=[CHROME_USAGE, zoom_now],
            package_usage=[teams_now],
        ),
        WindowsSeat("windows-no-audio-export", capture_export=False),
        WindowsSeat("windows-only-builtin-mic", endpoints=[BUILTIN_ARRAY]),
        WindowsSeat(
            "windows-bluetooth-headset-no-mic",
            endpoints=[BUILTIN_ARRAY, JACK_MIC, bt_handsfree],
        ),
        WindowsSeat(
            "windows-chrome-policy-allowlist-misses-cti",
            machine_policy={
                "AudioCaptureAllowed": 0,
                "AudioCaptureAllowedUrls": ["https://acme.lightning.force.com", "https://[*.]zoom.us"],
                "DefaultNotificationsSetting": 2,
                "NotificationsAllowedForUrls": ["https://mail.google.com"],
            },
        ),
        WindowsSeat(
            "any-chrome-site-blocked",
            profiles=[healthy_profile(mic={site(CTI): exception(2, T_RECENT)})],
        ),
        WindowsSeat(
            "any-chrome-notifications-blocked",
            profiles=[
                healthy_profile(
                    notifications={site(CTI): exception(2, T_RECENT)}, defaults={"notifications": 2}
                )
            ],
        ),
        WindowsSeat(
            "any-chrome-several-profiles",
            profiles=[
                ChromeProfile(
                    "Default",
                    "Acme",
                    preferences(mic=HEALTHY_MIC, notifications=HEALTHY_NOTIFICATIONS, ranking=["default"]),
                ),
                ChromeProfile(
                    "Profile 1",
                    "Personal",
                    preferences(name="Personal", mic={site(CTI): exception(2, T_RECENT)}),
                ),
                ChromeProfile("Profile 3", "Training", None),
            ],
            last_used="Profile 1",
        ),
        WindowsSeat(
            # A floor that runs its softphone in Microsoft Edge; its policy forgets the CTI site.
            "windows-edge-policy-allowlist-misses-cti",
            browser="edge",
            chrome_version="124.0.2478.80",
            machine_policy={
                "AudioCaptureAllowed": 0,
                "AudioCaptureAllowedUrls": ["https://acme.lightning.force.com"],
            },
        ),
        WindowsSeat("windows-edge-healthy", browser="edge", chrome_version="124.0.2478.80"),
        WindowsSeat(
            # Local State lost (a profile copied by hand, a cleanup tool): the profile written
            # last is the one in use, here the one where the person blocked the CTI site.
            "any-chrome-no-local-state",
            with_local_state=False,
            profiles=[
                ChromeProfile(
                    "Default",
                    "Acme",
                    preferences(mic=HEALTHY_MIC, notifications=HEALTHY_NOTIFICATIONS, ranking=["default"]),
                    written=T_GRANTED,
                ),
                ChromeProfile(
                    "Profile 1",
                    "Personal",
                    preferences(name="Personal", mic={site(CTI): exception(2, T_RECENT)}),
                    written=T_RECENT,
                ),
            ],
        ),
        WindowsSeat(
            "any-chrome-preferences-corrupt",
            # Cut off two thirds in, as a crash or a full disk during a write leaves it.
            profiles=[ChromeProfile(prefs=_cut(preferences(mic=HEALTHY_MIC), 2 / 3))],
        ),
    ]
    bundles = [seat.build() for seat in cases]
    # A damaged export: cut off in the middle of a hex value, as an interrupted copy leaves it.
    damaged = WindowsSeat("windows-registry-export-truncated").build()
    whole = damaged.members["registry/consent-user.reg"]
    damaged.members["registry/consent-user.reg"] = whole[: len(whole) * 2 // 3 // 2 * 2]
    bundles.append(damaged)
    return bundles


# --- macOS ------------------------------------------------------------------------------------

MAC_USER = "mrivera"
MAC_HOME = f"/Users/{MAC_USER}"
MAC_USER_DATA = f"{MAC_HOME}/Library/Application Support/Google/Chrome"
USER_TCC = f"{MAC_HOME}/Library/Application Support/com.apple.TCC/TCC.db"
SYSTEM_TCC = "/Library/Application Support/com.apple.TCC/TCC.db"

TCC_SCHEMA_BIG_SUR = """
CREATE TABLE admin (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
CREATE TABLE policies (id INTEGER NOT NULL PRIMARY KEY, bundle_id TEXT NOT NULL, uuid TEXT NOT NULL,
 display TEXT NOT NULL, UNIQUE (bundle_id, uuid));
CREATE TABLE active_policy (client TEXT NOT NULL, client_type INTEGER NOT NULL, policy_id INTEGER NOT NULL,
 PRIMARY KEY (client, client_type),
 FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE access (service TEXT NOT NULL, client TEXT NOT NULL, client_type INTEGER NOT NULL,
 auth_value INTEGER NOT NULL, auth_reason INTEGER NOT NULL, auth_version INTEGER NOT NULL, csreq BLOB,
 policy_id INTEGER, indirect_object_identifier_type INTEGER,
 indirect_object_identifier TEXT NOT NULL DEFAULT 'UNUSED', indirect_object_code_identity BLOB,
 flags INTEGER, last_modified INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),
 pid INTEGER, pid_version INTEGER,
 boot_uuid TEXT NOT NULL DEFAULT 'UNUSED', last_reminded INTEGER NOT NULL DEFAULT 0,
 PRIMARY KEY (service, client, client_type, indirect_object_identifier),
 FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE access_overrides (service TEXT NOT NULL PRIMARY KEY);
CREATE TABLE expired (service TEXT NOT NULL, client TEXT NOT NULL, client_type INTEGER NOT NULL, csreq BLOB,
 last_modified INTEGER NOT NULL, expired_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),
 PRIMARY KEY (service, client, client_type));
CREATE INDEX active_policy_id ON active_policy(policy_id);
INSERT INTO admin VALUES ('version', 29);
"""

TCC_SCHEMA_CATALINA = """
CREATE TABLE admin (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
CREATE TABLE policies (id INTEGER NOT NULL PRIMARY KEY, bundle_id TEXT NOT NULL, uuid TEXT NOT NULL,
 display TEXT NOT NULL, UNIQUE (bundle_id, uuid));
CREATE TABLE active_policy (client TEXT NOT NULL, client_type INTEGER NOT NULL, policy_id INTEGER NOT NULL,
 PRIMARY KEY (client, client_type),
 FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE access (service TEXT NOT NULL, client TEXT NOT NULL, client_type INTEGER NOT NULL,
 allowed INTEGER NOT NULL, prompt_count INTEGER NOT NULL, csreq BLOB, policy_id INTEGER,
 indirect_object_identifier_type INTEGER, indirect_object_identifier TEXT, indirect_object_code_identity BLOB,
 flags INTEGER, last_modified INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),
 PRIMARY KEY (service, client, client_type, indirect_object_identifier),
 FOREIGN KEY (policy_id) REFERENCES policies(id) ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE access_overrides (service TEXT NOT NULL PRIMARY KEY);
CREATE TABLE expired (service TEXT NOT NULL, client TEXT NOT NULL, client_type INTEGER NOT NULL, csreq BLOB,
 last_modified INTEGER NOT NULL, expired_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),
 PRIMARY KEY (service, client, client_type));
CREATE INDEX active_policy_id ON active_policy(policy_id);
INSERT INTO admin VALUES ('version', 15);
"""


def csreq(identifier: str) -> bytes:
    """A code-requirement blob of the shape tccd stores (magic 0xfade0c00, identifier "...")."""
    ident = identifier.encode()
    padded = ident + b"\0" * (-len(ident) % 4)
    body = (
        struct.pack(">III", 1, 6, 2)
        + struct.pack(">I", len(ident))
        + padded
        + bytes.fromhex("0000000f0000000e000000010000000a2a864886f76364060206000000000000000000")
    )
    return struct.pack(">II", 0xFADE0C00, 8 + len(body)) + body


@dataclass
class TccRow:
    service: str
    client: str
    value: int  # auth_value (Big Sur+) or allowed (Catalina)
    modified: int = 1710752092


def tcc_database(rows: list[TccRow], *, catalina: bool = False) -> bytes:
    """TCC.db bytes: Apple's table definitions, realistic neighbouring rows."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "TCC.db"
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA page_size = 4096")
        connection.executescript(TCC_SCHEMA_CATALINA if catalina else TCC_SCHEMA_BIG_SUR)
        for row in rows:
            if catalina:
                connection.execute(
                    "INSERT INTO access (service, client, client_type, allowed, prompt_count, csreq,"
                    " policy_id, indirect_object_identifier_type, indirect_object_identifier,"
                    " indirect_object_code_identity, flags, last_modified)"
                    " VALUES (?, ?, 0, ?, 1, ?, NULL, NULL, 'UNUSED', NULL, 0, ?)",
                    (row.service, row.client, row.value, csreq(row.client), row.modified),
                )
            else:
                connection.execute(
                    "INSERT INTO access (service, client, client_type, auth_value, auth_reason,"
                    " auth_version, csreq, policy_id, indirect_object_identifier_type,"
                    " indirect_object_identifier, indirect_object_code_identity, flags, last_modified,"
                    " pid, pid_version, boot_uuid, last_reminded)"
                    " VALUES (?, ?, 0, ?, 2, 1, ?, NULL, 0, 'UNUSED', NULL, 0, ?, NULL, NULL, 'UNUSED', 0)",
                    (row.service, row.client, row.value, csreq(row.client), row.modified),
                )
        connection.commit()
        connection.close()
        return path.read_bytes()


NEIGHBOUR_ROWS = [
    TccRow("kTCCServiceMicrophone", "us.zoom.xos", 2, 1699873311),
    TccRow("kTCCServiceCamera", "us.zoom.xos", 2, 1699873313),
    TccRow("kTCCServiceMicrophone", "com.microsoft.teams2", 2, 1704961254),
    TccRow("kTCCServiceSystemPolicyDocumentsFolder", "com.microsoft.Word", 2, 1696411872),
    TccRow("kTCCServiceUbiquity", "com.apple.TextEdit", 2, 1693833801),
]


def spaudio_item(
    name: str,
    transport: str,
    *,
    inputs: int = 0,
    outputs: int = 0,
    manufacturer: str = "Apple Inc.",
    default_in: bool = False,
    default_out: bool = False,
    system_out: bool = False,
) -> dict[str, Any]:
    item: dict[str, Any] = {"_name": name}
    if default_in:
        item["coreaudio_default_audio_input_device"] = "spaudio_yes"
    if default_out:
        item["coreaudio_default_audio_output_device"] = "spaudio_yes"
    if system_out:
        item["coreaudio_default_audio_system_device"] = "spaudio_yes"
    if inputs:
        item["coreaudio_device_input"] = inputs
    item["coreaudio_device_manufacturer"] = manufacturer
    if outputs:
        item["coreaudio_device_output"] = outputs
    item["coreaudio_device_srate"] = 48000
    item["coreaudio_device_transport"] = transport
    if inputs:
        item["coreaudio_input_source"] = (
            "spaudio_default" if transport != "coreaudio_device_type_builtin" else name
        )
    if outputs:
        item["coreaudio_output_source"] = (
            "spaudio_default" if transport != "coreaudio_device_type_builtin" else name
        )
    return item


def system_profiler_json(items: list[dict[str, Any]]) -> str:
    """As macOS 13/14 print it: two-space indent, ' : ' between key and value."""
    document = {"SPAudioDataType": [{"_items": items, "_name": "coreaudio_device"}]}
    return json.dumps(document, indent=2, separators=(",", " : ")) + "\n"


JABRA_MAC = spaudio_item(
    "Jabra Evolve2 40",
    "coreaudio_device_type_usb",
    inputs=1,
    outputs=2,
    manufacturer="GN Audio A/S",
    default_in=True,
    default_out=True,
)
BUILTIN_MIC = spaudio_item("MacBook Pro Microphone", "coreaudio_device_type_builtin", inputs=1)
BUILTIN_SPEAKERS = spaudio_item(
    "MacBook Pro Speakers", "coreaudio_device_type_builtin", outputs=2, system_out=True
)
TEAMS_VIRTUAL = spaudio_item(
    "Microsoft Teams Audio",
    "coreaudio_device_type_virtual",
    inputs=1,
    outputs=1,
    manufacturer="Microsoft Corp.",
)

IOREG = (
    (
        "+-o Root  <class IORegistryEntry, id 0x100000100, retain 29>\n"
        "  +-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, "
        "busy 0 (118734 ms), retain 36>\n"
    )
    + """      {
        "IOPolledInterface" = "AppleARMWatchdogTimerHibernateHandler is not serializable"
        "#address-cells" = <02000000>
        "model" = <"MacBookPro18,3">
        "IOPlatformUUID" = "6A1C9E2B-3D7F-5E48-9B0C-1F2A3D4E5F60"
        "serial-number" = <43303246583150514d4431360000000000000000000000000000000000000000>
        "IOBusyInterest" = "IOCommand is not serializable"
        "compatible" = <"MacBookPro18,3","AppleARM">
        "IOPlatformSerialNumber" = "C02FX1PQMD16"
        "manufacturer" = <"Apple Inc.">
        "target-type" = <"J314s">
      }
    \n"""
)


@dataclass
class MacSeat:
    name: str
    hostname: str = "ACME-FL3-M022"
    product_version: str = "14.4.1"
    build_number: str = "23E224"
    chrome_tcc: int | None = 2  # auth_value of Chrome's microphone row; None: no row
    catalina: bool = False
    tcc_unreadable: str | None = None
    tcc_bytes: bytes | None = None
    mdm_deny: bool = False
    audio: list[dict[str, Any]] = field(
        default_factory=lambda: [JABRA_MAC, BUILTIN_MIC, BUILTIN_SPEAKERS, TEAMS_VIRTUAL]
    )
    audio_stdout: str | None = None
    profiles: list[ChromeProfile] = field(default_factory=lambda: [healthy_profile(ranking=["default"])])
    last_used: str | None = "Default"
    device_policy: dict[str, Any] | None = None
    device_policy_bytes: bytes | None = None
    chrome_version: str = "124.0.6367.119"
    profile_files: dict[str, bytes] = field(default_factory=dict)  # .mobileconfig files support added
    edge: bool = False  # the seat runs Microsoft Edge (com.microsoft.edgemac) instead of Chrome

    def build(self) -> Bundle:
        user = {"name": MAC_USER, "home": MAC_HOME, "uid": 501, "sid": None, "agent_is_user": False}
        bundle = Bundle(self.name, "macos", self.hostname, user)
        bundle.file(
            "/System/Library/CoreServices/SystemVersion.plist",
            plistlib.dumps(
                {
                    "BuildID": "5E1F8B2A-0C3D-11EF-9A4B-7C2D1E0F3A5B",
                    "ProductBuildVersion": self.build_number,
                    "ProductCopyright": "1983-2024 Apple Inc.",
                    "ProductName": "macOS",
                    "ProductUserVisibleVersion": self.product_version,
                    "ProductVersion": self.product_version,
                    "iOSSupportVersion": "17.4",
                }
            ),
        )
        bundle.command(["ioreg", "-c", "IOPlatformExpertDevice", "-d", "2"], IOREG)
        rows = list(NEIGHBOUR_ROWS)
        if self.chrome_tcc is not None:
            client = "com.microsoft.edgemac" if self.edge else "com.google.Chrome"
            rows.insert(2, TccRow("kTCCServiceMicrophone", client, self.chrome_tcc, 1710752092))
        if self.tcc_unreadable:
            bundle.unreadable(USER_TCC, self.tcc_unreadable)
            bundle.unreadable(SYSTEM_TCC, self.tcc_unreadable)
            bundle.unreadable(
                "/Library/Application Support/com.apple.TCC/MDMOverrides.plist",
                "permission denied reading /Library/Application Support/com.apple.TCC/MDMOverrides.plist",
            )
        else:
            bundle.file(
                USER_TCC,
                self.tcc_bytes if self.tcc_bytes is not None else tcc_database(rows, catalina=self.catalina),
            )
            bundle.file(
                SYSTEM_TCC,
                tcc_database(
                    [
                        TccRow("kTCCServiceSystemPolicyAllFiles", "com.acme.readyfloor-agent", 2, 1705312245),
                        TccRow("kTCCServiceAccessibility", "com.microsoft.teams2", 2, 1704961301),
                    ],
                    catalina=self.catalina,
                ),
            )
        if self.mdm_deny:
            bundle.file(
                "/Library/Application Support/com.apple.TCC/MDMOverrides.plist",
                plistlib.dumps(
                    {
                        "com.google.Chrome": {
                            "kTCCServiceMicrophone": {
                                "Allowed": False,
                                "CodeRequirement": (
                                    'identifier "com.google.Chrome" and anchor apple generic and '
                                    "certificate leaf[subject.OU] = EQHXZ8M8AV"
                                ),
                                "IdentifierType": "bundleID",
                            }
                        },
                        "com.acme.readyfloor-agent": {
                            "kTCCServiceSystemPolicyAllFiles": {
                                "Allowed": True,
                                "CodeRequirement": 'identifier "com.acme.readyfloor-agent"',
                                "IdentifierType": "bundleID",
                            },
                        },
                    },
                    fmt=plistlib.FMT_BINARY,
                ),
            )
        bundle.command(
            ["system_profiler", "SPAudioDataType", "-json"],
            self.audio_stdout if self.audio_stdout is not None else system_profiler_json(self.audio),
        )
        bundle.file(
            "/Applications/Microsoft Edge.app/Contents/Info.plist"
            if self.edge
            else "/Applications/Google Chrome.app/Contents/Info.plist",
            plistlib.dumps(
                {
                    "CFBundleDevelopmentRegion": "en",
                    "CFBundleDisplayName": "Google Chrome",
                    "CFBundleExecutable": "Google Chrome",
                    "CFBundleIdentifier": "com.google.Chrome",
                    "CFBundleName": "Chrome",
                    "CFBundlePackageType": "APPL",
                    "CFBundleShortVersionString": self.chrome_version,
                    "CFBundleVersion": self.chrome_version.split(".", 2)[2],
                    "KSChannelID-arm64": "arm64",
                    "KSProductID": "com.google.Chrome",
                    "KSVersion": self.chrome_version,
                    "LSMinimumSystemVersion": "10.15",
                    "NSMicrophoneUsageDescription": (
                        "Once Chrome has access, websites will be able to ask you for access."
                    ),
                }
            ),
        )
        if self.device_policy is not None:
            bundle.file(
                "/Library/Managed Preferences/com.google.Chrome.plist",
                plistlib.dumps(self.device_policy, fmt=plistlib.FMT_BINARY),
            )
        if self.device_policy_bytes is not None:
            bundle.file("/Library/Managed Preferences/com.google.Chrome.plist", self.device_policy_bytes)
        for name, data in self.profile_files.items():
            bundle.members[f"profiles/{name}"] = data
        user_data = f"{MAC_HOME}/Library/Application Support/Microsoft Edge" if self.edge else MAC_USER_DATA
        add_chrome(bundle, user_data, lambda *parts: "/".join(parts), self.profiles, self.last_used)
        return bundle


def chrome_mobileconfig() -> bytes:
    """A configuration profile with a Chrome custom-settings payload, as Jamf or Intune export it."""
    return plistlib.dumps(
        {
            "PayloadContent": [
                {
                    "AudioCaptureAllowed": False,
                    "AudioCaptureAllowedUrls": ["https://acme.lightning.force.com"],
                    "DefaultNotificationsSetting": 1,
                    "PayloadDisplayName": "Google Chrome",
                    "PayloadIdentifier": "com.google.Chrome.5B2E1C9A-7D43-4F0E-9A1B-2C3D4E5F6A7B",
                    "PayloadType": "com.google.Chrome",
                    "PayloadUUID": "5B2E1C9A-7D43-4F0E-9A1B-2C3D4E5F6A7B",
                    "PayloadVersion": 1,
                },
                {
                    "PayloadDisplayName": "Privacy Preferences Policy Control",
                    "PayloadType": "com.apple.TCC.configuration-profile-policy",
                    "PayloadUUID": "0C1D2E3F-4A5B-4C6D-8E7F-901A2B3C4D5E",
                    "PayloadVersion": 1,
                    "Services": {},
                },
            ],
            "PayloadDisplayName": "Acme softphone browser settings",
            "PayloadIdentifier": "com.acme.softphone.browser",
            "PayloadScope": "System",
            "PayloadType": "Configuration",
            "PayloadUUID": "8F9A0B1C-2D3E-4F50-A1B2-C3D4E5F60718",
            "PayloadVersion": 1,
        }
    )


def macos_cases() -> list[Bundle]:
    external_mic = spaudio_item("External Microphone", "coreaudio_device_type_builtin", inputs=1)
    external_out = spaudio_item(
        "External Headphones", "coreaudio_device_type_builtin", outputs=2, default_out=True
    )
    builtin_default = spaudio_item(
        "MacBook Pro Microphone", "coreaudio_device_type_builtin", inputs=1, default_in=True
    )
    airpods_output_only = spaudio_item(
        "AirPods Pro",
        "coreaudio_device_type_bluetooth",
        outputs=2,
        manufacturer="Apple Inc.",
        default_out=True,
    )
    cases = [
        MacSeat("macos-healthy"),
        MacSeat("macos-tcc-denied-chrome", chrome_tcc=0),
        MacSeat("macos-tcc-not-asked", chrome_tcc=None),
        MacSeat(
            "macos-catalina-tcc-allowed",
            product_version="10.15.7",
            build_number="19H2026",
            catalina=True,
            chrome_tcc=1,
            chrome_version="116.0.5845.187",
        ),
        MacSeat("macos-mdm-denies-mic", chrome_tcc=None, mdm_deny=True),
        MacSeat(
            "macos-no-full-disk-access",
            tcc_unreadable="/Users/mrivera/Library/Application Support/"
            "com.apple.TCC/TCC.db cannot be read: authorization denied",
        ),
        MacSeat("macos-tcc-db-corrupt", tcc_bytes=b"SQLite format 3\x00" + bytes(range(256)) * 12),
        MacSeat(
            "macos-external-mic-not-default",
            audio=[builtin_default, external_mic, external_out, BUILTIN_SPEAKERS],
        ),
        MacSeat(
            "macos-bluetooth-headset-no-mic", audio=[builtin_default, airpods_output_only, BUILTIN_SPEAKERS]
        ),
        MacSeat(
            "macos-system-profiler-truncated",
            audio_stdout=system_profiler_json([JABRA_MAC, BUILTIN_MIC, BUILTIN_SPEAKERS])[:611],
        ),
        MacSeat(
            # A shape this reader does not know: devices under another key than _items.
            "macos-system-profiler-unexpected-shape",
            audio_stdout=json.dumps(
                {"SPAudioDataType": [{"_name": "coreaudio_device", "_devices": [JABRA_MAC, BUILTIN_MIC]}]},
                indent=2,
            ),
        ),
        MacSeat("macos-only-builtin-mic", audio=[builtin_default, BUILTIN_SPEAKERS]),
        # Microsoft Edge on a Mac, denied the microphone in TCC (its own client id).
        MacSeat("macos-edge-tcc-denied", edge=True, chrome_tcc=0, chrome_version="124.0.2478.80"),
        MacSeat("macos-real-inzone-h3", audio_stdout=(REAL / "system-profiler-inzone-h3.json").read_text()),
        MacSeat(
            "macos-real-continuity-iphone",
            audio_stdout=(REAL / "system-profiler-continuity-iphone.json").read_text(),
        ),
        MacSeat(
            # A consumer gaming headset: no headset word in its name, no USB ids from
            # system_profiler, only its manufacturer says what it is.
            "macos-usb-gaming-headset",
            audio=[
                spaudio_item(
                    "Arctis Nova 7",
                    "coreaudio_device_type_usb",
                    inputs=1,
                    outputs=2,
                    manufacturer="SteelSeries",
                    default_in=True,
                    default_out=True,
                ),
                BUILTIN_MIC,
                BUILTIN_SPEAKERS,
                TEAMS_VIRTUAL,
            ],
        ),
        MacSeat(
            "macos-chrome-policy-blocks-notifications",
            device_policy={
                "AudioCaptureAllowed": False,
                "AudioCaptureAllowedUrls": [CTI],
                "DefaultNotificationsSetting": 2,
                "NotificationsBlockedForUrls": [CTI],
                "PasswordManagerEnabled": False,
            },
        ),
        MacSeat(
            # Support has the profile IT pushed, not the Mac's Managed Preferences.
            "macos-chrome-policy-mobileconfig",
            profile_files={"acme-chrome.mobileconfig": chrome_mobileconfig()},
        ),
        MacSeat(
            "macos-chrome-policy-plist-corrupt",
            device_policy_bytes=plistlib.dumps({"AudioCaptureAllowed": False}, fmt=plistlib.FMT_BINARY)[:23],
        ),
        MacSeat(
            "any-chrome-global-mic-blocked",
            profiles=[healthy_profile(mic={}, defaults={"media_stream_mic": 2})],
        ),
        MacSeat(
            "any-chrome-wrong-origin",
            profiles=[
                healthy_profile(
                    mic={
                        site("https://acme.lightning.force.com"): exception(1),
                        "http://acme.my.salesforce.com:80,*": exception(1),
                    }
                )
            ],
        ),
        MacSeat(
            "any-chrome-ranking-other-device",
            profiles=[
                healthy_profile(ranking=["MacBook Pro Microphone (Built-in)", "Jabra Evolve2 40 (0b0e:0305)"])
            ],
        ),
    ]
    return [seat.build() for seat in cases]


# --- Linux ------------------------------------------------------------------------------------

LINUX_USER = "mrivera"
LINUX_HOME = f"/home/{LINUX_USER}"
LINUX_USER_DATA = f"{LINUX_HOME}/.config/google-chrome"
SESSION_PREFIX = ["runuser", "-u", LINUX_USER, "--", "env", "XDG_RUNTIME_DIR=/run/user/1000", "LC_ALL=C"]


def volume(channels: list[str]) -> dict[str, Any]:
    return {channel: {"value": 65536, "value_percent": "100%", "db": "0.00 dB"} for channel in channels}


def pa_source(
    index: int,
    name: str,
    description: str,
    *,
    monitor_of: str | None = None,
    properties: dict[str, str],
    ports: list[dict[str, Any]] | None = None,
    state: str = "SUSPENDED",
    channels: list[str] | None = None,
) -> dict[str, Any]:
    channels = channels or ["front-left", "front-right"]
    ports = ports or []
    return {
        "index": index,
        "state": state,
        "name": name,
        "description": description,
        "driver": "PipeWire",
        "sample_specification": f"s32le {len(channels)}ch 48000Hz",
        "channel_map": ",".join(channels),
        "owner_module": 4294967295,
        "mute": False,
        "volume": volume(channels),
        "balance": 0.0,
        "base_volume": {"value": 65536, "value_percent": "100%", "db": "0.00 dB"},
        "monitor_source": "",
        "monitor_of_sink": monitor_of or "n/a",
        "latency": {"actual": 0.0, "configured": 0.0},
        "flags": ["HARDWARE", "HW_MUTE_CTRL", "HW_VOLUME_CTRL", "DECIBEL_VOLUME", "LATENCY"],
        "properties": properties,
        "ports": ports,
        "active_port": ports[0]["name"] if ports else None,
        "formats": ["pcm"],
    }


def pci_props(description: str, cls: str = "sound") -> dict[str, str]:
    return {
        "alsa.card": "0",
        "alsa.card_name": "HDA Intel PCH",
        "alsa.class": "generic",
        "alsa.components": "HDA:10ec0257,17aa2258,00100001",
        "alsa.driver_name": "snd_hda_intel",
        "alsa.id": "ALC257 Analog",
        "alsa.long_card_name": "HDA Intel PCH at 0xea320000 irq 147",
        "alsa.name": "ALC257 Analog",
        "api.alsa.path": "front:0",
        "api.alsa.pcm.card": "0",
        "card.profile.device": "9",
        "device.api": "alsa",
        "device.bus": "pci",
        "device.bus_path": "pci-0000:00:1f.3",
        "device.class": cls,
        "device.description": description,
        "device.form_factor": "internal",
        "device.icon_name": "audio-card-analog-pci",
        "device.product.id": "0x02c8",
        "device.product.name": "Comet Lake PCH cAVS",
        "device.profile.description": "Analog Stereo",
        "device.profile.name": "analog-stereo",
        "device.vendor.id": "0x8086",
        "device.vendor.name": "Intel Corporation",
        "media.class": "Audio/Source",
        "node.name": "alsa_input.pci-0000_00_1f.3.analog-stereo",
        "sysfs.path": "/devices/pci0000:00/0000:00:1f.3/sound/card0",
    }


def usb_headset_props() -> dict[str, str]:
    return {
        "alsa.card": "1",
        "alsa.card_name": "Jabra Evolve2 40",
        "alsa.driver_name": "snd_usb_audio",
        "alsa.long_card_name": "GN Audio A/S Jabra Evolve2 40 at usb-0000:00:14.0-3, full speed",
        "api.alsa.path": "hw:1",
        "device.api": "alsa",
        "device.bus": "usb",
        "device.bus_path": "pci-0000:00:14.0-usb-0:3:1.0",
        "device.class": "sound",
        "device.description": "Jabra Evolve2 40 Mono",
        "device.form_factor": "headset",
        "device.icon_name": "audio-headset-usb",
        "device.product.id": "0x0305",
        "device.product.name": "Jabra Evolve2 40",
        "device.serial": "GN_Audio_A_S_Jabra_Evolve2_40_A0D8F4B2C1E5",
        "device.vendor.id": "0x0b0e",
        "device.vendor.name": "GN Netcom A/S",
        "media.class": "Audio/Source",
        "node.name": "alsa_input.usb-GN_Audio_A_S_Jabra_Evolve2_40_A0D8F4B2C1E5-00.mono-fallback",
    }


BUILTIN_SOURCE = "alsa_input.pci-0000_00_1f.3.analog-stereo"
HEADSET_SOURCE = "alsa_input.usb-GN_Audio_A_S_Jabra_Evolve2_40_A0D8F4B2C1E5-00.mono-fallback"
INTERNAL_MIC_PORT = {
    "name": "analog-input-internal-mic",
    "description": "Internal Microphone",
    "type": "Mic",
    "priority": 8900,
    "availability_group": "Legacy 1",
    "availability": "availability unknown",
}
JACK_PORT = {
    "name": "analog-input-headset-mic",
    "description": "Headset Microphone",
    "type": "Headset",
    "priority": 8800,
    "availability_group": "Legacy 2",
    "availability": "not available",
}


def linux_sources(
    *, headset: bool = True, jack_first: bool = False, bluetooth_sink: bool = False
) -> list[Any]:
    monitor = pa_source(
        0,
        "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor",
        "Monitor of Built-in Audio Analog Stereo",
        monitor_of="alsa_output.pci-0000_00_1f.3.analog-stereo",
        properties=pci_props("Monitor of Built-in Audio Analog Stereo", "monitor"),
    )
    builtin_ports = [JACK_PORT, INTERNAL_MIC_PORT] if jack_first else [INTERNAL_MIC_PORT, JACK_PORT]
    sources = [
        monitor,
        pa_source(
            1,
            BUILTIN_SOURCE,
            "Built-in Audio Analog Stereo",
            properties=pci_props("Built-in Audio Analog Stereo"),
            ports=builtin_ports,
        ),
    ]
    if headset:
        sources.append(
            pa_source(
                2,
                "alsa_output.usb-GN_Audio_A_S_Jabra_Evolve2_40_A0D8F4B2C1E5-00.analog-stereo.monitor",
                "Monitor of Jabra Evolve2 40 Analog Stereo",
                monitor_of="alsa_output.usb-GN_Audio_A_S_Jabra_Evolve2_40_A0D8F4B2C1E5-00.analog-stereo",
                properties={**usb_headset_props(), "device.class": "monitor"},
            )
        )
        sources.append(
            pa_source(
                3,
                HEADSET_SOURCE,
                "Jabra Evolve2 40 Mono",
                properties=usb_headset_props(),
                ports=[
                    {
                        "name": "analog-input-mic",
                        "description": "Microphone",
                        "type": "Mic",
                        "priority": 8700,
                        "availability_group": "",
                        "availability": "availability unknown",
                    }
                ],
                channels=["mono"],
                state="RUNNING",
            )
        )
    if bluetooth_sink:
        sources.append(
            pa_source(
                4,
                "bluez_output.F4_4E_FD_6B_21_9A.1.monitor",
                "Monitor of Jabra Evolve2 65",
                monitor_of="bluez_output.F4_4E_FD_6B_21_9A.1",
                properties={
                    "api.bluez5.address": "F4:4E:FD:6B:21:9A",
                    "api.bluez5.codec": "aac",
                    "api.bluez5.profile": "a2dp-sink",
                    "device.api": "bluez5",
                    "device.bus": "bluetooth",
                    "device.class": "monitor",
                    "device.description": "Jabra Evolve2 65",
                    "device.form_factor": "headset",
                    "media.class": "Audio/Sink",
                },
            )
        )
    return sources


def pactl_info(default_source: str) -> str:
    return (
        json.dumps(
            {
                "server_string": "/run/user/1000/pulse/native",
                "library_protocol_version": 35,
                "server_protocol_version": 35,
                "is_local": "yes",
                "client_index": 97,
                "tile_size": 65472,
                "user_name": LINUX_USER,
                "host_name": "acme-fl1-l007",
                "server_name": "PulseAudio (on PipeWire 0.3.65)",
                "server_version": "15.0.0",
                "default_sample_specification": "float32le 2ch 48000Hz",
                "default_channel_map": "front-left,front-right",
                "default_sink_name": "alsa_output.pci-0000_00_1f.3.analog-stereo",
                "default_source_name": default_source,
                "cookie": "9d3e:41b0",
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def source_output(
    index: int, app: str, binary: str, source: int, media: str = "RecordStream"
) -> dict[str, Any]:
    return {
        "index": index,
        "driver": "PipeWire",
        "owner_module": "n/a",
        "client": str(index + 60),
        "source": source,
        "sample_specification": "float32le 1ch 48000Hz",
        "channel_map": "mono",
        "format": 'pcm, format.sample_format = "\\"float32le\\""  format.rate = "48000"  '
        'format.channels = "1"',
        "corked": False,
        "mute": False,
        "volume": volume(["mono"]),
        "balance": 0.0,
        "buffer_latency": 0.0,
        "source_latency": 0.0,
        "resample_method": "PipeWire",
        "properties": {
            "media.name": media,
            "application.name": app,
            "application.process.binary": binary,
            "application.process.id": str(4000 + index),
            "application.process.user": LINUX_USER,
            "application.language": "en_US.UTF-8",
            "native-protocol.peer": "UNIX socket client",
        },
    }


def _volume_text(source: dict[str, Any], *, pacmd: bool = False) -> str:
    parts = []
    for channel, value in source["volume"].items():
        percent = value["value_percent"].rstrip("%")
        parts.append(f"{channel}: {value['value']} / {percent:>3}% / {value['db']}")
    return ",   ".join(parts)


def pactl_text(sources: list[dict[str, Any]]) -> str:
    """``LC_ALL=C pactl list sources`` as pactl 14 prints it: one block per source, tab-indented."""
    blocks = []
    for source in sources:
        lines = [
            f"Source #{source['index']}",
            f"\tState: {source['state']}",
            f"\tName: {source['name']}",
            f"\tDescription: {source['description']}",
            "\tDriver: module-alsa-card.c",
            f"\tSample Specification: {source['sample_specification'].replace('s32le', 's16le')}",
            f"\tChannel Map: {source['channel_map']}",
            "\tOwner Module: 7",
            f"\tMute: {'yes' if source['mute'] else 'no'}",
            f"\tVolume: {_volume_text(source)}",
            "\t        balance 0.00",
            "\tBase Volume: 65536 / 100% / 0.00 dB",
            f"\tMonitor of Sink: {source['monitor_of_sink']}",
            "\tLatency: 0 usec, configured 0 usec",
            "\tFlags: HARDWARE HW_MUTE_CTRL HW_VOLUME_CTRL DECIBEL_VOLUME LATENCY ",
            "\tProperties:",
            *(f'\t\t{key} = "{value}"' for key, value in source["properties"].items()),
        ]
        if source["ports"]:
            lines.append("\tPorts:")
            for port in source["ports"]:
                group = (
                    f", availability group: {port['availability_group']}"
                    if port["availability_group"]
                    else ""
                )
                lines.append(
                    f"\t\t{port['name']}: {port['description']} (type: {port['type']}, "
                    f"priority: {port['priority']}{group}, {port['availability']})"
                )
            lines.append(f"\tActive Port: {source['active_port']}")
        lines += ["\tFormats:", "\t\tpcm", ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def pactl_info_text(default_source: str | None) -> str:
    return (
        "Server String: /run/user/1000/pulse/native\n"
        "Library Protocol Version: 34\n"
        "Server Protocol Version: 34\n"
        "Is Local: yes\n"
        "Client Index: 14\n"
        "Tile Size: 65472\n"
        f"User Name: {LINUX_USER}\n"
        "Host Name: acme-fl1-l007\n"
        "Server Name: pulseaudio\n"
        "Server Version: 14.2\n"
        "Default Sample Specification: s16le 2ch 44100Hz\n"
        "Default Channel Map: front-left,front-right\n"
        "Default Sink: alsa_output.pci-0000_00_1f.3.analog-stereo\n"
        + (f"Default Source: {default_source}\n" if default_source else "")
        + "Cookie: 5e1d:9a0c\n"
    )


def pacmd_text(sources: list[dict[str, Any]], default_source: str | None) -> str:
    """``pacmd list-sources`` as PulseAudio 13 prints it: '* index' marks the default."""
    out = [f"{len(sources)} source(s) available."]
    for source in sources:
        star = "*" if source["name"] == default_source else " "
        out += [
            f"  {star} index: {source['index']}",
            f"\tname: <{source['name']}>",
            "\tdriver: <module-alsa-card.c>",
            "\tflags: HARDWARE HW_MUTE_CTRL HW_VOLUME_CTRL DECIBEL_VOLUME LATENCY DYNAMIC_LATENCY",
            f"\tstate: {source['state']}",
            "\tsuspend cause: IDLE",
            "\tpriority: 9039",
            f"\tvolume: {_volume_text(source, pacmd=True)}",
            "\t        balance 0.00",
            "\tbase volume: 65536 / 100% / 0.00 dB",
            "\tvolume steps: 65537",
            f"\tmuted: {'yes' if source['mute'] else 'no'}",
            "\tcurrent latency: 0.00 ms",
            "\tmax rewind: 0 KiB",
            f"\tsample spec: {source['sample_specification'].replace('s32le', 's16le')}",
            f"\tchannel map: {source['channel_map']}",
            "\t             Stereo",
            "\tused by: 0",
            "\tlinked by: 0",
            "\tfixed latency: 3.00 ms",
        ]
        if source["monitor_of_sink"] != "n/a":
            out.append("\tmonitor_of: 0")
        out += ["\tmodule: 7", "\tproperties:"]
        out += [f'\t\t{key} = "{value}"' for key, value in source["properties"].items()]
        if source["ports"]:
            out.append("\tports:")
            for port in source["ports"]:
                available = {"not available": "no", "available": "yes"}.get(port["availability"], "unknown")
                out += [
                    f"\t\t{port['name']}: {port['description']} (priority {port['priority']}, "
                    f"latency offset 0 usec, available: {available})",
                    "\t\t\tproperties:",
                    '\t\t\t\tdevice.icon_name = "audio-input-microphone"',
                ]
            out.append(f"\tactive port: <{source['active_port']}>")
    return "\n".join(out) + "\n"


ASOUND_CARDS = """ 0 [PCH            ]: HDA-Intel - HDA Intel PCH
                      HDA Intel PCH at 0xea320000 irq 147
 1 [Evolve240      ]: USB-Audio - Jabra Evolve2 40
                      GN Audio A/S Jabra Evolve2 40 at usb-0000:00:14.0-3, full speed
"""
ASOUND_PCM = """00-00: ALC257 Analog : ALC257 Analog : playback 1 : capture 1
00-03: HDMI 0 : HDMI 0 : playback 1
00-07: HDMI 1 : HDMI 1 : playback 1
01-00: USB Audio : USB Audio : playback 1 : capture 1
"""


@dataclass
class LinuxSeat:
    name: str
    hostname: str = "acme-fl1-l007"
    sources: list[Any] | None = None
    sources_text: str | None = None
    default_source: str = HEADSET_SOURCE
    outputs: list[Any] = field(default_factory=list)
    pactl_failure: str | None = None  # stderr of a pactl that cannot reach the sound server
    hand_typed: bool = False  # support staff ran pactl themselves (no session wrapper)
    profiles: list[ChromeProfile] = field(default_factory=lambda: [healthy_profile(ranking=["default"])])
    last_used: str | None = "Default"
    policy_files: dict[str, str] = field(default_factory=dict)
    headless: bool = False  # no sound server, no sound card: a server or a container
    chromium_snap: bool = False  # the seat runs Ubuntu's Chromium snap instead of Google Chrome
    # How the sound server is read: "json" (pactl 16+), "text" (older pactl: no -f json),
    # "pacmd" (PulseAudio without pulseaudio-utils), "json-no-default" (no default source known).
    reader: str = "json"
    real_sources_text: str | None = None  # with reader "text": a real `pactl list sources` output

    def build(self) -> Bundle:
        user = {"name": LINUX_USER, "home": LINUX_HOME, "uid": 1000, "sid": None, "agent_is_user": False}
        bundle = Bundle(self.name, "linux", self.hostname, user)
        bundle.file(
            "/etc/os-release",
            'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
            'VERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n'
            'HOME_URL="https://www.ubuntu.com/"\nUBUNTU_CODENAME=jammy\n',
        )
        bundle.unreadable(
            "/sys/class/dmi/id/product_serial", "permission denied reading /sys/class/dmi/id/product_serial"
        )
        bundle.exists["/run/user/1000"] = True
        if self.chromium_snap:
            bundle.exists["/snap/bin/chromium"] = True
            # Chromium writes the version it last ran as into its profile folder.
            bundle.file(f"{LINUX_HOME}/snap/chromium/common/chromium/Last Version", "124.0.6367.118")
        else:
            bundle.exists["/opt/google/chrome/chrome"] = True
            bundle.command(["/opt/google/chrome/chrome", "--version"], "Google Chrome 124.0.6367.118 \n")
        pactl = ["pactl"] if self.hand_typed else [*SESSION_PREFIX, "pactl"]
        if self.headless:
            bundle.missing_command([*pactl, "-f", "json", "list", "sources"])
            bundle.files.append({"path": "/proc/asound/cards", "missing": True})
            bundle.dirs.append({"path": "/sys/bus/usb/devices", "entries": ["usb1", "1-0:1.0"]})
            bundle.file("/sys/bus/usb/devices/1-0:1.0/bInterfaceClass", "09\n")
        elif self.reader == "text":
            sources = self.sources if self.sources is not None else linux_sources()
            bundle.command([*pactl, "-f", "json", "list", "sources"], "", "pactl: invalid option -- 'f'\n", 1)
            bundle.command([*pactl, "list", "sources"], self.real_sources_text or pactl_text(sources))
            bundle.command([*pactl, "info"], pactl_info_text(self.default_source))
            bundle.command([*pactl, "list", "source-outputs"], "")
        elif self.reader == "pacmd":
            sources = self.sources if self.sources is not None else linux_sources()
            bundle.missing_command([*pactl, "-f", "json", "list", "sources"])
            bundle.command([*pactl[:-1], "pacmd", "list-sources"], pacmd_text(sources, self.default_source))
        elif self.reader == "json-no-default":
            bundle.command(
                [*pactl, "-f", "json", "list", "sources"],
                json.dumps(
                    self.sources if self.sources is not None else linux_sources(), separators=(",", ":")
                )
                + "\n",
            )
            bundle.command([*pactl, "get-default-source"], "", "No valid command specified.\n", 1)
            bundle.command([*pactl, "-f", "json", "info"], pactl_info(""))
            bundle.command([*pactl, "-f", "json", "list", "source-outputs"], "[]\n")
        elif self.pactl_failure is not None:
            bundle.command([*pactl, "-f", "json", "list", "sources"], "", self.pactl_failure, 1)
        else:
            sources_text = self.sources_text
            if sources_text is None:
                sources_text = (
                    json.dumps(
                        self.sources if self.sources is not None else linux_sources(), separators=(",", ":")
                    )
                    + "\n"
                )
            bundle.command([*pactl, "-f", "json", "list", "sources"], sources_text)
            bundle.command([*pactl, "get-default-source"], self.default_source + "\n")
            bundle.command(
                [*pactl, "-f", "json", "list", "source-outputs"],
                json.dumps(self.outputs, separators=(",", ":")) + "\n",
            )
        if self.pactl_failure is not None or self.sources_text is not None:
            # What the agent reads when pactl gives no usable answer.
            bundle.file("/proc/asound/cards", ASOUND_CARDS)
            bundle.file("/proc/asound/pcm", ASOUND_PCM)
            bundle.unreadable("/proc/asound/card0/usbid", "/proc/asound/card0/usbid does not exist")
            bundle.file("/proc/asound/card1/usbid", "0b0e:0305\n")
            bundle.listing(
                "/sys/bus/usb/devices",
                [
                    "1-0:1.0",
                    "1-3",
                    "1-3:1.0",
                    "1-3:1.1",
                    "1-3:1.2",
                    "1-3:1.3",
                    "1-7",
                    "1-7:1.0",
                    "2-0:1.0",
                    "usb1",
                    "usb2",
                ],
            )
            for interface, cls in (
                ("1-0:1.0", "09"),
                ("1-3:1.0", "01"),
                ("1-3:1.1", "01"),
                ("1-3:1.2", "01"),
                ("1-3:1.3", "03"),
                ("1-7:1.0", "e0"),
                ("2-0:1.0", "09"),
            ):
                bundle.file(f"/sys/bus/usb/devices/{interface}/bInterfaceClass", f"{cls}\n")
            bundle.file("/sys/bus/usb/devices/1-3/idVendor", "0b0e\n")
            bundle.file("/sys/bus/usb/devices/1-3/idProduct", "0305\n")
        policy_dir = (
            "/etc/chromium-browser/policies/managed"
            if self.chromium_snap
            else "/etc/opt/chrome/policies/managed"
        )
        bundle.listing(policy_dir, sorted(self.policy_files))
        for file_name, text in self.policy_files.items():
            bundle.file(f"{policy_dir}/{file_name}", text)
        if not self.policy_files:
            bundle.dirs[-1] = {"path": policy_dir, "missing": True}
        user_data = f"{LINUX_HOME}/snap/chromium/common/chromium" if self.chromium_snap else LINUX_USER_DATA
        add_chrome(bundle, user_data, lambda *parts: "/".join(parts), self.profiles, self.last_used)
        if self.chromium_snap:
            bundle.exists[user_data] = True
        return bundle


def _muted(
    sources: list[dict[str, Any]], *, mute: bool = False, volume: int | None = None
) -> list[dict[str, Any]]:
    """The headset source muted, or its level at ``volume`` percent."""
    for source in sources:
        if source["name"] == HEADSET_SOURCE:
            source["mute"] = mute
            if volume is not None:
                raw = round(65536 * volume / 100)
                source["volume"] = {
                    channel: {
                        "value": raw,
                        "value_percent": f"{volume}%",
                        "db": "-inf dB" if not volume else "0.00 dB",
                    }
                    for channel in source["volume"]
                }
    return sources


def linux_cases() -> list[Bundle]:
    cases = [
        LinuxSeat(
            "linux-healthy-pactl", outputs=[source_output(188, "Google Chrome", "chrome", 3, "WebRTC")]
        ),
        LinuxSeat("linux-pactl-outside-session", pactl_failure="Connection failure: Connection refused\n"),
        LinuxSeat("linux-headset-not-default", default_source=BUILTIN_SOURCE),
        LinuxSeat("linux-headless", headless=True),
        LinuxSeat(
            # Ubuntu's Chromium snap: profile under ~/snap, policies in /etc/chromium-browser.
            "linux-chromium-snap-notifications-blocked",
            chromium_snap=True,
            policy_files={"acme.json": json.dumps({"DefaultNotificationsSetting": 2}, indent=2) + "\n"},
        ),
        LinuxSeat("linux-pactl-text-pulseaudio-14", reader="text"),
        LinuxSeat("linux-pacmd-only", reader="pacmd"),
        LinuxSeat(
            "linux-real-pipewire-corsair-hs70",
            reader="text",
            real_sources_text=(REAL / "pactl-list-sources-pipewire-corsair-hs70.txt").read_text(),
            default_source=REAL_CORSAIR_SOURCE,
        ),
        LinuxSeat("linux-default-source-unknown", reader="json-no-default"),
        LinuxSeat("linux-headset-muted", sources=_muted(linux_sources(), mute=True)),
        LinuxSeat("linux-headset-volume-zero-text", reader="text", sources=_muted(linux_sources(), volume=0)),
        LinuxSeat(
            "linux-only-builtin-mic", sources=linux_sources(headset=False), default_source=BUILTIN_SOURCE
        ),
        LinuxSeat(
            "linux-headset-unplugged",
            sources=linux_sources(headset=False, jack_first=True),
            default_source=BUILTIN_SOURCE,
        ),
        LinuxSeat(
            "linux-bluetooth-headset-no-mic",
            sources=linux_sources(headset=False, bluetooth_sink=True),
            default_source=BUILTIN_SOURCE,
        ),
        LinuxSeat(
            "linux-mic-held-by-other-app",
            outputs=[
                source_output(171, "ZOOM VoiceEngine", "zoom", 3),
                source_output(175, "PulseAudio Volume Control", "pavucontrol", 3, "Peak detect"),
            ],
        ),
        LinuxSeat(
            "linux-pactl-json-decimal-comma",
            hand_typed=True,
            sources_text=json.dumps(linux_sources(), separators=(",", ":")).replace(
                '"balance":0.0', '"balance":0,00'
            )
            + "\n",
        ),
        LinuxSeat(
            "linux-chrome-policy-audio-capture-off",
            policy_files={
                "10-acme-softphone.json": json.dumps(
                    {
                        "AudioCaptureAllowed": False,
                        "AudioCaptureAllowedUrls": ["https://acme.lightning.force.com"],
                    },
                    indent=2,
                )
                + "\n",
                "20-acme-notifications.json": json.dumps({"DefaultNotificationsSetting": 2}, indent=2) + "\n",
            },
        ),
        LinuxSeat(
            "linux-chrome-policy-json-corrupt",
            policy_files={
                "acme.json": '{\n  "AudioCaptureAllowedUrls": [\n    "https://acme.my.salesforce.com",\n',
            },
        ),
        LinuxSeat(
            "any-chrome-one-time-allow",
            profiles=[
                healthy_profile(
                    mic={
                        site(CTI): exception(
                            1, T_RECENT, expiration=chrome_time(T_RECENT + dt.timedelta(hours=1)), model=3
                        )
                    }
                )
            ],
        ),
        LinuxSeat("any-chrome-preferences-missing", profiles=[ChromeProfile("Default", "Acme", None)]),
    ]
    return [seat.build() for seat in cases]


def all_bundles() -> list[Bundle]:
    return [*windows_cases(), *macos_cases(), *linux_cases()]


def build_all(root: Path = ROOT) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    return [bundle.write(root) for bundle in all_bundles()]


if __name__ == "__main__":
    for folder in build_all():
        print(folder.relative_to(ROOT.parent.parent.parent))
