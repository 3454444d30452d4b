"""The check catalog: pure functions from (facts, policy) to results.

The server's evaluation jobs and the agent's self-check both call ``evaluate`` so that a seat
and the dashboard never disagree. No Django, no I/O, no clock unless ``now`` is left out.

    results = evaluate(facts, Policy.from_dict(config), last_seen=seat.last_seen, now=now)
    readiness_of(results)            # Readiness.NOT_READY
    fix_for("chrome.mic.site", "windows").steps
"""

from __future__ import annotations

from .catalog import CATALOG, evaluate, fix_for, get_check, readiness_of, title_for
from .model import Check, CheckResult, Fix, Policy, Readiness, State

__all__ = [
    "CATALOG",
    "Check",
    "CheckResult",
    "Fix",
    "Policy",
    "Readiness",
    "State",
    "evaluate",
    "fix_for",
    "get_check",
    "readiness_of",
    "title_for",
]
