"""The one way collectors read a machine.

Collectors never touch ``os``, ``winreg``, ``subprocess`` or ``sqlite3`` directly: they ask a
:class:`Host`. The live host reads this computer; a bundle host (``bundle.open_bundle``) answers
from files a user sent; a recording host (``bundle.RecordingHost``) reads the live machine and
keeps everything it saw. Because every collector goes through this interface, the same code
judges a seat live and offline, and every read is bounded in one place.

Failures are values, not crashes: every method either answers or raises :class:`ReadError`
with a human reason (``NotFound`` when the thing simply does not exist). Collectors turn a
``ReadError`` into an ``unknown`` fact carrying that reason.
"""

from __future__ import annotations

import datetime as dt
import json
import ntpath
import os
import plistlib
import posixpath
import socket
import sqlite3
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

DEFAULT_LIMIT = 4_000_000
# Commands that misbehave (a sound server flooding stdout) must not exhaust memory.
COMMAND_OUTPUT_LIMIT = 8_000_000
# A registry key with more entries than this is not one the checks care about.
REGISTRY_ENTRY_LIMIT = 5_000

PLATFORMS = ("windows", "macos", "linux")


class ReadError(Exception):
    """Something could not be read. ``reason`` is shown to people as-is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(ReadError):
    """The file, key or command does not exist (as opposed to: exists but is unreadable)."""


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class RegistryKey:
    """One registry key: ``values`` maps a value name ('' for the default value) to
    ``(type, data)``. Types are winreg names: REG_SZ, REG_EXPAND_SZ (str), REG_MULTI_SZ
    (list[str]), REG_DWORD, REG_QWORD (int), REG_BINARY, REG_NONE and others (bytes)."""

    path: str
    values: dict[str, tuple[str, Any]] = field(default_factory=dict)
    subkeys: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = None) -> Any:
        """The data of a value, matched case-insensitively like Windows does."""
        if name in self.values:
            return self.values[name][1]
        lowered = name.lower()
        for key, (_type, data) in self.values.items():
            if key.lower() == lowered:
                return data
        return default


@dataclass(frozen=True)
class ConsoleUser:
    """The person signed in at the seat, whose Chrome profile and settings are judged.

    ``agent_is_user`` is False when the agent runs as a service (root, SYSTEM): then HKCU,
    $HOME and the sound-server session are not that person's and must be reached explicitly
    (``HKU\\<sid>``, ``home``, ``runuser``)."""

    name: str
    home: str
    uid: int | None = None
    sid: str | None = None
    agent_is_user: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "home": self.home,
            "uid": self.uid,
            "sid": self.sid,
            "agent_is_user": self.agent_is_user,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsoleUser:
        uid = data.get("uid")
        return cls(
            name=str(data.get("name") or ""),
            home=str(data.get("home") or ""),
            uid=uid if isinstance(uid, int) else None,
            sid=data.get("sid") if isinstance(data.get("sid"), str) else None,
            agent_is_user=bool(data.get("agent_is_user", True)),
        )


REGISTRY_ROOTS = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKEY_CURRENT_USER": "HKEY_CURRENT_USER",
    "HKU": "HKEY_USERS",
    "HKEY_USERS": "HKEY_USERS",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
    "HKCC": "HKEY_CURRENT_CONFIG",
    "HKEY_CURRENT_CONFIG": "HKEY_CURRENT_CONFIG",
}


def canonical_key(key_path: str) -> str:
    """``HKLM\\Software\\X\\`` -> ``HKEY_LOCAL_MACHINE\\Software\\X`` (the form `reg export` writes)."""
    # "/" is legal in key names (HKCR\MIME\Database\Content Type\application/json): only "\" separates.
    parts = [part for part in key_path.split("\\") if part]
    if not parts:
        raise ValueError(f"not a registry key path: {key_path!r}")
    root = REGISTRY_ROOTS.get(parts[0].upper())
    if root is None:
        raise ValueError(f"unknown registry root in {key_path!r}")
    return "\\".join([root, *parts[1:]])


class Host(ABC):
    """Read-only access to one machine (live, recorded or from a bundle)."""

    platform: str

    @abstractmethod
    def read_bytes(self, path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
        """The whole file; ReadError when larger than ``limit`` bytes."""

    @abstractmethod
    def list_dir(self, path: str) -> list[str]:
        """Entry names of a directory, sorted."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Never raises: an unreadable path counts as absent."""

    @abstractmethod
    def run(
        self, argv: Sequence[str], *, timeout: float = 5.0, env: Mapping[str, str] | None = None
    ) -> CommandResult:
        """Run a command (``env`` adds variables). A non-zero exit is a result, not an error;
        a missing program is NotFound and a timeout is ReadError."""

    @abstractmethod
    def registry(self, key_path: str) -> RegistryKey | None:
        """A Windows registry key (``HKLM\\...``, ``HKCU\\...``, ``HKU\\<sid>\\...``) or None when
        it does not exist."""

    @abstractmethod
    def sqlite_connect(self, path: str, *, timeout: float = 2.0) -> sqlite3.Connection:
        """A read-only connection to an SQLite file, already proven readable. Close it."""

    @abstractmethod
    def env(self, name: str) -> str | None:
        """An environment variable of the agent process."""

    @abstractmethod
    def hostname(self) -> str: ...

    @abstractmethod
    def console_user(self) -> ConsoleUser | None:
        """The person signed in at the seat, or None when nobody is."""

    # Derived helpers, shared by every host.

    def home(self) -> str:
        user = self.console_user()
        if user is None or not user.home:
            raise ReadError("nobody is signed in at this seat")
        return user.home

    def user_sid(self) -> str | None:
        user = self.console_user()
        return user.sid if user else None

    def join(self, *parts: str) -> str:
        return (ntpath if self.platform == "windows" else posixpath).join(*parts)

    def modified(self, path: str) -> dt.datetime:
        """When the file was last written (UTC). ReadError when this host cannot tell; hosts
        that predate this read (and osquery) answer that, so callers must have a fallback."""
        raise ReadError(f"the modification time of {_basename(path)} is not available")

    def source(self, kind: str) -> str:
        """The label a fact records for data read through ``kind`` ('registry', 'file', ...).
        Overlays that answer through osquery return 'osquery:<kind>'."""
        return kind

    def annotate(self, area: str, facts: dict[str, Any]) -> dict[str, Any]:
        """Called by ``collect`` after each area ('host', 'os_mic', 'chrome', 'audio') with that
        area's facts: every read since the previous call belongs to it. An overlay that answers
        some reads another way (the osquery bridge) relabels the area's ``source`` and records
        why a read fell back to the native reader; a plain host changes nothing."""
        return facts

    def read_text(self, path: str, *, limit: int = DEFAULT_LIMIT, encoding: str = "utf-8") -> str:
        data = self.read_bytes(path, limit=limit)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            raise ReadError(f"{path} is not {encoding} text: {error.reason} at byte {error.start}") from None

    def read_json(self, path: str, *, limit: int = DEFAULT_LIMIT) -> Any:
        data = self.read_bytes(path, limit=limit)
        try:
            return json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise ReadError(f"{_basename(path)} is not UTF-8 text (corrupt?): {error.reason}") from None
        except json.JSONDecodeError as error:
            raise ReadError(
                f"{_basename(path)} is not valid JSON (truncated or corrupt): {error.msg} "
                f"at line {error.lineno} column {error.colno}"
            ) from None
        except RecursionError:
            raise ReadError(f"{_basename(path)} is nested too deeply to read") from None

    def read_plist(self, path: str, *, limit: int = DEFAULT_LIMIT) -> Any:
        data = self.read_bytes(path, limit=limit)
        try:
            return plistlib.loads(data)
        except (
            Exception
        ) as error:  # plistlib raises many types (InvalidFileException, ExpatError, ValueError...)
            raise ReadError(f"{_basename(path)} is not a readable property list: {error}") from None


def _basename(path: str) -> str:
    return ntpath.basename(path) if "\\" in path else posixpath.basename(path)


def current_platform() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def _os_error_reason(path: str, error: OSError) -> ReadError:
    if isinstance(error, FileNotFoundError):
        return NotFound(f"{path} does not exist")
    if isinstance(error, PermissionError):
        return ReadError(f"permission denied reading {path}")
    if isinstance(error, IsADirectoryError):
        return ReadError(f"{path} is a directory")
    if isinstance(error, NotADirectoryError):
        return NotFound(f"{path} does not exist")
    return ReadError(f"could not read {path}: {error.strerror or error}")


class LiveHost(Host):
    """This computer, read directly."""

    def __init__(self, platform: str | None = None) -> None:
        self.platform = platform or current_platform()
        self._console_user: tuple[ConsoleUser | None] | None = None

    def read_bytes(self, path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
        try:
            with open(path, "rb") as handle:
                # Read one byte past the limit: /proc and /sys report sizes that lie.
                data = handle.read(limit + 1)
        except OSError as error:
            raise _os_error_reason(path, error) from None
        if len(data) > limit:
            raise ReadError(f"{path} is larger than {limit} bytes; not read")
        return data

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError as error:
            raise _os_error_reason(path, error) from None

    def exists(self, path: str) -> bool:
        try:
            return os.path.exists(path)
        except (OSError, ValueError):
            return False

    def modified(self, path: str) -> dt.datetime:
        try:
            stamp = os.stat(path).st_mtime
        except (OSError, ValueError) as error:
            if isinstance(error, OSError):
                raise _os_error_reason(path, error) from None
            raise ReadError(f"{path}: {error}") from None
        return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)

    def run(
        self, argv: Sequence[str], *, timeout: float = 5.0, env: Mapping[str, str] | None = None
    ) -> CommandResult:
        argv = list(argv)
        kwargs: dict[str, Any] = {}
        if self.platform == "windows":
            # A console window flashing on an agent's screen every check-in is not acceptable.
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            completed = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                env={**os.environ, **env} if env else None,
                check=False,
                **kwargs,
            )
        except FileNotFoundError:
            raise NotFound(f"{argv[0]} is not installed") from None
        except PermissionError:
            raise ReadError(f"{argv[0]} may not be run by the agent (permission denied)") from None
        except subprocess.TimeoutExpired:
            raise ReadError(f"{argv[0]} did not answer within {timeout:g} s") from None
        except OSError as error:
            raise ReadError(f"{argv[0]} could not be started: {error.strerror or error}") from None
        return CommandResult(
            completed.returncode,
            _decode_output(completed.stdout),
            _decode_output(completed.stderr),
        )

    def registry(self, key_path: str) -> RegistryKey | None:
        if self.platform != "windows":
            return None
        return _read_winreg(canonical_key(key_path))

    def sqlite_connect(self, path: str, *, timeout: float = 2.0) -> sqlite3.Connection:
        return connect_sqlite_readonly(path, timeout=timeout)

    def env(self, name: str) -> str | None:
        return os.environ.get(name)

    def hostname(self) -> str:
        return socket.gethostname() or os.environ.get("COMPUTERNAME") or "unknown"

    def console_user(self) -> ConsoleUser | None:
        if self._console_user is None:
            try:
                found = _find_console_user(self)
            except ReadError:
                found = None
            self._console_user = (found,)
        return self._console_user[0]


def live_host() -> LiveHost:
    return LiveHost()


def _decode_output(data: bytes) -> str:
    if len(data) > COMMAND_OUTPUT_LIMIT:
        data = data[:COMMAND_OUTPUT_LIMIT]
    return data.decode("utf-8", errors="replace")


def connect_sqlite_readonly(
    path: str, *, timeout: float = 2.0, immutable: bool = False
) -> sqlite3.Connection:
    """Open an SQLite file read-only and prove it readable now, so that "no Full Disk Access"
    or "not a database" surfaces here as a ReadError rather than later, mid-query."""
    if not os.path.exists(path):
        try:
            os.stat(path)
        except FileNotFoundError:
            raise NotFound(f"{path} does not exist") from None
        except OSError as error:
            raise ReadError(f"{path} cannot be opened: {error.strerror or error}") from None
    uri = f"file:{quote(path)}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    except sqlite3.Error as error:
        raise ReadError(f"{path} cannot be opened: {error}") from None
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        connection.close()
        raise ReadError(f"{path} cannot be read: {error}") from None
    return connection


# --- Windows registry -------------------------------------------------------------------------

REG_TYPE_NAMES = {
    0: "REG_NONE",
    1: "REG_SZ",
    2: "REG_EXPAND_SZ",
    3: "REG_BINARY",
    4: "REG_DWORD",
    5: "REG_DWORD_BIG_ENDIAN",
    6: "REG_LINK",
    7: "REG_MULTI_SZ",
    8: "REG_RESOURCE_LIST",
    9: "REG_FULL_RESOURCE_DESCRIPTOR",
    10: "REG_RESOURCE_REQUIREMENTS_LIST",
    11: "REG_QWORD",
}
REG_TYPE_NUMBERS = {name: number for number, name in REG_TYPE_NAMES.items()}


def reg_type_name(number: int) -> str:
    return REG_TYPE_NAMES.get(number, f"REG_TYPE_{number:x}")


def reg_type_number(name: str) -> int:
    if name in REG_TYPE_NUMBERS:
        return REG_TYPE_NUMBERS[name]
    if name.startswith("REG_TYPE_"):
        return int(name[len("REG_TYPE_") :], 16)
    raise ValueError(f"unknown registry type {name!r}")


def _read_winreg(path: str) -> RegistryKey | None:  # pragma: no cover - needs Windows
    import winreg

    roots = {
        "HKEY_LOCAL_MACHINE": winreg.HKEY_LOCAL_MACHINE,
        "HKEY_CURRENT_USER": winreg.HKEY_CURRENT_USER,
        "HKEY_USERS": winreg.HKEY_USERS,
        "HKEY_CLASSES_ROOT": winreg.HKEY_CLASSES_ROOT,
        "HKEY_CURRENT_CONFIG": winreg.HKEY_CURRENT_CONFIG,
    }
    root_name, _, sub_path = path.partition("\\")
    # The 64-bit view: a 32-bit Python would otherwise be redirected to WOW6432Node.
    access = winreg.KEY_READ | getattr(winreg, "KEY_WOW64_64KEY", 0)
    try:
        with winreg.OpenKey(roots[root_name], sub_path, 0, access) as handle:
            subkey_count, value_count, _modified = winreg.QueryInfoKey(handle)
            subkeys = [winreg.EnumKey(handle, i) for i in range(min(subkey_count, REGISTRY_ENTRY_LIMIT))]
            values: dict[str, tuple[str, Any]] = {}
            for i in range(min(value_count, REGISTRY_ENTRY_LIMIT)):
                name, data, kind = winreg.EnumValue(handle, i)
                values[name] = (reg_type_name(kind), _normalise_winreg(kind, data))
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ReadError(f"access denied to {path}") from None
    except OSError as error:
        raise ReadError(f"could not read {path}: {error.strerror or error}") from None
    return RegistryKey(path=path, values=values, subkeys=subkeys)


def _normalise_winreg(kind: int, data: Any) -> Any:  # pragma: no cover - needs Windows
    if kind in (1, 2):
        return data if isinstance(data, str) else ""
    if kind == 7:
        return list(data or [])
    if kind in (4, 5, 11):
        return int(data or 0)
    if data is None:
        return b""
    return bytes(data) if not isinstance(data, bytes) else data


# --- Who is at the seat -----------------------------------------------------------------------


def _find_console_user(host: LiveHost) -> ConsoleUser | None:
    if host.platform == "windows":  # pragma: no cover - needs Windows
        return _windows_console_user(host)
    return _posix_console_user(host)


def _posix_console_user(host: LiveHost) -> ConsoleUser | None:
    import pwd

    euid = os.geteuid()
    if euid != 0:
        entry = pwd.getpwuid(euid)
        return ConsoleUser(name=entry.pw_name, home=entry.pw_dir, uid=euid, agent_is_user=True)
    uid = _macos_console_uid() if host.platform == "macos" else _linux_session_uid(host)
    if uid is None or uid == 0:
        return None
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return None
    return ConsoleUser(name=entry.pw_name, home=entry.pw_dir, uid=uid, agent_is_user=False)


def _macos_console_uid() -> int | None:
    # /dev/console belongs to whoever is at the login window's desktop; root means nobody.
    try:
        return os.stat("/dev/console").st_uid
    except OSError:
        return None


def _linux_session_uid(host: LiveHost) -> int | None:
    """The owner of the active graphical session (logind), else of the only user runtime dir."""
    try:
        listing = host.run(["loginctl", "list-sessions", "--no-legend"], timeout=3.0)
    except ReadError:
        listing = None
    if listing is not None and listing.returncode == 0:
        seated: list[int] = []
        for line in listing.stdout.splitlines():
            fields = line.split()
            # SESSION UID USER SEAT TTY ...: a session on a seat is someone at the keyboard.
            if len(fields) >= 4 and fields[1].isdigit() and fields[3].startswith("seat"):
                seated.append(int(fields[1]))
        if seated:
            return seated[0]
    try:
        runtime_dirs = [int(name) for name in os.listdir("/run/user") if name.isdigit() and int(name) >= 1000]
    except OSError:
        return None
    return min(runtime_dirs) if len(runtime_dirs) == 1 else None


def _windows_console_user(host: LiveHost) -> ConsoleUser | None:  # pragma: no cover - needs Windows
    name = os.environ.get("USERNAME", "")
    profile = os.environ.get("USERPROFILE", "")
    running_as_service = name.endswith("$") or "systemprofile" in profile.lower() or not name
    if not running_as_service:
        return ConsoleUser(name=name, home=profile, agent_is_user=True)
    # As SYSTEM, HKCU is SYSTEM's own hive: find the signed-in person's SID and loaded hive.
    logon = host.registry("HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI")
    if logon is None:
        return None
    sid = logon.get("LastLoggedOnUserSID")
    user = logon.get("LastLoggedOnSAMUser") or logon.get("LastLoggedOnUser") or ""
    if not isinstance(sid, str) or host.registry(f"HKU\\{sid}") is None:
        return None
    profile_key = host.registry(f"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{sid}")
    home = profile_key.get("ProfileImagePath", "") if profile_key else ""
    # ProfileImagePath is REG_EXPAND_SZ and may read %SystemDrive%\Users\...
    home = os.path.expandvars(str(home))
    return ConsoleUser(name=str(user).split("\\")[-1], home=home, sid=sid, agent_is_user=False)


class HostOverlay(Host):
    """Delegates every read to ``inner``. Subclass it to answer some reads another way — the
    osquery bridge overrides ``registry`` (and ``source``) to answer through osquery's tables
    while files, commands and everything else still come from ``inner``."""

    def __init__(self, inner: Host) -> None:
        self.inner = inner
        self.platform = inner.platform

    def read_bytes(self, path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
        return self.inner.read_bytes(path, limit=limit)

    def list_dir(self, path: str) -> list[str]:
        return self.inner.list_dir(path)

    def exists(self, path: str) -> bool:
        return self.inner.exists(path)

    def modified(self, path: str) -> dt.datetime:
        return self.inner.modified(path)

    def run(
        self, argv: Sequence[str], *, timeout: float = 5.0, env: Mapping[str, str] | None = None
    ) -> CommandResult:
        return self.inner.run(argv, timeout=timeout, env=env)

    def registry(self, key_path: str) -> RegistryKey | None:
        return self.inner.registry(key_path)

    def sqlite_connect(self, path: str, *, timeout: float = 2.0) -> sqlite3.Connection:
        return self.inner.sqlite_connect(path, timeout=timeout)

    def env(self, name: str) -> str | None:
        return self.inner.env(name)

    def hostname(self) -> str:
        return self.inner.hostname()

    def console_user(self) -> ConsoleUser | None:
        return self.inner.console_user()

    def source(self, kind: str) -> str:
        return self.inner.source(kind)

    def annotate(self, area: str, facts: dict[str, Any]) -> dict[str, Any]:
        return self.inner.annotate(area, facts)
