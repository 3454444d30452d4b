"""Capture devices (which one is the default input) and who is using the microphone now."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..host import Host

MAX_INPUTS = 100


def collect(host: Host, system: ModuleType) -> dict[str, Any]:
    facts = system.audio(host)
    inputs = facts.setdefault("inputs", [])[:MAX_INPUTS]
    # One default at most: a source that marks two would make every "is the headset the
    # default" check ambiguous.
    defaults = [item for item in inputs if item.get("is_default")]
    for extra in defaults[1:]:
        extra["is_default"] = False
    facts["inputs"] = inputs
    facts.setdefault("holders", None)
    return facts
