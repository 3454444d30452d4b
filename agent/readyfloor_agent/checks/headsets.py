"""Is this microphone a headset? Decided from evidence, strongest first, with the evidence kept.

Order of the rules (the first that speaks decides):

1. Virtual devices (transport ``virtual``/``aggregate``, or a name of a known virtual driver:
   Teams, Zoom, loopback and routing tools) are not headsets: no person wears them.
2. The operating system's own form factor ``headset`` or ``handset`` (Windows endpoint form
   factor, udev's SOUND_FORM_FACTOR through PulseAudio/PipeWire) is a headset.
3. Microphones that are something else by name or form factor: webcams, monitors and docks,
   phones (Continuity, Android), desk/streaming USB microphones (also by their makers' USB ids).
4. A manufacturer field naming a headset maker (macOS ``coreaudio_device_manufacturer``,
   PulseAudio ``device.vendor.name``, Windows' device manufacturer).
5. A USB vendor id of a headset maker (table below, from the USB ID Repository).
6. Any other Bluetooth input: Bluetooth microphones are headsets and earbuds (hands-free profile).
7. Name patterns: "headset"/"headphone" words and the model families call centres buy.
8. The Mac's "External Microphone" (the 3.5 mm combo jack: a wired headset).

Otherwise it is not a headset, and the verdict says so with what was seen. The policy's
``approved_headsets`` list, when set, is applied before all of this (in ``checks.audio``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# USB vendor ids, as listed in the USB ID Repository (http://www.linux-usb.org/usb.ids, version
# 2025.07.26, read from Debian's usb.ids package). Only vendors whose audio *inputs* are headsets
# or handsets; their few other products (webcams, desk microphones) are caught by rule 3 first.
HEADSET_MAKER_VENDOR_IDS: dict[str, str] = {
    "0b0e": "GN Netcom (Jabra)",
    "047f": "Plantronics (Poly)",
    "1395": "DSEA (Sennheiser Communications, EPOS)",
    "6993": "Yealink",
    "9886": "Astro Gaming",
    "10f5": "Turtle Beach",
    "1038": "SteelSeries",
    "1b1c": "Corsair",
}
# Makers of desk and streaming USB microphones and webcams (same source): never a headset.
NOT_HEADSET_VENDOR_IDS: dict[str, str] = {
    "b58e": "Blue Microphones (desk microphones)",
    "19f7": "RODE Microphones (desk microphones)",
    "14ed": "Shure (desk microphones)",
    "17a0": "Samson Technologies (desk microphones)",
    "0fd9": "Elgato (desk microphones, capture cards, webcams)",
}
VENDOR_ID_SOURCE = "USB ID Repository (linux-usb.org usb.ids), version 2025.07.26"

# Manufacturer strings (lower case, matched as words at the start) of makers whose microphones
# with an input are headsets. Makers that also sell desk microphones or webcams (Logitech,
# Razer, HyperX, Microsoft, Apple) are not here: their headsets are told by model name.
HEADSET_MAKER_NAMES = (
    "gn audio",
    "gn netcom",
    "jabra",
    "plantronics",
    "poly",
    "polycom",
    "sennheiser",
    "epos",
    "dsea",
    "yealink",
    "steelseries",
    "corsair",
    "turtle beach",
    "astro gaming",
    "audeze",
    # Sony's USB and Bluetooth audio inputs are its INZONE and PULSE headsets; its cameras used as
    # webcams are caught by the webcam rule first.
    "sony",
)

_VIRTUAL = re.compile(
    r"teams audio|zoomaudio|zoom audio|webex|blackhole|loopback|soundflower|vb-audio|voicemeeter|"
    r"cable output|virtual|krisp|nvidia broadcast|rtx voice|\bobs\b|camo\b|background music|ishowu|"
    r"droidcam|steam streaming|aggregate device|multi-output|null output|dummy output|"
    r"ms teams|microsoft teams"
)
_WEBCAM = re.compile(
    r"webcam|web cam|camera|facetime|\bbrio\b|\bc9[0-9]{2}\b|\bc[2-6][0-9]{2}e?\b|streamcam|kiyo|"
    r"cam link|\buvc\d*\b|insta360|obsbot|emeet|meetup|\brally\b|conferencecam|lifecam"
)
_DISPLAY = re.compile(
    r"display audio|studio display|ultrafine|\bmonitor\b|thunderbolt display|\bdock\b|dockingstation|"
    r"\bdell [a-z]{0,2}\d{4}|\bhdmi\b|displayport"
)
_PHONE = re.compile(r"iphone|ipad|android|galaxy [saznm]\d|\bpixel \d")
_DESK_MIC = re.compile(
    r"\byeti\b|snowball|quadcast|duocast|seiren|\bwave[: ]?\s?[0-9:]|nt-usb|podmic|\balias\b|stream mic|"
    r"at2020|at2005|\bmv[67]\b|\bq2u\b|\bgo mic\b|podcaster|fifine|usb condenser|condenser"
)
_HEADSET_WORDS = re.compile(
    r"headset|headphone|earphone|earbud|\bbuds\b|hands-?free|hands free|airpods|\bbeats\b|"
    r"\bhfp\b|\bhsp\b"
)
_HEADSET_MODELS = re.compile(
    r"jabra|evolve|\bengage\b|\bbiz\b|blackwire|voyager|\bsavi\b|encorepro|plantronics|\bpoly\b|"
    r"sennheiser|\bepos\b|\bsc ?[1-6][0-9]{1,2}\b|\badapt\b|yealink|\buh3\d|\bbh7\d|"
    r"arctis|kraken|blackshark|barracuda|\bnari\b|hyperx cloud|\bcloud (ii|iii|alpha|flight|stinger|mix)|"
    r"\bvoid\b|\bhs[5-9]0\b|virtuoso|\bg pro x\b|\bg ?[4-9][0-9]{2}\b|astro a\d|\bstealth\b|\brecon\b|"
    r"logitech h\d|\bh[3-9][0-9]{2}e?\b|\bzone\b|lifechat|modern headset|surface headphones|"
    r"\bw[hf]-|quietcomfort|\bqc ?\d|\bbose\b|\binzone\b|\bpulse 3d\b|\bpulse elite\b"
)
_NON_HEADSET_TRANSPORTS = {"hdmi": "a display's audio (HDMI/DisplayPort)"}


@dataclass(frozen=True)
class Evidence:
    """Whether a device is a headset, and the evidence in words (for the check's reason)."""

    headset: bool
    why: str


def _text(value: Any) -> str:
    return value.lower().strip() if isinstance(value, str) else ""


def _match(pattern: re.Pattern[str], *texts: str) -> str | None:
    for text in texts:
        found = pattern.search(text)
        if found:
            return found.group(0).strip()
    return None


def headset_evidence(device: dict[str, Any]) -> Evidence:
    name = _text(device.get("name"))
    model = _text(device.get("model"))
    manufacturer = _text(device.get("manufacturer"))
    transport = device.get("transport")
    form_factor = device.get("form_factor")
    vendor = _text(device.get("vendor_id"))
    texts = (name, model)

    # 1. Virtual devices.
    if transport in ("virtual", "aggregate"):
        return Evidence(False, f"a {transport} device, not a microphone a person wears")
    word = _match(_VIRTUAL, name, model, manufacturer)
    if word:
        return Evidence(False, f"a virtual audio device (name says '{word}')")
    # 2. The OS's own form factor.
    if form_factor in ("headset", "handset"):
        return Evidence(True, f"the operating system reports its form factor as {form_factor}")
    # 3. Other kinds of microphone.
    if form_factor == "webcam":
        return Evidence(False, "a webcam's microphone (the operating system reports a webcam)")
    word = _match(_WEBCAM, *texts)
    if word:
        return Evidence(False, f"a webcam's microphone (name says '{word}')")
    if transport in _NON_HEADSET_TRANSPORTS:
        return Evidence(False, _NON_HEADSET_TRANSPORTS[transport])
    word = _match(_DISPLAY, *texts)
    if word:
        return Evidence(False, f"a monitor's or dock's microphone (name says '{word}')")
    word = _match(_PHONE, *texts)
    if word:
        return Evidence(False, f"a phone's microphone (name says '{word}')")
    if vendor in NOT_HEADSET_VENDOR_IDS:
        return Evidence(False, f"USB vendor {vendor} is {NOT_HEADSET_VENDOR_IDS[vendor]}")
    word = _match(_DESK_MIC, *texts)
    if word:
        return Evidence(False, f"a desk microphone (name says '{word}')")
    # 4. A headset maker named by the manufacturer field.
    for maker in HEADSET_MAKER_NAMES:
        if re.match(rf"{re.escape(maker)}\b", manufacturer):
            return Evidence(True, f"its manufacturer is {device.get('manufacturer')}, a headset maker")
    # 5. A headset maker's USB vendor id.
    if vendor in HEADSET_MAKER_VENDOR_IDS and transport in ("usb", "bluetooth", "unknown", None):
        return Evidence(True, f"USB vendor {vendor} is {HEADSET_MAKER_VENDOR_IDS[vendor]}, a headset maker")
    # 6. Bluetooth microphones are worn.
    if transport == "bluetooth":
        return Evidence(True, "a Bluetooth microphone (headsets and earbuds)")
    # 7. Names.
    word = _match(_HEADSET_WORDS, *texts) or _match(_HEADSET_MODELS, *texts)
    if word:
        return Evidence(True, f"its name says '{word}'")
    # 8. The Mac's combo jack.
    if name == "external microphone" and transport in ("builtin", "analog", None):
        return Evidence(True, "the Mac's headset jack (External Microphone)")
    if transport == "builtin":
        return Evidence(False, "the computer's built-in microphone")
    if transport == "analog":
        return Evidence(False, "an analog input with no headset evidence")
    if transport == "usb":
        ids = f" {vendor}:{_text(device.get('product_id'))}" if vendor else ""
        return Evidence(False, f"a USB audio device{ids} with no headset evidence")
    return Evidence(False, "no headset evidence (form factor, maker, transport or name)")
