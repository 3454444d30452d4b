"""Agent settings (where the server is, how to enrol, where to keep state) and the state dir.

Settings come from, lowest precedence first:

1. built-in defaults;
2. the system settings file (IT's deployment writes it):
   Windows ``%PROGRAMDATA%\\ReadyFloor\\agent.ini``, macOS
   ``/Library/Application Support/ReadyFloor/agent.ini``, Linux ``/etc/readyfloor/agent.ini``;
3. the user's settings file: Windows ``%APPDATA%\\ReadyFloor\\agent.ini``, macOS
   ``~/Library/Application Support/ReadyFloor/agent.ini``, Linux
   ``$XDG_CONFIG_HOME/readyfloor/agent.ini`` (or the one file named by ``READYFLOOR_CONFIG``,
   which replaces both);
4. environment variables ``READYFLOOR_SERVER``, ``READYFLOOR_ENROLL_SECRET``,
   ``READYFLOOR_STATE_DIR``, ``READYFLOOR_SEAT`` (``FLOOR/LABEL``), ``READYFLOOR_CA_FILE``,
   ``READYFLOOR_TIMEOUT``, ``READYFLOOR_CTI_ORIGINS`` (comma separated),
   ``READYFLOOR_OSQUERY_SOCKET`` (osqueryd's extension socket, or ``off``),
   ``READYFLOOR_OSQUERYD_PATH`` (an osqueryd to start when none is running; see OSQUERY.md);
5. command-line flags.

The file is INI (``[agent]`` section, keys as in :class:`AgentSettings`) or JSON (an object
with the same keys) when its name ends in ``.json``.

The agent runs in the signed-in user's session (it reads that user's Chrome profile and
audio session), so its state dir is per user: Windows ``%LOCALAPPDATA%\\ReadyFloor``, macOS
``~/Library/Application Support/ReadyFloor/state``, Linux ``$XDG_STATE_HOME/readyfloor``.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import math
import os
import secrets
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .spool import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, Spool, write_file_durably

log = logging.getLogger(__name__)

ENV_PREFIX = "READYFLOOR_"


class SettingsError(ValueError):
    """A settings file or value is malformed; the message names the file/variable and key."""


@dataclass(frozen=True)
class Seat:
    floor: str
    label: str

    @classmethod
    def parse(cls, text: str) -> Seat:
        """``"Floor 1/A-01"`` -> Seat("Floor 1", "A-01"); the label is after the LAST slash
        so that a floor name may contain one."""
        floor, sep, label = text.strip().rpartition("/")
        if not sep or not floor.strip() or not label.strip():
            raise SettingsError(f"a seat is written FLOOR/LABEL, e.g. 'Floor 1/A-01', not {text!r}")
        return cls(floor.strip(), label.strip())

    def to_dict(self) -> dict[str, str]:
        return {"floor": self.floor, "label": self.label}

    def __str__(self) -> str:
        return f"{self.floor}/{self.label}"


@dataclass(frozen=True)
class AgentSettings:
    server: str | None = None
    enroll_secret: str | None = None
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    seat: Seat | None = None
    ca_file: str | None = None
    timeout: float = 10.0
    cti_origins: tuple[str, ...] = ()
    spool_max_entries: int = DEFAULT_MAX_ENTRIES
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    osquery_socket: str | None = None
    osqueryd_path: str | None = None
    sources: tuple[str, ...] = ()

    def with_overrides(self, **values: Any) -> AgentSettings:
        """A copy with every non-None value applied (command-line flags)."""
        changes = {key: value for key, value in values.items() if value is not None}
        if "state_dir" in changes:
            changes["state_dir"] = Path(changes["state_dir"]).expanduser()
        if "cti_origins" in changes:
            changes["cti_origins"] = tuple(changes["cti_origins"])
        return replace(self, **changes)


# -- platform paths ------------------------------------------------------------------------


def _home() -> Path:
    return Path.home()


def system_settings_file() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "ReadyFloor" / "agent.ini"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/ReadyFloor/agent.ini")
    return Path("/etc/readyfloor/agent.ini")


def user_settings_file() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(_home() / "AppData" / "Roaming")
        return Path(base) / "ReadyFloor" / "agent.ini"
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "ReadyFloor" / "agent.ini"
    base = os.environ.get("XDG_CONFIG_HOME") or str(_home() / ".config")
    return Path(base) / "readyfloor" / "agent.ini"


def default_state_dir() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(_home() / "AppData" / "Local")
        return Path(base) / "ReadyFloor"
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "ReadyFloor" / "state"
    base = os.environ.get("XDG_STATE_HOME") or str(_home() / ".local" / "state")
    return Path(base) / "readyfloor"


# -- loading -------------------------------------------------------------------------------

_KEYS = {
    "server",
    "enroll_secret",
    "state_dir",
    "seat",
    "ca_file",
    "timeout",
    "cti_origins",
    "spool_max_entries",
    "spool_max_bytes",
    "osquery_socket",
    "osqueryd_path",
}


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    files: list[Path] | None = None,
) -> AgentSettings:
    """Settings from the files and environment (flags are applied by the caller with
    :meth:`AgentSettings.with_overrides`)."""
    environ = os.environ if environ is None else environ
    if files is None:
        explicit = environ.get(f"{ENV_PREFIX}CONFIG")
        files = [Path(explicit)] if explicit else [system_settings_file(), user_settings_file()]
        if explicit and not Path(explicit).is_file():
            raise SettingsError(f"{ENV_PREFIX}CONFIG names {explicit}, which does not exist")
    values: dict[str, Any] = {}
    sources: list[str] = []
    for path in files:
        found = _read_settings_file(path)
        if found is not None:
            values.update(found)
            sources.append(str(path))
    for key in _KEYS:
        raw = environ.get(ENV_PREFIX + key.upper())
        if raw is not None and raw != "":
            values[key] = raw
            sources.append(f"${ENV_PREFIX}{key.upper()}")
    return _settings_from(values, tuple(sources))


def _read_settings_file(path: Path) -> dict[str, Any] | None:
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("settings file %s is unreadable (%s); ignoring it", path, error)
        return None
    if str(path).endswith(".json"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise SettingsError(f"{path}: not valid JSON ({error})") from error
        if not isinstance(document, dict):
            raise SettingsError(f"{path}: expected a JSON object of settings")
        found = dict(document)
    else:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as error:
            raise SettingsError(f"{path}: {error}") from error
        if not parser.has_section("agent"):
            raise SettingsError(f"{path}: expected an [agent] section")
        found = dict(parser.items("agent"))
    unknown = set(found) - _KEYS
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}"
        )
    return found


def _settings_from(values: dict[str, Any], sources: tuple[str, ...]) -> AgentSettings:
    settings = AgentSettings(sources=sources)
    changes: dict[str, Any] = {}
    for key in ("server", "enroll_secret", "ca_file", "osquery_socket", "osqueryd_path"):
        if values.get(key):
            changes[key] = str(values[key]).strip()
    if values.get("state_dir"):
        changes["state_dir"] = Path(str(values["state_dir"])).expanduser()
    if values.get("seat"):
        seat = values["seat"]
        if isinstance(seat, dict):
            changes["seat"] = Seat(str(seat.get("floor", "")), str(seat.get("label", "")))
        else:
            changes["seat"] = Seat.parse(str(seat))
    if values.get("cti_origins"):
        origins = values["cti_origins"]
        if isinstance(origins, str):
            origins = [part for part in origins.replace("\n", ",").split(",")]
        elif not isinstance(origins, (list, tuple)):
            # A JSON settings file may hold anything here (true, 42): say so, don't crash.
            raise SettingsError(f"cti_origins must be a list of origins, not {origins!r}")
        changes["cti_origins"] = tuple(str(origin).strip() for origin in origins if str(origin).strip())
    for key, kind in (("timeout", float), ("spool_max_entries", int), ("spool_max_bytes", int)):
        if values.get(key) not in (None, ""):
            try:
                number = kind(values[key])
            except (TypeError, ValueError) as error:
                raise SettingsError(f"{key} must be a number, not {values[key]!r}") from error
            if not number > 0 or (isinstance(number, float) and not math.isfinite(number)):
                raise SettingsError(f"{key} must be a positive number, not {values[key]!r}")
            changes[key] = number
    return replace(settings, **changes)


# -- state dir -----------------------------------------------------------------------------


class StateDir:
    """What the agent remembers between runs, in one directory it owns:

    - ``node_key`` (mode 0600): the credential the server gave at enrolment;
    - ``state.json``: server URL enrolled with, device id, last acknowledged facts hash,
      interval and config version the server last asked for, host identifier;
    - ``config.json``: the last policy the server sent (the self-check uses it offline);
    - ``spool/``: check-ins not yet acknowledged.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()

    def ensure(self) -> StateDir:
        self.path.mkdir(parents=True, exist_ok=True)
        if hasattr(os, "chmod") and os.name != "nt":
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o700)
        return self

    # node key ---------------------------------------------------------------------------

    @property
    def node_key_file(self) -> Path:
        return self.path / "node_key"

    def node_key(self) -> str | None:
        try:
            key = self.node_key_file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return key or None

    def save_node_key(self, node_key: str) -> None:
        self.ensure()
        write_file_durably(self.node_key_file, node_key.encode("utf-8"), mode=0o600)

    def forget_node_key(self) -> None:
        """Stop using the node key, but keep it as the proof that this is the same machine:
        the server lets a host re-enrol its identity only with its previous key (or an
        admin's approval), so that a leaked enrol secret cannot take it over."""
        key = self.node_key()
        if key:
            write_file_durably(self.path / "previous_node_key", key.encode("utf-8"), mode=0o600)
        with contextlib.suppress(FileNotFoundError):
            self.node_key_file.unlink()

    def previous_node_key(self) -> str | None:
        try:
            key = (self.path / "previous_node_key").read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return key or None

    def claim_token(self) -> str:
        """A random token kept for good: when an enrolment waits for an admin's approval,
        only the agent that holds it picks up the key once approved."""
        path = self.path / "claim_token"
        try:
            token = path.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            token = ""
        if len(token) < 16:
            self.ensure()
            token = secrets.token_urlsafe(24)
            write_file_durably(path, token.encode("utf-8"), mode=0o600)
        return token

    # enrol secret, remembered by `enroll` so a later 401 can re-enrol ----------------------

    def enroll_secret(self) -> str | None:
        try:
            secret = (self.path / "enroll_secret").read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return secret or None

    def save_enroll_secret(self, secret: str) -> None:
        self.ensure()
        write_file_durably(self.path / "enroll_secret", secret.encode("utf-8"), mode=0o600)

    # small persistent values --------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        try:
            document = json.loads((self.path / "state.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def update(self, **values: Any) -> dict[str, Any]:
        self.ensure()
        state = self.load()
        state.update(values)
        write_file_durably(self.path / "state.json", json.dumps(state, indent=2, sort_keys=True).encode())
        return state

    def get(self, key: str, default: Any = None) -> Any:
        return self.load().get(key, default)

    def host_identifier(self, suggested: str | None = None) -> str:
        """A stable identity for this machine: kept once chosen so that a later change in
        what the collectors can read (a serial that becomes readable) does not create a
        second device on the server."""
        known = self.get("host_identifier")
        if isinstance(known, str) and known:
            return known
        identifier = suggested or _machine_id() or str(uuid.uuid4())
        self.update(host_identifier=identifier)
        return identifier

    # cached server config -----------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    def cached_config(self) -> dict[str, Any] | None:
        try:
            document = json.loads(self.config_file.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def save_config(self, document: dict[str, Any]) -> None:
        self.ensure()
        write_file_durably(self.config_file, json.dumps(document, indent=2, sort_keys=True).encode())

    # spool --------------------------------------------------------------------------------

    def spool(self, *, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES) -> Spool:
        self.ensure()
        return Spool(self.path / "spool", max_entries=max_entries, max_bytes=max_bytes)


def _machine_id() -> str | None:
    # Linux's machine-id survives reboots and is unique per installation; other platforms
    # get their hardware serial from the collectors (facts.host.serial).
    for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = Path(candidate).read_text("ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if value:
            return value
    return None
