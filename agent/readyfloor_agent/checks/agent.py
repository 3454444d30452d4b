"""Is the seat's agent still reporting? Judged by the server from when it last heard from the
seat; the agent asking about itself has nothing to judge."""

from __future__ import annotations

import datetime as dt
import re

from .model import Check, Fix, Policy, State, Verdict
from .seat import Seat


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours // 24} days"


def age_phrase(age_s: float) -> str:
    return "last report just now" if age_s < 0 else f"last report {human_duration(age_s)} ago"


# The age at the head of this check's reason, as judge_fresh words it.
_AGE = re.compile(r"^last report (?:just now|\d+ (?:s|min|days) ago|\d+ h(?: \d+ min)? ago)")


def restate_age(reason: str, last_seen: dt.datetime, now: dt.datetime) -> str:
    """The reason with its age as of `now`. A stored verdict names the age when it was judged
    ("last report 0 s ago"), which a page shown later must not repeat as if it were still true."""
    return _AGE.sub(age_phrase((now - last_seen).total_seconds()), reason, count=1)


def judge_fresh(seat: Seat, policy: Policy) -> Verdict:
    if seat.last_seen is None:
        return Verdict(State.NA, "checked on the seat itself")
    # evaluate() hands over aware UTC datetimes.
    now = seat.now or dt.datetime.now(dt.timezone.utc)
    last_seen = seat.last_seen
    age = (now - last_seen).total_seconds()
    window = human_duration(policy.freshness_s)
    evidence = {
        "last_seen": last_seen.isoformat().replace("+00:00", "Z"),
        "age_s": int(age),
        "freshness_s": policy.freshness_s,
    }
    if age > policy.freshness_s:
        return Verdict(State.FAIL, f"{age_phrase(age)} (window {window})", evidence)
    return Verdict(State.PASS, f"{age_phrase(age)} (window {window})", evidence)


_SEAT_STEPS = (
    "Make sure the computer is on, awake and connected to the network.",
    "Sign in: the ReadyFloor agent checks the seat only while someone is signed in.",
    "If the seat still shows as offline after a few minutes, restart the computer.",
    "If it keeps happening, tell IT the seat's name.",
)

FRESH_FIXES = {
    "windows": Fix(
        _SEAT_STEPS,
        "Check that the 'ReadyFloor Agent' task (Task Scheduler > ReadyFloor) runs at sign-in for this user, "
        "and the network path to the server; power plans that sleep the seat also stop reports.",
    ),
    "macos": Fix(
        _SEAT_STEPS,
        "Check the com.readyfloor.agent launchd job in the user's session (launchctl list | grep readyfloor) "
        "and the network path to the server; sleep settings also stop reports.",
    ),
    "linux": Fix(
        _SEAT_STEPS,
        "Check the user service (systemctl --user status readyfloor-agent; journalctl --user -u "
        "readyfloor-agent) and the network path to the server.",
    ),
}

CHECKS = (
    Check(
        id="agent.fresh",
        title="Seat is reporting",
        area="agent",
        platforms=("windows", "macos", "linux"),
        severity="critical",
        reads=(),
        description="The seat's agent reported within the policy's freshness window (judged by the server).",
        judge=judge_fresh,
        fixes=FRESH_FIXES,
    ),
)
