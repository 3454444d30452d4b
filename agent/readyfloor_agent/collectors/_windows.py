"""Windows: the registry (consent store, MMDevices, Chrome policy) and Chrome's folders."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import struct
from typing import Any

from ..checks.browsers import CHROME, Browser
from ..host import Host, ReadError, RegistryKey
from .chrome import (
    POLICY_BOOLEANS,
    POLICY_LISTS,
    POLICY_SETTINGS,
    ChromeInstall,
    PolicyReading,
    merge_policies,
)
from .reading import from_filetime, join_reasons, ok, unknown

CONSENT = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore\\microphone"
APP_PRIVACY = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\AppPrivacy"
CAPTURE = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\MMDevices\\Audio\\Capture"
CURRENT_VERSION = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
CHROME_POLICY = CHROME.windows_policy_key

# Endpoint property keys (PROPERTYKEY "{fmtid},pid") as MMDevices stores them.
PKEY_FRIENDLY_NAME = "{a45c254e-df1c-4efd-8020-67d146a850e0},14"
PKEY_DESCRIPTION = "{a45c254e-df1c-4efd-8020-67d146a850e0},2"
PKEY_ENUMERATOR = "{a45c254e-df1c-4efd-8020-67d146a850e0},24"
PKEY_INTERFACE_NAME = "{b3f8fa53-0004-438e-9003-51a46e139bfc},6"
PKEY_ADAPTER_NAME = "{026e516e-b814-414b-83cd-856d6fef4822},2"
PKEY_INSTANCE_ID = "{b3f8fa53-0004-438e-9003-51a46e139bfc},2"
PKEY_EXCLUSIVE_ALLOWED = "{b3f8fa53-0004-438e-9003-51a46e139bfc},3"
PKEY_FORM_FACTOR = "{1da5d803-d492-4edd-8c23-e0c0ffee7f0e},0"
PKEY_MANUFACTURER = "{a45c254e-df1c-4efd-8020-67d146a850e0},13"

FORM_FACTORS = {
    1: "speakers",
    2: "line",
    3: "headphones",
    4: "microphone",
    5: "headset",
    6: "handset",
    10: "unknown",
}
STATES = {1: "active", 2: "disabled", 4: "not_present", 8: "unplugged"}
# mmsys.cpl's "Disable" leaves the low bits at ACTIVE and sets this flag in the registry.
_USER_DISABLED = 0x10000000
_STATE_ORDER = {"active": 0, "unplugged": 1, "disabled": 2, "not_present": 3, "unknown": 4}
_VERSION_DIR = re.compile(r"\d+\.\d+\.\d+\.\d+")
_USB_IDS = re.compile(r"VID_([0-9A-F]{4})&PID_([0-9A-F]{4})", re.IGNORECASE)
_BLUETOOTH_IDS = re.compile(r"VID&[0-9A-F]{4}([0-9A-F]{4})_PID&([0-9A-F]{4})", re.IGNORECASE)
_PLACEHOLDER_SERIALS = {"", "0", "default string", "to be filled by o.e.m.", "system serial number", "none"}
MAX_ENDPOINTS = 200
MAX_APPS = 300


def user_root(host: Host) -> str | None:
    """The signed-in person's hive: HKCU when the agent runs as them, HKU\\<sid> as a service."""
    user = host.console_user()
    if user is None:
        return None
    if user.agent_is_user or not user.sid:
        return "HKCU"
    return f"HKU\\{user.sid}"


def _subkey(host: Host, key: RegistryKey, name: str) -> RegistryKey | None:
    """Read a child only when the parent lists it, so absent keys cost no read."""
    for child in key.subkeys:
        if child.lower() == name.lower():
            return host.registry(f"{key.path}\\{child}")
    return None


# --- Host -------------------------------------------------------------------------------------


def host_facts(host: Host) -> dict[str, Any]:
    reasons: list[str | None] = []
    os_version = None
    try:
        current = host.registry(CURRENT_VERSION)
    except ReadError as error:
        current = None
        reasons.append(f"Windows version not read: {error.reason}")
    if current is not None:
        os_version = windows_version(current)
    serial = None
    try:
        result = host.run(
            [
                "powershell.exe",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                "(Get-CimInstance -ClassName Win32_BIOS).SerialNumber",
            ],
            timeout=15.0,
        )
        if result.returncode == 0:
            serial = _serial(result.stdout)
    except ReadError as error:
        reasons.append(f"serial number not read: {error.reason}")
    return {
        "source": host.source("registry"),
        "reason": join_reasons(*reasons),
        "os_version": os_version,
        "serial": serial,
    }


def windows_version(key: RegistryKey) -> str | None:
    product = key.get("ProductName")
    if not isinstance(product, str):
        return None
    build = key.get("CurrentBuild") or key.get("CurrentBuildNumber")
    # Windows 11 still says "Windows 10" in ProductName; the build number tells them apart.
    if isinstance(build, str) and build.isdigit() and int(build) >= 22000:
        product = product.replace("Windows 10", "Windows 11")
    display = key.get("DisplayVersion") or key.get("ReleaseId")
    text = product + (f" {display}" if isinstance(display, str) else "")
    if isinstance(build, str) and build:
        revision = key.get("UBR")
        text += f" (build {build}" + (f".{revision}" if isinstance(revision, int) else "") + ")"
    return text[:100]


def _serial(text: str) -> str | None:
    value = text.strip().splitlines()[0].strip() if text.strip() else ""
    return None if value.lower() in _PLACEHOLDER_SERIALS else value[:100]


# --- OS microphone consent --------------------------------------------------------------------


def _consent(key: RegistryKey | None) -> str | None:
    value = key.get("Value") if key else None
    if isinstance(value, str) and value.lower() in ("allow", "deny"):
        return value.lower()
    return None


def os_mic(host: Host) -> dict[str, Any]:
    source = host.source("registry")
    try:
        machine = host.registry(f"HKLM\\{CONSENT}")
        privacy = host.registry(APP_PRIVACY)
    except ReadError as error:
        return unknown(source, f"microphone consent not readable: {error.reason}")
    policy = privacy.get("LetAppsAccessMicrophone") if privacy else None
    facts: dict[str, Any] = {
        "device_access": _consent(machine),
        "group_policy": policy if isinstance(policy, int) and 0 <= policy <= 2 else None,
    }
    root = user_root(host)
    if root is None:
        return unknown(
            source,
            "nobody is signed in: the per-user microphone settings were not read",
            **facts,
            user_access=None,
            desktop_apps=None,
        )
    try:
        user = host.registry(f"{root}\\{CONSENT}")
        desktop = _subkey(host, user, "NonPackaged") if user else None
    except ReadError as error:
        return unknown(
            source,
            f"per-user microphone settings not readable: {error.reason}",
            **facts,
            user_access=None,
            desktop_apps=None,
        )
    return ok(source, **facts, user_access=_consent(user), desktop_apps=_consent(desktop))


# --- Chrome -----------------------------------------------------------------------------------


def chrome_install(host: Host, browser: Browser = CHROME) -> ChromeInstall:
    program_files = host.env("ProgramFiles") or "C:\\Program Files"
    program_files_x86 = host.env("ProgramFiles(x86)") or "C:\\Program Files (x86)"
    roots = [program_files, program_files_x86]
    with contextlib.suppress(ReadError):
        roots.append(host.join(host.home(), "AppData", "Local"))
    for root in roots:
        for exe in browser.windows_exe:
            path = host.join(root, *exe.split("\\"))
            if not host.exists(path):
                continue
            folder = path.rsplit("\\", 1)[0]
            version = _newest_version_dir(host, folder) or _beacon_version(host, browser)
            return ChromeInstall(
                True, version, None if version else f"{browser.short}'s version could not be read"
            )
    return ChromeInstall(False)


def _newest_version_dir(host: Host, folder: str) -> str | None:
    try:
        names = host.list_dir(folder)
    except ReadError:
        return None
    versions = [name for name in names if _VERSION_DIR.fullmatch(name)]
    return max(versions, key=lambda name: tuple(int(part) for part in name.split("."))) if versions else None


def _beacon_version(host: Host, browser: Browser = CHROME) -> str | None:
    """The browser records the version it last ran as in the user's BLBeacon key."""
    root = user_root(host)
    if root is None:
        return None
    try:
        beacon = host.registry(f"{root}\\{browser.windows_beacon_key}")
    except ReadError:
        return None
    version = beacon.get("version") if beacon else None
    return version[:50] if isinstance(version, str) else None


def chrome_user_data_dir(host: Host, browser: Browser = CHROME) -> str:
    return host.join(host.home(), "AppData", "Local", *browser.windows_user_data[0].split("\\"))


def chrome_policy(host: Host, browser: Browser = CHROME) -> PolicyReading:
    reading = PolicyReading(source=host.source("registry"))
    layers: list[dict[str, Any]] = []
    # Machine policy wins over user policy, so it is merged last.
    for root in (user_root(host), "HKLM"):
        if root is None:
            continue
        try:
            layers.append(_policy_layer(host, f"{root}\\{browser.windows_policy_key}"))
        except ReadError as error:
            reading.problems.append(f"{browser.short} policy under {root} not readable: {error.reason}")
    reading.values = merge_policies(layers)
    return reading


def _policy_layer(host: Host, path: str) -> dict[str, Any]:
    key = host.registry(path)
    if key is None:
        return {}
    layer: dict[str, Any] = {}
    for name in (*POLICY_BOOLEANS, *POLICY_SETTINGS):
        value = key.get(name)
        if value is not None:
            layer[name] = value
    for name in POLICY_LISTS:
        # List policies are a sub-key of numbered string values: ...\AudioCaptureAllowedUrls\1.
        entries = _subkey(host, key, name)
        if entries is not None:
            numbered = sorted(
                (int(value_name), data)
                for value_name, (_kind, data) in entries.values.items()
                if value_name.isdigit() and isinstance(data, str)
            )
            layer[name] = [data for _number, data in numbered]
    return layer


# --- Audio ------------------------------------------------------------------------------------


def audio(host: Host) -> dict[str, Any]:
    source = host.source("registry")
    holders, holders_note = mic_holders(host)
    try:
        capture = host.registry(CAPTURE)
    except ReadError as error:
        return unknown(
            source,
            f"audio endpoints not readable: {error.reason}",
            inputs=[],
            holders=holders,
            enumeration="failed",
        )
    if capture is None:
        # Windows keeps this key whenever its audio service has run, even with no microphone
        # plugged in (then it has no sub-keys). Without it nothing was enumerated: a support
        # bundle without the audio-device export, or a system without Windows Audio.
        return unknown(
            source,
            join_reasons(f"the list of capture endpoints ({CAPTURE}) is absent", holders_note),
            inputs=[],
            holders=holders,
            enumeration="failed",
        )
    endpoints: list[dict[str, Any]] = []
    problems: list[str] = []
    for guid in capture.subkeys[:MAX_ENDPOINTS]:
        try:
            key = host.registry(f"{CAPTURE}\\{guid}")
            properties = _subkey(host, key, "Properties") if key else None
        except ReadError as error:
            problems.append(f"endpoint {guid} not readable: {error.reason}")
            continue
        if key is not None:
            endpoints.append(_endpoint(guid, key, properties))
    note = _mark_defaults(endpoints)
    endpoints.sort(key=lambda item: (_STATE_ORDER[item["input"]["state"]], item["input"]["name"].lower()))
    inputs = [item["input"] for item in endpoints[:100]]
    return ok(
        source,
        join_reasons(*problems, note, holders_note),
        inputs=inputs,
        holders=holders,
        enumeration="listed",
    )


def _endpoint(guid: str, key: RegistryKey, properties: RegistryKey | None) -> dict[str, Any]:
    props = properties or RegistryKey(path="")
    description = props.get(PKEY_DESCRIPTION)
    interface = props.get(PKEY_INTERFACE_NAME) or props.get(PKEY_ADAPTER_NAME)
    name = props.get(PKEY_FRIENDLY_NAME)
    if not isinstance(name, str) or not name:
        # What Windows (and Chrome's device label) shows: "Headset Microphone (Jabra Evolve2 40)".
        parts = [part for part in (description, interface) if isinstance(part, str) and part]
        name = f"{parts[0]} ({parts[1]})" if len(parts) == 2 else (parts[0] if parts else guid)
    form_value = props.get(PKEY_FORM_FACTOR)
    form_factor = FORM_FACTORS.get(form_value, "unknown") if isinstance(form_value, int) else None
    instance = props.get(PKEY_INSTANCE_ID)
    instance = instance if isinstance(instance, str) else ""
    enumerator = props.get(PKEY_ENUMERATOR)
    vendor, product = _device_ids(instance)
    exclusive = props.get(PKEY_EXCLUSIVE_ALLOWED)
    return {
        "input": {
            "id": f"{{0.0.1.00000000}}.{guid}"[:300],
            "name": name[:300],
            "state": _state(key.get("DeviceState")),
            "form_factor": form_factor,
            "transport": _transport(instance, enumerator if isinstance(enumerator, str) else "", form_factor),
            "vendor_id": vendor,
            "product_id": product,
            "manufacturer": _label(props.get(PKEY_MANUFACTURER), 200),
            # The adapter's own name ("Jabra Evolve2 40"), apart from the endpoint's "Headset Microphone".
            "model": _label(interface, 300),
            "is_default": False,
            "is_default_communications": False,
            # Absent means Windows' default: exclusive control allowed.
            "exclusive_mode": bool(exclusive) if isinstance(exclusive, int) else True,
        },
        "console": systemtime(key.get("Role:0")),
        "communications": systemtime(key.get("Role:2")),
    }


def _label(value: Any, limit: int) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text[:limit] or None


def _state(value: Any) -> str:
    if not isinstance(value, int):
        return "unknown"
    if value & _USER_DISABLED:
        return "disabled"
    return STATES.get(value & 0xF, "unknown")


def _device_ids(instance: str) -> tuple[str | None, str | None]:
    match = _USB_IDS.search(instance) or _BLUETOOTH_IDS.search(instance)
    if not match:
        return None, None
    return match.group(1).lower(), match.group(2).lower()


def _transport(instance: str, enumerator: str, form_factor: str | None) -> str:
    bus = (enumerator or instance.split("}.", 1)[-1].split("\\", 1)[0]).upper()
    if bus.startswith("USB"):
        return "usb"
    if bus.startswith("BTH"):
        return "bluetooth"
    if bus in ("HDAUDIO", "INTELAUDIO", "ACPI", "PCI"):
        # A headset on the combo jack is analog; the laptop's own array is built in.
        return "analog" if form_factor in ("headset", "headphones", "line") else "builtin"
    if bus in ("ROOT", "SWD", "SW"):
        return "virtual"
    return "unknown"


def systemtime(value: Any) -> dt.datetime | None:
    """``Role:N`` values: a 16-byte SYSTEMTIME of when the endpoint became that role's default."""
    if not isinstance(value, (bytes, bytearray)) or len(value) != 16:
        return None
    year, month, _weekday, day, hour, minute, second, millisecond = struct.unpack("<8H", bytes(value))
    try:
        return dt.datetime(year, month, day, hour, minute, second, millisecond * 1000)
    except ValueError:
        return None


def _mark_defaults(endpoints: list[dict[str, Any]]) -> str | None:
    """The console-role default (what Chrome's "Default" opens) is the active endpoint most
    recently made default for Role:0; Role:2 is the communications default."""
    active = [item for item in endpoints if item["input"]["state"] == "active"]
    for role, field in (("console", "is_default"), ("communications", "is_default_communications")):
        dated = [item for item in active if item[role] is not None]
        if dated:
            max(dated, key=lambda item: item[role])["input"][field] = True
    if active and not any(item["console"] for item in active):
        return "no default input recorded for the active endpoints"
    return None


def mic_holders(host: Host) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Apps using the microphone now: consent-store usage entries whose LastUsedTimeStop is 0."""
    root = user_root(host)
    if root is None:
        return None, "nobody is signed in: microphone use by apps not read"
    try:
        consent = host.registry(f"{root}\\{CONSENT}")
        if consent is None:
            # Windows creates this key with the user's profile; absent, the usage records that
            # tell who holds the microphone were not read (not: nobody holds it).
            return None, "the user's microphone consent key is absent: microphone use by apps not read"
        holders: list[dict[str, Any]] = []
        for name in consent.subkeys[:MAX_APPS]:
            key = host.registry(f"{consent.path}\\{name}")
            if key is None:
                continue
            if name.lower() == "nonpackaged":
                for app in key.subkeys[:MAX_APPS]:
                    _add_holder(holders, app.replace("#", "\\"), host.registry(f"{key.path}\\{app}"))
            else:
                _add_holder(holders, name, key)
    except ReadError as error:
        return None, f"microphone use by apps not readable: {error.reason}"
    return holders[:100], None


def _add_holder(holders: list[dict[str, Any]], app: str, key: RegistryKey | None) -> None:
    if key is None:
        return
    start, stop = key.get("LastUsedTimeStart"), key.get("LastUsedTimeStop")
    if stop == 0 and isinstance(start, int) and start > 0:
        holders.append({"app": app[:500], "since": from_filetime(start)})
