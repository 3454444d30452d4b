"""The catalog in CHECKS.md order, and the functions that run it: ``evaluate`` a seat,
``readiness_of`` its results, ``fix_for`` a failing check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from . import agent, audio, chrome, os_mic
from .browsers import BROWSERS, INSTALLED_FIXES, adapt, adapt_fix
from .model import OS_LABELS, OS_NAMES, Check, CheckResult, Fix, Policy, Readiness, State, Verdict
from .seat import Seat

_BY_ID = {
    check.id: check
    for check in agent.CHECKS + chrome.CHECKS + os_mic.CHECKS + audio.CHECKS_HEADSET + audio.CHECKS_CONTENTION
}
_ORDER = (
    "agent.fresh",
    "chrome.installed",
    "os.mic.device_access",
    "os.mic.chrome",
    "chrome.mic.global",
    "chrome.mic.site",
    "chrome.notifications.site",
    "audio.headset.present",
    "audio.headset.default",
    "chrome.mic.device",
    "os.mic.exclusive",
    "os.mic.in_use",
)
CATALOG: tuple[Check, ...] = tuple(_BY_ID[check_id] for check_id in _ORDER)
# Checks about the browser the softphone runs in: judged once per browser the policy names.
BROWSER_CHECKS = frozenset(
    check.id for check in CATALOG if {"chrome", "chrome.policy"} & set(check.groups)
) | {"os.mic.chrome"}
_WORST_FIRST = {State.FAIL: 4, State.UNKNOWN: 3, State.WARN: 2, State.PASS: 1, State.NA: 0}

NO_REPORT = "no report from this seat yet"


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC: the server stores UTC and agents report it."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def get_check(check_id: str) -> Check:
    return _BY_ID[check_id]


def fix_for(check_id: str, os: str, browser: str = "chrome") -> Fix:
    """Steps for the person at the seat and a note for IT, in the words and paths of the
    browser judged (a result's ``evidence["browser"]``, Chrome when absent). KeyError for an
    unknown check, ValueError for an OS other than 'windows', 'macos', 'linux' or an unknown
    browser."""
    check = get_check(check_id)
    if os not in OS_NAMES:
        raise ValueError(f"os: expected one of {', '.join(OS_NAMES)}, got {os!r}")
    if browser not in BROWSERS:
        raise ValueError(f"browser: expected one of {', '.join(BROWSERS)}, got {browser!r}")
    if browser == "chrome" or check_id not in BROWSER_CHECKS:
        return check.fixes[os]
    if check_id == "chrome.installed":
        return INSTALLED_FIXES[browser][os]
    return adapt_fix(check.fixes[os], browser)


def title_for(check_id: str, browser: str = "chrome") -> str:
    """The check's title, naming the browser judged ("Microsoft Edge installed")."""
    title = get_check(check_id).title
    return adapt(title, browser) if check_id in BROWSER_CHECKS else title


def _platform_gate(check: Check, seat: Seat) -> Verdict | None:
    if set(check.platforms) >= set(OS_NAMES):
        return None
    if seat.os is None:
        return Verdict(State.UNKNOWN, "The report does not say which operating system this seat runs")
    if seat.os not in check.platforms:
        where = " and ".join(OS_LABELS[name] for name in check.platforms)
        return Verdict(State.NA, f"Does not apply on {OS_LABELS[seat.os]} (only {where})")
    return None


def _group_gate(check: Check, seat: Seat) -> Verdict | None:
    for group in check.groups:
        status = seat.group_status(group)
        if status.state == "n/a":
            if group == "chrome.policy":
                continue  # no managed policy on this OS: nothing overrides the profile
            return Verdict(State.NA, status.reason, {"group": group})
        if status.state != "ok":
            return Verdict(State.UNKNOWN, status.reason, {"group": group})
    return None


def _judge_in(check: Check, seat: Seat, policy: Policy) -> Verdict:
    """The check on one browser of the seat, worded for that browser."""
    verdict = _judge(check, seat, policy)
    if seat.browser == "chrome":
        return verdict
    return Verdict(
        verdict.state, adapt(verdict.reason, seat.browser), {**verdict.evidence, "browser": seat.browser}
    )


def _judge_browsers(check: Check, seat: Seat, policy: Policy) -> Verdict:
    """A browser check on every browser the policy names. With several, a seat may use any that
    is installed, so each installed one is judged and the worst decides (naming its browser)."""
    browsers = policy.browsers
    if len(browsers) == 1:
        return _judge_in(check, seat.for_browser(browsers[0]), policy)
    views = {browser: seat.for_browser(browser) for browser in browsers}
    present = [browser for browser in browsers if views[browser].chrome.get("installed") is not False]
    if not present:
        names = ", ".join(BROWSERS[browser].label for browser in browsers)
        evidence = {"browsers": {browser: "not installed" for browser in browsers}}
        if check.id == "chrome.installed":
            return Verdict(State.FAIL, f"None of the softphone's browsers is installed ({names})", evidence)
        return Verdict(State.NA, f"None of the softphone's browsers is installed ({names})", evidence)
    verdicts = {browser: _judge_in(check, views[browser], policy) for browser in present}
    worst = max(present, key=lambda browser: _WORST_FIRST[verdicts[browser].state])
    chosen = verdicts[worst]
    reason = chosen.reason if len(present) == 1 else f"{BROWSERS[worst].label}: {chosen.reason}"
    evidence = {
        **chosen.evidence,
        "browser": worst,
        "browsers": {browser: verdict.state.value for browser, verdict in verdicts.items()},
    }
    return Verdict(chosen.state, reason, evidence)


def _judge(check: Check, seat: Seat, policy: Policy) -> Verdict:
    for gate in (_platform_gate, _group_gate):
        verdict = gate(check, seat)
        if verdict is not None:
            return verdict
    try:
        return check.judge(seat, policy)
    except Exception as error:
        # Facts that passed no schema (an old snapshot, a buggy collector) land here; the reason
        # stays honest: the check could not be judged, which is not the same as failing it.
        return Verdict(
            State.UNKNOWN,
            "The report's facts for this check are malformed, so it could not be judged",
            {"error": type(error).__name__},
        )


def evaluate(
    facts: Mapping[str, Any] | None,
    policy: Policy,
    *,
    last_seen: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[CheckResult]:
    """One result per catalog check, in catalog order. Pure: the same facts, policy and times
    give the same results; only a missing ``now`` reads the clock (current UTC)."""
    now = as_utc(now) if now is not None else dt.datetime.now(dt.timezone.utc)
    last_seen = as_utc(last_seen) if last_seen is not None else None
    seat = Seat(facts if isinstance(facts, Mapping) else {}, last_seen=last_seen, now=now)
    return [_result_of(check, facts, seat, policy) for check in CATALOG]


# What a verdict reads of the `host` facts: only the operating system (the platform gate).
# Host name, serial and console user tell seats apart but never change a verdict, so seats
# imaged alike can be judged once (the server does, re-judging 100k seats after a policy
# change); tests/agent/test_checks_catalog.py holds every check to it.
JUDGED_HOST_FACTS = ("os",)


def judged_facts(facts: Any) -> Any:
    """The part of `facts` that verdicts depend on: `host` reduced to JUDGED_HOST_FACTS."""
    if not isinstance(facts, Mapping):
        return facts
    host = facts.get("host")
    host = host if isinstance(host, Mapping) else {}
    return {**facts, "host": {key: host.get(key) for key in JUDGED_HOST_FACTS}}


# The one check whose verdict depends on when the seat last reported (the others read only
# facts, policy and `now`).
TIMED_CHECK = "agent.fresh"


def reason_now(check_id: str, reason: str, last_seen: dt.datetime | None, now: dt.datetime) -> str:
    """A stored reason as it reads at `now`: only TIMED_CHECK's names a time that moves on
    ("last report 0 s ago" when judged), so pages show its age as of the request, not as of
    the verdict."""
    if check_id != TIMED_CHECK or last_seen is None:
        return reason
    return agent.restate_age(reason, last_seen, now)


def with_report_time(
    results: list[CheckResult],
    facts: Mapping[str, Any] | None,
    policy: Policy,
    *,
    last_seen: dt.datetime | None,
    now: dt.datetime,
) -> list[CheckResult]:
    """``results`` of ``evaluate(facts, policy, now=now)`` for another seat with the same
    facts and policy, re-judged for that seat's report time: only TIMED_CHECK reads it, so
    seats sharing facts (a floor imaged alike) share the rest of the work. Equal to
    ``evaluate(facts, policy, last_seen=last_seen, now=now)``."""
    now = as_utc(now)
    last_seen = as_utc(last_seen) if last_seen is not None else None
    seat = Seat(facts if isinstance(facts, Mapping) else {}, last_seen=last_seen, now=now)
    timed = _BY_ID[TIMED_CHECK]
    return [
        _result_of(timed, facts, seat, policy) if result.check_id == TIMED_CHECK else result
        for result in results
    ]


def _result_of(check: Check, facts: Mapping[str, Any] | None, seat: Seat, policy: Policy) -> CheckResult:
    severity = policy.severity_of(check)
    if check.id in policy.disabled_checks:
        verdict = Verdict(State.NA, "disabled by policy")
    elif check.not_applicable is not None and check.not_applicable(policy):
        verdict = Verdict(State.NA, check.not_applicable(policy) or "")
    elif facts is None:
        verdict = Verdict(State.UNKNOWN, NO_REPORT, {"no_report": True})
    elif not isinstance(facts, Mapping) and check.reads:
        verdict = Verdict(State.UNKNOWN, "The seat's report is not readable")
    elif check.id in BROWSER_CHECKS:
        verdict = _judge_browsers(check, seat, policy)
    else:
        verdict = _judge(check, seat, policy)
    return CheckResult(check.id, verdict.state, verdict.reason, severity, dict(verdict.evidence))


def readiness_of(results: Iterable[CheckResult]) -> Readiness:
    """A seat's verdict from its results, worst first: OFFLINE (stale), UNKNOWN (never
    reported), NOT READY (a critical failure), UNKNOWN (a critical check unreadable),
    AT RISK (any warning, or a failed or unreadable warning-level check), READY."""
    results = list(results)
    if any(r.check_id == "agent.fresh" and r.state is State.FAIL for r in results):
        return Readiness.OFFLINE
    judged = [r for r in results if r.state is not State.NA]
    if not judged or any(r.no_report for r in judged):
        return Readiness.UNKNOWN
    if any(r.state is State.FAIL and r.severity == "critical" for r in judged):
        return Readiness.NOT_READY
    if any(r.state is State.UNKNOWN and r.severity == "critical" for r in judged):
        return Readiness.UNKNOWN
    if any(r.state in (State.WARN, State.FAIL, State.UNKNOWN) for r in judged):
        return Readiness.AT_RISK
    return Readiness.READY
