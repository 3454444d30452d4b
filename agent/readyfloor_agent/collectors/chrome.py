"""Chrome: installation, every profile's microphone/notification settings, managed policy.

The files are the same on every OS (``Local State``, ``<profile>/Preferences``); only where
they live, how Chrome is installed and where policy comes from differ, and those come from
the per-OS module (``chrome_install``, ``chrome_user_data_dir``, ``chrome_policy``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..checks.browsers import CHROME, Browser
from ..host import Host, NotFound, ReadError
from .reading import from_1601_microseconds, join_reasons, short

# Preferences grow with browsing history (site engagement, sessions); a few MB is normal.
PREFERENCES_LIMIT = 32_000_000
LOCAL_STATE_LIMIT = 16_000_000
MAX_PROFILES = 50
MAX_EXCEPTIONS = 500
MAX_URLS = 500

POLICY_BOOLEANS = ("AudioCaptureAllowed",)
POLICY_SETTINGS = ("DefaultNotificationsSetting", "DefaultMediaStreamSetting")
POLICY_LISTS = ("AudioCaptureAllowedUrls", "NotificationsAllowedForUrls", "NotificationsBlockedForUrls")
POLICY_NAMES = POLICY_BOOLEANS + POLICY_SETTINGS + POLICY_LISTS

_PROFILE_DIR = re.compile(r"Default|Profile \d+")


@dataclass
class ChromeInstall:
    installed: bool | None
    version: str | None = None
    reason: str | None = None


@dataclass
class PolicyReading:
    """Policies as the platform stores them (before normalising), merged by precedence."""

    values: dict[str, Any] = field(default_factory=dict)
    source: str = "file"
    problems: list[str] = field(default_factory=list)


def collect(host: Host, system: ModuleType, browser: Browser = CHROME) -> dict[str, Any]:
    """The facts of one Chromium-family browser (Chrome by default: the report's "chrome")."""
    install: ChromeInstall = system.chrome_install(host, browser)
    if browser is not CHROME:
        return _other_browser(host, system, browser, install)
    return _browser_facts(host, system, browser, install)


def _other_browser(
    host: Host, system: ModuleType, browser: Browser, install: ChromeInstall
) -> dict[str, Any]:
    """Edge and Chromium are read in full only where they are installed (or have a profile):
    most seats have one browser, and the others should cost neither reads nor report size."""
    if install.installed is False:
        try:
            user_data_dir = system.chrome_user_data_dir(host, browser)
        except ReadError:
            user_data_dir = None
        if user_data_dir is None or not host.exists(user_data_dir):
            return {
                "status": "ok",
                "source": host.source("file"),
                "reason": f"{browser.label} is not installed",
                "browser": browser.id,
                "installed": False,
                "profiles": [],
            }
    return _browser_facts(host, system, browser, install)


def _browser_facts(
    host: Host, system: ModuleType, browser: Browser, install: ChromeInstall
) -> dict[str, Any]:
    reasons: list[str | None] = [install.reason]
    status = "ok"
    user_data_dir: str | None = None
    profiles: list[dict[str, Any]] = []
    last_used: str | None = None
    try:
        user_data_dir = system.chrome_user_data_dir(host, browser)
    except ReadError as error:
        status = "unknown"
        reasons.append(f"{browser.short} profiles not read: {error.reason}")
    if user_data_dir:
        try:
            profiles, last_used, note = read_profiles(host, user_data_dir)
        except ReadError as error:
            # Neither Local State nor the folder could be read: the profiles are unknown, which
            # is not the same as "Chrome has not been started".
            status = "unknown"
            note = f"{browser.short} profiles not read: {error.reason}"
        reasons.append(note)
    facts: dict[str, Any] = {
        "status": status,
        "source": host.source("file"),
        "reason": join_reasons(*reasons),
        "installed": install.installed,
        "version": install.version,
        "user_data_dir": user_data_dir,
        "last_used_profile": last_used,
        "profiles": profiles,
        "policy": policy_facts(system.chrome_policy(host, browser)),
    }
    if browser is not CHROME:
        facts["browser"] = browser.id
    return facts


# --- Profiles ---------------------------------------------------------------------------------


def read_profiles(host: Host, user_data_dir: str) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(profiles, last used profile dir, note). Every profile is reported; the checks judge
    the last-used one. Chrome's Local State names it; without a usable Local State, the
    profile whose Preferences were written last is the one in use (Chrome writes them as the
    person browses), and the note says so."""
    notes: list[str] = []
    info_cache: dict[str, Any] = {}
    last_used: str | None = None
    local_state_problem: str | None = None
    try:
        local_state = host.read_json(host.join(user_data_dir, "Local State"), limit=LOCAL_STATE_LIMIT)
    except NotFound:
        local_state = None
        local_state_problem = "Local State is missing"
    except ReadError as error:
        local_state = None
        local_state_problem = f"Local State is unreadable ({error.reason})"
    if isinstance(local_state, dict):
        profile_state = local_state.get("profile")
        if isinstance(profile_state, dict):
            cache = profile_state.get("info_cache")
            info_cache = cache if isinstance(cache, dict) else {}
            named = profile_state.get("last_used")
            last_used = named if isinstance(named, str) and named else None
    elif local_state is not None:
        local_state_problem = "Local State is not a JSON object"
    try:
        entries = host.list_dir(user_data_dir)
    except NotFound:
        return [], None, "the browser has not been started by this user yet (no user data folder)"
    except ReadError as error:
        if not info_cache:
            raise ReadError(
                join_reasons(local_state_problem, f"user data folder not listed: {error.reason}") or ""
            ) from None
        entries = []
        notes.append(f"user data folder not listed: {error.reason}")
    dirs = {name for name in info_cache if isinstance(name, str)}
    dirs.update(name for name in entries if _PROFILE_DIR.fullmatch(name))
    if not dirs:
        return [], None, join_reasons(local_state_problem, *notes, "no Chrome profile folders yet")
    ordered = sorted(dirs, key=_profile_order)
    if len(ordered) > MAX_PROFILES:
        keep = ordered[:MAX_PROFILES]
        if last_used in dirs and last_used not in keep:
            keep[-1] = last_used
        notes.append(f"{len(ordered)} profiles; only {MAX_PROFILES} reported")
        ordered = keep
    profiles = [read_profile(host, user_data_dir, name, info_cache.get(name), False) for name in ordered]
    chosen_by = "local_state"
    if local_state_problem is not None:
        last_used, chosen_by, note = _most_recent_profile(host, user_data_dir, profiles, local_state_problem)
        notes.insert(0, note)
    elif last_used is None and "Default" in dirs:
        # Chrome opens "Default" when Local State names no last-used profile.
        last_used, chosen_by = "Default", "default"
    for profile in profiles:
        if profile["dir"] == last_used:
            profile["last_used"] = True
            profile["last_used_by"] = chosen_by
    return profiles, last_used, join_reasons(*notes)


def _most_recent_profile(
    host: Host, user_data_dir: str, profiles: list[dict[str, Any]], problem: str
) -> tuple[str | None, str, str]:
    """The profile in use when Local State cannot say: of those with Preferences, the one
    written last; without file times, 'Default' (what Chrome opens first), else the first.
    The time itself stays out of the facts: Chrome rewrites Preferences all day, and facts
    that changed with it would never be a heartbeat."""
    with_prefs = [p for p in profiles if p["status"] != "missing"]
    written: dict[str, dt.datetime] = {}
    for profile in with_prefs:
        try:
            written[profile["dir"]] = host.modified(host.join(user_data_dir, profile["dir"], "Preferences"))
        except ReadError:
            continue
    if written:
        newest = max(written, key=lambda name: (written[name], name))
        others = len(with_prefs) - 1
        also = f"; {others} other profile{'s' if others != 1 else ''} with Preferences" if others else ""
        return (
            newest,
            "file_time",
            f"{problem}: judged profile '{newest}', whose Preferences were written last{also}",
        )
    names = [p["dir"] for p in with_prefs] or [p["dir"] for p in profiles]
    chosen = "Default" if "Default" in names else names[0]
    return chosen, "default", f"{problem} and no file times were readable: judged profile '{chosen}'"


def _profile_order(name: str) -> tuple[int, int, str]:
    if name == "Default":
        return (0, 0, name)
    match = re.fullmatch(r"Profile (\d+)", name)
    return (1, int(match.group(1)), name) if match else (2, 0, name)


def read_profile(host: Host, user_data_dir: str, name: str, info: Any, last_used: bool) -> dict[str, Any]:
    display = info.get("name") if isinstance(info, dict) else None
    profile: dict[str, Any] = {
        "dir": name[:200],
        "name": display[:200] if isinstance(display, str) else None,
        "last_used": last_used,
    }
    path = host.join(user_data_dir, name, "Preferences")
    try:
        prefs = host.read_json(path, limit=PREFERENCES_LIMIT)
    except NotFound:
        return {
            **profile,
            "status": "missing",
            "reason": "no Preferences file: Chrome has not run with this profile",
        }
    except ReadError as error:
        return {**profile, "status": "unknown", "reason": short(error.reason)}
    try:
        settings = preference_facts(prefs)
    except ValueError as error:
        return {**profile, "status": "unknown", "reason": short(str(error))}
    if profile["name"] is None:
        # Without Local State the display name is still in the profile's own Preferences.
        own = _dict(prefs.get("profile")).get("name")
        profile["name"] = own[:200] if isinstance(own, str) and own else None
    return {**profile, "status": "ok", "reason": None, **settings}


def preference_facts(prefs: Any) -> dict[str, Any]:
    """The microphone and notification facts of one parsed Preferences document. Raises
    ValueError when it is not a Preferences document at all."""
    if not isinstance(prefs, dict):
        raise ValueError("Preferences is not a JSON object (corrupt?)")
    profile = _dict(prefs.get("profile"))
    defaults = _dict(profile.get("default_content_setting_values"))
    exceptions = _dict(_dict(profile.get("content_settings")).get("exceptions"))
    media = _dict(prefs.get("media"))
    return {
        "mic_default": _content_setting(defaults.get("media_stream_mic")),
        "notifications_default": _content_setting(defaults.get("notifications")),
        "mic_exceptions": site_exceptions(exceptions.get("media_stream_mic")),
        "notification_exceptions": site_exceptions(exceptions.get("notifications")),
        "audio_input_ranking": _ranking(_dict(media.get("audio_input")).get("user_preference_ranking")),
        "default_audio_capture_device": _text(media.get("default_audio_capture_device"), 300),
    }


def site_exceptions(entries: Any) -> list[dict[str, Any]]:
    if not isinstance(entries, dict):
        return []
    out: list[dict[str, Any]] = []
    for pattern, entry in entries.items():
        if len(out) >= MAX_EXCEPTIONS:
            break
        if not isinstance(pattern, str) or not isinstance(entry, dict):
            continue
        model = entry.get("model")
        out.append(
            {
                "pattern": pattern[:2048],
                "setting": _content_setting(entry.get("setting")),
                "model": model if _is_int(model) and 0 <= model <= 10 else None,
                "last_modified": from_1601_microseconds(entry.get("last_modified")),
                "expiration": from_1601_microseconds(entry.get("expiration")),
            }
        )
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _content_setting(value: Any) -> int | None:
    return value if _is_int(value) and 0 <= value <= 3 else None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _ranking(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [item[:300] for item in value if isinstance(item, str)][:50]


# --- Policy -----------------------------------------------------------------------------------


def policy_facts(reading: PolicyReading) -> dict[str, Any]:
    problems = list(reading.problems)
    facts: dict[str, Any] = {"status": "ok", "source": reading.source[:100]}
    values = reading.values
    for name in POLICY_BOOLEANS:
        facts[name] = _policy_bool(values.get(name), name, problems)
    for name in POLICY_SETTINGS:
        facts[name] = _policy_setting(values.get(name), name, problems)
    for name in POLICY_LISTS:
        facts[name] = _policy_list(values.get(name), name, problems)
    # A value Chrome would reject leaves the effective policy in doubt: say so rather than guess.
    facts["status"] = "unknown" if problems else "ok"
    facts["reason"] = join_reasons(*problems)
    return facts


def _policy_bool(value: Any, name: str, problems: list[str]) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    # The Windows registry and some plists store booleans as 0/1.
    if _is_int(value) and value in (0, 1):
        return bool(value)
    problems.append(f"{name} has an unexpected value {value!r:.40}")
    return None


def _policy_setting(value: Any, name: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    if _is_int(value) and 1 <= value <= 3:
        return value
    problems.append(f"{name} has an unexpected value {value!r:.40}")
    return None


def _policy_list(value: Any, name: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{name} is not a list")
        return []
    items = [item[:2048] for item in value if isinstance(item, str)]
    if len(items) > MAX_URLS:
        problems.append(f"{name} has {len(items)} entries; only {MAX_URLS} reported")
    return items[:MAX_URLS]


def merge_policies(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Later layers win, policy by policy (not entry by entry: a list policy is one value)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for name in POLICY_NAMES:
            if name in layer:
                merged[name] = layer[name]
    return merged
