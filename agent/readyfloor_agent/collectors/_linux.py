"""Linux: pactl in the signed-in person's session (audio), /proc and /sys as a fallback,
Chrome's folders and JSON policy files. There is no OS microphone permission for Chrome."""

from __future__ import annotations

import json
import re
from typing import Any

from ..host import CommandResult, Host, NotFound, ReadError
from .chrome import ChromeInstall, PolicyReading, merge_policies
from .reading import join_reasons, not_applicable, ok, unknown

CHROME_BINARIES = ("/opt/google/chrome/chrome", "/usr/bin/google-chrome-stable", "/usr/bin/google-chrome")
MANAGED_POLICY_DIR = "/etc/opt/chrome/policies/managed"
PACTL_TIMEOUT = 5.0
_VERSION = re.compile(r"(\d+\.\d+\.\d+\.\d+)")
_CARD = re.compile(r"^\s*(\d+)\s+\[([^\]]*)\]:\s*(\S+)\s+-\s+(.*?)\s*$")
_PCM = re.compile(r"^(\d+)-(\d+):.*\bcapture\s+\d+", re.MULTILINE)
_USB_ID = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
_HEX4 = re.compile(r"^(?:0x)?([0-9a-fA-F]{1,4})$")
FORM_FACTORS = {
    "headset": "headset",
    "headphone": "headphones",
    "headphones": "headphones",
    "microphone": "microphone",
    "handset": "handset",
    "speaker": "speakers",
    "webcam": "webcam",
}
BUSES = {"usb": "usb", "bluetooth": "bluetooth", "pci": "builtin", "platform": "builtin", "isa": "builtin"}


# --- Host -------------------------------------------------------------------------------------


def host_facts(host: Host) -> dict[str, Any]:
    reasons: list[str | None] = []
    os_version = None
    try:
        os_version = os_release_name(host.read_text("/etc/os-release", limit=100_000))
    except ReadError as error:
        reasons.append(f"distribution not read: {error.reason}")
    serial = None
    try:
        serial = host.read_text("/sys/class/dmi/id/product_serial", limit=1_000).strip()[:100] or None
    except ReadError:
        # Readable by root only, and absent in VMs and containers: not worth a reason.
        serial = None
    user = host.console_user()
    return {
        "source": host.source("file"),
        "reason": join_reasons(*reasons),
        "os_version": os_version,
        "serial": serial,
        "console_user": user.name if user else None,
    }


def os_release_name(text: str) -> str | None:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"').strip("'")
    name = (
        fields.get("PRETTY_NAME")
        or " ".join(filter(None, (fields.get("NAME"), fields.get("VERSION"))))
        or None
    )
    return name[:100] if name else None


# --- OS microphone consent --------------------------------------------------------------------


def os_mic(host: Host) -> dict[str, Any]:
    return not_applicable("none", "Linux has no operating-system microphone permission for Chrome")


# --- Chrome -----------------------------------------------------------------------------------


def chrome_install(host: Host) -> ChromeInstall:
    binary = next((path for path in CHROME_BINARIES if host.exists(path)), None)
    if binary is None:
        return ChromeInstall(False)
    try:
        result = host.run([binary, "--version"], timeout=5.0)
    except ReadError as error:
        return ChromeInstall(True, None, f"Chrome's version not read: {error.reason}")
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or not match:
        return ChromeInstall(True, None, "Chrome did not report its version")
    return ChromeInstall(True, match.group(1))


def chrome_user_data_dir(host: Host) -> str:
    user = host.console_user()
    if user is None or not user.home:
        raise ReadError("nobody is signed in at this seat")
    # The agent's own environment only describes the person when the agent runs as them.
    if user.agent_is_user:
        override = host.env("CHROME_CONFIG_HOME") or host.env("XDG_CONFIG_HOME")
        if override:
            return host.join(override, "google-chrome")
    return host.join(user.home, ".config", "google-chrome")


def chrome_policy(host: Host) -> PolicyReading:
    reading = PolicyReading(source=host.source("file"))
    try:
        names = host.list_dir(MANAGED_POLICY_DIR)
    except NotFound:
        return reading
    except ReadError as error:
        reading.problems.append(f"Chrome policy folder not readable: {error.reason}")
        return reading
    layers: list[dict[str, Any]] = []
    # Chrome gives priority to the last file in lexicographic order.
    for name in sorted(names):
        if not name.endswith(".json"):
            continue
        path = host.join(MANAGED_POLICY_DIR, name)
        try:
            document = host.read_json(path, limit=1_000_000)
        except ReadError as error:
            reading.problems.append(error.reason)
            continue
        if not isinstance(document, dict):
            reading.problems.append(f"{name} is not a JSON object of policies")
            continue
        layers.append(document)
    reading.values = merge_policies(layers)
    return reading


# --- Audio ------------------------------------------------------------------------------------


def audio(host: Host) -> dict[str, Any]:
    try:
        return pactl_audio(host)
    except ReadError as error:
        return proc_audio(
            host, f"pactl not usable ({error.reason}); devices read from /proc/asound and /sys instead"
        )


def _pactl(host: Host, *args: str) -> CommandResult:
    """pactl must talk to the signed-in person's sound server, from inside their session."""
    user = host.console_user()
    if user is None or user.uid is None:
        raise ReadError("nobody is signed in to a desktop session")
    runtime_dir = f"/run/user/{user.uid}"
    # LC_ALL=C: pactl 16 writes decimal commas into its JSON under some locales.
    if user.agent_is_user:
        env = {"LC_ALL": "C"}
        if not host.env("XDG_RUNTIME_DIR"):
            env["XDG_RUNTIME_DIR"] = runtime_dir
        argv = ["pactl", *args]
    else:
        if not host.exists(runtime_dir):
            raise ReadError(f"{user.name} has no session runtime folder ({runtime_dir})")
        env = None
        argv = [
            "runuser",
            "-u",
            user.name,
            "--",
            "env",
            f"XDG_RUNTIME_DIR={runtime_dir}",
            "LC_ALL=C",
            "pactl",
            *args,
        ]
    result = host.run(argv, timeout=PACTL_TIMEOUT, env=env)
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip())[:200] or f"exit code {result.returncode}"
        raise ReadError(f"pactl could not reach the sound server: {detail}")
    return result


def pactl_audio(host: Host) -> dict[str, Any]:
    sources = parse_pactl_sources(_pactl(host, "-f", "json", "list", "sources").stdout)
    notes: list[str | None] = []
    try:
        default = _pactl(host, "get-default-source").stdout.strip()
    except ReadError:
        default = ""
    if not default:
        try:
            info = json.loads(_pactl(host, "-f", "json", "info").stdout)
            default = info.get("default_source_name") or "" if isinstance(info, dict) else ""
        except (ReadError, ValueError, RecursionError):
            default = ""
    for item in sources:
        item["is_default"] = bool(default) and item["id"] == default
    if sources and not any(item["is_default"] for item in sources):
        notes.append("the default input is not one of the listed inputs")
    holders: list[dict[str, Any]] | None
    try:
        holders = parse_pactl_source_outputs(_pactl(host, "-f", "json", "list", "source-outputs").stdout)
    except (ReadError, ValueError) as error:
        holders = None
        notes.append(f"apps recording now not read: {error}")
    return ok(
        host.source("pactl"),
        join_reasons(*notes),
        inputs=sources[:100],
        holders=holders,
        enumeration="listed",
    )


def _json_list(text: str, what: str) -> list[Any]:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ReadError(f"pactl printed {what} that is not valid JSON") from None
    if not isinstance(document, list):
        raise ReadError(f"pactl printed {what} that is not a JSON list")
    return document


def _is_monitor(source: dict[str, Any]) -> bool:
    monitor_of = source.get("monitor_of_sink")
    name = source.get("name")
    properties = source.get("properties") if isinstance(source.get("properties"), dict) else {}
    if monitor_of not in (None, "", "n/a", 4294967295):
        return True
    return (isinstance(name, str) and name.endswith(".monitor")) or properties.get(
        "device.class"
    ) == "monitor"


def parse_pactl_sources(text: str) -> list[dict[str, Any]]:
    """Input devices of ``pactl -f json list sources`` (monitors of outputs left out).
    ReadError when the text is not that list."""
    inputs: list[dict[str, Any]] = []
    for source in _json_list(text, "sources"):
        if not isinstance(source, dict) or _is_monitor(source):
            continue
        name = source.get("name")
        if not isinstance(name, str) or not name:
            continue
        properties = source.get("properties") if isinstance(source.get("properties"), dict) else {}
        description = source.get("description")
        label = description if isinstance(description, str) and description else name
        inputs.append(
            {
                "id": name[:300],
                "name": label[:300],
                "state": _source_state(source),
                "form_factor": FORM_FACTORS.get(str(properties.get("device.form_factor", "")).lower()),
                "transport": _bus(name, properties),
                "vendor_id": _hex4(properties.get("device.vendor.id")),
                "product_id": _hex4(properties.get("device.product.id")),
                "manufacturer": _label(properties.get("device.vendor.name"), 200),
                "model": _label(properties.get("device.product.name"), 300),
                "is_default": False,
                "is_default_communications": None,
                "exclusive_mode": None,
            }
        )
    return inputs


def _source_state(source: dict[str, Any]) -> str:
    active_port = source.get("active_port")
    ports = source.get("ports") if isinstance(source.get("ports"), list) else []
    for port in ports:
        if (
            isinstance(port, dict)
            and port.get("name") == active_port
            and port.get("availability") == "not available"
        ):
            # The jack is empty: the headset is unplugged even though the sound card is there.
            return "unplugged"
    return "active" if source.get("state") in ("RUNNING", "IDLE", "SUSPENDED") else "unknown"


def _bus(name: str, properties: dict[str, Any]) -> str:
    bus = str(properties.get("device.bus", "")).lower()
    if bus in BUSES:
        return BUSES[bus]
    if name.startswith("bluez_"):
        return "bluetooth"
    if properties.get("device.api") == "virtual" or name.startswith(("virtual", "null")):
        return "virtual"
    return "unknown"


def _label(value: Any, limit: int) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text[:limit] or None


def _hex4(value: Any) -> str | None:
    match = _HEX4.match(str(value)) if value is not None else None
    return match.group(1).lower().zfill(4) if match else None


def parse_pactl_source_outputs(text: str) -> list[dict[str, Any]]:
    holders: list[dict[str, Any]] = []
    for output in _json_list(text, "recording streams"):
        if not isinstance(output, dict):
            continue
        properties = output.get("properties") if isinstance(output.get("properties"), dict) else {}
        # Level meters (pavucontrol's "Peak detect") watch a source without using the microphone.
        if properties.get("media.name") == "Peak detect" or properties.get("stream.monitor") == "true":
            continue
        app = properties.get("application.name") or properties.get("application.process.binary")
        if isinstance(app, str) and app.strip():
            holders.append({"app": app.strip()[:500], "since": None})
    return holders[:100]


def proc_audio(host: Host, reason: str) -> dict[str, Any]:
    """Sound cards from the kernel when the sound server cannot be asked. Which input is the
    default, and who records now, cannot be known here."""
    source = host.source("proc")
    inputs: list[dict[str, Any]] = []
    usb_ids: set[tuple[str, str]] = set()
    try:
        cards = host.read_text("/proc/asound/cards", limit=200_000)
    except NotFound:
        cards = ""
    except ReadError as error:
        return unknown(
            source,
            join_reasons(reason, f"/proc/asound/cards not readable: {error.reason}"),
            inputs=[],
            holders=None,
            enumeration="failed",
        )
    capture_cards = _capture_cards(host)
    for line in cards.splitlines():
        match = _CARD.match(line)
        if not match:
            continue
        number, short_name, driver, long_name = match.groups()
        if capture_cards is not None and number not in capture_cards:
            continue
        vendor = product = None
        try:
            usb = _USB_ID.match(host.read_text(f"/proc/asound/card{number}/usbid", limit=1_000).strip())
        except ReadError:
            usb = None
        if usb:
            vendor, product = usb.group(1).lower(), usb.group(2).lower()
            usb_ids.add((vendor, product))
        inputs.append(
            _proc_input(f"alsa:card{number}", long_name or short_name.strip(), driver, vendor, product)
        )
    inputs.extend(_usb_audio_devices(host, usb_ids))
    if not inputs:
        # The kernel's list is not the seat's: Bluetooth headsets and network audio exist only in
        # the sound server. Finding nothing here is "could not tell", never "no microphone".
        return unknown(
            source,
            join_reasons(reason, "the kernel lists no sound card with a microphone either"),
            inputs=[],
            holders=None,
            enumeration="failed",
        )
    return ok(source, reason, inputs=inputs[:100], holders=None, enumeration="partial")


def _capture_cards(host: Host) -> set[str] | None:
    try:
        pcm = host.read_text("/proc/asound/pcm", limit=200_000)
    except ReadError:
        return None
    return {str(int(match.group(1))) for match in _PCM.finditer(pcm)}


def _proc_input(
    input_id: str,
    name: str,
    driver: str,
    vendor: str | None,
    product: str | None,
    manufacturer: str | None = None,
) -> dict[str, Any]:
    lowered = name.lower()
    transport = "usb" if vendor or driver == "USB-Audio" else "hdmi" if "hdmi" in lowered else "builtin"
    return {
        "id": input_id[:300],
        "name": name[:300],
        "state": "active",
        "form_factor": "headset" if "headset" in lowered else None,
        "transport": transport,
        "vendor_id": vendor,
        "product_id": product,
        "manufacturer": manufacturer,
        "model": None,
        # /proc and sysfs know nothing of the sound server's default: say so, don't guess.
        "is_default": None,
        "is_default_communications": None,
        "exclusive_mode": None,
    }


def _usb_audio_devices(host: Host, known: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """USB devices with an audio interface (class 01) that no ALSA card accounts for."""
    base = "/sys/bus/usb/devices"
    try:
        names = host.list_dir(base)
    except ReadError:
        return []
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in names:
        if ":" not in name:
            continue
        try:
            interface_class = host.read_text(f"{base}/{name}/bInterfaceClass", limit=100).strip()
        except ReadError:
            continue
        device = name.split(":", 1)[0]
        if interface_class != "01" or device in seen:
            continue
        seen.add(device)
        try:
            vendor = host.read_text(f"{base}/{device}/idVendor", limit=100).strip().lower()
            product = host.read_text(f"{base}/{device}/idProduct", limit=100).strip().lower()
        except ReadError:
            continue
        if (vendor, product) in known:
            continue
        try:
            label = host.read_text(f"{base}/{device}/product", limit=1_000).strip()
        except ReadError:
            label = f"USB audio device {vendor}:{product}"
        try:
            maker = _label(host.read_text(f"{base}/{device}/manufacturer", limit=1_000), 200)
        except ReadError:
            maker = None
        found.append(_proc_input(f"usb:{device}", label, "USB-Audio", _hex4(vendor), _hex4(product), maker))
    return found
