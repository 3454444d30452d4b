"""The catalog in CHECKS.md order, and the functions that run it: ``evaluate`` a seat,
``readiness_of`` its results, ``fix_for`` a failing check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from . import agent, audio, chrome, os_mic
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

NO_REPORT = "no report from this seat yet"


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC: the server stores UTC and agents report it."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def get_check(check_id: str) -> Check:
    return _BY_ID[check_id]


def fix_for(check_id: str, os: str) -> Fix:
    """Steps for the person at the seat and a note for IT. KeyError for an unknown check,
    ValueError for an OS other than 'windows', 'macos', 'linux'."""
    check = get_check(check_id)
    if os not in OS_NAMES:
        raise ValueError(f"os: expected one of {', '.join(OS_NAMES)}, got {os!r}")
    return check.fixes[os]


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
