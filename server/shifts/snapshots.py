"""Snapshots at shift start, and the shorter report interval of a floor about to start a shift."""

from __future__ import annotations

import datetime as dt
import threading
import time

from django.db import transaction
from django.utils import timezone

from server.acknowledgements.acknowledging import AcknowledgedFailures, acknowledged_failures
from server.fleet.models import Readiness
from server.shifts import schedule
from server.shifts.models import Shift, ShiftSnapshot, ShiftSnapshotSeat

# A start is snapshotted when the job first runs after it, as long as that is within this
# window: beat may be down for a few minutes (a deploy) without losing the 08:00 record, but
# a snapshot taken hours late would not show the floor as the shift began.
CATCH_UP = dt.timedelta(minutes=15)


def take_due_snapshots(now: dt.datetime | None = None) -> list[ShiftSnapshot]:
    """Snapshot every shift that started within CATCH_UP and has no snapshot of that start yet."""
    now = now or timezone.now()
    taken = []
    for shift in Shift.objects.select_related("floor__site"):
        start = schedule.last_start(
            starts=shift.starts_at,
            ends=shift.ends_at,
            weekdays=shift.weekdays,
            zone=shift.zone,
            now=now,
            within=CATCH_UP,
        )
        if start is None or ShiftSnapshot.objects.filter(shift=shift, starts_at=start).exists():
            continue
        snapshot = take_snapshot(shift, start, now)
        if snapshot is not None:
            taken.append(snapshot)
    return taken


def take_snapshot(shift: Shift, starts_at: dt.datetime, now: dt.datetime) -> ShiftSnapshot | None:
    """Record the shift's seats as they are now; None when that start is already recorded.

    The unique (shift, starts_at) constraint makes two beat processes, or a job retried after
    a crash, record a start once: the loser's insert fails and its transaction rolls back."""
    with transaction.atomic():
        snapshot, created = ShiftSnapshot.objects.get_or_create(
            shift=shift,
            starts_at=starts_at,
            defaults={"floor_id": shift.floor_id, "shift_name": shift.name, "taken_at": now},
        )
        if not created:
            return None
        # What was acknowledged at the start, in one query for the floor: the reports tell a
        # known, accepted failure from a surprise.
        in_force = acknowledged_failures(shift.floor_id, now)
        rows = [
            ShiftSnapshotSeat(
                snapshot=snapshot,
                seat_id=seat["id"],
                seat_label=seat["label"],
                team=seat["team"],
                readiness=seat["readiness"],
                readiness_since=seat["readiness_since"],
                failing=seat["failing"],
                acknowledged=_acknowledged(in_force, seat["id"], seat["failing"]),
            )
            for seat in shift.seat_queryset().values(
                "id", "label", "team", "readiness", "readiness_since", "failing"
            )
        ]
        ShiftSnapshotSeat.objects.bulk_create(rows, batch_size=1000)
        counts = {readiness.value: 0 for readiness in Readiness}
        for row in rows:
            counts[row.readiness] = counts.get(row.readiness, 0) + 1
        snapshot.seats_total = len(rows)
        snapshot.acknowledged = sum(
            1
            for row in rows
            if row.readiness != Readiness.READY and in_force.covers(row.seat_id, row.failing or [])
        )
        for readiness in Readiness:
            setattr(snapshot, readiness.value, counts[readiness.value])
        snapshot.save()
    return snapshot


def _acknowledged(in_force: AcknowledgedFailures, seat_id: int, failing: list[dict]) -> list[dict]:
    rows = []
    for item in failing or []:
        check_id = str(item.get("check_id", ""))
        ack = in_force.for_check(seat_id, check_id)
        if ack is not None:
            rows.append(
                {
                    "check_id": check_id,
                    "acknowledgement": ack.pk,
                    "reason": ack.reason,
                    "until": ack.expires_at.isoformat(),
                    "floor_wide": ack.seat_id is None,
                }
            )
    return rows


def lead_time_intervals(now: dt.datetime | None = None) -> dict[int, int]:
    """{floor id: seconds} for floors in a shift's lead time: how often their agents should report."""
    now = now or timezone.now()
    intervals: dict[int, int] = {}
    for shift in Shift.objects.select_related("floor__site"):
        occurrence = shift.occurrence(now)
        if occurrence is not None and occurrence.in_lead_time(now):
            intervals[shift.floor_id] = min(
                intervals.get(shift.floor_id, shift.lead_interval_s), shift.lead_interval_s
            )
    return intervals


class LeadTimeCache:
    """lead_time_intervals() kept per process for a short while: the check-in answer asks on
    every report, and shifts change by the minute, not by the request."""

    def __init__(self, ttl_s: float = 20.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._until = 0.0
        self._intervals: dict[int, int] = {}

    def interval_for(self, floor_id: int | None, default_s: int) -> int:
        if floor_id is None:
            return default_s
        with self._lock:
            if time.monotonic() >= self._until:
                self._intervals = lead_time_intervals()
                self._until = time.monotonic() + self.ttl_s
            faster = self._intervals.get(floor_id)
        return min(default_s, faster) if faster is not None else default_s

    def clear(self) -> None:
        with self._lock:
            self._until = 0.0


lead_time = LeadTimeCache()
