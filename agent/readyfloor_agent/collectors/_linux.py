"""Linux: pactl in the signed-in person's session (audio), /proc and /sys as a fallback,
Chrome's folders and JSON policy files. There is no OS microphone permission for Chrome."""

from __future__ import annotations

import json
import re
from typing import Any

from ..checks.browsers import CHROME, Browser
from ..host import CommandResult, Host, NotFound, ReadError
from .chrome import ChromeInstall, PolicyReading, merge_policies
from .reading import join_reasons, not_applicable, ok, unknown

CHROME_BINARIES = CHROME.linux_binaries
MANAGED_POLICY_DIR = CHROME.linux_policy_dirs[0]
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
    return {
        "source": host.source("file"),
        "reason": join_reasons(*reasons),
        "os_version": os_version,
        "serial": serial,
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


def chrome_install(host: Host, browser: Browser = CHROME) -> ChromeInstall:
    binary = next((path for path in browser.linux_binaries if host.exists(path)), None)
    if binary is None:
        return ChromeInstall(False)
    if browser is not CHROME:
        # Starting a second browser just to ask its version costs about half a second and tens of
        # megabytes on every collection; the version it last ran as is in its profile folder.
        return _last_version(host, browser)
    try:
        result = host.run([binary, "--version"], timeout=5.0)
    except ReadError as error:
        return ChromeInstall(True, None, f"{browser.short}'s version not read: {error.reason}")
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or not match:
        return ChromeInstall(True, None, f"{browser.short} did not report its version")
    return ChromeInstall(True, match.group(1))


def _last_version(host: Host, browser: Browser) -> ChromeInstall:
    try:
        text = host.read_text(host.join(chrome_user_data_dir(host, browser), "Last Version"), limit=1_000)
    except ReadError:
        return ChromeInstall(
            True, None, f"{browser.short}'s version not known: this user has not started it yet"
        )
    match = _VERSION.search(text)
    return ChromeInstall(
        True, match.group(1) if match else None, None if match else "no version in Last Version"
    )


def chrome_user_data_dir(host: Host, browser: Browser = CHROME) -> str:
    user = host.console_user()
    if user is None or not user.home:
        raise ReadError("nobody is signed in at this seat")
    # The agent's own environment only describes the person when the agent runs as them.
    if user.agent_is_user:
        override = (browser is CHROME and host.env("CHROME_CONFIG_HOME")) or host.env("XDG_CONFIG_HOME")
        if override:
            return host.join(override, browser.linux_config_name)
    candidates = [host.join(user.home, *parts) for parts in browser.linux_config_dirs]
    if len(candidates) == 1 or host.exists(candidates[0]):
        return candidates[0]
    # The snap keeps its profile under ~/snap: the first folder that exists is the one in use.
    return next((path for path in candidates[1:] if host.exists(path)), candidates[0])


def chrome_policy(host: Host, browser: Browser = CHROME) -> PolicyReading:
    reading = PolicyReading(source=host.source("file"))
    layers: list[dict[str, Any]] = []
    for folder in browser.linux_policy_dirs:
        try:
            names = host.list_dir(folder)
        except NotFound:
            continue
        except ReadError as error:
            reading.problems.append(f"{browser.short} policy folder not readable: {error.reason}")
            continue
        # The browser gives priority to the last file in lexicographic order.
        for name in sorted(names):
            if not name.endswith(".json"):
                continue
            path = host.join(folder, name)
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
    """The sound server's inputs, through the richest reader this seat has: ``pactl -f json``
    (pactl 16+, PulseAudio or PipeWire's pulse server), else the text of ``pactl list sources``
    and ``pactl info`` (older pactl), else ``pacmd list-sources`` (PulseAudio itself), else the
    kernel's sound cards (which know no default and no Bluetooth)."""
    notes: list[str] = []
    try:
        return pactl_json_audio(host)
    except _NoJson as error:
        notes.append(error.reason)
        try:
            return pactl_text_audio(host, notes)
        except ReadError as text_error:
            notes.append(f"pactl list sources: {text_error.reason}")
    except _NoSession as error:
        # pacmd would need the same session: say it once.
        notes.append(f"the sound server cannot be asked ({error.reason})")
        notes.append("devices read from /proc/asound and /sys instead")
        return proc_audio(host, "; ".join(notes))
    except ReadError as error:
        notes.append(f"pactl not usable ({error.reason})")
    try:
        return pacmd_audio(host, notes)
    except NotFound:
        pass  # no PulseAudio daemon tools on PipeWire-only seats: nothing to say
    except ReadError as error:
        notes.append(f"pacmd not usable ({error.reason})")
    notes.append("devices read from /proc/asound and /sys instead")
    return proc_audio(host, "; ".join(notes))


class _NoJson(ReadError):
    """pactl answered, but not in JSON (pactl before 16, or a locale that broke its JSON)."""


class _NoSession(ReadError):
    """Nobody's desktop session to ask: no sound-server client can help."""


def _session(host: Host, program: str, *args: str) -> tuple[list[str], dict[str, str] | None]:
    """The command line that reaches the signed-in person's sound server, from their session."""
    user = host.console_user()
    if user is None or user.uid is None:
        raise _NoSession("nobody is signed in to a desktop session")
    runtime_dir = f"/run/user/{user.uid}"
    # LC_ALL=C: pactl 16 writes decimal commas into its JSON under some locales, and the text
    # forms are translated.
    if user.agent_is_user:
        env = {"LC_ALL": "C"}
        if not host.env("XDG_RUNTIME_DIR"):
            env["XDG_RUNTIME_DIR"] = runtime_dir
        return [program, *args], env
    if not host.exists(runtime_dir):
        raise _NoSession(f"{user.name} has no session runtime folder ({runtime_dir})")
    argv = [
        "runuser",
        "-u",
        user.name,
        "--",
        "env",
        f"XDG_RUNTIME_DIR={runtime_dir}",
        "LC_ALL=C",
        program,
        *args,
    ]
    return argv, None


def _run_in_session(host: Host, program: str, *args: str) -> CommandResult:
    argv, env = _session(host, program, *args)
    result = host.run(argv, timeout=PACTL_TIMEOUT, env=env)
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip())[:200] or f"exit code {result.returncode}"
        if program == "pactl" and "-f" in args and not _UNREACHABLE.search(detail):
            # "invalid option -- 'f'": a pactl that predates JSON output.
            raise _NoJson(f"pactl has no JSON output ({detail})")
        raise ReadError(f"{program} could not reach the sound server: {detail}")
    return result


def _pactl(host: Host, *args: str) -> CommandResult:
    return _run_in_session(host, "pactl", *args)


_UNREACHABLE = re.compile(r"connection|connect|refused|no such file|daemon|access denied|timeout", re.I)


def pactl_json_audio(host: Host) -> dict[str, Any]:
    text = _pactl(host, "-f", "json", "list", "sources").stdout
    try:
        sources = parse_pactl_sources(text)
    except ReadError as error:
        raise _NoJson(error.reason) from None
    notes: list[str] = []
    default = _default_from_get_default_source(host)
    if default is None:
        try:
            info = json.loads(_pactl(host, "-f", "json", "info").stdout)
            named = info.get("default_source_name") if isinstance(info, dict) else None
            default = named if isinstance(named, str) and named.strip() else None
        except (ReadError, ValueError, RecursionError):
            default = None
    notes.extend(_mark_default(sources, default))
    holders: list[dict[str, Any]] | None
    try:
        holders = parse_pactl_source_outputs(_pactl(host, "-f", "json", "list", "source-outputs").stdout)
    except (ReadError, ValueError) as error:
        holders = None
        notes.append(f"apps recording now not read: {error}")
    return _listed(host.source("pactl"), sources, holders, notes)


def _default_from_get_default_source(host: Host) -> str | None:
    try:
        named = _pactl(host, "get-default-source").stdout.strip()
    except ReadError:
        return None
    return named or None


def pactl_text_audio(host: Host, notes: list[str]) -> dict[str, Any]:
    sources = parse_pactl_text_sources(_pactl(host, "list", "sources").stdout)
    default = None
    try:
        default = pactl_info_default_source(_pactl(host, "info").stdout)
    except ReadError as error:
        notes.append(f"pactl info: {error.reason}")
    if default is None:
        default = _default_from_get_default_source(host)
    notes.extend(_mark_default(sources, default))
    holders: list[dict[str, Any]] | None
    try:
        holders = parse_pactl_text_source_outputs(_pactl(host, "list", "source-outputs").stdout)
    except ReadError as error:
        holders = None
        notes.append(f"apps recording now not read: {error.reason}")
    return _listed(host.source("pactl"), sources, holders, ["read from pactl's text output", *notes])


def pacmd_audio(host: Host, notes: list[str]) -> dict[str, Any]:
    sources, default = parse_pacmd_sources(_run_in_session(host, "pacmd", "list-sources").stdout)
    notes.extend(_mark_default(sources, default))
    # pacmd's source outputs are not read: the text gives no application for PipeWire clients.
    return _listed(host.source("pacmd"), sources, None, ["read from pacmd", *notes])


def _listed(
    source: str, inputs: list[dict[str, Any]], holders: list[dict[str, Any]] | None, notes: list[str]
) -> dict[str, Any]:
    return ok(source, join_reasons(*notes), inputs=inputs[:100], holders=holders, enumeration="listed")


def _mark_default(inputs: list[dict[str, Any]], default: str | None) -> list[str]:
    """is_default from the server's default source name. Not known: null on every input, never
    false ("not the default" would be a claim the agent cannot make)."""
    if default is None:
        for item in inputs:
            item["is_default"] = None
        return ["the sound server did not say which input is the default"] if inputs else []
    for item in inputs:
        item["is_default"] = item["id"] == default
    if inputs and not any(item["is_default"] for item in inputs):
        return ["the default input is not one of the listed inputs"]
    return []


# --- Sources: one shape from every reader -------------------------------------------------------
#
# Each reader turns its format into the same plain record (name, description, state, mute,
# volume percentages, monitor flag, properties, ports, active port); ``_source_input`` then
# makes the fact. So a headset is described alike whichever pactl or pacmd the seat has.


def _json_list(text: str, what: str) -> list[Any]:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ReadError(f"pactl printed {what} that is not valid JSON") from None
    if not isinstance(document, list):
        raise ReadError(f"pactl printed {what} that is not a JSON list")
    return document


def parse_pactl_sources(text: str) -> list[dict[str, Any]]:
    """Input devices of ``pactl -f json list sources`` (monitors of outputs left out).
    ReadError when the text is not that list."""
    records = []
    for source in _json_list(text, "sources"):
        if not isinstance(source, dict):
            continue
        properties = source.get("properties") if isinstance(source.get("properties"), dict) else {}
        ports = source.get("ports") if isinstance(source.get("ports"), list) else []
        monitor_of = source.get("monitor_of_sink")
        records.append(
            {
                "name": source.get("name"),
                "description": source.get("description"),
                "state": source.get("state"),
                "mute": source.get("mute") if isinstance(source.get("mute"), bool) else None,
                "volumes": _json_volumes(source.get("volume")),
                "monitor": monitor_of not in (None, "", "n/a", 4294967295),
                "properties": {str(key): str(value) for key, value in properties.items()},
                "ports": [
                    {"name": port.get("name"), "availability": _availability(port.get("availability"))}
                    for port in ports
                    if isinstance(port, dict)
                ],
                "active_port": source.get("active_port"),
            }
        )
    return _inputs(records)


def _json_volumes(volume: Any) -> list[int]:
    if not isinstance(volume, dict):
        return []
    percents = []
    for channel in volume.values():
        if isinstance(channel, dict):
            percents.extend(_percents(str(channel.get("value_percent", ""))))
    return percents


_PERCENT = re.compile(r"(\d{1,4})\s*%")


def _percents(text: str) -> list[int]:
    return [int(value) for value in _PERCENT.findall(text)]


def _availability(value: Any) -> str:
    text = str(value or "").strip().lower()
    if text in ("not available", "no", "available: no"):
        return "not available"
    if text in ("available", "yes", "available: yes"):
        return "available"
    return "unknown"


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip().lower())


def _text_blocks(text: str, header: re.Pattern[str]) -> list[tuple[re.Match[str], list[str]]]:
    """Split pactl/pacmd text into one block of lines per object, each after its header line."""
    blocks: list[tuple[re.Match[str], list[str]]] = []
    for line in text.splitlines():
        found = header.match(line)
        if found:
            blocks.append((found, []))
        elif blocks:
            blocks[-1][1].append(line.expandtabs(8))
    return blocks


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _parse_block(lines: list[str]) -> tuple[dict[str, str], dict[str, str], list[dict[str, str]]]:
    """(fields, properties, ports) of one block. Indentation tells a field (the block's own
    level) from the lines of a section under it (Properties, Ports), whatever width the tabs
    became in a copy."""
    body = [line for line in lines if line.strip()]
    if not body:
        return {}, {}, []
    base = min(_indent(line) for line in body)
    fields: dict[str, str] = {}
    properties: dict[str, str] = {}
    ports: list[dict[str, str]] = []
    section = ""
    port_level: int | None = None
    for line in body:
        depth = _indent(line)
        stripped = line.strip()
        if depth == base:
            key, _, value = stripped.partition(":")
            key = key.strip().lower()
            section = key if not value.strip() else ""
            port_level = None
            if value.strip():
                fields.setdefault(key, value.strip())
            continue
        if section == "properties":
            key, sep, value = stripped.partition(" = ")
            if sep:
                properties.setdefault(key.strip(), value.strip().strip('"'))
        elif section == "ports":
            if port_level is None:
                port_level = depth
            if depth != port_level:
                continue  # a port's own properties (pacmd)
            port = _PORT.match(stripped)
            if port:
                ports.append({"name": port.group(1), "availability": _port_availability(port.group(3))})
    return fields, properties, ports


_PORT = re.compile(r"^([^:\s]+):\s*(.*?)\s*\((.*)\)\s*$")


def _port_availability(details: str) -> str:
    """The last part of a port line: 'not available', 'available', 'availability unknown'
    (pactl) or 'available: no|yes|unknown' (pacmd)."""
    parts = [part.strip().lower() for part in details.split(",")]
    for part in reversed(parts):
        if part in ("not available", "available", "availability unknown"):
            return _availability(part)
        if part.startswith("available:"):
            return _availability(part.split(":", 1)[1])
    return "unknown"


_PACTL_SOURCE = re.compile(r"^Source #(\d+)\s*$")
_PACTL_OUTPUT = re.compile(r"^Source Output #(\d+)\s*$")
_PACMD_SOURCE = re.compile(r"^\s*(\*)?\s*index:\s*(\d+)\s*$")


def parse_pactl_text_sources(text: str) -> list[dict[str, Any]]:
    """Input devices of ``LC_ALL=C pactl list sources`` (text). ReadError when the text holds
    no source at all: pactl prints at least the monitor of every output."""
    blocks = _text_blocks(text, _PACTL_SOURCE)
    if not blocks:
        raise ReadError("pactl list sources printed no source")
    records = []
    for _header, lines in blocks:
        fields, properties, ports = _parse_block(lines)
        records.append(
            {
                "name": fields.get("name"),
                "description": fields.get("description"),
                "state": fields.get("state"),
                "mute": _yes_no(fields.get("mute")),
                "volumes": _percents(fields.get("volume", "")),
                "monitor": fields.get("monitor of sink", "n/a") not in ("n/a", ""),
                "properties": properties,
                "ports": ports,
                "active_port": fields.get("active port"),
            }
        )
    return _inputs(records)


def pactl_info_default_source(text: str) -> str | None:
    """``Default Source:`` of ``pactl info`` (text); None when it names none."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "default source":
            value = value.strip()
            return value if value and value not in ("n/a", "(null)") else None
    return None


def parse_pacmd_sources(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """(inputs, default source name) of ``pacmd list-sources``; the default is the one marked
    ``* index``. ReadError when the text holds no source."""
    blocks = _text_blocks(text, _PACMD_SOURCE)
    if not blocks:
        raise ReadError("pacmd list-sources printed no source")
    records = []
    default = None
    for header, lines in blocks:
        fields, properties, ports = _parse_block(lines)
        name = fields.get("name", "").strip("<>")
        if header.group(1) and name:
            default = name
        records.append(
            {
                "name": name,
                "description": properties.get("device.description"),
                "state": fields.get("state"),
                "mute": _yes_no(fields.get("muted")),
                "volumes": _percents(fields.get("volume", "")),
                "monitor": "monitor_of" in fields,
                "properties": properties,
                "ports": ports,
                "active_port": fields.get("active port", "").strip("<>") or None,
            }
        )
    return _inputs(records), default


def _inputs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inputs = []
    for record in records:
        properties = record["properties"]
        name = record.get("name")
        if not isinstance(name, str) or not name or _is_monitor(record):
            continue
        description = record.get("description")
        label = description if isinstance(description, str) and description else name
        volumes = record.get("volumes") or []
        inputs.append(
            {
                "id": name[:300],
                "name": label[:300],
                "state": _source_state(record),
                "form_factor": FORM_FACTORS.get(str(properties.get("device.form_factor", "")).lower()),
                "transport": _bus(name, properties),
                "vendor_id": _hex4(properties.get("device.vendor.id")),
                "product_id": _hex4(properties.get("device.product.id")),
                "manufacturer": _label(properties.get("device.vendor.name"), 200),
                "model": _label(properties.get("device.product.name"), 300),
                "is_default": False,
                "is_default_communications": None,
                "exclusive_mode": None,
                "muted": record.get("mute"),
                # The loudest channel: a source is silent only when every channel is at zero.
                "volume_percent": min(max(volumes), 1000) if volumes else None,
            }
        )
    return inputs


def _is_monitor(record: dict[str, Any]) -> bool:
    name = record.get("name")
    return (
        bool(record.get("monitor"))
        or (isinstance(name, str) and name.endswith(".monitor"))
        or record["properties"].get("device.class") == "monitor"
    )


def _source_state(record: dict[str, Any]) -> str:
    active_port = record.get("active_port")
    for port in record.get("ports") or []:
        if port.get("name") == active_port and port.get("availability") == "not available":
            # The jack is empty: the headset is unplugged even though the sound card is there.
            return "unplugged"
    state = str(record.get("state") or "").upper()
    return "active" if state in ("RUNNING", "IDLE", "SUSPENDED") else "unknown"


def _bus(name: str, properties: dict[str, Any]) -> str:
    bus = str(properties.get("device.bus", "")).lower()
    if bus in BUSES:
        return BUSES[bus]
    if name.startswith("bluez_") or properties.get("device.api") == "bluez5":
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


def _holder(properties: dict[str, Any]) -> dict[str, Any] | None:
    # Level meters (pavucontrol's "Peak detect") watch a source without using the microphone.
    if properties.get("media.name") == "Peak detect" or properties.get("stream.monitor") == "true":
        return None
    app = properties.get("application.name") or properties.get("application.process.binary")
    if isinstance(app, str) and app.strip():
        return {"app": app.strip()[:500], "since": None}
    return None


def parse_pactl_source_outputs(text: str) -> list[dict[str, Any]]:
    holders: list[dict[str, Any]] = []
    for output in _json_list(text, "recording streams"):
        if not isinstance(output, dict):
            continue
        properties = output.get("properties") if isinstance(output.get("properties"), dict) else {}
        holder = _holder(properties)
        if holder:
            holders.append(holder)
    return holders[:100]


def parse_pactl_text_source_outputs(text: str) -> list[dict[str, Any]]:
    """``pactl list source-outputs`` (text): no output at all is an empty list (nobody records)."""
    holders: list[dict[str, Any]] = []
    for _header, lines in _text_blocks(text, _PACTL_OUTPUT):
        _fields, properties, _ports = _parse_block(lines)
        holder = _holder(properties)
        if holder:
            holders.append(holder)
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
