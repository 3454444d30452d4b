"""Floors of seated workstations with stored facts, built straight in the database (no
HTTP): for tests about judging many seats, where the agent API is not the subject."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from readyfloor_agent.report import facts_hash

from server.fleet.models import Device, FactSnapshot, Floor, Seat
from tests.server.reports import healthy_facts


def seated_devices(
    floor: Floor, count: int, facts: dict[str, Any] | None = None, seen: dt.datetime | None = None
) -> list[Device]:
    """`count` new seats on `floor`, each with a workstation that reported `facts`."""
    facts = facts if facts is not None else healthy_facts()
    seen = seen or timezone.now()
    digest = facts_hash(facts)
    snapshot, _ = FactSnapshot.objects.get_or_create(sha256=digest, defaults={"facts": facts})
    first = Seat.objects.filter(floor=floor).count()
    seats = Seat.objects.bulk_create(
        Seat(floor=floor, label=f"S-{first + n:05d}", row=(first + n) // 20, column=(first + n) % 20)
        for n in range(count)
    )
    return Device.objects.bulk_create(
        Device(
            site=floor.site,
            host_identifier=f"{floor.pk}-{seat.label}",
            hostname=f"host-{floor.pk}-{seat.label}",
            os="linux",
            seat=seat,
            current_facts=snapshot,
            facts_hash=digest,
            facts_collected_at=seen,
            last_seen_at=seen,
        )
        for seat in seats
    )
