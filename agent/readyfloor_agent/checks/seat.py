"""A read-only view of one seat's facts that never trusts their shape.

Facts arrive from agents of any version, through spools and replays; the schema validates them
on the server, but the agent's self-check and old stored snapshots do not pass that gate. Every
accessor here returns a safe empty value for a missing or mistyped field, so a judge can ask
plain questions and an odd report becomes "unknown", never an exception.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model import OS_NAMES

GROUP_LABELS = {
    "host": "the host details",
    "chrome": "Chrome's settings",
    "chrome.policy": "Chrome's managed policy",
    "audio": "the audio devices",
}
OS_MIC_LABELS = {
    "windows": "the Windows microphone privacy settings",
    "macos": "Chrome's TCC permission",
    "linux": "the microphone permissions",
}


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in as_list(value) if isinstance(item, dict)]


@dataclass(frozen=True)
class GroupStatus:
    """Whether a fact group can be used: ``state`` is 'ok', 'unknown' or 'n/a'."""

    state: str
    reason: str


class Seat:
    def __init__(
        self,
        facts: Mapping[str, Any],
        *,
        last_seen: dt.datetime | None = None,
        now: dt.datetime | None = None,
        browser: str = "chrome",
    ) -> None:
        self.facts = facts
        self.last_seen = last_seen
        self.now = now
        # Which Chromium-family browser the "chrome" group (and macOS's chrome_tcc) describes.
        self.browser = browser

    def for_browser(self, browser: str) -> Seat:
        """The same seat, its browser facts those of ``browser`` ('chrome', 'chromium', 'edge'):
        every Chrome check then judges that browser with the same rules."""
        if browser == "chrome":
            return Seat(self.facts, last_seen=self.last_seen, now=self.now, browser=browser)
        facts = dict(self.facts)
        group = as_dict(self.facts.get("browsers")).get(browser)
        if isinstance(group, dict):
            facts["chrome"] = group
        else:
            # A report from an agent that did not read this browser: nothing is known of it.
            facts.pop("chrome", None)
        os_mic = as_dict(self.facts.get("os_mic"))
        if "chrome_tcc" in os_mic:
            tcc = os_mic.get("browsers_tcc")
            replaced = {**os_mic, "chrome_tcc": as_dict(tcc).get(browser), "tcc_db": None}
            if os_mic.get("status") == "ok" and not isinstance(tcc, dict):
                # An agent from before it read the other browsers' permissions.
                replaced.update(status="unknown", reason="the report has no permission for this browser")
            facts["os_mic"] = replaced
        return Seat(facts, last_seen=self.last_seen, now=self.now, browser=browser)

    # --- groups -------------------------------------------------------------------------
    @property
    def os(self) -> str | None:
        value = as_dict(self.facts.get("host")).get("os")
        return value if value in OS_NAMES else None

    def group(self, name: str) -> dict[str, Any]:
        if name == "chrome.policy":
            return as_dict(self.group("chrome").get("policy"))
        return as_dict(self.facts.get(name))

    def group_label(self, name: str) -> str:
        if name == "os_mic":
            return OS_MIC_LABELS.get(self.os or "", "the operating system's microphone permissions")
        return GROUP_LABELS.get(name, f"the {name} facts")

    def group_status(self, name: str) -> GroupStatus:
        label = self.group_label(name)
        if name == "chrome.policy":
            # No policy block means no managed policy was found, which is an answer, not a gap.
            if as_dict(self.facts.get("chrome")).get("policy") is None:
                return GroupStatus("ok", "")
        elif name not in self.facts:
            return GroupStatus("unknown", f"The report has no facts about {label}")
        group = self.group(name)
        if not group:
            return GroupStatus("unknown", f"The report's facts about {label} are not readable")
        status = group.get("status")
        reason = as_str(group.get("reason")) or ""
        if status == "ok":
            return GroupStatus("ok", "")
        if status == "n/a":
            return GroupStatus("n/a", reason or f"{label[0].upper()}{label[1:]} do not exist on this system")
        if status == "unknown":
            why = reason.rstrip(".") or "the agent gave no reason"
            return GroupStatus("unknown", f"Could not read {label}: {why}")
        return GroupStatus("unknown", f"The report's facts about {label} have no valid status")

    # --- chrome ---------------------------------------------------------------------------
    @property
    def chrome(self) -> dict[str, Any]:
        return self.group("chrome")

    @property
    def chrome_policy(self) -> dict[str, Any]:
        policy = self.group("chrome.policy")
        return policy if policy.get("status") == "ok" else {}

    def profiles(self) -> list[dict[str, Any]]:
        return [p for p in dicts(self.chrome.get("profiles")) if isinstance(p.get("dir"), str)]

    def judged_profile_dir(self) -> str:
        """The profile a person actually uses: the one Chrome's Local State names last used,
        else the one flagged last_used, else Chrome's first profile, 'Default'."""
        named = as_str(self.chrome.get("last_used_profile"))
        if named:
            return named
        for profile in self.profiles():
            if profile.get("last_used") is True:
                return profile["dir"]
        return "Default"

    def profile(self, directory: str) -> dict[str, Any] | None:
        for profile in self.profiles():
            if profile["dir"] == directory:
                return profile
        return None

    # --- audio ----------------------------------------------------------------------------
    def inputs(self) -> list[dict[str, Any]]:
        return [
            item
            for item in dicts(self.group("audio").get("inputs"))
            if isinstance(item.get("name"), str) and isinstance(item.get("id"), str)
        ]

    def holders(self) -> list[dict[str, Any]] | None:
        value = self.group("audio").get("holders")
        if value is None:
            return None
        if not isinstance(value, list):
            return None
        return [h for h in value if isinstance(h, dict) and isinstance(h.get("app"), str)]


def profile_label(profile: Mapping[str, Any] | None, directory: str) -> str:
    """``Chrome profile 'Default'`` or ``Chrome profile 'Work' (Profile 1)``."""
    name = as_str(profile.get("name")) if profile else None
    # Without Chrome's Local State the profile in use was inferred: say so wherever it is named.
    inferred = {
        "file_time": "the most recently used, as Local State could not be read",
        "default": "Chrome's first profile, as Local State could not be read",
    }.get(as_str(profile.get("last_used_by")) or "" if profile else "")
    if name and name != directory:
        return f"Chrome profile '{name}' ({directory}" + (f"; {inferred})" if inferred else ")")
    return f"Chrome profile '{directory}'" + (f" ({inferred})" if inferred else "")
