"""The headset: is one connected, is it what the OS and Chrome will open, and is anyone else
holding the microphone.

A "headset" is an active input that the policy approves (USB ``vvvv:pppp`` or a name glob) or,
without an approved list, one the evidence says is a headset (``checks.headsets``: form factor,
maker's USB vendor id, manufacturer, transport, then name; webcams, monitors, phones, desk and
virtual microphones are not). The verdict names the evidence it rests on.

``os.mic.exclusive``: exclusive mode on its own is a warning (nothing is broken yet); exclusive
mode while another application holds the microphone is a failure, because that is exactly the
state in which the softphone's getUserMedia gets NotReadableError. Its severity stays the
check's (warning by default), so the policy decides whether that makes a seat not ready.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from .chrome import chrome_missing
from .headsets import headset_evidence
from .model import OS_LABELS, Check, Fix, Policy, State, Verdict
from .seat import Seat, as_str, profile_label

_STATE_WORDS = {
    "unplugged": "is unplugged",
    "disabled": "is disabled in the sound settings",
    "not_present": "is not connected",
}
_USB_ID = re.compile(r"\s*\(([0-9a-f]{4}):([0-9a-f]{4})\)\s*$")
_PARENTHESISED = re.compile(r"\(([^()]*)\)\s*$")


def _lower(value: Any) -> str:
    return value.lower() if isinstance(value, str) else ""


def looks_like_headset(device: dict[str, Any]) -> bool:
    """A headset by the evidence rules of ``checks.headsets`` (without an approved list)."""
    return headset_evidence(device).headset


def approved(device: dict[str, Any], patterns: tuple[str, ...]) -> bool:
    """``0b0e:24a1`` matches the USB ids, ``*Jabra*`` the name; both are case-insensitive globs,
    so ``0b0e:*`` approves every model of a vendor."""
    names = [_lower(device.get("name"))]
    vendor, product = device.get("vendor_id"), device.get("product_id")
    if isinstance(vendor, str) and isinstance(product, str):
        names.append(f"{vendor.lower()}:{product.lower()}")
    return any(fnmatch.fnmatchcase(name, pattern.strip().lower()) for pattern in patterns for name in names)


@dataclass(frozen=True)
class HeadsetSearch:
    headset: dict[str, Any] | None
    inactive: list[dict[str, Any]] = field(default_factory=list)
    unapproved: list[dict[str, Any]] = field(default_factory=list)


def find_headset(seat: Seat, policy: Policy) -> HeadsetSearch:
    inputs = seat.inputs()
    if policy.approved_headsets:
        qualifying = [d for d in inputs if approved(d, policy.approved_headsets)]
        unapproved = [
            d for d in inputs if d.get("state") == "active" and looks_like_headset(d) and d not in qualifying
        ]
    else:
        qualifying = [d for d in inputs if looks_like_headset(d)]
        unapproved = []
    active = [d for d in qualifying if d.get("state") == "active"]
    # The one Chrome is most likely to open: the default, then the communications default.
    active.sort(
        key=lambda d: (d.get("is_default") is not True, d.get("is_default_communications") is not True)
    )
    inactive = [d for d in qualifying if d.get("state") != "active"]
    return HeadsetSearch(active[0] if active else None, inactive, unapproved)


def _summary(devices: list[dict[str, Any]], limit: int = 3) -> str:
    shown = [f"{d['name']} ({d.get('state', 'unknown')})" for d in devices[:limit]]
    if len(devices) > limit:
        shown.append(f"{len(devices) - limit} more")
    return ", ".join(shown)


def _device_evidence(device: dict[str, Any] | None) -> dict[str, Any] | None:
    if device is None:
        return None
    keys = (
        "id",
        "name",
        "state",
        "muted",
        "volume_percent",
        "form_factor",
        "transport",
        "vendor_id",
        "product_id",
        "manufacturer",
        "model",
        "is_default",
    )
    found = {key: device.get(key) for key in keys if key in device}
    judged = headset_evidence(device)
    found["headset"] = judged.headset
    found["headset_evidence"] = judged.why
    return found


def _judged_summary(devices: list[dict[str, Any]], limit: int = 3) -> str:
    """Each input with why it is not a headset: "Logitech BRIO: a webcam's microphone ..."."""
    shown = [f"{d['name']}: {headset_evidence(d).why}" for d in devices[:limit]]
    if len(devices) > limit:
        shown.append(f"{len(devices) - limit} more")
    return ", ".join(shown)


def judge_present(seat: Seat, policy: Policy) -> Verdict:
    inputs = seat.inputs()
    search = find_headset(seat, policy)
    evidence: dict[str, Any] = {
        "headset": _device_evidence(search.headset),
        "inputs": [_device_evidence(d) for d in inputs],
        "approved_headsets": list(policy.approved_headsets),
    }
    if search.headset is not None:
        if policy.approved_headsets:
            note = " (approved model)"
        else:
            note = f" (a headset: {headset_evidence(search.headset).why})"
        silenced = _silenced(search.headset)
        if silenced:
            # Connected, and the caller will hear nothing: a warning that names the device.
            return Verdict(
                State.WARN, f"{search.headset['name']} is connected but its microphone {silenced}", evidence
            )
        return Verdict(State.PASS, f"{search.headset['name']} is connected and active{note}", evidence)
    if search.inactive:
        device = search.inactive[0]
        state = device.get("state")
        words = _STATE_WORDS.get(state) if isinstance(state, str) else None
        if words is None:
            return Verdict(State.UNKNOWN, f"Could not tell whether {device['name']} is connected", evidence)
        return Verdict(State.FAIL, f"{device['name']} {words}", evidence)
    if search.unapproved:
        device = search.unapproved[0]
        return Verdict(
            State.FAIL,
            f"{device['name']} is not an approved headset model "
            f"(approved: {', '.join(policy.approved_headsets)})",
            evidence,
        )
    enumeration = seat.group("audio").get("enumeration")
    evidence["enumeration"] = enumeration
    if enumeration == "failed":
        # "Could not list the devices" is never "no microphone" (older agents never say this).
        why = as_str(seat.group("audio").get("reason")) or "the agent gave no reason"
        return Verdict(State.UNKNOWN, f"Could not list the audio devices: {why.rstrip('.')}", evidence)
    if enumeration == "partial":
        # Only the kernel's sound cards were read: a Bluetooth headset is not among them.
        why = as_str(seat.group("audio").get("reason"))
        seen = f"; inputs seen: {_summary(inputs)}" if inputs else ""
        return Verdict(
            State.UNKNOWN,
            "No headset among the sound cards the kernel lists, but the sound server could not be asked "
            f"(a Bluetooth headset would only be visible there){seen}" + (f" ({why})" if why else ""),
            evidence,
        )
    if not inputs:
        return Verdict(State.FAIL, "No microphone of any kind is connected to this seat", evidence)
    if not any(d.get("state") == "active" for d in inputs):
        return Verdict(State.FAIL, f"No microphone is active; inputs seen: {_summary(inputs)}", evidence)
    active = [d for d in inputs if d.get("state") == "active"]
    return Verdict(
        State.FAIL,
        f"No headset microphone found; inputs seen: {_summary(inputs)}; "
        f"not headsets: {_judged_summary(active)}",
        evidence,
    )


def _silenced(device: dict[str, Any]) -> str | None:
    if device.get("muted") is True:
        return "is muted in the sound settings"
    volume = device.get("volume_percent")
    if isinstance(volume, int) and not isinstance(volume, bool) and volume == 0:
        return "volume is at zero"
    return None


def _no_headset(search: HeadsetSearch) -> Verdict | None:
    if search.headset is None:
        return Verdict(State.NA, "No active headset to check (see audio.headset.present)")
    return None


def _default_input(seat: Seat) -> dict[str, Any] | None:
    defaults = [d for d in seat.inputs() if d.get("is_default") is True]
    defaults.sort(key=lambda d: d.get("state") != "active")
    return defaults[0] if defaults else None


def judge_default(seat: Seat, policy: Policy) -> Verdict:
    search = find_headset(seat, policy)
    missing = _no_headset(search)
    if missing:
        return missing
    headset = search.headset or {}
    default = _default_input(seat)
    evidence = {"headset": _device_evidence(headset), "default": _device_evidence(default)}
    if headset.get("is_default") is True:
        return Verdict(State.PASS, f"{headset['name']} is the default input", evidence)
    if default is not None:
        return Verdict(
            State.WARN, f"The default input is {default['name']}, not the headset {headset['name']}", evidence
        )
    if not any(isinstance(d.get("is_default"), bool) for d in seat.inputs()):
        reason = _default_unreadable(seat)
        return Verdict(State.UNKNOWN, reason[0].upper() + reason[1:], evidence)
    return Verdict(
        State.WARN, f"No input is set as default; make the headset {headset['name']} the default", evidence
    )


# --- Chrome's own choice of microphone -----------------------------------------------------


_TRANSPORT_QUALIFIERS = {"built-in", "builtin", "bluetooth", "usb", "virtual", "aggregate"}


def _label_forms(text: str) -> tuple[str, set[str], str | None]:
    """A Chrome device label, a device name: lower case, without Chrome's " (vvvv:pppp)" suffix
    or a "Default - " prefix; plus the part in the last parentheses (Windows names endpoints
    "Microphone (Jabra Evolve2 40)") and the USB ids if present."""
    value = text.strip().lower()
    for prefix in ("default - ", "communications - "):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    ids = None
    match = _USB_ID.search(value)
    if match:
        ids = f"{match.group(1)}:{match.group(2)}"
        value = value[: match.start()].strip()
    forms = {value}
    inner = _PARENTHESISED.search(value)
    if inner and inner.group(1).strip():
        qualifier = inner.group(1).strip()
        forms.add(qualifier)
        # macOS Chrome labels say "MacBook Pro Microphone (Built-in)" where the OS says
        # "MacBook Pro Microphone". Only a transport qualifier is dropped: dropping any
        # parenthesised part would make every Windows "Microphone (X)" match every other.
        if qualifier in _TRANSPORT_QUALIFIERS:
            forms.add(value[: inner.start()].strip())
    return value, forms, ids


def label_matches(label: str, device: dict[str, Any]) -> bool:
    _, label_forms, label_ids = _label_forms(label)
    name = as_str(device.get("name")) or ""
    _, name_forms, _ = _label_forms(name)
    if label.strip() == device.get("id"):
        return True
    vendor, product = device.get("vendor_id"), device.get("product_id")
    if label_ids and isinstance(vendor, str) and isinstance(product, str):
        return label_ids == f"{vendor}:{product}".lower() or bool(label_forms & name_forms)
    return bool(label_forms & name_forms)


def chrome_preference(
    profile: dict[str, Any], inputs: list[dict[str, Any]]
) -> tuple[str, dict[str, Any] | None]:
    """('default' | 'communications' | 'device', device): the input Chrome will open. Chrome
    walks its ranking and takes the first entry that is plugged in now; with no usable entry it
    opens the system default."""
    active = [d for d in inputs if d.get("state") == "active"]
    ranking = profile.get("audio_input_ranking")
    if isinstance(ranking, list) and ranking:
        entries = [e for e in ranking if isinstance(e, str)]
    else:
        legacy = as_str(profile.get("default_audio_capture_device"))
        entries = [legacy] if legacy else []
    for entry in entries:
        key = entry.strip().lower()
        if key in ("default", ""):
            return "default", None
        if key == "communications":
            return "communications", None
        for device in active:
            if label_matches(entry, device):
                return "device", device
    return "default", None


def judge_chrome_device(seat: Seat, policy: Policy) -> Verdict:
    missing = chrome_missing(seat)
    if missing:
        return missing
    search = find_headset(seat, policy)
    no_headset = _no_headset(search)
    if no_headset:
        return no_headset
    headset = search.headset or {}
    directory = seat.judged_profile_dir()
    profile = seat.profile(directory)
    label = profile_label(profile, directory)
    status = profile.get("status") if profile else "missing"
    if status == "missing":
        return Verdict(
            State.WARN,
            f"Chrome has not been started with {label.replace('Chrome profile ', 'profile ')} yet; "
            "it will start on the system default input",
            {"profile": directory, "profile_status": "missing"},
        )
    if status != "ok":
        why = as_str((profile or {}).get("reason")) or "the agent gave no reason"
        return Verdict(State.UNKNOWN, f"Could not read {label}: {why.rstrip('.')}", {"profile": directory})
    profile = profile or {}
    kind, device = chrome_preference(profile, seat.inputs())
    evidence = {
        "profile": directory,
        "audio_input_ranking": profile.get("audio_input_ranking"),
        "default_audio_capture_device": profile.get("default_audio_capture_device"),
        "chrome_uses": kind if device is None else device.get("name"),
        "headset": _device_evidence(headset),
    }
    name = headset["name"]
    if kind == "device" and device is not None:
        if device.get("id") == headset.get("id"):
            return Verdict(State.PASS, f"{label} picks the headset {name} as its microphone", evidence)
        return Verdict(State.WARN, f"{label} picks {device['name']} instead of the headset {name}", evidence)
    if kind == "communications":
        if headset.get("is_default_communications") is True:
            return Verdict(
                State.PASS, f"{label} uses the communications device, which is the headset {name}", evidence
            )
        return Verdict(
            State.WARN, f"{label} uses the communications device, which is not the headset {name}", evidence
        )
    if headset.get("is_default") is True:
        return Verdict(
            State.PASS, f"{label} uses the system default input, which is the headset {name}", evidence
        )
    default = _default_input(seat)
    if default is None and not any(isinstance(d.get("is_default"), bool) for d in seat.inputs()):
        return Verdict(
            State.UNKNOWN, f"{label} uses the system default input; {_default_unreadable(seat)}", evidence
        )
    actual = default["name"] if default else "not set"
    return Verdict(
        State.WARN, f"{label} uses the system default input ({actual}), not the headset {name}", evidence
    )


def _default_unreadable(seat: Seat) -> str:
    reason = as_str(seat.group("audio").get("reason"))
    text = "the report does not say which input is the default"
    return f"{text} ({reason})" if reason else text


# --- contention ----------------------------------------------------------------------------


def app_name(app: str) -> str:
    """``C:#Program Files#Microsoft#Teams#ms-teams.exe`` (ConsentStore spelling) -> ``ms-teams.exe``."""
    return re.split(r"[#\\/]", app.strip())[-1] or app


def is_chrome(app: str) -> bool:
    return "chrome" in app.lower()


def _other_holders(seat: Seat) -> list[dict[str, Any]] | None:
    holders = seat.holders()
    if holders is None:
        return None
    return [h for h in holders if not is_chrome(h["app"])]


def _names(holders: list[dict[str, Any]]) -> str:
    return ", ".join(sorted({app_name(h["app"]) for h in holders}))


def judge_exclusive(seat: Seat, policy: Policy) -> Verdict:
    search = find_headset(seat, policy)
    no_headset = _no_headset(search)
    if no_headset:
        return no_headset
    headset = search.headset or {}
    name = headset["name"]
    exclusive = headset.get("exclusive_mode")
    others = _other_holders(seat)
    evidence = {
        "headset": _device_evidence(headset),
        "exclusive_mode": exclusive,
        "holders": [h["app"] for h in others] if others else [],
    }
    if exclusive is False:
        return Verdict(State.PASS, f"Applications cannot take exclusive control of {name}", evidence)
    if exclusive is not True:
        return Verdict(State.UNKNOWN, f"Could not read the exclusive-control setting of {name}", evidence)
    if others:
        return Verdict(
            State.FAIL,
            f"{name} allows exclusive control and {_names(others)} holds the microphone now; the softphone "
            "would get 'device in use'",
            evidence,
        )
    return Verdict(
        State.WARN, f"{name} lets one application take exclusive control and lock the softphone out", evidence
    )


def judge_in_use(seat: Seat, policy: Policy) -> Verdict:
    holders = seat.holders()
    if holders is None:
        if seat.os == "windows":
            return Verdict(State.UNKNOWN, "Could not tell which applications are using the microphone")
        system = OS_LABELS.get(seat.os or "", "This system")
        return Verdict(State.NA, f"{system} does not say which app holds the microphone")
    others = [h for h in holders if not is_chrome(h["app"])]
    evidence = {"holders": [{"app": h["app"], "since": h.get("since")} for h in holders]}
    if others:
        verb = "is" if len({app_name(h["app"]) for h in others}) == 1 else "are"
        return Verdict(State.WARN, f"{_names(others)} {verb} using the microphone right now", evidence)
    if holders:
        return Verdict(State.PASS, "Only Chrome is using the microphone", evidence)
    return Verdict(State.PASS, "No other application is using the microphone", evidence)


# --- fixes ---------------------------------------------------------------------------------

PRESENT_FIXES = {
    "windows": Fix(
        (
            "Plug the headset in; for a USB headset use a port on the computer itself rather than a hub.",
            "For a Bluetooth headset, switch it on and check Windows shows it as Connected, not only Paired.",
            "Press Windows key + I, open System > Sound and check the headset is listed under Input.",
            "If it is listed as disabled, open More sound settings > Recording, right-click it and "
            "choose Enable.",
            "If IT gave you an approved headset model, use that one.",
        ),
        "Keep approved headsets (and spares) on every floor and list them in the policy's approved_headsets; "
        "for Bluetooth, a USB dongle (Jabra Link, Poly BT700) avoids Windows falling back to the music-only "
        "profile that has no microphone.",
    ),
    "macos": Fix(
        (
            "Plug the headset in (USB, or the combined 3.5 mm headphone jack).",
            "Open System Settings > Sound > Input and look for the headset; a jack headset is listed as "
            "'External Microphone'.",
            "If only the Mac's own microphone is listed, the headset or its adapter does not carry a "
            "microphone signal on a Mac: use a USB headset.",
            "For a Bluetooth headset, make sure it is connected in System Settings > Bluetooth.",
        ),
        "Standardise on USB headsets for Mac seats; 3.5 mm headsets need the 4-pole (CTIA) plug to be "
        "seen as 'External Microphone'.",
    ),
    "linux": Fix(
        (
            "Plug the headset in and open Settings > Sound.",
            "Check the headset is listed under Input.",
            "For a Bluetooth headset, pick the 'Headset' (HSP/HFP) profile, not 'High Fidelity Playback'.",
            "If the headset's input is muted or at zero, unmute it and raise its level in Settings > Sound > "
            "Input (or the headset's own mute button).",
        ),
        "Prefer USB headsets; with PipeWire, a WirePlumber rule can keep Bluetooth headsets in the headset "
        "profile on CTI seats.",
    ),
}

DEFAULT_FIXES = {
    "windows": Fix(
        (
            "Press Windows key + I and open System > Sound.",
            "Under Input, choose the headset.",
            "Also open More sound settings > Recording, right-click the headset and choose both 'Set as "
            "Default Device' and 'Set as Default Communication Device'.",
            "Reload the softphone page.",
        ),
        "No Windows or Chrome policy selects the default input; set it at logon with a script "
        "(e.g. the AudioDeviceCmdlets PowerShell module) or the headset vendor's fleet tool "
        "(Jabra Direct, Poly Lens).",
    ),
    "macos": Fix(
        (
            "Open System Settings > Sound > Input.",
            "Select the headset (for a jack headset: 'External Microphone').",
            "Reload the softphone page.",
        ),
        "MDM cannot choose the input device; a login script using SwitchAudioSource can, or the headset "
        "vendor's management tool.",
    ),
    "linux": Fix(
        (
            "Open Settings > Sound.",
            "Under Input, choose the headset.",
            "Reload the softphone page.",
        ),
        "Give the headset priority with a WirePlumber/PulseAudio rule, or run `pactl set-default-source` in "
        "the user's session at login.",
    ),
}

CHROME_DEVICE_FIXES = {
    os_name: Fix(
        (
            "Open a new Chrome tab and go to chrome://settings/content/microphone.",
            "In the drop-down at the top, choose the headset (or 'Default' if the headset is your "
            "computer's default microphone).",
            "Reload the softphone page.",
        ),
        "No Chrome policy chooses the capture device: make the headset the OS default input and leave Chrome "
        "on 'Default' (see audio.headset.default).",
    )
    for os_name in ("windows", "macos", "linux")
}

EXCLUSIVE_FIXES = {
    "windows": Fix(
        (
            "Right-click the speaker icon on the taskbar, choose Sound settings, then More sound settings.",
            "On the Recording tab, select the headset microphone and click Properties.",
            "On the Advanced tab, untick 'Allow applications to take exclusive control of this device' "
            "and click OK.",
            "Close other calling apps (Teams, Skype, Zoom), then reload the softphone page.",
        ),
        "The setting is {b3f8fa53-0004-438e-9003-51a46e139bfc},3 = 0 under the headset's "
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\MMDevices\\Audio\\Capture\\{endpoint}"
        "\\Properties key; writing it needs admin rights, so push it per endpoint with an Intune "
        "remediation or startup script.",
    ),
    "macos": Fix(
        ("Nothing to do on macOS: this check applies to Windows only.",), "Not applicable on macOS."
    ),
    "linux": Fix(
        ("Nothing to do on Linux: this check applies to Windows only.",), "Not applicable on Linux."
    ),
}

IN_USE_FIXES = {
    "windows": Fix(
        (
            "Hover the microphone icon in the taskbar corner to see which app is listening.",
            "End the call in that app or close it (Teams, Zoom and Skype keep the microphone while open).",
            "Reload the softphone page.",
        ),
        "Stop other calling apps from starting at login on CTI seats, or turn their audio devices off there; "
        "combined with exclusive mode this is the usual cause of 'device in use' errors.",
    ),
    "macos": Fix(
        (
            "An orange dot in the menu bar means an app is recording: open Control Center to see which.",
            "End the call in that app or quit it, then reload the softphone page.",
        ),
        "Keep other calling apps from opening at login on CTI seats (a login-items profile in your MDM).",
    ),
    "linux": Fix(
        (
            "Close other calling or recording apps (Zoom, Teams, recorders).",
            "Reload the softphone page.",
        ),
        "Keep other calling apps off CTI seats' autostart; `pactl list source-outputs` shows who records.",
    ),
}


CHECKS_HEADSET = (
    Check(
        id="audio.headset.present",
        title="Headset connected",
        area="audio",
        platforms=("windows", "macos", "linux"),
        severity="critical",
        reads=(
            "audio.inputs[].name",
            "audio.inputs[].state",
            "audio.inputs[].form_factor",
            "audio.inputs[].transport",
            "audio.inputs[].vendor_id",
            "audio.inputs[].product_id",
        ),
        description="A headset microphone is connected and active (an approved model when the policy lists "
        "models).",
        judge=judge_present,
        fixes=PRESENT_FIXES,
    ),
    Check(
        id="audio.headset.default",
        title="Headset is the default input",
        area="audio",
        platforms=("windows", "macos", "linux"),
        severity="warning",
        reads=("audio.inputs[].is_default", "audio.inputs[].state", "audio.inputs[].name"),
        description="The headset is the operating system's default input, which is what Chrome's 'Default' "
        "opens.",
        judge=judge_default,
        fixes=DEFAULT_FIXES,
    ),
    Check(
        id="chrome.mic.device",
        title="Chrome picks the headset",
        area="chrome",
        platforms=("windows", "macos", "linux"),
        severity="warning",
        reads=(
            "chrome.installed",
            "chrome.last_used_profile",
            "chrome.profiles[].audio_input_ranking",
            "chrome.profiles[].default_audio_capture_device",
            "audio.inputs[].is_default",
            "audio.inputs[].is_default_communications",
        ),
        description="Chrome's own microphone choice is the headset, or 'Default' while the headset is the "
        "default input.",
        judge=judge_chrome_device,
        fixes=CHROME_DEVICE_FIXES,
    ),
)

CHECKS_CONTENTION = (
    Check(
        id="os.mic.exclusive",
        title="No exclusive control of the headset",
        area="os",
        platforms=("windows",),
        severity="warning",
        reads=("audio.inputs[].exclusive_mode", "audio.holders"),
        description="'Allow applications to take exclusive control' is off on the headset's capture "
        "endpoint.",
        judge=judge_exclusive,
        fixes=EXCLUSIVE_FIXES,
    ),
    Check(
        id="os.mic.in_use",
        title="No other app holds the microphone",
        area="os",
        platforms=("windows", "macos", "linux"),
        severity="warning",
        reads=("audio.holders",),
        description="No application other than Chrome is using the microphone right now.",
        judge=judge_in_use,
        fixes=IN_USE_FIXES,
    ),
)
