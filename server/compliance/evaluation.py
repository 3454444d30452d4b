"""Judging seats: the catalog applied to a device's current facts under its seat's policy.

Every function here is safe to run twice: it evaluates the device's *current* state under
a row lock, upserts results, and writes a SeatEvent only when the readiness really changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb
from readyfloor_agent import checks

from server.compliance import governing
from server.compliance.models import CheckResult, Policy, SeatEvent
from server.fleet import rawsql
from server.fleet.models import CheckIn, Device, FactSnapshot, Readiness, Seat

log = logging.getLogger(__name__)


def evaluate_device(device_id: int, now: dt.datetime | None = None) -> Readiness | None:
    """Re-judge one device and its seat. Returns the seat's readiness (None if unseated)."""
    with transaction.atomic():
        return _evaluate_locked(device_id, now or timezone.now())


def _evaluate_locked(device_id: int, now: dt.datetime) -> Readiness | None:
    """evaluate_device's work, inside the caller's transaction, under the device's row lock."""
    loaded = _load_for_judging(device_id)
    if loaded is None:
        return None
    device, facts, policy = loaded
    results = checks.evaluate(facts, policy.to_catalog(), last_seen=device.last_seen_at, now=now)
    _store_results(device, results, now)
    if device.seat_id is None:
        return None
    readiness = Readiness(checks.readiness_of(results).value)
    set_seat_readiness(Seat(pk=device.seat_id), readiness, results, device, now)
    return readiness


def _load_for_judging(device_id: int) -> tuple[Device, dict[str, Any] | None, Policy] | None:
    """The device (locked), its current facts and the policy that governs it, in one prepared
    statement: through the ORM these were three queries whose building cost the worker more
    CPU than the checks themselves."""
    row = rawsql.fetch_one_prepared(_judging_sql(), {"device": device_id})
    if row is None:
        return None
    device_width, policy_width = len(Device._meta.concrete_fields), len(Policy._meta.concrete_fields)
    device = rawsql.instance_from_row(Device, row[:device_width])
    facts_text = row[device_width]
    facts = json.loads(facts_text) if isinstance(facts_text, str) else facts_text
    policy_values = row[device_width + 1 : device_width + 1 + policy_width]
    policy = (
        rawsql.instance_from_row(Policy, policy_values)
        if policy_values[0] is not None
        else governing.built_in_default()
    )
    return device, facts, policy


@functools.lru_cache(maxsize=1)
def _judging_sql() -> str:
    return governing.device_sql(
        f"{rawsql.columns_of(Device, 'd')}, snapshot.facts, {rawsql.columns_of(Policy, 'governing')}",
        where="d.id = %(device)s",
        joins=f"LEFT JOIN {FactSnapshot._meta.db_table} snapshot ON snapshot.id = d.current_facts_id",
        lock="FOR UPDATE OF d",
    )


def _store_results(device: Device, results: list[checks.CheckResult], now: dt.datetime) -> None:
    """Upsert the device's results in one statement, writing only rows whose verdict changed.

    Plain SQL on purpose: Django's bulk_update builds a CASE expression per field per row and
    was most of the worker's CPU (bench/ingest), and ON CONFLICT ... WHERE lets PostgreSQL skip
    the unchanged rows (most evaluations change one or two checks) without reading them first.
    `since` moves only when the state changes; `evaluated_at` is when the row last changed
    (the seat's `evaluated_at` says when it was last judged)."""
    if not results:
        return
    table = CheckResult._meta.db_table
    params: list[Any] = []
    for result in results:
        params += [
            device.pk,
            result.check_id,
            result.state.value,
            result.severity,
            result.reason,
            Jsonb(result.evidence),
            now,
            now,
        ]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(results))
    rawsql.fetch_one_prepared(
        f"""
            INSERT INTO {table} AS r
                (device_id, check_id, state, severity, reason, evidence, since, evaluated_at)
            VALUES {values}
            ON CONFLICT (device_id, check_id) DO UPDATE SET
                state = EXCLUDED.state,
                severity = EXCLUDED.severity,
                reason = EXCLUDED.reason,
                evidence = EXCLUDED.evidence,
                since = CASE WHEN r.state = EXCLUDED.state THEN r.since ELSE EXCLUDED.since END,
                evaluated_at = EXCLUDED.evaluated_at
            WHERE (r.state, r.severity, r.reason, r.evidence)
                IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.severity, EXCLUDED.reason, EXCLUDED.evidence)
            RETURNING r.id
            """,
        params,
    )


def failing_summary(results: list[checks.CheckResult]) -> list[dict[str, Any]]:
    """The results that keep a seat from READY, worst first, as stored on the seat."""
    failing = [r for r in results if r.state.needs_fix]
    failing.sort(key=lambda r: (-r.state.rank, r.severity != "critical", r.check_id))
    return [
        {"check_id": r.check_id, "state": r.state.value, "severity": r.severity, "reason": r.reason}
        for r in failing
    ]


def set_seat_readiness(
    seat: Seat,
    readiness: Readiness,
    results: list[checks.CheckResult] | None,
    device: Device | None,
    now: dt.datetime,
) -> bool:
    """Store a seat's readiness; write an event only for a real transition. True if it changed.

    One statement locks the seat, stores the verdict and returns the readiness it replaced
    (the ORM needed a locking read and a save): every evaluation passes here, and only the
    rare real transition adds the event row."""
    failing = failing_summary(results) if results is not None else []
    row = rawsql.fetch_one_prepared(
        _SEAT_VERDICT_SQL.format(seat=Seat._meta.db_table),
        {"seat": seat.pk, "readiness": readiness.value, "failing": Jsonb(failing), "now": now},
    )
    if row is None:
        return False  # the seat was deleted meanwhile
    before = row[0]
    if before == readiness:
        return False
    SeatEvent.objects.create(
        seat_id=seat.pk,
        device=device,
        at=now,
        from_readiness=before,
        to_readiness=readiness,
        reason=failing[0]["reason"] if failing else _quiet_reason(readiness),
        failing=failing,
    )
    return True


_SEAT_VERDICT_SQL = """
    WITH before AS (SELECT id, readiness FROM {seat} WHERE id = %(seat)s FOR UPDATE)
    UPDATE {seat} seat SET
        readiness = %(readiness)s::varchar,
        readiness_since = CASE WHEN before.readiness = %(readiness)s::varchar THEN seat.readiness_since
                               ELSE %(now)s END,
        failing = %(failing)s,
        evaluated_at = %(now)s
    FROM before WHERE seat.id = before.id
    RETURNING before.readiness
"""


def _quiet_reason(readiness: Readiness) -> str:
    return {
        Readiness.READY: "every check passes",
        Readiness.UNKNOWN: "no workstation reports from this seat",
    }.get(readiness, readiness.label)


def evaluate_checkin(checkin_id: int) -> None:
    """Judge the device of a check-in, and mark the check-in evaluated in the same
    transaction: a verdict and its `evaluated_at` are stored together or not at all."""
    with transaction.atomic():
        now = timezone.now()
        row = rawsql.fetch_one_prepared(
            f"UPDATE {CheckIn._meta.db_table} SET evaluated_at = COALESCE(evaluated_at, %(now)s)"
            " WHERE id = %(checkin)s RETURNING device_id",
            {"now": now, "checkin": checkin_id},
        )
        if row is not None:
            _evaluate_locked(row[0], now)


def silent_devices(now: dt.datetime) -> list[int]:
    """Seated devices that may have gone past their freshness window but are not yet OFFLINE."""
    shortest_window = min(
        [p.freshness_s for p in Policy.objects.all()] + [Policy().freshness_s],
    )
    cutoff = now - dt.timedelta(seconds=shortest_window)
    return list(
        Device.objects.filter(seat__isnull=False)
        .filter(Q(last_seen_at__lt=cutoff) | Q(last_seen_at=None))
        .exclude(seat__readiness=Readiness.OFFLINE)
        .values_list("pk", flat=True)
    )


def stale_checkins(now: dt.datetime) -> list[int]:
    cutoff = now - dt.timedelta(seconds=settings.READYFLOOR_REQUEUE_AFTER_S)
    return list(
        CheckIn.objects.filter(evaluated_at=None, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:5000]
    )


def unseat_empty_seats(now: dt.datetime) -> int:
    """Seats left without a device (it moved or was deleted) read UNKNOWN, with an event."""
    count = 0
    for seat in Seat.objects.filter(device__isnull=True).exclude(readiness=Readiness.UNKNOWN):
        with transaction.atomic():
            count += set_seat_readiness(seat, Readiness.UNKNOWN, None, None, now)
    return count


def reevaluate_policy_scope(policy: Policy) -> list[int]:
    """Devices whose verdict may change because `policy` changed."""
    devices = Device.objects.filter(seat__isnull=False)
    if policy.floor_id:
        devices = devices.filter(seat__floor_id=policy.floor_id)
    elif policy.site_id:
        devices = devices.filter(seat__floor__site_id=policy.site_id)
    return list(devices.values_list("pk", flat=True))
