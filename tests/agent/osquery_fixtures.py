"""Builds tests/fixtures/osquery/<seat>.json: what osqueryd answers on each fixture seat.

No osqueryd runs here, so the answers are written from the seat's bundle in the exact form
osquery's tables print them (``osqueryi --json``: every value a string), following the
tables' sources:

- ``registry`` (osquery/tables/system/windows/registry.cpp): one row per value and one per
  subkey (type 'subkey', data ''); the unnamed value is "(Default)" with a path ending in
  "\\"; REG_DWORD a signed decimal, REG_QWORD unsigned, REG_BINARY upper-case hex,
  REG_MULTI_SZ joined with ",". A key that does not exist gives no rows. HKEY_USERS holds the
  signed-in people's hives under their SIDs, each with a Volatile Environment.
- ``plist`` (darwin/preferences.cpp, utils/darwin/plist.mm): a row per top-level scalar, a row
  per element of a top-level array (empty subkey), booleans as 1/0 (NSNumber stringValue).
- ``os_version`` on macOS: ProductName/ProductVersion/ProductBuildVersion of the system
  version dictionary. ``system_profiler``: the data type's item list as compact JSON.
- ``usb_devices``: vendor_id/model_id as 4 lower-case hex digits; on Linux names from udev,
  with underscores for spaces.

The SQL is whatever the bridge sends: the bundle is collected through ``OsqueryHost`` with a
connection that answers from the bundle and records every query. Regenerate after changing
the bridge's queries (the committed files are compared with a fresh build in the tests):

    .venv/bin/python -m tests.agent.osquery_fixtures
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from readyfloor_agent import osquery_bridge as bridge
from readyfloor_agent.bundle import BundleHost, open_bundle
from readyfloor_agent.collectors import collect
from readyfloor_agent.host import ReadError, RegistryKey

from .fixture_bundles import ROOT as BUNDLES

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "osquery"
OSQUERY_VERSION = "5.12.1"
MTIME = "1715673731"

# The person at windows-healthy runs the agent themselves (no SID in the bundle); osqueryd
# sees their hive under this SID, next to a colleague's who is signed in too.
SIGNED_IN = {
    "windows-healthy": [
        ("S-1-5-21-1004336348-1177238915-682003330-1104", "mrivera", "C:\\Users\\mrivera"),
        ("S-1-5-21-1004336348-1177238915-682003330-1187", "jchen", "C:\\Users\\jchen"),
    ],
}

TABLES = {
    "windows": ["registry", "system_info", "os_version", "osquery_info", "osquery_registry", "users"],
    "macos": [
        "plist",
        "system_profiler",
        "usb_devices",
        "system_info",
        "os_version",
        "osquery_info",
        "osquery_registry",
    ],
    "linux": ["usb_devices", "system_info", "os_version", "osquery_info", "osquery_registry"],
}

SERIALS = {
    "windows-healthy": "5CG2381KQZ",
    "windows-exclusive-mode-held": "5CG2381KQZ",
    "windows-chrome-policy-allowlist-misses-cti": "5CG2381KQZ",
    "macos-healthy": "C02FX1PQMD16",
    "macos-chrome-policy-blocks-notifications": "C02FX1PQMD16",
    # Root-only on disk: the agent (running as the user) cannot read it; osqueryd (root) can.
    "linux-healthy-pactl": "PF3KX9A2",
}

APPLE_USB = [
    {"model": "USB3.1 Hub", "model_id": "0620", "vendor": "GenesysLogic", "vendor_id": "05e3"},
    {"model": "Magic Keyboard", "model_id": "0267", "vendor": "Apple Inc.", "vendor_id": "05ac"},
]
USB_DEVICES = {
    "macos-healthy": [
        *APPLE_USB,
        {"model": "Jabra Evolve2 40", "model_id": "0305", "vendor": "GN Audio A/S", "vendor_id": "0b0e"},
    ],
    "macos-chrome-policy-blocks-notifications": APPLE_USB,
    "linux-healthy-pactl": [
        {"model": "Jabra_Evolve2_40", "model_id": "0305", "vendor": "GN_Netcom_A_S", "vendor_id": "0b0e"},
        {"model": "USB_Optical_Mouse", "model_id": "c077", "vendor": "Logitech", "vendor_id": "046d"},
    ],
}

SEATS = sorted(SERIALS)

_KEY = re.compile(r"^SELECT path, name, type, data FROM registry WHERE key = '(.*)'$", re.DOTALL)
_SUBKEYS = re.compile(r"^SELECT name FROM registry WHERE key = '(.*)' AND type = 'subkey'$", re.DOTALL)
_PLIST = re.compile(r"^SELECT key, subkey, value FROM plist WHERE path = '(.*)'$", re.DOTALL)


def _unquote(text: str) -> str:
    return text.replace("''", "'")


class SeatAsOsqueryd:
    """Answers the bridge's SQL for one seat, as osqueryd on that machine would."""

    def __init__(self, seat: str, host: BundleHost) -> None:
        self.seat = seat
        self.host = host
        self.signed_in = SIGNED_IN.get(seat, [])

    def answer(self, sql: str) -> list[dict[str, str]]:
        if sql == bridge.TABLES_SQL:
            return [{"name": name} for name in TABLES[self.host.platform]]
        if sql == bridge.VERSION_SQL:
            return [{"version": OSQUERY_VERSION}]
        if sql == bridge.SERIAL_SQL:
            return [{"hardware_serial": SERIALS[self.seat]}]
        if sql == bridge.USB_DEVICES_SQL:
            return [dict(row) for row in USB_DEVICES.get(self.seat, [])]
        if sql == bridge.OS_VERSION_SQL:
            version = self.host.read_plist(bridge.SYSTEM_VERSION_PLIST)
            return [
                {
                    "build": version["ProductBuildVersion"],
                    "name": version["ProductName"],
                    "version": version["ProductVersion"],
                }
            ]
        if sql == bridge.AUDIO_PROFILE_SQL:
            printed = self.host.run(["system_profiler", "SPAudioDataType", "-json"]).stdout
            items = json.loads(printed)["SPAudioDataType"]
            return [{"value": json.dumps(items, separators=(",", ":"))}]
        if sql == bridge.USER_HIVES_SQL:
            rows = []
            for sid, name, home in self.signed_in:
                key = f"HKEY_USERS\\{sid}\\Volatile Environment"
                rows += [
                    {"data": home, "key": key, "name": "USERPROFILE"},
                    {"data": name, "key": key, "name": "USERNAME"},
                ]
            return rows
        if match := _KEY.match(sql):
            asked = _unquote(match.group(1))
            key = self._key(asked)
            return registry_rows(asked, key) if key is not None else []
        if match := _SUBKEYS.match(sql):
            key = self._key(_unquote(match.group(1)))
            return [{"name": name} for name in key.subkeys] if key is not None else []
        if match := _PLIST.match(sql):
            try:
                document = self.host.read_plist(_unquote(match.group(1)))
            except ReadError:
                return []
            return plist_rows(document)
        raise KeyError(f"no answer for {sql}")

    def _key(self, path: str) -> RegistryKey | None:
        for sid, name, _home in self.signed_in:
            prefix = f"HKEY_USERS\\{sid}"
            if path.lower().startswith(prefix.lower()):
                if name != (self.host.console_user() or _Nobody).name:
                    return None
                path = "HKEY_CURRENT_USER" + path[len(prefix) :]
        return self.host.registry(path)


class _Nobody:
    name = ""


def registry_text(kind: str, data: Any) -> str:
    if kind in ("REG_DWORD", "REG_DWORD_BIG_ENDIAN"):
        return str(data - (1 << 32) if data >= 1 << 31 else data)
    if kind == "REG_QWORD":
        return str(data)
    if kind == "REG_MULTI_SZ":
        return ",".join(data)
    if kind == "REG_NONE":
        return "(zero-length binary value)"
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).hex().upper()
    return str(data)


def registry_rows(path: str, key: RegistryKey) -> list[dict[str, str]]:
    """The rows of ``key``, asked for as ``path`` (osquery names a key as it was asked for)."""
    rows = [{"data": "", "name": name, "path": f"{path}\\{name}", "type": "subkey"} for name in key.subkeys]
    for name, (kind, data) in key.values.items():
        rows.append(
            {
                "data": registry_text(kind, data),
                "name": name or "(Default)",
                "path": f"{path}\\{name}",
                "type": kind,
            }
        )
    return rows


def plist_rows(document: Mapping[str, Any]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for key, value in document.items():
        if isinstance(value, list):
            rows += [{"key": key, "subkey": "", "value": _plist_text(item)} for item in value] or [
                {"key": key, "subkey": "", "value": ""}
            ]
        elif isinstance(value, dict):
            rows += [{"key": key, "subkey": name, "value": _plist_text(item)} for name, item in value.items()]
        else:
            rows.append({"key": key, "subkey": "", "value": _plist_text(value)})
    return rows


def _plist_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class _Recorder:
    """Stands where the bridge's Connection stands; answers from the seat, keeps every query."""

    broken = None

    def __init__(self, seat: SeatAsOsqueryd) -> None:
        self.seat = seat
        self.answers: dict[str, list[dict[str, str]]] = {}
        self.unanswered: list[str] = []

    def query(self, sql: str) -> list[dict[str, str]]:
        try:
            self.answers[sql] = self.seat.answer(sql)
        except Exception as error:
            self.unanswered.append(f"{sql}: {error!r}")
            raise
        return self.answers[sql]


class _Adapter:
    def __init__(self, session: bridge.Session) -> None:
        self.session = session

    def adapt(self, host: Any) -> bridge.OsqueryHost:
        return bridge.OsqueryHost(host, self.session)


def build(seat: str) -> dict[str, Any]:
    with open_bundle(BUNDLES / seat) as host, open_bundle(BUNDLES / seat) as data:
        recorder = _Recorder(SeatAsOsqueryd(seat, data))
        tables, version = bridge._probe(recorder)  # type: ignore[arg-type]
        collect(host, osquery=_Adapter(bridge.Session(recorder, tables, version)))  # type: ignore[arg-type]
    if recorder.unanswered:
        raise KeyError(f"{seat}: the emulation has no answer for {recorder.unanswered}")
    return {
        "about": (
            f"What osqueryd {OSQUERY_VERSION} answers on seat {seat} (tests/fixtures/bundles/{seat}), "
            "rows as osqueryi --json prints them; built by tests/agent/osquery_fixtures.py"
        ),
        "answers": [{"sql": sql, "rows": rows} for sql, rows in recorder.answers.items()],
    }


def write(root: Path = ROOT) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for seat in SEATS:
        path = root / f"{seat}.json"
        path.write_text(json.dumps(build(seat), indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path)
