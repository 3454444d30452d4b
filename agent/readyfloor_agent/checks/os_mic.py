"""The operating system's own microphone gate, below Chrome.

Windows has three switches (device-wide, per-user apps, per-user desktop apps; Chrome is a
desktop app) and a group policy; macOS keeps one TCC decision per app; Linux has no per-app
gate for packaged Chrome.

Two readings where the sources disagree or are silent, chosen so that "could not tell" is never
shown as "denied":
- ``LetAppsAccessMicrophone=2`` (GPO force deny) is documented for Store apps; whether it also
  stops desktop Chrome is unverified, so it is a warning, not a failure.
- The per-user "Let apps access your microphone" switch off while "desktop apps" is on: Windows
  10 treats the two apart, some Windows 11 builds nest the second under the first. Warning.
- A consent value the agent read as absent (``null`` with status ok) is Windows' default: allowed.
"""

from __future__ import annotations

from .model import Check, Fix, Policy, State, Verdict
from .seat import Seat

FORCE_ALLOW, FORCE_DENY = 1, 2


def judge_device_access(seat: Seat, policy: Policy) -> Verdict:
    os_mic = seat.group("os_mic")
    value = os_mic.get("device_access")
    evidence = {
        "device_access": value,
        "group_policy": os_mic.get("group_policy"),
        "source": os_mic.get("source"),
    }
    if value == "deny":
        return Verdict(
            State.FAIL,
            "Microphone access for this device is turned off in Windows privacy settings",
            evidence,
        )
    if value == "allow":
        return Verdict(State.PASS, "Microphone access for this device is on", evidence)
    if value is None:
        return Verdict(
            State.PASS, "Microphone access for this device is not restricted (Windows default)", evidence
        )
    return Verdict(State.UNKNOWN, f"Unrecognised device-wide microphone setting {value!r}", evidence)


def _judge_windows_chrome(seat: Seat) -> Verdict:
    os_mic = seat.group("os_mic")
    evidence = {
        "device_access": os_mic.get("device_access"),
        "user_access": os_mic.get("user_access"),
        "desktop_apps": os_mic.get("desktop_apps"),
        "group_policy": os_mic.get("group_policy"),
    }
    if os_mic.get("device_access") == "deny":
        return Verdict(
            State.FAIL,
            "Windows turns the microphone off for the whole device, so Chrome cannot use it either",
            evidence,
        )
    if os_mic.get("desktop_apps") == "deny":
        return Verdict(
            State.FAIL,
            "'Let desktop apps access your microphone' is off for this user, so Chrome cannot use "
            "the microphone",
            evidence,
        )
    if os_mic.get("group_policy") == FORCE_DENY:
        return Verdict(
            State.WARN,
            "Group policy LetAppsAccessMicrophone force-denies the microphone to apps; desktop Chrome may be "
            "blocked too",
            evidence,
        )
    if os_mic.get("user_access") == "deny":
        return Verdict(
            State.WARN,
            "'Let apps access your microphone' is off for this user; on some Windows 11 builds that also "
            "stops Chrome",
            evidence,
        )
    for key in ("desktop_apps", "user_access"):
        if evidence[key] not in ("allow", None):
            return Verdict(
                State.UNKNOWN, f"Unrecognised Windows microphone setting {key}={evidence[key]!r}", evidence
            )
    return Verdict(State.PASS, "Windows lets desktop apps such as Chrome use the microphone", evidence)


def _judge_macos_chrome(seat: Seat) -> Verdict:
    os_mic = seat.group("os_mic")
    tcc = os_mic.get("chrome_tcc")
    where = os_mic.get("tcc_db")
    evidence = {"chrome_tcc": tcc, "tcc_db": where, "source": os_mic.get("source")}
    if tcc == "denied" and where == "mdm":
        return Verdict(
            State.FAIL,
            "A device-management profile denies Chrome the microphone on this Mac; only IT can lift it",
            evidence,
        )
    if tcc == "denied":
        return Verdict(
            State.FAIL,
            "macOS privacy settings deny Chrome the microphone (Privacy & Security > Microphone)",
            evidence,
        )
    if tcc == "not_asked":
        return Verdict(
            State.WARN,
            "Chrome has never asked macOS for the microphone; macOS will ask the person on the first call",
            evidence,
        )
    if tcc == "limited":
        return Verdict(State.WARN, "macOS gives Chrome only limited microphone access", evidence)
    if tcc == "allowed":
        return Verdict(State.PASS, "macOS lets Chrome use the microphone", evidence)
    return Verdict(
        State.UNKNOWN, "The report does not say whether macOS lets Chrome use the microphone", evidence
    )


def judge_chrome_access(seat: Seat, policy: Policy) -> Verdict:
    if seat.os == "macos":
        return _judge_macos_chrome(seat)
    return _judge_windows_chrome(seat)


DEVICE_ACCESS_FIXES = {
    "windows": Fix(
        (
            "Press Windows key + I to open Settings.",
            "Go to Privacy & security > Microphone (on Windows 10: Privacy > Microphone, then Change).",
            "Turn on 'Microphone access' for this device. This needs an administrator: if it is greyed out, "
            "contact IT.",
        ),
        "The device-wide switch is HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion"
        "\\CapabilityAccessManager\\ConsentStore\\microphone, Value=Allow: push it with a GPO "
        "registry preference or an Intune remediation script, and check that no "
        "hardening baseline sets it to Deny.",
    ),
    "macos": Fix(
        ("Nothing to do on macOS: this check applies to Windows only.",),
        "Not applicable on macOS: see os.mic.chrome for the TCC permission.",
    ),
    "linux": Fix(
        ("Nothing to do on Linux: this check applies to Windows only.",),
        "Not applicable on Linux: packaged Chrome has no OS-level microphone gate.",
    ),
}

CHROME_ACCESS_FIXES = {
    "windows": Fix(
        (
            "Press Windows key + I to open Settings.",
            "Go to Privacy & security > Microphone.",
            "Turn on 'Microphone access' and 'Let apps access your microphone'.",
            "Further down, turn on 'Let desktop apps access your microphone'.",
            "Close Chrome completely and open it again.",
        ),
        "Chrome is a desktop app: its gate is HKCU\\...\\ConsentStore\\microphone\\NonPackaged Value=Allow. "
        "Do not force-deny with the GPO LetAppsAccessMicrophone (2); set it to 1 (force allow) or leave it "
        "user-controlled, and push the per-user values with Intune or a logon script.",
    ),
    "macos": Fix(
        (
            "Open the Apple menu > System Settings > Privacy & Security > Microphone.",
            "Turn on the switch next to Google Chrome (if Chrome is not listed, make a test call first so it "
            "asks).",
            "When macOS offers it, choose Quit & Reopen; otherwise quit Chrome fully and open it again.",
            "If the switch is greyed out, your company manages it: contact IT.",
        ),
        "macOS configuration profiles (PPPC) can deny the microphone but can never grant it: the person at "
        "the seat must click Allow once. Remove any PPPC payload that denies kTCCServiceMicrophone to "
        "com.google.Chrome.",
    ),
    "linux": Fix(
        ("Nothing to do on Linux: the system does not gate Chrome's microphone per app.",),
        "Not applicable on Linux for packaged Chrome (Flatpak/Snap builds use portal permissions).",
    ),
}


CHECKS = (
    Check(
        id="os.mic.device_access",
        title="Microphone allowed on this device",
        area="os",
        platforms=("windows",),
        severity="critical",
        reads=("os_mic.device_access", "os_mic.group_policy"),
        description="Windows lets the microphone be used at all (device-wide privacy switch).",
        judge=judge_device_access,
        fixes=DEVICE_ACCESS_FIXES,
    ),
    Check(
        id="os.mic.chrome",
        title="Operating system lets Chrome use the microphone",
        area="os",
        platforms=("windows", "macos"),
        severity="critical",
        reads=(
            "os_mic.device_access",
            "os_mic.user_access",
            "os_mic.desktop_apps",
            "os_mic.group_policy",
            "os_mic.chrome_tcc",
            "os_mic.tcc_db",
        ),
        description="Windows' desktop-apps microphone switch, or Chrome's macOS privacy (TCC) permission.",
        judge=judge_chrome_access,
        fixes=CHROME_ACCESS_FIXES,
    ),
)
