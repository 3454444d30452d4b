"""Facts of the fixture bundles, collected once per test session."""

from __future__ import annotations

import functools
from typing import Any

from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.collectors import collect

from .fixture_bundles import ROOT

BUNDLES = sorted(path.name for path in ROOT.iterdir() if (path / "manifest.json").is_file())


@functools.cache
def facts_of(name: str) -> dict[str, Any]:
    with open_bundle(ROOT / name) as host:
        return collect(host)


def at(facts: dict[str, Any], path: str) -> Any:
    """``at(facts, "chrome.profiles.0.mic_exceptions.0.setting")``."""
    value: Any = facts
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def default_input(facts: dict[str, Any]) -> str | None:
    names = [item["name"] for item in facts["audio"]["inputs"] if item["is_default"]]
    return names[0] if names else None


def input_named(facts: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in facts["audio"]["inputs"] if item["name"] == name)


def last_used_profile(facts: dict[str, Any]) -> dict[str, Any]:
    return next(profile for profile in facts["chrome"]["profiles"] if profile["last_used"])
