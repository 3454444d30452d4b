"""What a check is, what it answers, and the policy it is judged against.

Plain data with JSON round trips: the server stores results and serves policy to agents, the
agent rebuilds both, and nothing here knows about Django or the network.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from .urlpattern import Origin

OS_NAMES = ("windows", "macos", "linux")
# The Chromium-family browsers a softphone may run in (details in checks/browsers.py).
BROWSER_NAMES = ("chrome", "chromium", "edge")
OS_LABELS = {"windows": "Windows", "macos": "macOS", "linux": "Linux"}
SEVERITIES = ("critical", "warning")


class State(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NA = "n/a"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """Worse is higher: a failure, then what could not be read, then a warning."""
        return _STATE_RANK[self]

    @property
    def needs_fix(self) -> bool:
        """The states that keep a seat from READY and get fix steps."""
        return self in (State.FAIL, State.UNKNOWN, State.WARN)

    @classmethod
    def worst_first(cls) -> tuple[State, ...]:
        """The order results are listed in, for the person at the seat and for IT."""
        return _STATES_WORST_FIRST


class Readiness(str, enum.Enum):
    """A seat's verdict. The one place its orderings are written: every roll-up, list, chart
    and exit code takes them from here instead of spelling its own."""

    READY = "ready"
    AT_RISK = "at_risk"
    NOT_READY = "not_ready"
    OFFLINE = "offline"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return _READINESS_LABELS[self]

    @property
    def rank(self) -> int:
        """Worse is higher, for "worst seat on the floor" roll-ups: the precedence
        ``readiness_of`` applies (a silent seat says nothing about its checks, so OFFLINE
        outranks the NOT READY it may have been before going silent)."""
        return _READINESS_RANK[self]

    @classmethod
    def worst_first(cls) -> tuple[Readiness, ...]:
        """The order people see seats in (tiles, charts, lists): what blocks calls *now*
        comes first. NOT READY leads because a reporting seat with a failing check is
        certain to fail a call and has fix steps; an OFFLINE seat may just be switched off.
        This is the only place where it differs from ``rank``, on purpose."""
        return _READINESS_WORST_FIRST

    @property
    def attention(self) -> int:
        """Position in ``worst_first``: sort seats by it to list the worst first."""
        return _READINESS_WORST_FIRST.index(self)


_READINESS_RANK = {
    Readiness.READY: 0,
    Readiness.AT_RISK: 1,
    Readiness.UNKNOWN: 2,
    Readiness.NOT_READY: 3,
    Readiness.OFFLINE: 4,
}
_READINESS_WORST_FIRST = (
    Readiness.NOT_READY,
    Readiness.OFFLINE,
    Readiness.UNKNOWN,
    Readiness.AT_RISK,
    Readiness.READY,
)
_READINESS_LABELS = {
    Readiness.READY: "Ready",
    Readiness.AT_RISK: "At risk",
    Readiness.NOT_READY: "Not ready",
    Readiness.OFFLINE: "Offline",
    Readiness.UNKNOWN: "Unknown",
}
_STATES_WORST_FIRST = (State.FAIL, State.UNKNOWN, State.WARN, State.PASS, State.NA)
_STATE_RANK = {state: len(_STATES_WORST_FIRST) - index for index, state in enumerate(_STATES_WORST_FIRST)}


@dataclass(frozen=True)
class Fix:
    """How to put it right: ``steps`` for the person at the seat, ``it_note`` for whoever can
    fix every seat at once."""

    steps: tuple[str, ...]
    it_note: str

    def to_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "it_note": self.it_note}

    def naming(self, origins: Iterable[str]) -> Fix:
        """The same steps with the softphone named by the site the policy gives, so the person at
        the seat reads "the softphone page (acme.my.salesforce.com)" instead of an example."""
        hosts = [origin.host for origin in (Origin.parse(text) for text in origins) if origin is not None]
        if not hosts:
            return self
        named = f"the softphone page ({' or '.join(hosts)})"
        return Fix(tuple(_SOFTPHONE_PAGE.sub(named, step) for step in self.steps), self.it_note)


_SOFTPHONE_PAGE = re.compile(r"the softphone page(?: \(for example your Salesforce or HubSpot tab\))?")


@dataclass(frozen=True)
class Verdict:
    """What a check's judge returns; ``evaluate`` adds the check id and severity."""

    state: State
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Check:
    """One question asked of every seat. Declared as data: ``reads`` names the fact paths it
    looks at (``chrome.profiles[].mic_exceptions``) so the server can show why a check is
    unknown and tests can hold the catalog to the schema."""

    id: str
    title: str
    area: str
    platforms: tuple[str, ...]
    severity: str
    reads: tuple[str, ...]
    description: str
    judge: Callable[..., Verdict] = field(repr=False)
    fixes: Mapping[str, Fix] = field(repr=False, default_factory=dict)
    # Returns a reason when the policy makes the check pointless (no CTI origins, ...).
    not_applicable: Callable[[Policy], str | None] | None = field(repr=False, default=None)

    @property
    def groups(self) -> tuple[str, ...]:
        """The fact groups (each with its own status) this check depends on, in reading order."""
        seen: list[str] = []
        for path in self.reads:
            group = "chrome.policy" if path.startswith("chrome.policy.") else path.split(".", 1)[0]
            if group not in seen:
                seen.append(group)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "area": self.area,
            "platforms": list(self.platforms),
            "severity": self.severity,
            "reads": list(self.reads),
            "description": self.description,
        }


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    state: State
    reason: str
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict, compare=True)

    def __hash__(self) -> int:
        return hash((self.check_id, self.state, self.reason, self.severity))

    @property
    def no_report(self) -> bool:
        """The seat has never sent facts, so nothing could be judged."""
        return bool(self.evidence.get("no_report"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "state": self.state.value,
            "reason": self.reason,
            "severity": self.severity,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        if not isinstance(data, Mapping):
            raise ValueError("check result: expected an object")
        for key in ("check_id", "reason", "severity"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"{key}: expected a string")
        try:
            state = State(data.get("state"))
        except ValueError:
            raise ValueError(f"state: {data.get('state')!r} is not a check state") from None
        evidence = data.get("evidence", {})
        if not isinstance(evidence, Mapping):
            raise ValueError("evidence: expected an object")
        return cls(data["check_id"], state, data["reason"], data["severity"], dict(evidence))


class SeverityMap(Mapping[str, str]):
    """Read-only check id -> severity mapping that can live in a frozen, hashable Policy."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterator[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __repr__(self) -> str:
        return repr(self._items)


@dataclass(frozen=True)
class Policy:
    """What a floor expects of its seats. Set centrally; served to agents as ``to_dict()``."""

    cti_origins: tuple[str, ...] = ()
    notifications_required: bool = True
    min_chrome_major: int | None = None
    approved_headsets: tuple[str, ...] = ()
    freshness_s: int = 900
    disabled_checks: tuple[str, ...] = ()
    severities: Mapping[str, str] = field(default_factory=SeverityMap)
    # The browser(s) the softphone runs in; with several, every one installed on a seat is judged.
    browsers: tuple[str, ...] = ("chrome",)

    def __post_init__(self) -> None:
        # Accept lists and plain dicts from callers, store immutable forms, reject nonsense early
        # so a bad policy is refused when it is saved, not when a seat is judged.
        for name in ("cti_origins", "approved_headsets", "disabled_checks", "browsers"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise ValueError(f"{name}: expected a list of strings")
            if not all(isinstance(item, str) for item in value):
                raise ValueError(f"{name}: expected a list of strings")
            object.__setattr__(self, name, tuple(value))
        for origin in self.cti_origins:
            if Origin.parse(origin) is None:
                raise ValueError(
                    f"cti_origins: {origin!r} is not a web origin like https://acme.my.salesforce.com"
                )
        if not self.browsers:
            raise ValueError(f"browsers: name at least one of {', '.join(BROWSER_NAMES)}")
        for browser in self.browsers:
            if browser not in BROWSER_NAMES:
                raise ValueError(f"browsers: {browser!r} is not one of {', '.join(BROWSER_NAMES)}")
        if len(set(self.browsers)) != len(self.browsers):
            raise ValueError("browsers: a browser is named twice")
        for pattern in self.approved_headsets:
            if not pattern.strip():
                raise ValueError("approved_headsets: empty entry")
        if not isinstance(self.notifications_required, bool):
            raise ValueError("notifications_required: expected true or false")
        if self.min_chrome_major is not None and (
            isinstance(self.min_chrome_major, bool)
            or not isinstance(self.min_chrome_major, int)
            or self.min_chrome_major < 1
        ):
            raise ValueError("min_chrome_major: expected a positive whole number or null")
        if (
            isinstance(self.freshness_s, bool)
            or not isinstance(self.freshness_s, int)
            or self.freshness_s < 1
        ):
            raise ValueError("freshness_s: expected a positive number of seconds")
        severities = self.severities
        if not isinstance(severities, Mapping):
            raise ValueError("severities: expected an object of check id to 'critical' or 'warning'")
        for key, value in severities.items():
            if not isinstance(key, str) or value not in SEVERITIES:
                raise ValueError(f"severities: {key!r} must map to 'critical' or 'warning'")
        if not isinstance(severities, SeverityMap):
            object.__setattr__(self, "severities", SeverityMap(severities))

    def severity_of(self, check: Check) -> str:
        return self.severities.get(check.id, check.severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cti_origins": list(self.cti_origins),
            "notifications_required": self.notifications_required,
            "min_chrome_major": self.min_chrome_major,
            "approved_headsets": list(self.approved_headsets),
            "freshness_s": self.freshness_s,
            "disabled_checks": list(self.disabled_checks),
            "severities": dict(sorted(self.severities.items())),
            "browsers": list(self.browsers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Policy:
        """Missing keys take their defaults and unknown keys are ignored (a newer server may
        send more than an older agent knows); a key of the wrong type is a ValueError naming it."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError("policy: expected an object")
        kwargs: dict[str, Any] = {}
        for name in ("cti_origins", "approved_headsets", "disabled_checks", "browsers"):
            if name in data:
                value = data[name]
                if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name}: expected a list of strings")
                kwargs[name] = tuple(value)
        if "notifications_required" in data:
            kwargs["notifications_required"] = data["notifications_required"]
        if "min_chrome_major" in data:
            kwargs["min_chrome_major"] = data["min_chrome_major"]
        if "freshness_s" in data:
            kwargs["freshness_s"] = data["freshness_s"]
        if "severities" in data:
            value = data["severities"]
            if not isinstance(value, Mapping):
                raise ValueError("severities: expected an object of check id to 'critical' or 'warning'")
            kwargs["severities"] = SeverityMap(value)
        return cls(**kwargs)
