"""macOS: TCC (microphone consent), system_profiler (audio), plists (Chrome, policy)."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from typing import Any

from ..checks.browsers import BROWSERS, CHROME, OTHER_BROWSERS, Browser
from ..host import Host, NotFound, ReadError
from .chrome import ChromeInstall, PolicyReading, merge_policies
from .reading import join_reasons, ok, unknown

CHROME_BUNDLE_ID = "com.google.Chrome"
MICROPHONE = "kTCCServiceMicrophone"
SYSTEM_TCC = "/Library/Application Support/com.apple.TCC/TCC.db"
MDM_OVERRIDES = "/Library/Application Support/com.apple.TCC/MDMOverrides.plist"
SYSTEM_VERSION = "/System/Library/CoreServices/SystemVersion.plist"
MANAGED_PREFERENCES = "/Library/Managed Preferences"
SYSTEM_PROFILER_TIMEOUT = 10.0

# auth_value of the current schema (macOS 11+); the old schema's `allowed` is 0/1.
AUTH_VALUES = {0: "denied", 1: "not_asked", 2: "allowed", 3: "limited"}
TRANSPORTS = {
    "coreaudio_device_type_usb": "usb",
    "coreaudio_device_type_builtin": "builtin",
    "coreaudio_device_type_bluetooth": "bluetooth",
    "coreaudio_device_type_bluetoothle": "bluetooth",
    "coreaudio_device_type_virtual": "virtual",
    "coreaudio_device_type_aggregate": "aggregate",
    "coreaudio_device_type_hdmi": "hdmi",
    "coreaudio_device_type_displayport": "hdmi",
}
_SERIAL = re.compile(r'"IOPlatformSerialNumber"\s*=\s*"([^"]+)"')
# Opening TCC.db without Full Disk Access fails in one of these ways; never report it as "denied".
_NO_ACCESS = (
    "authorization denied",
    "operation not permitted",
    "permission denied",
    "unable to open",
    "cannot be opened",
)


# --- Host -------------------------------------------------------------------------------------


def host_facts(host: Host) -> dict[str, Any]:
    reasons: list[str | None] = []
    os_version = None
    try:
        version = host.read_plist(SYSTEM_VERSION)
        if isinstance(version, dict) and isinstance(version.get("ProductVersion"), str):
            os_version = f"macOS {version['ProductVersion']}"
            if isinstance(version.get("ProductBuildVersion"), str):
                os_version += f" ({version['ProductBuildVersion']})"
    except ReadError as error:
        reasons.append(f"macOS version not read: {error.reason}")
    serial = None
    try:
        result = host.run(["ioreg", "-c", "IOPlatformExpertDevice", "-d", "2"], timeout=5.0)
        match = _SERIAL.search(result.stdout)
        serial = match.group(1)[:100] if match else None
    except ReadError as error:
        reasons.append(f"serial number not read: {error.reason}")
    return {
        "source": host.source("file"),
        "reason": join_reasons(*reasons),
        "os_version": os_version[:100] if os_version else None,
        "serial": serial,
    }


# --- OS microphone consent (TCC) ---------------------------------------------------------------


def os_mic(host: Host) -> dict[str, Any]:
    facts = _tcc_for(host, CHROME)
    if facts["status"] == "ok":
        # The same reading for the other Chromium-family browsers (their own TCC clients).
        facts["browsers_tcc"] = {
            browser_id: _tcc_for(host, BROWSERS[browser_id])["chrome_tcc"] for browser_id in OTHER_BROWSERS
        }
    return facts


def _tcc_for(host: Host, browser: Browser) -> dict[str, Any]:
    """One browser's microphone permission: an MDM deny, else its row in the user's TCC.db,
    else in the system one, else 'not_asked'. The facts keep Chrome's field names."""
    name, client = browser.short, browser.mac_bundle_id
    mdm = _mdm_verdict(host, client)
    if mdm is not None:
        return ok(
            host.source("plist"),
            f"a configuration profile (MDM) denies {name} the microphone",
            chrome_tcc=mdm,
            tcc_db="mdm",
        )
    source = host.source("tcc.db")
    try:
        user_db = host.join(host.home(), "Library", "Application Support", "com.apple.TCC", "TCC.db")
    except ReadError as error:
        return unknown(
            source, f"{name}'s microphone permission not read: {error.reason}", chrome_tcc=None, tcc_db=None
        )
    try:
        verdict = tcc_verdict(host, user_db, client)
    except NotFound:
        verdict = None
    except ReadError as error:
        return unknown(source, _tcc_reason(user_db, error), chrome_tcc=None, tcc_db=None)
    if verdict is not None:
        return ok(source, None, chrome_tcc=verdict, tcc_db="user")
    note = None
    try:
        verdict = tcc_verdict(host, SYSTEM_TCC, client)
    except ReadError as error:
        # The user database answers for the microphone; the system one is only a fallback.
        note = f"system TCC.db not read: {error.reason}"
        verdict = None
    if verdict is not None:
        return ok(source, note, chrome_tcc=verdict, tcc_db="system")
    return ok(
        source,
        join_reasons(f"{name} has never asked for the microphone", note),
        chrome_tcc="not_asked",
        tcc_db=None,
    )


def _tcc_reason(path: str, error: ReadError) -> str:
    detail = error.reason if path in error.reason else f"{path}: {error.reason}"
    if any(marker in detail.lower() for marker in _NO_ACCESS):
        return f"no Full Disk Access: the agent may not read the TCC database ({detail})"
    return f"could not read the TCC database ({detail})"


def tcc_verdict(host: Host, path: str, client: str = CHROME_BUNDLE_ID) -> str | None:
    """Chrome's microphone row in one TCC.db: allowed/denied/limited/not_asked, None when no row.
    Handles the current schema (auth_value) and the pre-Big Sur one (allowed)."""
    connection = host.sqlite_connect(path, timeout=2.0)
    with contextlib.closing(connection):
        try:
            columns = {row[1] for row in connection.execute("PRAGMA table_info(access)")}
            if not columns:
                raise ReadError(f"{path} has no access table")
            column = "auth_value" if "auth_value" in columns else "allowed" if "allowed" in columns else None
            if column is None:
                raise ReadError(f"{path} has an access table of an unknown shape")
            row = connection.execute(
                f"SELECT {column} FROM access WHERE service = ? AND client = ? AND client_type = 0",
                (MICROPHONE, client),
            ).fetchone()
        except sqlite3.Error as error:
            raise ReadError(f"{path} cannot be read: {error}") from None
    if row is None:
        return None
    value = row[0]
    if not isinstance(value, int):
        raise ReadError(f"{path} holds an unexpected {column} {value!r:.20}")
    if column == "allowed":
        return "allowed" if value == 1 else "denied"
    if value not in AUTH_VALUES:
        raise ReadError(f"{path} holds an unknown auth_value {value}")
    return AUTH_VALUES[value]


def _mdm_verdict(host: Host, client: str = CHROME_BUNDLE_ID) -> str | None:
    """A privacy profile (PPPC) can only deny the microphone; tccd keeps it in MDMOverrides."""
    try:
        overrides = host.read_plist(MDM_OVERRIDES)
    except ReadError:
        return None
    entry = overrides.get(client) if isinstance(overrides, dict) else None
    service = entry.get(MICROPHONE) if isinstance(entry, dict) else None
    if not isinstance(service, dict):
        return None
    allowed = service.get("Allowed")
    authorization = service.get("Authorization")
    if (
        allowed is False
        or allowed == 0
        or (isinstance(authorization, str) and authorization.lower() == "deny")
    ):
        return "denied"
    return None


# --- Chrome -----------------------------------------------------------------------------------


def chrome_install(host: Host, browser: Browser = CHROME) -> ChromeInstall:
    candidates = [f"/Applications/{browser.mac_app}"]
    with contextlib.suppress(ReadError):
        candidates.append(host.join(host.home(), "Applications", browser.mac_app))
    for app in candidates:
        info_path = host.join(app, "Contents", "Info.plist")
        try:
            info = host.read_plist(info_path)
        except NotFound:
            continue
        except ReadError as error:
            return ChromeInstall(True, None, f"{browser.short}'s version not read: {error.reason}")
        version = info.get("CFBundleShortVersionString") if isinstance(info, dict) else None
        if isinstance(version, str):
            return ChromeInstall(True, version[:50])
        return ChromeInstall(True, None, f"{browser.short}'s Info.plist names no version")
    return ChromeInstall(False)


def chrome_user_data_dir(host: Host, browser: Browser = CHROME) -> str:
    return host.join(host.home(), "Library", "Application Support", *browser.mac_user_data)


def chrome_policy(host: Host, browser: Browser = CHROME) -> PolicyReading:
    reading = PolicyReading(source=host.source("plist"))
    plist = f"{browser.mac_policy_domain}.plist"
    paths = [host.join(MANAGED_PREFERENCES, plist)]
    user = host.console_user()
    if user is not None:
        # The per-user managed domain is searched before the machine-wide one, so it wins.
        paths.append(host.join(MANAGED_PREFERENCES, user.name, plist))
    layers: list[dict[str, Any]] = []
    for path in paths:
        try:
            document = host.read_plist(path)
        except NotFound:
            continue
        except ReadError as error:
            reading.problems.append(error.reason)
            continue
        if not isinstance(document, dict):
            reading.problems.append(f"{path} is not a dictionary of policies")
            continue
        layers.append(document)
    reading.values = merge_policies(layers)
    return reading


# --- Audio ------------------------------------------------------------------------------------


def audio(host: Host) -> dict[str, Any]:
    source = host.source("system_profiler")
    try:
        result = host.run(["system_profiler", "SPAudioDataType", "-json"], timeout=SYSTEM_PROFILER_TIMEOUT)
    except ReadError as error:
        return unknown(
            source, f"audio devices not read: {error.reason}", inputs=[], holders=None, enumeration="failed"
        )
    if result.returncode != 0:
        detail = result.stderr.strip()[:200] or f"exit code {result.returncode}"
        return unknown(
            source, f"system_profiler failed: {detail}", inputs=[], holders=None, enumeration="failed"
        )
    try:
        inputs = parse_system_profiler(result.stdout)
    except ValueError as error:
        return unknown(source, str(error), inputs=[], holders=None, enumeration="failed")
    note = None if any(item["is_default"] for item in inputs) else "no default input reported"
    # macOS has no public record of which app holds the microphone: null, not "nobody".
    return ok(
        source,
        note if inputs else "system_profiler lists audio devices but none with an input",
        inputs=inputs,
        holders=None,
        enumeration="listed",
    )


def parse_system_profiler(text: str) -> list[dict[str, Any]]:
    """Input devices of ``system_profiler SPAudioDataType -json``; ValueError when the text is
    not that document."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ValueError("system_profiler printed something that is not JSON") from None
    sections = document.get("SPAudioDataType") if isinstance(document, dict) else None
    if not isinstance(sections, list):
        raise ValueError("system_profiler output has no SPAudioDataType list")
    inputs: list[dict[str, Any]] = []
    devices = _leaves(sections)
    if not any(isinstance(item.get("_name"), str) for item in devices):
        # Every Mac lists at least its own speakers: an output with no device at all is one of a
        # shape this reader does not know (or a truncated one), not "no microphone".
        raise ValueError("system_profiler listed no audio device at all (output of an unexpected shape)")
    for item in devices:
        if len(inputs) >= 100:
            break
        name = item.get("_name")
        if not isinstance(name, str) or "coreaudio_device_input" not in item:
            continue
        transport = TRANSPORTS.get(str(item.get("coreaudio_device_transport", "")), "unknown")
        if transport == "builtin" and name == "External Microphone":
            # The 3.5 mm jack: a plugged-in analog headset shows up under this name.
            transport = "analog"
        manufacturer = item.get("coreaudio_device_manufacturer")
        inputs.append(
            {
                "id": name[:300],
                "name": name[:300],
                "state": "active",
                "form_factor": None,
                "transport": transport,
                "vendor_id": None,
                "product_id": None,
                # system_profiler gives no USB ids; the maker's name is the strongest evidence.
                "manufacturer": manufacturer.strip()[:200] or None if isinstance(manufacturer, str) else None,
                "model": None,
                "is_default": item.get("coreaudio_default_audio_input_device") == "spaudio_yes",
                "is_default_communications": None,
                "exclusive_mode": None,
            }
        )
    return inputs


def _leaves(sections: list[Any], depth: int = 0) -> list[dict[str, Any]]:
    """Device entries, however deeply system_profiler nests its `_items` (it varies by release)."""
    leaves: list[dict[str, Any]] = []
    for section in sections:
        if not isinstance(section, dict):
            continue
        nested = section.get("_items")
        if isinstance(nested, list) and depth < 4:
            leaves.extend(_leaves(nested, depth + 1))
        elif depth > 0:
            leaves.append(section)
    return leaves
