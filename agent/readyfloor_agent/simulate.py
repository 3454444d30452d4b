"""A floor of virtual seats that talk to a real server through the real agent API.

Used for the demo ("a living floor": seats break and get fixed), for load tests and for the
agent's own tests. Each virtual seat enrols with ``seat={floor, label}`` and then reports the
facts of one *scenario* — a healthy Windows, Mac or Linux seat, or one of the ways a seat
fails in real fleets (see :data:`SCENARIOS`). The facts are shaped exactly as the collectors
shape them and validate against ``report.schema.json``; they are deterministic per seat, so
unchanged seats send heartbeats (``facts_hash``) just as real agents do.

Virtual seats keep no spool: a check-in that fails is counted and the seat tries again on its
next turn. Offline seats send one report dated ``offline_age_s`` in the past and then fall
silent, so the server sees them as stale at once.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import heapq
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__, report
from .client import AgentClient, FactsRequired, NodeInvalid, Rejected, Unavailable
from .spool import write_file_durably

DEFAULT_CTI_ORIGIN = "https://acme.my.salesforce.com"
DEFAULT_OS_MIX: dict[str, float] = {"windows": 70, "macos": 20, "linux": 10}
CHROME_VERSION = "142.0.7444.60"
# Fixed instants keep every seat's facts byte-identical between turns (heartbeats).
_GRANTED_AT = "2025-09-01T08:00:00Z"
_HOLDING_SINCE = "2025-11-20T09:00:00Z"

ALL_OS = ("windows", "macos", "linux")


# -- hardware a seat can have --------------------------------------------------------------


@dataclass(frozen=True)
class Headset:
    model: str
    vendor: str
    # Illustrative USB ids (a policy's approved-headset list can match on them); they are
    # not an authoritative product table.
    vendor_id: str
    product_id: str


HEADSETS: tuple[Headset, ...] = (
    Headset("Jabra Evolve2 40", "GN_Netcom_A_S", "0b0e", "0305"),
    Headset("Poly Blackwire 5220", "Plantronics", "047f", "c056"),
    Headset("Logitech H390", "Logitech", "046d", "0a44"),
    Headset("EPOS ADAPT 160", "EPOS", "1395", "0296"),
)


@dataclass(frozen=True)
class SeatContext:
    os: str
    seat_label: str
    cti_origin: str
    hostname: str
    user: str
    headset: Headset
    ranking_by_label: bool


def _stable_number(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def _context(os_name: str, seat_label: str, cti_origin: str, hostname: str | None) -> SeatContext:
    slug = re.sub(r"[^a-z0-9]+", "-", seat_label.lower()).strip("-") or "seat"
    number = _stable_number(seat_label)
    return SeatContext(
        os=os_name,
        seat_label=seat_label,
        cti_origin=cti_origin.rstrip("/"),
        hostname=hostname or (f"SIM-{slug.upper()}" if os_name == "windows" else f"sim-{slug}"),
        user=f"agent.{slug.replace('-', '')}",
        headset=HEADSETS[number % len(HEADSETS)],
        ranking_by_label=bool(number // len(HEADSETS) % 2),
    )


def _guid(*parts: str) -> str:
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "readyfloor-sim:" + "|".join(parts))) + "}"


# -- healthy facts per operating system ---------------------------------------------------


def _site_pattern(origin: str) -> str:
    """Chrome's exception key for an origin: explicit port, any embedder."""
    scheme, _, rest = origin.partition("://")
    host = rest.split("/")[0]
    if ":" not in host:
        host = f"{host}:{443 if scheme == 'https' else 80}"
    return f"{scheme}://{host},*"


def _exception(origin: str, setting: int, model: int = 0) -> dict[str, Any]:
    return {
        "pattern": _site_pattern(origin),
        "setting": setting,
        "model": model,
        "last_modified": _GRANTED_AT,
        "expiration": None,
    }


def _headset_input(ctx: SeatContext) -> dict[str, Any]:
    headset = ctx.headset
    if ctx.os == "windows":
        ident, name = (
            f"{{0.0.1.00000000}}.{_guid(ctx.seat_label, 'headset')}",
            f"Headset Microphone ({headset.model})",
        )
    elif ctx.os == "macos":
        ident, name = f"AppleUSBAudioEngine:{headset.vendor}:{headset.model}:1", headset.model
    else:
        device = re.sub(r"[^A-Za-z0-9]+", "_", headset.model)
        ident, name = f"alsa_input.usb-{headset.vendor}_{device}-00.mono-fallback", f"{headset.model} Mono"
    return {
        "id": ident,
        "name": name,
        "state": "active",
        "form_factor": "headset",
        "transport": "usb",
        "vendor_id": headset.vendor_id,
        "product_id": headset.product_id,
        "is_default": True,
        "is_default_communications": True if ctx.os == "windows" else None,
        "exclusive_mode": False if ctx.os == "windows" else None,
    }


def _builtin_input(ctx: SeatContext) -> dict[str, Any]:
    if ctx.os == "windows":
        ident, name = (
            f"{{0.0.1.00000000}}.{_guid(ctx.seat_label, 'builtin')}",
            "Microphone Array (Realtek(R) Audio)",
        )
    elif ctx.os == "macos":
        ident, name = "BuiltInMicrophoneDevice", "MacBook Pro Microphone"
    else:
        ident, name = "alsa_input.pci-0000_00_1f.3.analog-stereo", "Built-in Audio Analog Stereo"
    return {
        "id": ident,
        "name": name,
        "state": "active",
        "form_factor": "microphone",
        "transport": "builtin",
        "vendor_id": None,
        "product_id": None,
        "is_default": False,
        "is_default_communications": False if ctx.os == "windows" else None,
        # Windows ships every endpoint with exclusive control allowed; IT turned it off on
        # the headset only.
        "exclusive_mode": True if ctx.os == "windows" else None,
    }


def _healthy_facts(ctx: SeatContext) -> dict[str, Any]:
    if ctx.os == "windows":
        os_version = "10.0.22631"
        user_data_dir = f"C:\\Users\\{ctx.user}\\AppData\\Local\\Google\\Chrome\\User Data"
        policy_source, audio_source = "registry", "registry"
        os_mic: dict[str, Any] = {
            "status": "ok",
            "source": "registry",
            "reason": None,
            "device_access": "allow",
            "user_access": "allow",
            "desktop_apps": "allow",
            "group_policy": None,
            "chrome_tcc": None,
            "tcc_db": None,
        }
        holders: list[dict[str, Any]] | None = []
    elif ctx.os == "macos":
        os_version = "15.1"
        user_data_dir = f"/Users/{ctx.user}/Library/Application Support/Google/Chrome"
        policy_source, audio_source = "managed_preferences", "system_profiler"
        os_mic = {
            "status": "ok",
            "source": "tcc.db",
            "reason": None,
            "device_access": None,
            "user_access": None,
            "desktop_apps": None,
            "group_policy": None,
            "chrome_tcc": "allowed",
            "tcc_db": "user",
        }
        holders = None  # macOS does not say which application records
    else:
        os_version = "Ubuntu 24.04.1 LTS"
        user_data_dir = f"/home/{ctx.user}/.config/google-chrome"
        policy_source, audio_source = "file", "pactl"
        os_mic = {
            "status": "n/a",
            "source": "none",
            "reason": "Linux has no operating-system microphone permission for Chrome",
        }
        holders = []
    headset, builtin = _headset_input(ctx), _builtin_input(ctx)
    return {
        "host": {
            "status": "ok",
            "source": "simulator",
            "reason": None,
            "hostname": ctx.hostname,
            "os": ctx.os,
            "os_version": os_version,
            "serial": f"SIM{_stable_number(ctx.seat_label, ctx.hostname) % 10**10:010d}",
            "console_user": ctx.user,
        },
        "os_mic": os_mic,
        "chrome": {
            "status": "ok",
            "source": "file",
            "reason": None,
            "installed": True,
            "version": CHROME_VERSION,
            "user_data_dir": user_data_dir,
            "last_used_profile": "Default",
            "profiles": [
                {
                    "dir": "Default",
                    "name": ctx.user,
                    "last_used": True,
                    "status": "ok",
                    "reason": None,
                    "mic_default": None,
                    "notifications_default": None,
                    "mic_exceptions": [_exception(ctx.cti_origin, 1)],
                    "notification_exceptions": [_exception(ctx.cti_origin, 1)],
                    "audio_input_ranking": [headset["name"]] if ctx.ranking_by_label else None,
                    "default_audio_capture_device": None,
                }
            ],
            "policy": {
                "status": "ok",
                "source": policy_source,
                "reason": None,
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
            "source": audio_source,
            "reason": None,
            "inputs": [headset, builtin],
            "holders": holders,
        },
    }


# -- what breaks -------------------------------------------------------------------------


def _profile(facts: dict[str, Any]) -> dict[str, Any]:
    return facts["chrome"]["profiles"][0]


def _inputs(facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    headset, builtin = facts["audio"]["inputs"]
    return headset, builtin


def _wrong_origin(origin: str) -> str:
    # The classic mix-up: the Lightning domain instead of My Domain, or a sibling host.
    if ".my.salesforce.com" in origin:
        return origin.replace(".my.salesforce.com", ".lightning.force.com")
    scheme, _, host = origin.partition("://")
    return f"{scheme}://www.{host}" if not host.startswith("www.") else f"{scheme}://{host[4:]}"


def _desktop_apps_off(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["os_mic"]["desktop_apps"] = "deny"


def _device_mic_off(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["os_mic"]["device_access"] = "deny"


def _gpo_force_deny(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["os_mic"]["group_policy"] = 2


def _tcc_denied(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["os_mic"]["chrome_tcc"] = "denied"


def _tcc_not_asked(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["os_mic"]["chrome_tcc"] = "not_asked"


def _no_full_disk_access(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["os_mic"].update(
        status="unknown",
        reason=(
            f"cannot open /Users/{ctx.user}/Library/Application Support/com.apple.TCC/TCC.db: "
            "the agent has not been given Full Disk Access"
        ),
        chrome_tcc=None,
        tcc_db=None,
    )


def _chrome_mic_blocked(facts: dict[str, Any], ctx: SeatContext) -> None:
    profile = _profile(facts)
    profile["mic_default"] = 2
    profile["mic_exceptions"] = []


def _policy_mic_blocked(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["chrome"]["policy"]["AudioCaptureAllowed"] = False


def _site_blocked(facts: dict[str, Any], ctx: SeatContext) -> None:
    _profile(facts)["mic_exceptions"] = [_exception(ctx.cti_origin, 2)]


def _one_time_allow(facts: dict[str, Any], ctx: SeatContext) -> None:
    _profile(facts)["mic_exceptions"] = [_exception(ctx.cti_origin, 1, model=3)]


def _wrong_origin_allowed(facts: dict[str, Any], ctx: SeatContext) -> None:
    wrong = _wrong_origin(ctx.cti_origin)
    profile = _profile(facts)
    profile["mic_exceptions"] = [_exception(wrong, 1)]
    profile["notification_exceptions"] = [_exception(wrong, 1)]


def _notifications_blocked(facts: dict[str, Any], ctx: SeatContext) -> None:
    _profile(facts)["notification_exceptions"] = [_exception(ctx.cti_origin, 2)]


def _no_headset(facts: dict[str, Any], ctx: SeatContext) -> None:
    _headset, builtin = _inputs(facts)
    builtin["is_default"] = True
    if ctx.os == "windows":
        builtin["is_default_communications"] = True
    facts["audio"]["inputs"] = [builtin]
    _profile(facts)["audio_input_ranking"] = None


def _headset_unplugged(facts: dict[str, Any], ctx: SeatContext) -> None:
    headset, builtin = _inputs(facts)
    headset.update(state="unplugged", is_default=False)
    builtin["is_default"] = True
    if ctx.os == "windows":
        headset["is_default_communications"] = False
        builtin["is_default_communications"] = True


def _headset_not_default(facts: dict[str, Any], ctx: SeatContext) -> None:
    headset, builtin = _inputs(facts)
    headset["is_default"] = False
    builtin["is_default"] = True
    _profile(facts)["audio_input_ranking"] = None


def _chrome_prefers_builtin(facts: dict[str, Any], ctx: SeatContext) -> None:
    _headset, builtin = _inputs(facts)
    _profile(facts)["audio_input_ranking"] = [builtin["name"], "default"]


def _exclusive_teams(facts: dict[str, Any], ctx: SeatContext) -> None:
    headset, _builtin = _inputs(facts)
    headset["exclusive_mode"] = True
    facts["audio"]["holders"] = [
        {
            "app": f"C:\\Users\\{ctx.user}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe",
            "since": _HOLDING_SINCE,
        }
    ]


def _chrome_not_installed(facts: dict[str, Any], ctx: SeatContext) -> None:
    facts["chrome"].update(
        installed=False, version=None, user_data_dir=None, last_used_profile=None, profiles=[]
    )


def _unchanged(facts: dict[str, Any], ctx: SeatContext) -> None:
    pass


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    platforms: tuple[str, ...]
    apply: Callable[[dict[str, Any], SeatContext], None]
    offline: bool = False

    @property
    def healthy(self) -> bool:
        return self.apply is _unchanged and not self.offline


_SCENARIO_LIST: tuple[Scenario, ...] = (
    Scenario("healthy", "everything allowed, headset plugged in and chosen", ALL_OS, _unchanged),
    Scenario(
        "desktop_apps_off",
        "Windows: 'Let desktop apps access your microphone' is off, so Chrome is blocked",
        ("windows",),
        _desktop_apps_off,
    ),
    Scenario(
        "device_mic_off",
        "Windows: microphone access is off for the whole device",
        ("windows",),
        _device_mic_off,
    ),
    Scenario(
        "gpo_force_deny",
        "Windows: group policy LetAppsAccessMicrophone forces deny",
        ("windows",),
        _gpo_force_deny,
    ),
    Scenario(
        "tcc_denied", "macOS: Chrome was denied the microphone in Privacy & Security", ("macos",), _tcc_denied
    ),
    Scenario(
        "tcc_not_asked",
        "macOS: Chrome never asked for the microphone (the first call will prompt)",
        ("macos",),
        _tcc_not_asked,
    ),
    Scenario(
        "no_full_disk_access",
        "macOS: the agent cannot read the privacy database (no Full Disk Access): unknown, not denied",
        ("macos",),
        _no_full_disk_access,
    ),
    Scenario(
        "chrome_mic_blocked",
        "Chrome: 'Don't allow sites to use your microphone' is set for all sites",
        ALL_OS,
        _chrome_mic_blocked,
    ),
    Scenario(
        "policy_mic_blocked",
        "Chrome policy AudioCaptureAllowed=false without the CTI in AudioCaptureAllowedUrls",
        ALL_OS,
        _policy_mic_blocked,
    ),
    Scenario("site_blocked", "Chrome: the CTI site's microphone is set to Block", ALL_OS, _site_blocked),
    Scenario(
        "one_time_allow",
        "Chrome: the CTI site only has 'Allow this time', so every call prompts again",
        ALL_OS,
        _one_time_allow,
    ),
    Scenario(
        "wrong_origin",
        "Chrome: the microphone is allowed on a neighbouring origin, not on the CTI's",
        ALL_OS,
        _wrong_origin_allowed,
    ),
    Scenario(
        "notifications_blocked",
        "Chrome: the CTI site may not show notifications (incoming calls go unseen)",
        ALL_OS,
        _notifications_blocked,
    ),
    Scenario("no_headset", "no headset connected: only the built-in microphone", ALL_OS, _no_headset),
    Scenario(
        "headset_unplugged",
        "the headset's input is unplugged; the built-in microphone took over",
        ("windows", "linux"),
        _headset_unplugged,
    ),
    Scenario(
        "headset_not_default",
        "the headset is connected but the built-in microphone is the default input",
        ALL_OS,
        _headset_not_default,
    ),
    Scenario(
        "chrome_prefers_builtin",
        "Chrome's preferred microphone is the built-in one, not the headset",
        ALL_OS,
        _chrome_prefers_builtin,
    ),
    Scenario(
        "exclusive_teams",
        "Windows: exclusive mode on the headset while Teams holds the microphone",
        ("windows",),
        _exclusive_teams,
    ),
    Scenario("chrome_not_installed", "Google Chrome is not installed", ALL_OS, _chrome_not_installed),
    Scenario(
        "offline", "the agent stopped reporting (machine off or agent stopped)", ALL_OS, _unchanged, True
    ),
)

_SCENARIOS_BY_NAME: dict[str, Scenario] = {scenario.name: scenario for scenario in _SCENARIO_LIST}
SCENARIOS: dict[str, str] = {scenario.name: scenario.description for scenario in _SCENARIO_LIST}

# The demo floor's mix: mostly healthy, with each common failure present so the floor map,
# the fix steps and the "living floor" all have something to show.
DEMO_MIX: dict[str, float] = {
    "healthy": 60,
    "desktop_apps_off": 4,
    "tcc_denied": 3,
    "chrome_mic_blocked": 3,
    "site_blocked": 5,
    "one_time_allow": 4,
    "wrong_origin": 3,
    "notifications_blocked": 4,
    "no_headset": 3,
    "headset_not_default": 4,
    "chrome_prefers_builtin": 3,
    "exclusive_teams": 2,
    "offline": 2,
}
DEFAULT_MIX = DEMO_MIX


def scenario(name: str) -> Scenario:
    try:
        return _SCENARIOS_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def scenario_platforms(name: str) -> tuple[str, ...]:
    return scenario(name).platforms


def scenario_facts(
    name: str,
    *,
    os: str,
    seat_label: str,
    cti_origin: str = DEFAULT_CTI_ORIGIN,
    hostname: str | None = None,
) -> dict[str, Any]:
    """Facts (``$defs/facts``) of a seat in scenario ``name`` on operating system ``os``.
    Deterministic: the same arguments give byte-identical facts."""
    chosen = scenario(name)
    if os not in chosen.platforms:
        raise ValueError(f"scenario {name!r} exists on {', '.join(chosen.platforms)}, not {os!r}")
    ctx = _context(os, seat_label, cti_origin, hostname)
    facts = _healthy_facts(ctx)
    chosen.apply(facts, ctx)
    return copy.deepcopy(facts)


# -- floor layout and mix ----------------------------------------------------------------


def row_letters(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA' (spreadsheet columns), for floors of many rows."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def seat_labels(count: int, per_row: int = 8) -> list[tuple[str, int, int]]:
    """``(label, row, col)`` for ``count`` seats filled row by row. ``row`` and ``col`` count
    from 0 like the server's seat grid; the label is ``f"{row letter}-{col + 1:02d}"``:
    (A-01, 0, 0) .. (A-08, 0, 7), (B-01, 1, 0) ..."""
    if per_row < 1:
        raise ValueError("per_row must be at least 1")
    seats = []
    for index in range(count):
        row, col = divmod(index, per_row)
        seats.append((f"{row_letters(row)}-{col + 1:02d}", row, col))
    return seats


def parse_mix(text: str) -> dict[str, float]:
    """``"healthy=60,site_blocked=10"`` -> weights; names are checked against SCENARIOS."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, weight = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"mix entries are NAME=WEIGHT, not {part!r}")
        scenario(name)
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError(f"the weight of {name!r} must be a number, not {weight!r}") from None
        if mix[name] < 0:
            raise ValueError(f"the weight of {name!r} cannot be negative")
    if not mix or sum(mix.values()) <= 0:
        raise ValueError("the mix needs at least one scenario with a positive weight")
    return mix


def parse_os_mix(text: str) -> dict[str, float]:
    """``"windows=70,macos=20,linux=10"`` -> weights of the operating systems."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, weight = part.strip().partition("=")
        if not sep or name.strip() not in ALL_OS:
            raise ValueError(f"OS mix entries are OS=WEIGHT with OS one of {', '.join(ALL_OS)}, not {part!r}")
        try:
            mix[name.strip()] = float(weight)
        except ValueError:
            raise ValueError(f"the weight of {name.strip()!r} must be a number, not {weight!r}") from None
    if not mix or sum(mix.values()) <= 0 or min(mix.values()) < 0:
        raise ValueError("the OS mix needs non-negative weights and at least one positive")
    return mix


def apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Whole seat counts proportional to ``weights`` that add up to ``total`` (largest
    remainder), so 'healthy=60' on 48 seats gives 29, not a random number around it."""
    positive = {name: weight for name, weight in weights.items() if weight > 0}
    scale = sum(positive.values())
    exact = {name: weight * total / scale for name, weight in positive.items()}
    counts = {name: int(value) for name, value in exact.items()}
    leftover = total - sum(counts.values())
    by_remainder = sorted(exact, key=lambda name: (-(exact[name] - counts[name]), list(positive).index(name)))
    for name in by_remainder[:leftover]:
        counts[name] += 1
    return counts


@dataclass(frozen=True)
class SeatPlan:
    label: str
    row: int
    col: int
    floor: str
    scenario: str
    os: str

    @property
    def host_identifier(self) -> str:
        floor = re.sub(r"[^a-z0-9]+", "-", self.floor.lower()).strip("-")
        return f"sim-{floor}-{self.label.lower()}"

    @property
    def hostname(self) -> str:
        return self.host_identifier.upper() if self.os == "windows" else self.host_identifier


def plan_floor(
    count: int,
    *,
    floor: str = "Floor 1",
    mix: Mapping[str, float] | str | None = None,
    seed: int = 0,
    per_row: int = 8,
    os_mix: Mapping[str, float] | None = None,
) -> list[SeatPlan]:
    """Which seat gets which scenario and OS — deterministic for a given seed."""
    weights = parse_mix(mix) if isinstance(mix, str) else dict(mix or DEFAULT_MIX)
    for name in weights:
        scenario(name)
    rng = random.Random(seed)
    names = [name for name, number in apportion(weights, count).items() for _ in range(number)]
    rng.shuffle(names)
    os_weights = dict(os_mix or DEFAULT_OS_MIX)
    plans = []
    for (label, row, col), name in zip(seat_labels(count, per_row), names):
        platforms = [os_name for os_name in scenario(name).platforms if os_weights.get(os_name, 0) > 0]
        platforms = platforms or list(scenario(name).platforms)
        chosen_os = rng.choices(platforms, weights=[os_weights.get(p, 1) or 1 for p in platforms])[0]
        plans.append(SeatPlan(label, row, col, floor, name, chosen_os))
    return plans


# -- the simulation ------------------------------------------------------------------------


@dataclass
class VirtualSeat:
    plan: SeatPlan
    cti_origin: str
    node_key: str | None = None
    # The key this host held in an earlier run: the proof that lets it enrol its identity
    # again (a real agent keeps it in its state folder).
    previous_node_key: str | None = None
    # Like a real agent's: proves a retried enrolment (a lost answer) is this seat's.
    claim_token: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex)
    enrolled: bool = False
    last_acknowledged_hash: str | None = None
    fixed: bool = False
    done: bool = False
    next_checkin_s: float | None = None
    reports: int = 0

    def facts(self) -> dict[str, Any]:
        name = "healthy" if self.fixed else self.plan.scenario
        if name == "offline":
            name = "healthy"
        return scenario_facts(
            name,
            os=self.plan.os,
            seat_label=self.plan.label,
            cti_origin=self.cti_origin,
            hostname=self.plan.hostname,
        )


@dataclass
class SimulationSummary:
    seats: int = 0
    enrolled: int = 0
    checkins: int = 0
    full_reports: int = 0
    heartbeats: int = 0
    accepted: int = 0
    duplicates: int = 0
    facts_required: int = 0
    reenrolled: int = 0
    rejected: int = 0
    unavailable: int = 0
    fixed: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    scenarios: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.rejected + self.unavailable

    def percentile_ms(self, fraction: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seats": self.seats,
            "enrolled": self.enrolled,
            "checkins": self.checkins,
            "full_reports": self.full_reports,
            "heartbeats": self.heartbeats,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "facts_required": self.facts_required,
            "reenrolled": self.reenrolled,
            "rejected": self.rejected,
            "unavailable": self.unavailable,
            "fixed": self.fixed,
            "elapsed_s": round(self.elapsed_s, 3),
            "checkins_per_s": round(self.checkins / self.elapsed_s, 2) if self.elapsed_s else None,
            "latency_ms": {
                "p50": self.percentile_ms(0.50),
                "p95": self.percentile_ms(0.95),
                "max": max(self.latencies_ms) if self.latencies_ms else None,
            },
            "scenarios": dict(self.scenarios),
            "errors": list(self.errors),
        }

    def progress_line(self) -> str:
        return (
            f"[{self.elapsed_s:7.1f}s] {self.enrolled}/{self.seats} enrolled, {self.checkins} check-ins "
            f"({self.full_reports} full, {self.heartbeats} heartbeats), {self.fixed} fixed, "
            f"{self.failed} failed"
        )

    def __str__(self) -> str:
        latency = self.percentile_ms(0.95)
        return (
            f"{self.seats} seats, {self.enrolled} enrolled, {self.checkins} check-ins "
            f"({self.accepted} accepted, {self.failed} failed)"
            + (f", p95 {latency:.0f} ms" if latency is not None else "")
        )

    def render(self) -> str:
        p50, p95 = self.percentile_ms(0.50), self.percentile_ms(0.95)
        lines = [
            f"Simulated {self.seats} seats for {self.elapsed_s:.1f}s",
            f"  enrolled       {self.enrolled}",
            f"  check-ins      {self.checkins} ({self.full_reports} full, {self.heartbeats} heartbeats)",
            f"  accepted       {self.accepted} (+{self.duplicates} duplicates)",
            f"  facts resent   {self.facts_required}",
            f"  re-enrolled    {self.reenrolled}",
            f"  fixed seats    {self.fixed}",
            f"  rejected       {self.rejected}",
            f"  unavailable    {self.unavailable}",
        ]
        if p50 is not None:
            lines.append(f"  latency        p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        lines.append(
            "  scenarios      " + ", ".join(f"{name}={n}" for name, n in sorted(self.scenarios.items()))
        )
        if self.errors:
            lines.append("  last errors:")
            lines.extend(f"    {error}" for error in self.errors[-5:])
        return "\n".join(lines)


class Simulation:
    """Drives virtual seats on their own jittered schedules with a bounded thread pool."""

    def __init__(
        self,
        client: AgentClient,
        enroll_secret: str,
        plans: list[SeatPlan],
        *,
        cti_origin: str = DEFAULT_CTI_ORIGIN,
        interval: float | None = None,
        fix_after: float | None = None,
        offline_age_s: float = 3600.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        keys_file: Path | None = None,
    ) -> None:
        self.client = client
        self.enroll_secret = enroll_secret
        self.seats = [VirtualSeat(plan, cti_origin) for plan in plans]
        self.keys_file = keys_file
        known = _read_keys(keys_file)
        for seat in self.seats:
            seat.previous_node_key = known.get(seat.plan.host_identifier)
        self.interval = interval
        self.fix_after = fix_after
        self.offline_age_s = offline_age_s
        self.rng = random.Random(seed)
        self.clock = clock
        self.started_at = clock()
        self.summary = SimulationSummary(seats=len(plans), scenarios=dict(Counter(p.scenario for p in plans)))
        self._lock = threading.Lock()

    # one seat's turn ---------------------------------------------------------------------

    def turn(self, seat: VirtualSeat) -> None:
        """Enrol if needed, then send one check-in; never raises."""
        try:
            self._turn(seat)
        except Exception as error:  # a bug must not kill the worker pool
            self._count(unavailable=1, error=f"{seat.plan.label}: {error!r}")

    def _turn(self, seat: VirtualSeat) -> None:
        if seat.node_key is None and not self._enroll(seat):
            return
        if (
            self.fix_after is not None
            and not seat.fixed
            and seat.plan.scenario not in ("healthy", "offline")
            and self.clock() - self.started_at >= self.fix_after
        ):
            seat.fixed = True
            self._count(fixed=1)
        facts = seat.facts()
        collected_at = None
        if seat.plan.scenario == "offline":
            collected_at = report.utc_now() - dt.timedelta(seconds=self.offline_age_s)
            seat.done = True
        body = report.build_checkin(
            facts, collected_at=collected_at, last_acknowledged_hash=seat.last_acknowledged_hash
        )
        self._send(seat, body, facts)

    def _enroll(self, seat: VirtualSeat) -> bool:
        details = {
            "hostname": seat.plan.hostname,
            "os": seat.plan.os,
            "os_version": seat.facts()["host"]["os_version"],
            "agent_version": __version__,
        }
        try:
            enrollment = self.client.enroll(
                enroll_secret=self.enroll_secret,
                host_identifier=seat.plan.host_identifier,
                host_details=details,
                seat={"floor": seat.plan.floor, "label": seat.plan.label},
                previous_node_key=seat.node_key or seat.previous_node_key,
                claim_token=seat.claim_token,
            )
        except Rejected as error:
            self._count(rejected=1, error=f"{seat.plan.label} enrol: {error}")
            return False
        except Unavailable as error:
            self._count(unavailable=1, error=f"{seat.plan.label} enrol: {error}")
            return False
        first = not seat.enrolled
        seat.enrolled = True
        seat.node_key = seat.previous_node_key = enrollment.node_key
        self._save_keys()
        seat.next_checkin_s = enrollment.next_checkin_s or seat.next_checkin_s
        self._count(enrolled=1 if first else 0)
        return True

    def _save_keys(self) -> None:
        if self.keys_file is None:
            return
        with self._lock:
            held = [seat for seat in self.seats if seat.previous_node_key]
            keys = {seat.plan.host_identifier: seat.previous_node_key for seat in held}
            self.keys_file.parent.mkdir(parents=True, exist_ok=True)
            write_file_durably(self.keys_file, json.dumps(keys, sort_keys=True).encode(), mode=0o600)

    def _send(self, seat: VirtualSeat, body: dict[str, Any], facts: dict[str, Any]) -> None:
        for _attempt in range(3):
            if seat.node_key is None:
                return
            started = time.perf_counter()
            try:
                response = self.client.checkin(seat.node_key, body)
            except NodeInvalid:
                self._count(checkin=body, latency=time.perf_counter() - started, reenrolled=1)
                seat.node_key = None
                seat.last_acknowledged_hash = None
                if not self._enroll(seat):
                    return
                continue
            except FactsRequired:
                self._count(checkin=body, latency=time.perf_counter() - started, facts_required=1)
                body = {key: value for key, value in body.items() if key != "facts_hash"}
                body["facts"] = facts
                continue
            except Rejected as error:
                self._count(checkin=body, rejected=1, error=f"{seat.plan.label}: {error}")
                return
            except Unavailable as error:
                self._count(checkin=body, unavailable=1, error=f"{seat.plan.label}: {error}")
                return
            self._count(
                checkin=body,
                latency=time.perf_counter() - started,
                accepted=0 if response.duplicate else 1,
                duplicates=1 if response.duplicate else 0,
            )
            seat.reports += 1
            seat.last_acknowledged_hash = report.facts_hash(facts)
            seat.next_checkin_s = response.next_checkin_s or seat.next_checkin_s
            return
        self._count(unavailable=1, error=f"{seat.plan.label}: gave up after 3 attempts")

    def _count(
        self,
        *,
        checkin: dict[str, Any] | None = None,
        latency: float | None = None,
        error: str | None = None,
        **increments: int,
    ) -> None:
        with self._lock:
            summary = self.summary
            if checkin is not None:
                summary.checkins += 1
                if "facts" in checkin:
                    summary.full_reports += 1
                else:
                    summary.heartbeats += 1
            if latency is not None:
                summary.latencies_ms.append(latency * 1000)
            for name, value in increments.items():
                setattr(summary, name, getattr(summary, name) + value)
            if error:
                summary.errors.append(error)
                del summary.errors[:-50]
            summary.elapsed_s = self.clock() - self.started_at

    # the schedule ------------------------------------------------------------------------

    def interval_for(self, seat: VirtualSeat) -> float:
        base = self.interval or seat.next_checkin_s or 60
        return max(0.05, base * self.rng.uniform(0.9, 1.1))

    def run(
        self,
        *,
        duration: float | None = None,
        once: bool = False,
        concurrency: int = 16,
        stop: threading.Event | None = None,
        progress: Callable[[str], None] | None = None,
        progress_every_s: float = 5.0,
    ) -> SimulationSummary:
        stop = stop or threading.Event()
        self.started_at = self.clock()
        start_spread = 0.0 if once else min(self.interval or 5.0, 5.0)
        due: list[tuple[float, int]] = [
            (self.started_at + self.rng.uniform(0, start_spread), index) for index in range(len(self.seats))
        ]
        heapq.heapify(due)
        in_flight: dict[Future[None], int] = {}
        last_progress = self.started_at
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="seat") as pool:
            while True:
                now = self.clock()
                if stop.is_set() or (duration is not None and now - self.started_at >= duration):
                    break
                while due and due[0][0] <= now and len(in_flight) < concurrency:
                    _due, index = heapq.heappop(due)
                    in_flight[pool.submit(self.turn, self.seats[index])] = index
                if once and not due and not in_flight:
                    break
                if not due and not in_flight:
                    stop.wait(0.2)  # every seat went silent (all offline); wait for the duration
                    continue
                next_due = (due[0][0] - now) if due else 0.5
                timeout = max(0.0, min(next_due, 0.5))
                if in_flight:
                    finished, _pending = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
                else:
                    stop.wait(timeout)
                    finished = set()
                for future in finished:
                    index = in_flight.pop(future)
                    seat = self.seats[index]
                    if not once and not seat.done:
                        heapq.heappush(due, (self.clock() + self.interval_for(seat), index))
                if progress and self.clock() - last_progress >= progress_every_s:
                    last_progress = self.clock()
                    with self._lock:
                        self.summary.elapsed_s = last_progress - self.started_at
                        progress(self.summary.progress_line())
            # Let the turns already started finish so their counts are complete.
            for future in list(in_flight):
                future.result()
        with self._lock:
            self.summary.elapsed_s = self.clock() - self.started_at
        return self.summary


def run_simulation(
    server: str,
    secret: str,
    *,
    seats: int = 48,
    floor: str = "Floor 1",
    mix: Mapping[str, float] | str | None = None,
    interval: float | None = None,
    duration: float | None = None,
    once: bool = False,
    fix_after: float | None = None,
    seed: int = 0,
    cti_origin: str = DEFAULT_CTI_ORIGIN,
    per_row: int = 8,
    os_mix: Mapping[str, float] | None = None,
    concurrency: int = 16,
    timeout: float = 10.0,
    offline_age_s: float = 3600.0,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    client: AgentClient | None = None,
    keys_file: Path | None = None,
) -> SimulationSummary:
    """Simulate ``seats`` seats on ``floor`` against ``server`` until ``duration`` seconds
    have passed, after one check-in each (``once``), or until ``stop`` is set.

    ``interval`` overrides the server's ``next_checkin_s``; ``fix_after`` turns every failing
    seat healthy that many seconds after the start.
    """
    if seats < 1:
        raise ValueError("simulate at least one seat")
    plans = plan_floor(seats, floor=floor, mix=mix, seed=seed, per_row=per_row, os_mix=os_mix)
    simulation = Simulation(
        client or AgentClient(server, timeout=timeout),
        secret,
        plans,
        cti_origin=cti_origin,
        interval=interval,
        fix_after=fix_after,
        offline_age_s=offline_age_s,
        seed=seed,
        keys_file=keys_file,
    )
    return simulation.run(duration=duration, once=once, concurrency=concurrency, stop=stop, progress=progress)


def _read_keys(path: Path | None) -> dict[str, str]:
    """Node keys of an earlier run, by host identifier ({} when there is none or it is damaged)."""
    if path is None:
        return {}
    try:
        document = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {str(host): key for host, key in document.items() if isinstance(key, str) and key}
