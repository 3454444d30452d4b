"""Reading a seat through osqueryd when one is installed, and natively whenever it cannot help.

When an osqueryd answers on its extension socket (or a path to osqueryd is configured and the
agent starts a private one), the facts osquery can give come from its tables through
osquery-python:

    Windows  registry         every registry key the collectors read; HKCU through
                              HKEY_USERS\\<sid> (osqueryd runs as SYSTEM and has no HKCU)
             system_info      the BIOS serial number, instead of starting PowerShell
    macOS    os_version       the macOS version (what SystemVersion.plist says)
             system_info      the hardware serial number, instead of ioreg
             plist            managed Chrome policy under /Library/Managed Preferences
             system_profiler  audio devices (osquery 5.x with that table; else system_profiler)
             usb_devices      vendor/product ids of USB inputs, which system_profiler omits
    Linux    system_info      the hardware serial number (root-only on disk; osqueryd is root)
             usb_devices      as on macOS, for USB inputs the sound server gave no ids for

Everything else is read natively: osquery cannot read JSON files (Chrome's Preferences, Linux
policy files), and TCC.db, pactl and /proc it would read no better.

:class:`OsqueryHost` is a :class:`~readyfloor_agent.host.HostOverlay`: the per-OS collectors call
``registry()``, ``read_plist()``, ``run()`` as always. Every osquery failure (nothing listening,
a refused query, a timeout, data it cannot parse) falls back to the native reader for that one
read, and ``annotate`` puts the reason in the area's ``reason``; an area whose labelled reads
all came from osquery is relabelled ``osquery:<table>``. osquery-python is imported only when a
bridge connects, so the agent runs without it.
"""

from __future__ import annotations

import logging
import os
import posixpath
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from .collectors.chrome import POLICY_BOOLEANS, POLICY_LISTS, POLICY_SETTINGS
from .collectors.reading import join_reasons, short
from .host import (
    DEFAULT_LIMIT,
    REGISTRY_ENTRY_LIMIT,
    CommandResult,
    Host,
    HostOverlay,
    NotFound,
    ReadError,
    RegistryKey,
    canonical_key,
)

log = logging.getLogger(__name__)

WINDOWS_SOCKET_PATH = r"\\.\pipe\osquery.em"
POSIX_SOCKET_PATH = "/var/osquery/osquery.em"
DEFAULT_SOCKET_PATH = WINDOWS_SOCKET_PATH if sys.platform == "win32" else POSIX_SOCKET_PATH
CONNECT_TIMEOUT_S = 2.0
# Used when nobody configured osquery and the agent merely found its socket: a stale socket
# must not slow every report down.
AUTO_CONNECT_TIMEOUT_S = 0.5
# system_profiler SPAudioDataType, the slowest table the bridge asks, takes a few seconds.
QUERY_TIMEOUT_S = 10.0
SPAWN_TIMEOUT_S = 10.0
OFF = frozenset({"off", "none", "no", "false", "0", "disabled"})

SYSTEM_VERSION_PLIST = "/System/Library/CoreServices/SystemVersion.plist"
MANAGED_PREFERENCES = "/Library/Managed Preferences"
CHROME_POLICY_PLIST = "com.google.Chrome.plist"
PRODUCT_SERIAL_FILE = "/sys/class/dmi/id/product_serial"

T = TypeVar("T")


class OsqueryError(Exception):
    """osquery could not answer; ``reason`` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- SQL ----------------------------------------------------------------------------------------


def sql_text(value: str) -> str:
    """An SQL string literal (osquery's SQLite doubles single quotes; backslashes are literal)."""
    return "'" + value.replace("'", "''") + "'"


def registry_key_sql(path: str) -> str:
    return f"SELECT path, name, type, data FROM registry WHERE key = {sql_text(path)}"


def registry_subkeys_sql(path: str) -> str:
    return f"SELECT name FROM registry WHERE key = {sql_text(path)} AND type = 'subkey'"


# Each interactively signed-in person's hive has a Volatile Environment naming their profile.
USER_HIVES_SQL = (
    "SELECT key, name, data FROM registry WHERE key LIKE 'HKEY_USERS\\%\\Volatile Environment' "
    "AND name IN ('USERPROFILE', 'USERNAME')"
)
OS_VERSION_SQL = "SELECT name, version, build FROM os_version"
SERIAL_SQL = "SELECT hardware_serial FROM system_info"
AUDIO_PROFILE_SQL = "SELECT value FROM system_profiler WHERE data_type = 'SPAudioDataType'"
USB_DEVICES_SQL = "SELECT vendor, vendor_id, model, model_id FROM usb_devices"
TABLES_SQL = "SELECT name FROM osquery_registry WHERE registry = 'table' AND active = 1"
VERSION_SQL = "SELECT version FROM osquery_info"


def plist_sql(path: str) -> str:
    return f"SELECT key, subkey, value FROM plist WHERE path = {sql_text(path)}"


# --- What osquery's tables print, as the collectors expect it ------------------------------------

_BINARY_TYPES = ("REG_BINARY", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTOR")
_SKIP = object()


def registry_value(kind: str, data: str) -> Any:
    """A value as winreg would give it, from the text osquery's registry table prints.

    osquery prints REG_DWORD as a *signed* decimal, REG_BINARY as upper-case hex (releases before
    osquery pull request 8421, 2024, pad it with zeros to the longest value of the key; the
    SYSTEMTIMEs the collectors read are the longest values of their keys), REG_MULTI_SZ joined
    with ",".
    ValueError for data that does not fit its type; ``_SKIP`` for a type osquery could not name.
    """
    if kind in ("REG_SZ", "REG_EXPAND_SZ"):
        return data
    if kind == "REG_MULTI_SZ":
        return data.split(",") if data else []
    if kind in ("REG_DWORD", "REG_DWORD_BIG_ENDIAN"):
        return int(data) & 0xFFFF_FFFF
    if kind == "REG_QWORD":
        return int(data) & 0xFFFF_FFFF_FFFF_FFFF
    if kind in _BINARY_TYPES:
        return bytes.fromhex(data)
    if kind == "REG_NONE":
        return b""
    if kind == "REG_LINK":
        return data.encode("utf-16-le")
    return _SKIP


def registry_key_from_rows(path: str, rows: Sequence[Mapping[str, str]]) -> RegistryKey:
    """The key at ``path`` from its rows of ``SELECT path, name, type, data FROM registry``."""
    values: dict[str, tuple[str, Any]] = {}
    subkeys: list[str] = []
    for row in rows[: 2 * REGISTRY_ENTRY_LIMIT]:
        kind, name, data = row.get("type", ""), row.get("name", ""), row.get("data", "")
        if kind == "subkey":
            subkeys.append(name)
            continue
        # The unnamed default value: osquery names it "(Default)" and its path ends in "\".
        if name == "(Default)" and row.get("path", "").endswith("\\"):
            name = ""
        try:
            value = registry_value(kind, data)
        except ValueError:
            raise OsqueryError(
                f"osquery's registry table gave {kind} data {data!r:.30} for {name or '(Default)'} "
                f"in {path}, which is not {kind}"
            ) from None
        if value is not _SKIP:
            values[name] = (kind, value)
    return RegistryKey(path=path, values=values, subkeys=subkeys)


def chrome_policy_from_plist_rows(rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The readiness policies of a managed Chrome plist, from rows of osquery's ``plist`` table.

    osquery flattens the plist to text: a top-level array becomes one row per element (with an
    empty ``subkey``; an empty array one row with an empty value), booleans print as 1/0
    (they are NSNumbers), integers as digits. The policy's declared type restores the rest;
    other keys are left out: no readiness check reads them.
    """
    document: dict[str, Any] = {}
    for row in rows:
        key, value = row.get("key", ""), row.get("value", "")
        if key in POLICY_LISTS:
            entries = document.setdefault(key, [])
            if value:
                entries.append(value)
        elif key in POLICY_BOOLEANS:
            lowered = value.lower()
            document[key] = (
                True if lowered in ("1", "true") else False if lowered in ("0", "false") else value
            )
        elif key in POLICY_SETTINGS:
            document[key] = int(value) if value.lstrip("-").isdigit() else value
    return document


def audio_profile_output(rows: Sequence[Mapping[str, str]]) -> str:
    """``system_profiler SPAudioDataType -json`` as the command prints it, from osquery's
    ``system_profiler`` table (whose ``value`` is the JSON of the data type's item list)."""
    import json

    if not rows or not rows[0].get("value"):
        raise OsqueryError("osquery's system_profiler table gave no audio report")
    try:
        items = json.loads(rows[0]["value"])
    except (ValueError, RecursionError):
        raise OsqueryError("osquery's system_profiler table gave an audio report that is not JSON") from None
    return json.dumps({"SPAudioDataType": items}, indent=2)


def hex4(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    text = text[2:] if text.startswith("0x") else text
    if not text or len(text) > 4 or any(char not in "0123456789abcdef" for char in text):
        return None
    return text.zfill(4)


def _words(text: Any) -> str:
    return " ".join(str(text or "").casefold().split())


def _same_path(a: str, b: str) -> bool:
    return a.replace("/", "\\").rstrip("\\").casefold() == b.replace("/", "\\").rstrip("\\").casefold()


# --- Connections --------------------------------------------------------------------------------


def _import_osquery() -> Any:
    try:
        import osquery
    except Exception as error:  # ImportError, or pywin32 missing under osquery-python on Windows
        raise OsqueryError(f"osquery-python cannot be loaded ({type(error).__name__}: {error})") from None
    # thrift logs every refused connection at ERROR; a missing osqueryd is an expected state
    # that the facts already explain.
    logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)
    return osquery


def _bounded(call: Callable[[], T], timeout: float, what: str) -> T:
    """``call()`` in a worker thread, given up on after ``timeout`` seconds. Socket timeouts
    bound the POSIX transport already; this also bounds Windows named pipes, which have none."""
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:
            outcome.append((False, error))

    worker = threading.Thread(target=work, name="readyfloor-osquery", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"osquery did not answer {what} within {timeout:g} s")
    done, value = outcome[0]
    if done:
        return value  # type: ignore[no-any-return]
    raise value


def _describe(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _transport_socket(client: Any) -> Any:
    """The TSocket under an ExtensionClient, to give it a read timeout (osquery-python sets
    none, so a hung osqueryd would block a read forever). None on Windows (a TPipe)."""
    transport = getattr(client, "_transport", None)
    inner = getattr(transport, "_TBufferedTransport__trans", None)
    return inner if hasattr(inner, "setTimeout") else None


class Connection:
    """One thrift connection to an osquery extension manager. Every call is bounded in time;
    after a timeout or a transport failure the connection is dead and says why, at once."""

    def __init__(self, client: Any, label: str, query_timeout: float, stop: Callable[[], None]) -> None:
        self.client = client
        self.label = label
        self.query_timeout = query_timeout
        self._stop = stop
        self._lock = threading.Lock()
        self.broken: str | None = None

    def _call(self, what: str, call: Callable[[], T]) -> T:
        with self._lock:
            if self.broken:
                raise OsqueryError(self.broken)
            try:
                return _bounded(call, self.query_timeout + 1.0, what)
            except TimeoutError as error:
                self.broken = str(error)
            except Exception as error:
                if "timed out" in str(error).lower() or "timeout" in str(error).lower():
                    self.broken = f"osquery did not answer {what} within {self.query_timeout:g} s"
                else:
                    self.broken = f"the connection to {self.label} failed ({_describe(error)})"
            self._close()
            raise OsqueryError(self.broken)

    def alive(self) -> bool:
        if self.broken:
            return False
        try:
            status = self._call("a ping", lambda: self.client.extension_manager_client().ping())
        except OsqueryError:
            return False
        return getattr(status, "code", None) == 0

    def query(self, sql: str) -> list[dict[str, str]]:
        """The rows of ``sql``; OsqueryError when osquery refuses it (the connection stays up)."""
        response = self._call("a query", lambda: self.client.extension_manager_client().query(sql))
        status = getattr(response, "status", None)
        code = getattr(status, "code", None)
        if code != 0:
            message = str(getattr(status, "message", "") or "").strip() or f"status {code}"
            raise OsqueryError(f"osquery refused a query ({message})")
        rows = getattr(response, "response", None) or []
        if not isinstance(rows, list):
            raise OsqueryError("osquery answered a query with something that is not a list of rows")
        return [
            {str(key): "" if value is None else str(value) for key, value in row.items()}
            for row in rows
            if isinstance(row, Mapping)
        ]

    def _close(self) -> None:
        try:
            self._stop()
        except Exception:  # closing a dead transport may fail in many ways; it is closed either way
            log.debug("closing the osquery connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self.broken = self.broken or "the connection to osquery was closed"
            self._close()


def socket_present(path: str) -> bool:
    """Whether an extension socket (or Windows named pipe) exists and this process may use it."""
    pipe_prefix = "\\\\.\\pipe\\"
    if path.lower().startswith(pipe_prefix):
        try:
            names = os.listdir(pipe_prefix)
        except OSError:
            return False
        return path[len(pipe_prefix) :].lower() in (name.lower() for name in names)
    try:
        return os.path.exists(path) and os.access(path, os.R_OK | os.W_OK)
    except (OSError, ValueError):
        return False


def open_socket(path: str, *, connect_timeout: float, query_timeout: float) -> Connection:
    """Connect to a running osqueryd's extension socket (osquery-python's ExtensionClient)."""
    osquery = _import_osquery()
    if not path.lower().startswith("\\\\.\\pipe\\") and not os.path.exists(path):
        raise OsqueryError(f"no osquery extension socket at {path} (is osqueryd running?)")
    client = osquery.ExtensionClient(path=path)
    sock = _transport_socket(client)
    if sock is not None:
        sock.setTimeout(query_timeout * 1000)
    try:
        # ExtensionClient.open retries every 0.2 s until its timeout and returns False, never raises.
        opened = client.open(timeout=connect_timeout, interval=0.2)
    except Exception as error:
        raise OsqueryError(f"could not connect to osquery at {path} ({_describe(error)})") from None
    if not opened:
        raise OsqueryError(
            f"nothing answered on osquery's extension socket {path} within {connect_timeout:g} s "
            "(osqueryd stopped, or the agent may not use the socket)"
        )
    connection = Connection(client, f"osquery at {path}", query_timeout, client.close)
    if not connection.alive():
        connection.close()
        raise OsqueryError(f"{path} does not answer like osqueryd's extension manager")
    return connection


def spawn_osqueryd(path: str, *, spawn_timeout: float, query_timeout: float) -> Connection:
    """Start a private osqueryd from ``path`` (osquery-python's SpawnInstance, given the path
    explicitly: its defaults are wrong for osquery 5 on macOS) and connect to it."""
    osquery = _import_osquery()
    if not os.path.isfile(path):
        raise OsqueryError(f"osqueryd is not at {path}")
    instance = osquery.SpawnInstance(path)

    def stop() -> None:
        # SpawnInstance cleans up (kills osqueryd, removes its temporary socket) in __del__.
        instance.__del__()

    try:
        _bounded(lambda: instance.open(timeout=spawn_timeout), spawn_timeout + 2.0, "while starting")
        connection = instance.connection
        # SpawnInstance.open stops retrying after one ExtensionClient.open, which returns False
        # instead of raising: keep trying while osqueryd is still coming up.
        if not connection._transport.isOpen() and not connection.open(timeout=spawn_timeout, interval=0.2):
            process = instance.instance
            code = process.poll() if process is not None else None
            raise OsqueryError(
                f"osqueryd started from {path} exited with code {code}"
                if code is not None
                else f"osqueryd started from {path} never opened its extension socket"
            )
    except OsqueryError:
        stop()
        raise
    except Exception as error:
        detail = _describe(error)
        stop()
        raise OsqueryError(f"could not start osqueryd from {path} ({detail})") from None
    sock = _transport_socket(connection)
    if sock is not None:
        sock.setTimeout(query_timeout * 1000)
    return Connection(connection, f"osqueryd started from {path}", query_timeout, stop)


# --- Sessions and the bridge --------------------------------------------------------------------


@dataclass
class Session:
    """One collection's use of a connection: which tables exist, and answers already given."""

    connection: Connection
    tables: frozenset[str] | None = None
    version: str | None = None
    _answers: dict[str, list[dict[str, str]] | OsqueryError] = field(default_factory=dict)

    def has_table(self, name: str) -> bool:
        return self.tables is None or name in self.tables

    def rows(self, sql: str) -> list[dict[str, str]]:
        if sql not in self._answers:
            try:
                self._answers[sql] = self.connection.query(sql)
            except OsqueryError as error:
                self._answers[sql] = error
        answer = self._answers[sql]
        if isinstance(answer, OsqueryError):
            raise answer
        return answer


class OsqueryBridge:
    """The ``osquery=`` argument of ``collectors.collect``: ``adapt(host)`` gives a host that
    answers through osquery. Keeps one connection across collections and reconnects when it
    died; ``close()`` ends it (and a spawned osqueryd).

    ``required``: osquery was asked for (configured), so being unable to reach it is written
    into the facts. A bridge that merely found the default socket stays quiet when it cannot
    connect: the seat is then read as if osquery were not installed.
    """

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        osqueryd_path: str | None = None,
        required: bool = True,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        query_timeout: float = QUERY_TIMEOUT_S,
        spawn_timeout: float = SPAWN_TIMEOUT_S,
    ) -> None:
        if socket_path is None and osqueryd_path is None:
            socket_path = DEFAULT_SOCKET_PATH
        self.socket_path = socket_path
        self.osqueryd_path = osqueryd_path if socket_path is None else None
        self.required = required
        self.connect_timeout = connect_timeout
        self.query_timeout = query_timeout
        self.spawn_timeout = spawn_timeout
        self._connection: Connection | None = None
        self._tables: frozenset[str] | None = None
        self._version: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = self.socket_path or f"osqueryd {self.osqueryd_path}"
        return f"OsqueryBridge({where!r})"

    def adapt(self, host: Host) -> Host:
        try:
            session = self.session()
        except OsqueryError as error:
            if not self.required:
                log.debug("osquery not used: %s", error.reason)
                return host
            log.info("osquery not used for this report: %s", error.reason)
            return OsqueryHost(host, None, error.reason)
        return OsqueryHost(host, session)

    def session(self) -> Session:
        with self._lock:
            if self._connection is not None and not self._connection.alive():
                self._connection.close()
                self._connection = None
            if self._connection is None:
                self._connection = self._connect()
                self._tables, self._version = _probe(self._connection)
            return Session(self._connection, self._tables, self._version)

    def _connect(self) -> Connection:
        if self.socket_path is not None:
            return open_socket(
                self.socket_path, connect_timeout=self.connect_timeout, query_timeout=self.query_timeout
            )
        assert self.osqueryd_path is not None
        return spawn_osqueryd(
            self.osqueryd_path, spawn_timeout=self.spawn_timeout, query_timeout=self.query_timeout
        )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> OsqueryBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _probe(connection: Connection) -> tuple[frozenset[str] | None, str | None]:
    """Which tables this osqueryd has (system_profiler is new in 5.x) and its version. An
    osqueryd that will not say is asked anyway; a refused query then falls back as usual."""
    try:
        tables: frozenset[str] | None = frozenset(row.get("name", "") for row in connection.query(TABLES_SQL))
    except OsqueryError as error:
        if connection.broken:
            raise
        log.info("osquery did not list its tables (%s)", error.reason)
        tables = None
    try:
        rows = connection.query(VERSION_SQL)
        version = rows[0].get("version") if rows else None
    except OsqueryError:
        if connection.broken:
            raise OsqueryError(connection.broken) from None
        version = None
    return tables or None, version


def bridge_for(settings: Any = None, *, socket_path: str | None = None) -> OsqueryBridge | None:
    """The bridge the agent's settings ask for, or None when osquery is not to be used.

    ``socket_path`` (the --osquery-socket flag) wins over the ``osquery_socket`` setting
    (READYFLOOR_OSQUERY_SOCKET); 'off' turns osquery off. Without a socket, ``osqueryd_path``
    starts a private osqueryd. With neither, osqueryd's default socket is used when this
    process may open it, quietly (see ``OsqueryBridge.required``).
    """
    configured = socket_path or getattr(settings, "osquery_socket", None)
    osqueryd = getattr(settings, "osqueryd_path", None)
    if configured and configured.strip().lower() in OFF:
        return None
    if configured:
        return OsqueryBridge(configured.strip())
    if osqueryd:
        return OsqueryBridge(osqueryd_path=osqueryd.strip())
    if socket_present(DEFAULT_SOCKET_PATH):
        return OsqueryBridge(DEFAULT_SOCKET_PATH, required=False, connect_timeout=AUTO_CONNECT_TIMEOUT_S)
    return None


# --- The host that answers through osquery ------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    """One read osquery was meant to answer. ``kind`` is the collectors' label for the native
    reader it replaces ('registry', 'file', 'plist', ...); ``fallback`` says why the native
    reader answered instead."""

    kind: str
    table: str
    fallback: str | None = None


class OsqueryHost(HostOverlay):
    """``inner`` with the reads osquery can answer taken from osquery (see the module doc).
    ``session`` None: osquery is unavailable for ``unavailable``, and every such read falls back."""

    def __init__(self, inner: Host, session: Session | None, unavailable: str | None = None) -> None:
        super().__init__(inner)
        self.session = session
        self.unavailable = unavailable or "osquery is not available"
        self._reads: list[_Read] = []
        self._user_hive: str | None = None

    # -- the routing ------------------------------------------------------------------------

    def _ask(self, kind: str, table: str, answer: Callable[[Session], T], native: Callable[[], T]) -> T:
        if self.session is None:
            self._reads.append(_Read(kind, table, self.unavailable))
            return native()
        if not self.session.has_table(table):
            # This osquery has no such table (an older release): the native reader is the reader.
            return native()
        try:
            value = answer(self.session)
        except ReadError:
            # osquery answered, and the answer is "not there".
            self._reads.append(_Read(kind, table))
            raise
        except OsqueryError as error:
            self._reads.append(_Read(kind, table, error.reason))
            return native()
        except Exception as error:
            log.exception("osquery's %s answer could not be used", table)
            self._reads.append(
                _Read(kind, table, f"osquery's {table} answer was not usable ({_describe(error)})")
            )
            return native()
        self._reads.append(_Read(kind, table))
        return value

    def registry(self, key_path: str) -> RegistryKey | None:
        if self.platform != "windows":
            return self.inner.registry(key_path)
        return self._ask(
            "registry",
            "registry",
            lambda session: self._registry_key(session, key_path),
            lambda: self.inner.registry(key_path),
        )

    def read_plist(self, path: str, *, limit: int = DEFAULT_LIMIT) -> Any:
        if self.platform == "macos":
            if path == SYSTEM_VERSION_PLIST:
                return self._ask(
                    "file", "os_version", _system_version, lambda: self.inner.read_plist(path, limit=limit)
                )
            if _is_managed_chrome_policy(path):
                return self._ask(
                    "plist",
                    "plist",
                    lambda session: self._policy_plist(session, path),
                    lambda: self.inner.read_plist(path, limit=limit),
                )
        return self.inner.read_plist(path, limit=limit)

    def read_bytes(self, path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
        if self.platform == "linux" and path == PRODUCT_SERIAL_FILE:
            return self._ask(
                "serial",
                "system_info",
                lambda session: _serial(session).encode() + b"\n",
                lambda: self.inner.read_bytes(path, limit=limit),
            )
        return self.inner.read_bytes(path, limit=limit)

    def run(
        self, argv: Sequence[str], *, timeout: float = 5.0, env: Mapping[str, str] | None = None
    ) -> CommandResult:
        def native() -> CommandResult:
            return self.inner.run(argv, timeout=timeout, env=env)

        program = _program(argv)
        words = [str(arg).lower() for arg in argv]
        if (
            self.platform == "windows"
            and program in ("powershell", "pwsh")
            and any("win32_bios" in word and "serialnumber" in word for word in words)
        ):
            return self._ask("serial", "system_info", _bios_serial_output, native)
        if self.platform == "macos" and program == "ioreg" and "ioplatformexpertdevice" in words:
            return self._ask("serial", "system_info", _ioreg_serial_output, native)
        if (
            self.platform == "macos"
            and program == "system_profiler"
            and "spaudiodatatype" in words
            and "-json" in words
        ):
            return self._ask(
                "system_profiler",
                "system_profiler",
                lambda session: CommandResult(0, audio_profile_output(session.rows(AUDIO_PROFILE_SQL)), ""),
                native,
            )
        return native()

    # -- registry ---------------------------------------------------------------------------

    def _registry_key(self, session: Session, key_path: str) -> RegistryKey | None:
        path = canonical_key(key_path)
        target = path
        if path.upper().startswith("HKEY_CURRENT_USER"):
            target = self._current_user_hive(session) + path[len("HKEY_CURRENT_USER") :]
        rows = session.rows(registry_key_sql(target))
        if not rows:
            # No rows: an empty key, or none at all; the parent's subkeys tell which.
            return RegistryKey(path=path) if _registry_key_exists(session, target) else None
        key = registry_key_from_rows(target, rows)
        # The path asked for, not where osquery found it: collectors read children by it.
        return RegistryKey(path=path, values=key.values, subkeys=key.subkeys)

    def _current_user_hive(self, session: Session) -> str:
        """HKEY_USERS\\<sid> of the person at the seat: osqueryd runs as SYSTEM, whose HKCU is
        not theirs, so osquery has no HKEY_CURRENT_USER at all."""
        if self._user_hive is not None:
            return self._user_hive
        user = self.console_user()
        if user is None:
            raise OsqueryError("nobody is signed in, so osquery has no user hive to read")
        if user.sid:
            self._user_hive = f"HKEY_USERS\\{user.sid}"
            return self._user_hive
        hives: dict[str, dict[str, str]] = {}
        for row in session.rows(USER_HIVES_SQL):
            parts = row.get("key", "").split("\\")
            if len(parts) >= 3 and parts[0].upper() == "HKEY_USERS":
                hives.setdefault(parts[1], {})[row.get("name", "").upper()] = row.get("data", "")
        matches = [
            sid
            for sid, names in hives.items()
            if user.home and _same_path(names.get("USERPROFILE", ""), user.home)
        ]
        if not matches:
            matches = [
                sid
                for sid, names in hives.items()
                if names.get("USERNAME", "").casefold() == user.name.casefold()
            ]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise OsqueryError(
                f"osquery has no HKEY_CURRENT_USER, and {found} signed-in registry hives under HKEY_USERS "
                f"belong to {user.name}"
            )
        self._user_hive = f"HKEY_USERS\\{matches[0]}"
        return self._user_hive

    # -- macOS plists -----------------------------------------------------------------------

    def _policy_plist(self, session: Session, path: str) -> dict[str, Any]:
        rows = session.rows(plist_sql(path))
        if rows:
            return chrome_policy_from_plist_rows(rows)
        # No rows: the file is missing (the usual: no managed policy), or osquery could not
        # parse it; which one, the file system says.
        if not self.inner.exists(path):
            raise NotFound(f"{path} does not exist")
        raise OsqueryError(
            f"osquery's plist table gave no rows for {path} (empty, unreadable, or not a property list)"
        )

    # -- what the collectors made of it ---------------------------------------------------

    def annotate(self, area: str, facts: dict[str, Any]) -> dict[str, Any]:
        try:
            facts = self._annotate(area, facts)
        except Exception:  # labelling must never cost the seat its facts
            log.exception("could not label the %s facts with their osquery sources", area)
        return self.inner.annotate(area, facts)

    def _annotate(self, area: str, facts: dict[str, Any]) -> dict[str, Any]:
        reads, self._reads = self._reads, []
        if area == "audio":
            reads += self._add_usb_ids(facts)
        groups = [facts]
        if area == "chrome" and isinstance(facts.get("policy"), dict):
            groups.append(facts["policy"])
        answered: dict[str, list[str]] = {}
        fell_back: dict[str, list[str]] = {}
        for read in reads:
            if read.fallback is None:
                tables = answered.setdefault(read.kind, [])
                if read.table not in tables:
                    tables.append(read.table)
            else:
                fell_back.setdefault(read.kind, []).append(read.fallback)
        reasons: dict[int, list[str]] = {}
        for kind, why in fell_back.items():
            target = next((index for index, group in enumerate(groups) if group.get("source") == kind), 0)
            for reason in why:
                if reason not in reasons.setdefault(target, []):
                    reasons[target].append(reason)
        for index, group in enumerate(groups):
            label = group.get("source")
            if isinstance(label, str) and label in answered and label not in fell_back:
                group["source"] = ("osquery:" + "+".join(answered[label]))[:100]
            if reasons.get(index):
                group["reason"] = join_reasons(
                    group.get("reason"), short("read without osquery: " + "; ".join(reasons[index]), 300)
                )
        return facts

    def _add_usb_ids(self, facts: dict[str, Any]) -> list[_Read]:
        """Vendor/product ids for USB inputs that came without (system_profiler never gives
        them), matched to osquery's usb_devices by product name, so approved-model lists by
        USB id also work there. Only an unambiguous match is used."""
        if self.platform not in ("macos", "linux") or self.session is None:
            return []
        if not self.session.has_table("usb_devices"):
            return []
        inputs = facts.get("inputs") if isinstance(facts.get("inputs"), list) else []
        missing = [
            item
            for item in inputs
            if isinstance(item, dict)
            and item.get("transport") == "usb"
            and item.get("vendor_id") is None
            and item.get("product_id") is None
        ]
        if not missing:
            return []
        try:
            rows = self.session.rows(USB_DEVICES_SQL)
        except OsqueryError as error:
            # Nothing is lost: the native readers never had these ids.
            log.info("osquery's usb_devices not read: %s", error.reason)
            return []
        devices = [
            (_words(row.get("model")), hex4(row.get("vendor_id")), hex4(row.get("model_id"))) for row in rows
        ]
        filled = 0
        for item in missing:
            name = _words(item.get("name"))
            found = {
                (vendor, product)
                for model, vendor, product in devices
                if vendor and product and model and (model == name or (len(model) >= 4 and model in name))
            }
            if len(found) == 1:
                item["vendor_id"], item["product_id"] = found.pop()
                filled += 1
        if not filled:
            return []
        facts["reason"] = join_reasons(
            facts.get("reason"), "USB vendor and product ids from osquery's usb_devices"
        )
        return [_Read("usb", "usb_devices")]


def _registry_key_exists(session: Session, path: str) -> bool:
    parent, _, leaf = path.rpartition("\\")
    if not parent:
        return True
    return any(
        row.get("name", "").casefold() == leaf.casefold()
        for row in session.rows(registry_subkeys_sql(parent))
    )


def _system_version(session: Session) -> dict[str, str]:
    """SystemVersion.plist's keys from os_version, which osquery reads from the same place."""
    rows = session.rows(OS_VERSION_SQL)
    if not rows or not rows[0].get("version"):
        raise OsqueryError("osquery's os_version table gave no version")
    row = rows[0]
    names = {"ProductName": "name", "ProductVersion": "version", "ProductBuildVersion": "build"}
    return {plist_key: row[column] for plist_key, column in names.items() if row.get(column)}


def _serial(session: Session) -> str:
    rows = session.rows(SERIAL_SQL)
    if not rows:
        raise OsqueryError("osquery's system_info table gave no row")
    serial = rows[0].get("hardware_serial", "").strip()
    # osquery prints -1 where WMI gave nothing; the collectors want "no serial" then.
    return "" if serial == "-1" else serial


def _bios_serial_output(session: Session) -> CommandResult:
    """What ``(Get-CimInstance Win32_BIOS).SerialNumber`` prints; osquery reads the same WMI class."""
    serial = _serial(session)
    return CommandResult(0, f"{serial}\r\n" if serial else "", "")


def _ioreg_serial_output(session: Session) -> CommandResult:
    """The one line of ``ioreg -c IOPlatformExpertDevice`` the agent reads, from system_info
    (osquery reads the same IOPlatformSerialNumber)."""
    serial = _serial(session).replace('"', "")
    return CommandResult(0, f'    | |   "IOPlatformSerialNumber" = "{serial}"\n' if serial else "", "")


def _is_managed_chrome_policy(path: str) -> bool:
    return path.startswith(MANAGED_PREFERENCES + "/") and posixpath.basename(path) == CHROME_POLICY_PLIST


def _program(argv: Sequence[str]) -> str:
    if not argv:
        return ""
    name = str(argv[0]).replace("\\", "/").rsplit("/", 1)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


__all__ = [
    "DEFAULT_SOCKET_PATH",
    "Connection",
    "OsqueryBridge",
    "OsqueryError",
    "OsqueryHost",
    "Session",
    "bridge_for",
    "chrome_policy_from_plist_rows",
    "open_socket",
    "registry_key_from_rows",
    "registry_value",
    "socket_present",
    "spawn_osqueryd",
]
