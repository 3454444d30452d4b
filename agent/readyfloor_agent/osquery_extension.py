"""The seat's readiness as osquery tables, for fleets that already run osquery.

osqueryd loads this as an extension (``readyfloor-agent osquery-extension``, see OSQUERY.md)
and gets three tables:

    readyfloor_checks        one row per catalog check, judged on this seat now
    chrome_site_permissions  every Chrome site exception for the microphone and notifications
    readyfloor_audio_inputs  the capture devices, and which one is the default input

    SELECT check_id, state, reason FROM readyfloor_checks WHERE state != 'pass';

Checks are judged with the policy the server last sent this seat (its cached config), else the
CTI origins from the settings file. The seat is read natively, not back through osqueryd: the
daemon is waiting on this very table while it runs. One reading serves every table a query
joins (it is kept FACTS_TTL_S seconds).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import osquery

from . import __version__
from .checks import CATALOG, CheckResult, Policy, State, evaluate, fix_for, get_check, readiness_of
from .checks.model import OS_NAMES
from .host import Host

log = logging.getLogger(__name__)

EXTENSION_NAME = "readyfloor"
FACTS_TTL_S = 10.0
EXIT_FAILED = 3  # as the CLI's: the command could not do its job

CHECK_COLUMNS = (
    ("check_id", osquery.STRING),
    ("title", osquery.STRING),
    ("area", osquery.STRING),
    ("severity", osquery.STRING),
    ("state", osquery.STRING),
    ("reason", osquery.STRING),
    ("fix", osquery.STRING),
    ("readiness", osquery.STRING),
)
PERMISSION_COLUMNS = (
    ("profile", osquery.STRING),
    ("permission", osquery.STRING),
    ("pattern", osquery.STRING),
    ("setting", osquery.STRING),
    ("model", osquery.STRING),
    ("last_modified", osquery.STRING),
)
AUDIO_INPUT_COLUMNS = (
    ("name", osquery.STRING),
    ("state", osquery.STRING),
    ("form_factor", osquery.STRING),
    ("transport", osquery.STRING),
    ("vendor_id", osquery.STRING),
    ("product_id", osquery.STRING),
    ("is_default", osquery.INTEGER),
)

# Chromium's ContentSetting and the exception's lifetime ("model"); no model means durable.
SETTINGS = {0: "default", 1: "allow", 2: "block", 3: "ask"}
MODELS = {None: "durable", 0: "durable", 1: "session", 2: "session", 3: "one_time"}
PERMISSIONS = (("microphone", "mic_exceptions"), ("notifications", "notification_exceptions"))


# --- Reading the seat ---------------------------------------------------------------------------


@dataclass
class Reading:
    """One look at the seat: its facts and their verdicts. ``error`` when it could not be read."""

    facts: dict[str, Any] | None
    policy: Policy = field(default_factory=Policy)
    policy_source: str = "none"
    results: list[CheckResult] = field(default_factory=list)
    error: str | None = None


def _live_host() -> Host:
    from .host import live_host

    return live_host()


def _load_settings() -> Any:
    from .config import AgentSettings, SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as error:
        log.warning("settings unusable (%s); judging with defaults", error)
        return AgentSettings()


def user_state_dir(host: Host, home: str) -> str:
    """Where the agent running as the person at the seat keeps its state (config.default_state_dir
    for their home): the extension runs as root or SYSTEM under osqueryd."""
    if host.platform == "windows":
        return host.join(home, "AppData", "Local", "ReadyFloor")
    if host.platform == "macos":
        return host.join(home, "Library", "Application Support", "ReadyFloor", "state")
    return host.join(home, ".local", "state", "readyfloor")


def seat_policy(settings: Any, host: Host) -> tuple[Policy, str]:
    """The policy the server last sent this seat, else the settings' CTI origins (what
    ``readyfloor-agent check`` uses too)."""
    from .config import StateDir

    folders = [Path(settings.state_dir)]
    user = host.console_user()
    if user is not None and user.home:
        folders.append(Path(user_state_dir(host, user.home)))
    policy, source = Policy(), "none: no CTI origin known"
    for folder in dict.fromkeys(folders):
        cached = StateDir(folder).cached_config() or {}
        if cached.get("policy") is None:
            continue
        try:
            policy = Policy.from_dict(cached["policy"])
        except ValueError as error:
            log.warning("the policy cached in %s is unusable (%s)", folder, error)
            continue
        source = f"the server's policy {cached.get('config_version') or ''} cached in {folder}".replace(
            "  ", " "
        )
        break
    if not policy.cti_origins and settings.cti_origins:
        try:
            policy = Policy.from_dict({**policy.to_dict(), "cti_origins": list(settings.cti_origins)})
            source = "the settings file"
        except ValueError as error:
            log.warning("the CTI origins in the settings are unusable (%s)", error)
    return policy, source


class SeatSource:
    """Reads and judges the seat, at most once per ``ttl`` seconds for all tables together."""

    def __init__(
        self,
        open_host: Callable[[], Host] = _live_host,
        load_settings: Callable[[], Any] = _load_settings,
        *,
        ttl: float = FACTS_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.open_host = open_host
        self.load_settings = load_settings
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Reading] | None = None

    def read(self) -> Reading:
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
            reading = self._read()
            self._cached = (now, reading)
            return reading

    def _read(self) -> Reading:
        from .collectors import collect

        try:
            host = self.open_host()
            try:
                facts = collect(host)
                policy, source = seat_policy(self.load_settings(), host)
            finally:
                close = getattr(host, "close", None)
                if callable(close):
                    close()
            return Reading(facts, policy, source, evaluate(facts, policy))
        except Exception as error:  # a table must answer, even if only "could not read"
            log.exception("reading the seat failed")
            return Reading(None, error=f"the ReadyFloor extension could not read this seat ({error})")


SEAT = SeatSource()


# --- Rows ---------------------------------------------------------------------------------------


def _steps(check_id: str, os_name: Any, browser: Any = "chrome") -> str:
    if os_name not in OS_NAMES:
        return ""
    try:
        # The fix of a result about Edge or Chromium speaks of that browser.
        steps = fix_for(check_id, os_name, browser if isinstance(browser, str) else "chrome").steps
    except (KeyError, ValueError):
        return ""
    return " ".join(f"{number}) {step}" for number, step in enumerate(steps, 1))


def check_rows(reading: Reading) -> list[dict[str, Any]]:
    if reading.error is not None or reading.facts is None:
        return [
            {
                "check_id": check.id,
                "title": check.title,
                "area": check.area,
                "severity": reading.policy.severity_of(check),
                "state": State.UNKNOWN.value,
                "reason": reading.error or "the seat was not read",
                "fix": "",
                "readiness": "unknown",
            }
            for check in CATALOG
        ]
    readiness = readiness_of(reading.results).value
    os_name = (reading.facts.get("host") or {}).get("os")
    rows = []
    for result in reading.results:
        check = get_check(result.check_id)
        needs_fix = result.state in (State.FAIL, State.WARN, State.UNKNOWN)
        rows.append(
            {
                "check_id": result.check_id,
                "title": check.title,
                "area": check.area,
                "severity": result.severity,
                "state": result.state.value,
                "reason": result.reason,
                "fix": _steps(result.check_id, os_name, result.evidence.get("browser", "chrome"))
                if needs_fix
                else "",
                "readiness": readiness,
            }
        )
    return rows


def permission_rows(reading: Reading) -> list[dict[str, Any]]:
    chrome = (reading.facts or {}).get("chrome") or {}
    rows = []
    for profile in chrome.get("profiles") or []:
        if not isinstance(profile, Mapping):
            continue
        for permission, field_name in PERMISSIONS:
            for exception in profile.get(field_name) or []:
                if not isinstance(exception, Mapping):
                    continue
                model = exception.get("model")
                rows.append(
                    {
                        "profile": profile.get("dir"),
                        "permission": permission,
                        "pattern": exception.get("pattern"),
                        "setting": SETTINGS.get(exception.get("setting"), ""),
                        "model": MODELS.get(model, str(model)),
                        "last_modified": exception.get("last_modified"),
                    }
                )
    return rows


def audio_input_rows(reading: Reading) -> list[dict[str, Any]]:
    audio = (reading.facts or {}).get("audio") or {}
    names = [name for name, _type in AUDIO_INPUT_COLUMNS]
    return [
        {name: item.get(name) for name in names}
        for item in audio.get("inputs") or []
        if isinstance(item, Mapping)
    ]


def as_text(row: Mapping[str, Any]) -> dict[str, str]:
    """osquery takes every value as text: null is empty, a boolean 1 or 0."""
    return {
        key: "" if value is None else ("1" if value else "0") if isinstance(value, bool) else str(value)
        for key, value in row.items()
    }


def _table_rows(build: Callable[[Reading], Iterable[Mapping[str, Any]]]) -> list[dict[str, str]]:
    try:
        return [as_text(row) for row in build(SEAT.read())]
    except Exception:  # osqueryd gets an empty table rather than a failed call
        log.exception("building the rows failed")
        return []


# --- The tables ---------------------------------------------------------------------------------


def _columns(declared: Sequence[tuple[str, str]]) -> list[Any]:
    return [osquery.TableColumn(name=name, type=kind) for name, kind in declared]


# osquery.register_plugin is applied after each class rather than as a decorator: it returns
# None, which would leave the module's class names bound to None.


class ReadinessChecksTable(osquery.TablePlugin):
    def name(self) -> str:
        return "readyfloor_checks"

    def columns(self) -> list[Any]:
        return _columns(CHECK_COLUMNS)

    def generate(self, context: Any) -> list[dict[str, str]]:
        return _table_rows(check_rows)


class ChromeSitePermissionsTable(osquery.TablePlugin):
    def name(self) -> str:
        return "chrome_site_permissions"

    def columns(self) -> list[Any]:
        return _columns(PERMISSION_COLUMNS)

    def generate(self, context: Any) -> list[dict[str, str]]:
        return _table_rows(permission_rows)


class AudioInputsTable(osquery.TablePlugin):
    def name(self) -> str:
        return "readyfloor_audio_inputs"

    def columns(self) -> list[Any]:
        return _columns(AUDIO_INPUT_COLUMNS)

    def generate(self, context: Any) -> list[dict[str, str]]:
        return _table_rows(audio_input_rows)


for _table in (ReadinessChecksTable, ChromeSitePermissionsTable, AudioInputsTable):
    osquery.register_plugin(_table)


# --- Running under osqueryd ---------------------------------------------------------------------


# The flags osquery-python's start_extension parses (osqueryd passes these); True: takes a value.
OSQUERY_FLAGS = {"--socket": True, "--timeout": True, "--interval": True, "--verbose": False}


def osquery_args(args: Sequence[str]) -> list[str]:
    """The osqueryd flags among ``args``; the agent's own (-v, --config, ...) are its business."""
    kept: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name = arg.split("=", 1)[0]
        if name in OSQUERY_FLAGS:
            kept.append(arg)
            if OSQUERY_FLAGS[name] and "=" not in arg and index + 1 < len(args):
                kept.append(args[index + 1])
                index += 1
        index += 1
    return kept


def _option(args: Sequence[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Register the tables with osqueryd and serve them until osqueryd goes away. osqueryd
    starts extensions with ``--socket PATH --timeout N --interval N [--verbose]``."""
    from osquery.extensions.ttypes import ExtensionException

    args = osquery_args(list(sys.argv[1:] if argv is None else argv))
    socket_path = _option(args, "--socket") or osquery.DEFAULT_SOCKET_PATH
    saved = sys.argv
    # osquery-python's start_extension reads its flags from sys.argv itself.
    sys.argv = [saved[0] if saved else "readyfloor-osquery-extension", *args]
    try:
        osquery.start_extension(name=EXTENSION_NAME, version=__version__)
    except ExtensionException as error:
        print(f"readyfloor osquery extension: osqueryd refused it: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # the connection to osqueryd broke while registering
        print(f"readyfloor osquery extension: could not register with osqueryd: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        sys.argv = saved
    # start_extension serves until killed; it returns only when osqueryd never answered.
    print(
        f"readyfloor osquery extension: nothing answered on osqueryd's extension socket {socket_path}",
        file=sys.stderr,
    )
    return EXIT_FAILED


__all__ = [
    "EXTENSION_NAME",
    "SEAT",
    "AudioInputsTable",
    "ChromeSitePermissionsTable",
    "ReadinessChecksTable",
    "Reading",
    "SeatSource",
    "audio_input_rows",
    "check_rows",
    "main",
    "permission_rows",
    "seat_policy",
]
