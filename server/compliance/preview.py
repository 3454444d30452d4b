"""What a policy change would do, before it is saved: every seat the policy would govern,
judged from its stored facts under the changed policy, counted by where it would move.

Read-only and computed from what PostgreSQL already holds (no agent is asked anything):
the same catalog, the same facts, the same report times the worker would use.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone
from readyfloor_agent import checks
from readyfloor_agent.checks.catalog import with_report_time

from server.compliance.models import Policy
from server.fleet.models import Device, FactSnapshot, Floor, Seat


@dataclass(frozen=True)
class Impact:
    """Seats the policy governs, and how many would move from one readiness to another."""

    seats: int
    moves: Mapping[tuple[str, str], int] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return self.seats - sum(self.moves.values())

    def turning(self) -> dict[str, int]:
        """How many seats would turn to each readiness (worst first), from any other."""
        counts: Counter[str] = Counter()
        for (_, after), count in self.moves.items():
            counts[after] += count
        return {r.value: counts[r.value] for r in checks.Readiness.worst_first() if counts[r.value]}

    def lines(self) -> list[str]:
        """In words: '12 seats would turn NOT READY (10 from READY, 2 from AT RISK)'."""
        if not self.seats:
            return ["This policy governs no seat with a workstation yet: saving it changes no verdict."]
        said = []
        for after, count in self.turning().items():
            sources = sorted(
                ((before, n) for (before, to), n in self.moves.items() if to == after),
                key=lambda item: (-item[1], item[0]),
            )
            whence = ", ".join(f"{n} from {_label(before)}" for before, n in sources)
            said.append(f"{_seats(count)} would turn {_label(after)} ({whence})")
        said.append(f"{_seats(self.unchanged)} would keep their readiness.")
        return said

    def to_dict(self) -> dict[str, Any]:
        return {
            "seats": self.seats,
            "unchanged": self.unchanged,
            "moves": [{"from": a, "to": b, "seats": n} for (a, b), n in sorted(self.moves.items())],
            "summary": self.lines(),
        }


def _label(value: str) -> str:
    return checks.Readiness(value).label.upper()


def _seats(count: int) -> str:
    return f"{count} seat{'s' if count != 1 else ''}"


def impact(policy: Policy, changes: Mapping[str, Any], now: dt.datetime | None = None) -> Impact:
    """What saving `policy` with `changes` (field name → new value) would do to the seats it
    would govern. Raises ValueError (naming the field) when the changed policy is invalid."""
    candidate = copy.copy(policy)
    for name, value in changes.items():
        setattr(candidate, name, value)
    catalog_policy = candidate.to_catalog()
    now = now or timezone.now()
    moves: Counter[tuple[str, str]] = Counter()
    shared: dict[int | None, list[checks.CheckResult]] = {}
    facts_of: dict[int | None, Any] = {}
    seats = 0
    for snapshot_id, facts_text, last_seen, before in _governed(candidate):
        seats += 1
        if snapshot_id not in shared:
            facts_of[snapshot_id] = json.loads(facts_text) if facts_text is not None else None
            shared[snapshot_id] = checks.evaluate(
                facts_of[snapshot_id], catalog_policy, last_seen=now, now=now
            )
        results = with_report_time(
            shared[snapshot_id], facts_of[snapshot_id], catalog_policy, last_seen=last_seen, now=now
        )
        after = checks.readiness_of(results).value
        if after != before:
            moves[(before, after)] += 1
    return Impact(seats=seats, moves=dict(moves))


def _governed(candidate: Policy) -> list[tuple[Any, ...]]:
    """(snapshot id, facts text, last seen, current readiness) of every seated device that
    `candidate` would govern once saved, by the rule of compliance.governing."""
    others = Policy.objects.exclude(pk=candidate.pk) if candidate.pk else Policy.objects.all()
    if candidate.floor_id:
        where, params = "s.floor_id = %s", [candidate.floor_id]
    elif candidate.site_id:
        floors_with_policy = list(others.filter(floor__isnull=False).values_list("floor_id", flat=True))
        where, params = (
            "f.site_id = %s AND NOT (s.floor_id = ANY(%s))",
            [candidate.site_id, floors_with_policy],
        )
    else:
        older_default = others.filter(site__isnull=True, floor__isnull=True)
        if candidate.pk:
            older_default = older_default.filter(pk__lt=candidate.pk)
        if older_default.exists():
            return []  # the oldest default governs; this one waits behind it
        floors_with_policy = list(others.filter(floor__isnull=False).values_list("floor_id", flat=True))
        sites_with_policy = list(others.filter(site__isnull=False).values_list("site_id", flat=True))
        where = "NOT (s.floor_id = ANY(%s)) AND NOT (f.site_id = ANY(%s))"
        params = [floors_with_policy, sites_with_policy]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.current_facts_id, snapshot.facts::text, d.last_seen_at, s.readiness
            FROM {Device._meta.db_table} d
            JOIN {Seat._meta.db_table} s ON s.id = d.seat_id
            JOIN {Floor._meta.db_table} f ON f.id = s.floor_id
            LEFT JOIN {FactSnapshot._meta.db_table} snapshot ON snapshot.id = d.current_facts_id
            WHERE {where}
            """,
            params,
        )
        return cursor.fetchall()
