"""Capture devices (which one is the default input) and who is using the microphone now."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..checks.audio import is_chrome
from ..host import Host

MAX_INPUTS = 100


def collect(host: Host, system: ModuleType) -> dict[str, Any]:
    facts = system.audio(host)
    # Every reader says whether it could list the devices at all: "no microphone" is only ever
    # concluded from a list that was read.
    facts.setdefault("enumeration", "listed" if facts.get("status") == "ok" else "failed")
    inputs = facts.setdefault("inputs", [])[:MAX_INPUTS]
    # One default at most: a source that marks two would make every "is the headset the
    # default" check ambiguous.
    defaults = [item for item in inputs if item.get("is_default")]
    for extra in defaults[1:]:
        extra["is_default"] = False
    facts["inputs"] = inputs
    holders = facts.setdefault("holders", None)
    if holders is not None:
        # Chrome holding the microphone is the softphone on a call: normal, and it starts
        # and stops with every call. Reported, it would make a seat's facts change a few
        # dozen times an hour (a full report, a new snapshot and an evaluation each time)
        # while no verdict depends on it: the checks look only at the other applications.
        facts["holders"] = [holder for holder in holders if not is_chrome(holder["app"])]
    return facts
