"""Chrome: is it there, may sites ask for the microphone, is each CTI origin allowed the
microphone and notifications.

Decisions follow Chrome's own precedence. Managed policy beats the profile's preferences
(Chrome consults its policy provider before the user's), an origin in ``AudioCaptureAllowedUrls``
gets the microphone even over a user block, a site exception beats the profile's global default,
and among several exceptions that match one origin the most specific pattern wins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable

from .model import Check, Fix, Policy, State, Verdict
from .seat import Seat, as_list, as_str, dicts, profile_label
from .urlpattern import Origin, PatternPair, UrlPattern, most_specific, parse_pair

ALLOW, BLOCK, ASK = 1, 2, 3
# Chromium SessionModel: how long a granted exception lives.
MODEL_DURABLE, MODEL_USER_SESSION, MODEL_NON_RESTORABLE_SESSION, MODEL_ONE_TIME = 0, 1, 2, 3

_SITE_STATE_RANK = {State.PASS: 0, State.NA: 0, State.WARN: 1, State.UNKNOWN: 2, State.FAIL: 3}


@dataclass(frozen=True)
class SiteDecision:
    origin: str
    state: State
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


# --- shared helpers ------------------------------------------------------------------------


def chrome_missing(seat: Seat) -> Verdict | None:
    """Profile checks have nothing to judge on a seat without Chrome; chrome.installed says so."""
    if seat.chrome.get("installed") is False:
        return Verdict(State.NA, "Google Chrome is not installed (see chrome.installed)")
    return None


def strings(value: Any) -> list[str]:
    return [item for item in as_list(value) if isinstance(item, str)]


def cti_origins(policy: Policy) -> list[tuple[str, Origin]]:
    parsed = []
    for text in policy.cti_origins:
        origin = Origin.parse(text)
        if origin is not None:
            parsed.append((str(origin), origin))
    return parsed


def setting_of(exception: dict[str, Any]) -> int | None:
    value = exception.get("setting")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_time(value: Any) -> dt.datetime | None:
    text = as_str(value)
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def since(exception: dict[str, Any]) -> str:
    """`` (set 2026-10-02)`` when Chrome recorded when the person chose this, else nothing."""
    moment = _parse_time(exception.get("last_modified"))
    return f" (set {moment.date().isoformat()})" if moment else ""


def live_exceptions(raw: Any, now: dt.datetime | None) -> list[dict[str, Any]]:
    """Exceptions Chrome would still apply, block before allow before ask so that, among
    patterns of equal precedence, the stricter one is found first."""
    found = []
    for exception in dicts(raw):
        if setting_of(exception) not in (ALLOW, BLOCK, ASK):
            continue  # 0 means "use the default": the exception decides nothing.
        expires = _parse_time(exception.get("expiration"))
        # An expired grant no longer applies, except that a one-time allow is kept: it
        # judges the same as no grant (Chrome will ask) and names why the person keeps being asked.
        if (
            expires is not None
            and now is not None
            and expires <= now
            and exception.get("model") != MODEL_ONE_TIME
        ):
            continue
        found.append(exception)
    order = {BLOCK: 0, ALLOW: 1, ASK: 2}
    return sorted(found, key=lambda e: order[setting_of(e) or ASK])


def _pair(exception: dict[str, Any]) -> PatternPair | None:
    return parse_pair(exception.get("pattern"))  # type: ignore[arg-type]


_NOT_DISTINCTIVE = {"www", "app", "my", "login", "com", "net", "org", "io", "co"}


def _related(exception_pattern: str, origin: Origin) -> bool:
    """A pattern that names something like the origin but does not match it: the same host
    over http or another port, or a sibling domain such as acme.lightning.force.com for
    acme.my.salesforce.com. Worth showing: it is usually where the person clicked Allow."""
    pair = parse_pair(exception_pattern)
    if pair is None or not pair.primary.host:
        return False
    mine = {label for label in origin.host.split(".")[:-1] if label not in _NOT_DISTINCTIVE}
    theirs = {label for label in pair.primary.host.split(".")[:-1] if label not in _NOT_DISTINCTIVE}
    return pair.primary.host == origin.host or bool(mine & theirs)


def _near_misses(exceptions: Iterable[dict[str, Any]], origin: Origin) -> list[str]:
    found = []
    for exception in exceptions:
        pattern = as_str(exception.get("pattern"))
        if not pattern or setting_of(exception) != ALLOW:
            continue
        pair = parse_pair(pattern)
        if pair is not None and pair.matches(origin):
            continue
        if _related(pattern, origin):
            found.append(pattern)
    return sorted(found)


def _profile_gate(seat: Seat, directory: str, origin: str, what: str) -> SiteDecision | None:
    profile = seat.profile(directory)
    label = profile_label(profile, directory)
    status = profile.get("status") if profile else "missing"
    if status == "missing":
        return SiteDecision(
            origin,
            State.WARN,
            f"Chrome has not been started with {label.replace('Chrome profile ', 'profile ')} yet; "
            f"{origin} will ask for {what} on first use",
            {"profile": directory, "profile_status": "missing"},
        )
    if status != "ok":
        why = (as_str(profile.get("reason")) if profile else None) or "the agent gave no reason"
        return SiteDecision(
            origin,
            State.UNKNOWN,
            f"Could not read {label}: {why.rstrip('.')}",
            {"profile": directory, "profile_status": status},
        )
    return None


def combine(decisions: list[SiteDecision], directory: str, other_profiles: dict[str, str]) -> Verdict:
    """Several CTI origins: the worst one decides, and the reason names every origin that is
    that bad."""
    if not decisions:
        return Verdict(State.NA, "no CTI origins configured in policy")
    worst_rank = max(_SITE_STATE_RANK[d.state] for d in decisions)
    worst = [d for d in decisions if _SITE_STATE_RANK[d.state] == worst_rank]
    evidence: dict[str, Any] = {
        "profile": directory,
        "origins": {d.origin: {"state": d.state.value, **d.evidence} for d in decisions},
    }
    if other_profiles:
        evidence["other_profiles"] = other_profiles
    return Verdict(worst[0].state, "; ".join(d.reason for d in worst), evidence)


def _other_profiles(
    seat: Seat, directory: str, decide: Callable[[Seat, str, Origin, str], SiteDecision], policy: Policy
) -> dict[str, str]:
    """How the other profiles of the seat would fare: a person who switches profile may be
    judged on the wrong one, so the evidence shows the difference."""
    result = {}
    for profile in seat.profiles():
        other = profile["dir"]
        if other == directory or profile.get("status") != "ok":
            continue
        states = [decide(seat, text, origin, other).state for text, origin in cti_origins(policy)]
        if states:
            result[other] = max(states, key=lambda s: _SITE_STATE_RANK[s]).value
    return result


# --- chrome.installed ----------------------------------------------------------------------


def _major(version: str | None) -> int | None:
    match = re.match(r"\s*(\d+)", version or "")
    return int(match.group(1)) if match else None


def judge_installed(seat: Seat, policy: Policy) -> Verdict:
    chrome = seat.chrome
    installed = chrome.get("installed")
    version = as_str(chrome.get("version"))
    evidence = {"installed": installed, "version": version, "min_chrome_major": policy.min_chrome_major}
    if installed is False:
        return Verdict(State.FAIL, "Google Chrome is not installed", evidence)
    if installed is not True:
        return Verdict(State.UNKNOWN, "The report does not say whether Google Chrome is installed", evidence)
    if policy.min_chrome_major is None:
        shown = f"Chrome {version}" if version else "Google Chrome"
        return Verdict(State.PASS, f"{shown} is installed", evidence)
    major = _major(version)
    if major is None:
        return Verdict(
            State.UNKNOWN,
            f"Chrome is installed but its version could not be read "
            f"(policy minimum {policy.min_chrome_major})",
            evidence,
        )
    if major < policy.min_chrome_major:
        return Verdict(
            State.FAIL,
            f"Chrome {version} is older than the required version {policy.min_chrome_major}",
            evidence,
        )
    return Verdict(
        State.PASS, f"Chrome {version} is installed (policy minimum {policy.min_chrome_major})", evidence
    )


# --- microphone ----------------------------------------------------------------------------


def _policy_allowlisted(seat: Seat, origin: Origin) -> str | None:
    for entry in strings(seat.chrome_policy.get("AudioCaptureAllowedUrls")):
        pattern = UrlPattern.parse(entry)
        # Chrome ignores a bare "*" here: policy cannot give every site the microphone.
        if pattern is not None and not pattern.is_full_wildcard and pattern.matches(origin):
            return entry
    return None


def mic_decision(seat: Seat, text: str, origin: Origin, directory: str) -> SiteDecision:
    """CHECKS.md's evaluation order for one CTI origin's microphone in one profile."""
    policy = seat.chrome_policy
    entry = _policy_allowlisted(seat, origin)
    if entry is not None:
        return SiteDecision(
            text,
            State.PASS,
            f"{text} may use the microphone by Chrome policy AudioCaptureAllowedUrls ('{entry}')",
            {"decided_by": "policy", "pattern": entry},
        )
    if policy.get("AudioCaptureAllowed") is False:
        return SiteDecision(
            text,
            State.FAIL,
            f"Chrome policy AudioCaptureAllowed is off and {text} is not in AudioCaptureAllowedUrls",
            {"decided_by": "policy", "AudioCaptureAllowed": False},
        )
    if policy.get("DefaultMediaStreamSetting") == BLOCK:
        return SiteDecision(
            text,
            State.FAIL,
            f"Chrome policy DefaultMediaStreamSetting blocks the microphone for every site, {text} included",
            {"decided_by": "policy", "DefaultMediaStreamSetting": BLOCK},
        )
    gate = _profile_gate(seat, directory, text, "the microphone")
    if gate is not None:
        return gate
    profile = seat.profile(directory) or {}
    label = profile_label(profile, directory)
    raw = profile.get("mic_exceptions")
    exception = most_specific(live_exceptions(raw, seat.now), origin, _pair)
    if exception is not None:
        setting, model = setting_of(exception), exception.get("model")
        evidence = {
            "decided_by": "exception",
            "pattern": exception.get("pattern"),
            "setting": setting,
            "model": model,
            "last_modified": exception.get("last_modified"),
        }
        if setting == BLOCK:
            return SiteDecision(text, State.FAIL, f"{text} is blocked in {label}{since(exception)}", evidence)
        if setting == ALLOW:
            if model in (None, MODEL_DURABLE):
                return SiteDecision(
                    text, State.PASS, f"{text} is allowed in {label}{since(exception)}", evidence
                )
            if model == MODEL_ONE_TIME:
                return SiteDecision(
                    text,
                    State.WARN,
                    f"{text} was only allowed once ('Allow this time') in {label}; it will ask again on "
                    "the next call",
                    evidence,
                )
            if model in (MODEL_USER_SESSION, MODEL_NON_RESTORABLE_SESSION):
                return SiteDecision(
                    text,
                    State.WARN,
                    f"{text} is allowed in {label} only until Chrome restarts",
                    evidence,
                )
            return SiteDecision(
                text,
                State.WARN,
                f"{text} is allowed in {label} for an unrecognised duration (model {model})",
                evidence,
            )
        # An explicit "ask" exception: the same as never having chosen.
    misses = _near_misses(dicts(raw), origin)
    hint = ""
    if misses:
        # Show the site half of each key: that is what the person sees in Chrome's settings.
        shown = ", ".join(key.split(",")[0].strip() for key in misses[:2])
        hint = f" (the allow in this profile is for {shown}, a different origin)"
    evidence = {"decided_by": "default", "mic_default": profile.get("mic_default")}
    if misses:
        evidence["near_misses"] = misses
    if profile.get("mic_default") == BLOCK:
        return SiteDecision(
            text,
            State.FAIL,
            f"{label} blocks the microphone for every site "
            f"('Don't allow sites to use your microphone'){hint}",
            evidence,
        )
    if profile.get("mic_default") == ALLOW:
        return SiteDecision(text, State.PASS, f"{label} lets every site use the microphone", evidence)
    return SiteDecision(
        text,
        State.WARN,
        f"{text} has not been allowed the microphone in {label} yet; Chrome will ask on first use{hint}",
        evidence,
    )


def judge_mic_site(seat: Seat, policy: Policy) -> Verdict:
    missing = chrome_missing(seat)
    if missing:
        return missing
    directory = seat.judged_profile_dir()
    decisions = [mic_decision(seat, text, origin, directory) for text, origin in cti_origins(policy)]
    return combine(decisions, directory, _other_profiles(seat, directory, mic_decision, policy))


def judge_mic_global(seat: Seat, policy: Policy) -> Verdict:
    missing = chrome_missing(seat)
    if missing:
        return missing
    chrome_policy = seat.chrome_policy
    directory = seat.judged_profile_dir()
    origins = cti_origins(policy)
    uncovered = [text for text, origin in origins if _policy_allowlisted(seat, origin) is None]
    evidence: dict[str, Any] = {
        "profile": directory,
        "AudioCaptureAllowed": chrome_policy.get("AudioCaptureAllowed"),
        "DefaultMediaStreamSetting": chrome_policy.get("DefaultMediaStreamSetting"),
    }

    policy_block = None
    if chrome_policy.get("AudioCaptureAllowed") is False:
        policy_block = "Chrome policy AudioCaptureAllowed is off, so no site may ask for the microphone"
    elif chrome_policy.get("DefaultMediaStreamSetting") == BLOCK:
        policy_block = "Chrome policy DefaultMediaStreamSetting blocks the microphone for every site"
    if policy_block:
        if origins and not uncovered:
            return Verdict(
                State.PASS,
                f"{policy_block}, but every CTI origin is in AudioCaptureAllowedUrls",
                evidence,
            )
        if uncovered:
            return Verdict(State.FAIL, f"{policy_block}; not allow-listed: {', '.join(uncovered)}", evidence)
        allowed = [u for u in strings(chrome_policy.get("AudioCaptureAllowedUrls")) if u.strip() != "*"]
        if allowed:
            # Without CTI origins in the policy there is no saying whether the allow-list covers them.
            return Verdict(
                State.WARN,
                f"{policy_block} outside AudioCaptureAllowedUrls ({', '.join(allowed[:3])}); "
                "no CTI origins are configured to check against it",
                evidence,
            )
        return Verdict(State.FAIL, policy_block, evidence)

    profile = seat.profile(directory)
    label = profile_label(profile, directory)
    gate = _profile_gate(seat, directory, "every site", "the microphone")
    if gate is not None:
        if gate.state is State.WARN:
            reason = (
                f"Chrome has not been started with {label.replace('Chrome profile ', 'profile ')} yet; "
                "site permissions will be asked on first use"
            )
            return Verdict(State.WARN, reason, {**evidence, **gate.evidence})
        return Verdict(gate.state, gate.reason, {**evidence, **gate.evidence})
    profile = profile or {}
    mic_default = profile.get("mic_default")
    evidence["mic_default"] = mic_default
    if mic_default == BLOCK:
        decisions = [mic_decision(seat, text, origin, directory) for text, origin in origins]
        if decisions and all(d.state is State.PASS for d in decisions):
            return Verdict(
                State.WARN,
                f"{label} blocks the microphone for all sites, but each CTI origin is allowed on its own",
                evidence,
            )
        return Verdict(
            State.FAIL,
            f"{label} is set to 'Don't allow sites to use your microphone'",
            evidence,
        )
    return Verdict(State.PASS, f"Sites can ask to use the microphone in {label}", evidence)


# --- notifications -------------------------------------------------------------------------


def _policy_notification_rule(seat: Seat, origin: Origin) -> tuple[str, str] | None:
    """(policy name, pattern) of the most specific managed rule for the origin; on a tie the
    block list wins, the conservative reading of a contradictory policy."""
    rules = [
        ("NotificationsBlockedForUrls", entry)
        for entry in strings(seat.chrome_policy.get("NotificationsBlockedForUrls"))
    ]
    rules += [
        ("NotificationsAllowedForUrls", entry)
        for entry in strings(seat.chrome_policy.get("NotificationsAllowedForUrls"))
    ]
    return most_specific(rules, origin, lambda rule: parse_pair(rule[1]))


def notification_decision(seat: Seat, text: str, origin: Origin, directory: str) -> SiteDecision:
    chrome_policy = seat.chrome_policy
    rule = _policy_notification_rule(seat, origin)
    if rule is not None:
        name, pattern = rule
        evidence = {"decided_by": "policy", "policy": name, "pattern": pattern}
        if name == "NotificationsBlockedForUrls":
            return SiteDecision(
                text,
                State.FAIL,
                f"Notifications from {text} are blocked by Chrome policy {name} ('{pattern}')",
                evidence,
            )
        return SiteDecision(
            text, State.PASS, f"Notifications from {text} are allowed by Chrome policy {name}", evidence
        )
    managed_default = chrome_policy.get("DefaultNotificationsSetting")
    if managed_default == BLOCK:
        return SiteDecision(
            text,
            State.FAIL,
            f"Chrome policy DefaultNotificationsSetting blocks notifications from every site, "
            f"{text} included",
            {"decided_by": "policy", "DefaultNotificationsSetting": BLOCK},
        )
    if managed_default == ALLOW:
        return SiteDecision(
            text,
            State.PASS,
            f"Chrome policy DefaultNotificationsSetting lets every site, {text} included, show notifications",
            {"decided_by": "policy", "DefaultNotificationsSetting": ALLOW},
        )
    gate = _profile_gate(seat, directory, text, "permission to show notifications")
    if gate is not None:
        return gate
    profile = seat.profile(directory) or {}
    label = profile_label(profile, directory)
    exception = most_specific(
        live_exceptions(profile.get("notification_exceptions"), seat.now), origin, _pair
    )
    if exception is not None:
        setting = setting_of(exception)
        evidence = {
            "decided_by": "exception",
            "pattern": exception.get("pattern"),
            "setting": setting,
            "model": exception.get("model"),
            "last_modified": exception.get("last_modified"),
        }
        if setting == BLOCK:
            return SiteDecision(
                text,
                State.FAIL,
                f"Notifications from {text} are blocked in {label}{since(exception)}",
                evidence,
            )
        if setting == ALLOW and exception.get("model") in (None, MODEL_DURABLE):
            return SiteDecision(
                text,
                State.PASS,
                f"Notifications from {text} are allowed in {label}{since(exception)}",
                evidence,
            )
        if setting == ALLOW:
            return SiteDecision(
                text, State.WARN, f"Notifications from {text} are allowed in {label} only for now", evidence
            )
    evidence = {"decided_by": "default", "notifications_default": profile.get("notifications_default")}
    if profile.get("notifications_default") == BLOCK:
        return SiteDecision(
            text,
            State.FAIL,
            f"{label} does not let any site show notifications, so incoming calls from {text} "
            "will not pop up",
            evidence,
        )
    if profile.get("notifications_default") == ALLOW:
        return SiteDecision(text, State.PASS, f"{label} lets every site show notifications", evidence)
    return SiteDecision(
        text,
        State.WARN,
        f"{text} has not been allowed to show notifications in {label}; Chrome will ask first",
        evidence,
    )


def judge_notifications_site(seat: Seat, policy: Policy) -> Verdict:
    missing = chrome_missing(seat)
    if missing:
        return missing
    directory = seat.judged_profile_dir()
    decisions = [notification_decision(seat, text, origin, directory) for text, origin in cti_origins(policy)]
    return combine(decisions, directory, _other_profiles(seat, directory, notification_decision, policy))


def no_cti_origins(policy: Policy) -> str | None:
    return None if policy.cti_origins else "no CTI origins configured in policy"


def notifications_not_needed(policy: Policy) -> str | None:
    if not policy.notifications_required:
        return "notifications are not required by policy"
    return no_cti_origins(policy)


# --- fixes ---------------------------------------------------------------------------------

_SITE_SETTINGS_STEPS = (
    "Open the softphone page (for example your Salesforce or HubSpot tab) in Chrome.",
    "Click the icon just left of the web address (a padlock or two sliders).",
    "Open Site settings and set Microphone to Allow.",
    "Reload the page and try a test call.",
)

INSTALLED_FIXES = {
    "windows": Fix(
        (
            "Open Chrome, click the three-dot menu, then Help > About Google Chrome.",
            "Let Chrome finish updating, then click Relaunch.",
            "If Chrome is missing, ask IT to install it: your calls only work in Chrome.",
        ),
        "Deploy the Chrome Enterprise MSI with your software distribution tool and keep Google Update "
        "enabled; check that the UpdateDefault or TargetVersionPrefix policies are not holding seats back.",
    ),
    "macos": Fix(
        (
            "Open Chrome, choose Chrome > About Google Chrome in the menu bar.",
            "Let Chrome finish updating, then click Relaunch.",
            "If Chrome is missing, ask IT to install it: your calls only work in Chrome.",
        ),
        "Deploy the Chrome enterprise .pkg through your MDM and keep Google Software Update (Keystone) "
        "running so seats stay at or above the minimum version.",
    ),
    "linux": Fix(
        (
            "Open Chrome, click the three-dot menu, then Help > About Google Chrome to see the version.",
            "Ask IT to update or install the google-chrome-stable package: it is updated by the system.",
        ),
        "Install google-chrome-stable from Google's apt/dnf repository and keep the repository enabled so "
        "regular system updates bring new Chrome versions.",
    ),
}

MIC_GLOBAL_FIXES = {
    os_name: Fix(
        (
            "Open a new Chrome tab and go to chrome://settings/content/microphone.",
            "Choose 'Sites can ask to use your microphone'.",
            "If that choice is greyed out with a building icon, your company manages it: contact IT.",
            "Reload the softphone page.",
        ),
        "Set the Chrome policy AudioCaptureAllowedUrls to the CTI origins "
        "(e.g. https://[*.]my.salesforce.com) so they get the microphone whatever the user "
        "default; if AudioCaptureAllowed is false or "
        "DefaultMediaStreamSetting is 2, the allow-list is the only way in.",
    )
    for os_name in ("windows", "macos", "linux")
}

MIC_SITE_FIXES = {
    os_name: Fix(
        (
            *_SITE_SETTINGS_STEPS,
            "If the setting is greyed out with a building icon, your company manages it: contact IT.",
        ),
        "Add each CTI origin to the Chrome policy AudioCaptureAllowedUrls (GPO/Intune on Windows, a "
        "configuration profile on macOS, /etc/opt/chrome/policies/managed/*.json on Linux): listed "
        "origins get the microphone without a prompt, even over a user's Block or a one-time allow.",
    )
    for os_name in ("windows", "macos", "linux")
}

NOTIFICATION_FIXES = {
    os_name: Fix(
        (
            "Open the softphone page in Chrome.",
            "Click the icon just left of the web address, then Site settings.",
            "Set Notifications to Allow and reload the page.",
            "If Chrome's settings say notifications are managed by your organization, contact IT.",
        ),
        "Add the CTI origins to the Chrome policy NotificationsAllowedForUrls, and make sure they are not in "
        "NotificationsBlockedForUrls and that DefaultNotificationsSetting is not 2 for these seats.",
    )
    for os_name in ("windows", "macos", "linux")
}


CHECKS = (
    Check(
        id="chrome.installed",
        title="Google Chrome installed",
        area="chrome",
        platforms=("windows", "macos", "linux"),
        severity="critical",
        reads=("chrome.installed", "chrome.version"),
        description="Google Chrome is installed, at or above the policy's minimum major version.",
        judge=judge_installed,
        fixes=INSTALLED_FIXES,
    ),
    Check(
        id="chrome.mic.global",
        title="Chrome lets sites ask for the microphone",
        area="chrome",
        platforms=("windows", "macos", "linux"),
        severity="critical",
        reads=(
            "chrome.installed",
            "chrome.last_used_profile",
            "chrome.profiles[].mic_default",
            "chrome.policy.AudioCaptureAllowed",
            "chrome.policy.AudioCaptureAllowedUrls",
            "chrome.policy.DefaultMediaStreamSetting",
        ),
        description="Neither the profile's global setting nor Chrome policy blocks the microphone for the "
        "CTI origins.",
        judge=judge_mic_global,
        fixes=MIC_GLOBAL_FIXES,
    ),
    Check(
        id="chrome.mic.site",
        title="CTI sites may use the microphone",
        area="chrome",
        platforms=("windows", "macos", "linux"),
        severity="critical",
        reads=(
            "chrome.installed",
            "chrome.last_used_profile",
            "chrome.profiles[].mic_exceptions",
            "chrome.profiles[].mic_default",
            "chrome.policy.AudioCaptureAllowed",
            "chrome.policy.AudioCaptureAllowedUrls",
            "chrome.policy.DefaultMediaStreamSetting",
        ),
        description="Each CTI origin is allowed the microphone (policy allow-list or a lasting user Allow) "
        "and not blocked; 'will ask on first use' and one-time allows are warnings.",
        judge=judge_mic_site,
        fixes=MIC_SITE_FIXES,
        not_applicable=no_cti_origins,
    ),
    Check(
        id="chrome.notifications.site",
        title="CTI sites may show notifications",
        area="chrome",
        platforms=("windows", "macos", "linux"),
        severity="warning",
        reads=(
            "chrome.installed",
            "chrome.last_used_profile",
            "chrome.profiles[].notification_exceptions",
            "chrome.profiles[].notifications_default",
            "chrome.policy.DefaultNotificationsSetting",
            "chrome.policy.NotificationsAllowedForUrls",
            "chrome.policy.NotificationsBlockedForUrls",
        ),
        description="Each CTI origin can show notifications, so incoming calls are noticed.",
        judge=judge_notifications_site,
        fixes=NOTIFICATION_FIXES,
        not_applicable=notifications_not_needed,
    ),
)
