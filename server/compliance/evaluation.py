"""Judging seats: the catalog applied to a device's current facts under its seat's policy.

One path judges one device (a check-in) or thousands (a policy change, the sweep): `judge`
locks the devices, reads their facts and governing policies in one statement, runs the
catalog once per distinct (facts, policy) pair, and writes results, seat readiness, seat
events and the version each verdict was made under in two set-based statements whose text
does not depend on how many devices there are (arrays, not VALUES lists), so PostgreSQL
plans each once per connection.

Every function here is safe to run twice: it evaluates the devices' *current* state under
their row locks, writes only results that changed, and a SeatEvent only when readiness
really changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from readyfloor_agent import checks
from readyfloor_agent.checks.catalog import with_report_time

from server.compliance import governing
from server.compliance.models import (
    CheckResult,
    CheckTransition,
    FloorCheckHour,
    FloorReadinessHour,
    Policy,
    SeatEvent,
    SeatVerdict,
)
from server.fleet import rawsql
from server.fleet.models import CheckIn, Device, FactSnapshot, Readiness, Seat

log = logging.getLogger(__name__)


def evaluate_device(device_id: int, now: dt.datetime | None = None) -> Readiness | None:
    """Re-judge one device and its seat. Returns the seat's readiness (None if unseated)."""
    with transaction.atomic():
        return judge([device_id], now or timezone.now()).get(device_id)


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
            judge([row[0]], now)


@dataclass
class _Verdict:
    """One seat's new verdict, on its way to the seat statement."""

    seat_id: int
    device_id: int | None
    readiness: Readiness
    failing: list[dict[str, Any]]
    policy_id: int | None
    version_id: int | None


def judge(device_ids: Sequence[int], now: dt.datetime) -> dict[int, Readiness | None]:
    """Judge `device_ids` in the caller's transaction: {device id: its seat's readiness, or
    None when unseated}. Devices that no longer exist are left out."""
    rows = rawsql.fetch_all_prepared(_judging_sql(), {"ids": list(device_ids)})
    if not rows:
        return {}
    device_width = len(Device._meta.concrete_fields)
    policy_width = len(Policy._meta.concrete_fields)
    policies: dict[int | None, tuple[Policy, checks.Policy]] = {}
    facts_by_snapshot: dict[int | None, Any] = {}
    shared: dict[tuple[int | None, int | None], list[checks.CheckResult]] = {}
    judged: list[tuple[Device, int | None, list[checks.CheckResult]]] = []
    verdicts: list[_Verdict] = []
    readiness_by_device: dict[int, Readiness | None] = {}

    for row in rows:
        device = rawsql.instance_from_row(Device, row[:device_width])
        facts_text = row[device_width]
        policy_values = row[device_width + 1 : device_width + 1 + policy_width]
        policy_id = policy_values[0]
        if policy_id not in policies:
            policy = (
                rawsql.instance_from_row(Policy, policy_values)
                if policy_id is not None
                else governing.built_in_default()
            )
            policies[policy_id] = (policy, policy.to_catalog())
        policy, catalog_policy = policies[policy_id]
        snapshot_id = device.current_facts_id
        if snapshot_id not in facts_by_snapshot:
            facts_by_snapshot[snapshot_id] = json.loads(facts_text) if facts_text is not None else None
        facts = facts_by_snapshot[snapshot_id]
        # Seats imaged alike share facts: the catalog runs once per (facts, policy) pair and
        # only the report-time check is judged per seat (checks.catalog.with_report_time).
        key = (snapshot_id, policy_id)
        if key not in shared:
            shared[key] = checks.evaluate(facts, catalog_policy, last_seen=now, now=now)
        results = with_report_time(shared[key], facts, catalog_policy, last_seen=device.last_seen_at, now=now)
        judged.append((device, policy.current_version_id, results))
        if device.seat_id is None:
            readiness_by_device[device.pk] = None
            continue
        readiness = Readiness(checks.readiness_of(results).value)
        readiness_by_device[device.pk] = readiness
        verdicts.append(
            _Verdict(
                device.seat_id,
                device.pk,
                readiness,
                failing_summary(results),
                policy.pk,
                policy.current_version_id,
            )
        )
    _store_results(judged, now)
    store_verdicts(verdicts, now)
    return readiness_by_device


@functools.lru_cache(maxsize=1)
def _judging_sql() -> str:
    # ORDER BY before FOR UPDATE: devices are always locked in id order, so a bulk chunk and
    # a check-in's evaluation never wait on each other in a cycle.
    return governing.device_sql(
        f"{rawsql.columns_of(Device, 'd')}, snapshot.facts::text, {rawsql.columns_of(Policy, 'governing')}",
        where="d.id = ANY(%(ids)s)",
        joins=f"LEFT JOIN {FactSnapshot._meta.db_table} snapshot ON snapshot.id = d.current_facts_id",
        lock="ORDER BY d.id FOR UPDATE OF d",
    )


def _store_results(
    judged: list[tuple[Device, int | None, list[checks.CheckResult]]], now: dt.datetime
) -> None:
    """Upsert every judged device's results in one statement, writing only rows whose
    verdict changed, and record each real change of state as a CheckTransition.

    Plain SQL on purpose: Django's bulk_update builds a CASE expression per field per row,
    and ON CONFLICT ... WHERE lets PostgreSQL skip the unchanged rows (most evaluations
    change one or two checks) without reading them first. `since` moves only when the state
    changes; `evaluated_at` is when the row last changed (the seat's `evaluated_at` says
    when it was last judged). A row changed at a later moment than `now` (a slower worker
    that took its clock earlier) is left alone, so history never runs backwards."""
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
    for device, version_id, results in judged:
        for result in results:
            columns[0].append(device.pk)
            columns[1].append(result.check_id)
            columns[2].append(result.state.value)
            columns[3].append(result.severity)
            columns[4].append(result.reason)
            columns[5].append(json.dumps(result.evidence))
            columns[6].append(device.seat_id)
            columns[7].append(version_id)
    if not columns[0]:
        return
    rawsql.fetch_all_prepared(
        _RESULTS_SQL.format(
            results=CheckResult._meta.db_table,
            transitions=CheckTransition._meta.db_table,
            seat=Seat._meta.db_table,
        ),
        {
            "devices": columns[0],
            "checks": columns[1],
            "states": columns[2],
            "severities": columns[3],
            "reasons": columns[4],
            "evidence": columns[5],
            "seats": columns[6],
            "versions": columns[7],
            "now": now,
        },
    )


_RESULTS_SQL = """
    WITH judged AS (
        SELECT * FROM unnest(%(devices)s::bigint[], %(checks)s::text[], %(states)s::text[],
                             %(severities)s::text[], %(reasons)s::text[], %(evidence)s::text[],
                             %(seats)s::bigint[], %(versions)s::bigint[])
            AS judged(device_id, check_id, state, severity, reason, evidence, seat_id, version_id)
    ), old AS (
        -- The rows as they were before this statement (every CTE reads the same snapshot).
        SELECT r.device_id, r.check_id, r.state, r.since FROM {results} r
        WHERE r.device_id = ANY(%(devices)s::bigint[])
    ), changed AS (
        INSERT INTO {results} AS r
            (device_id, check_id, state, severity, reason, evidence, since, evaluated_at)
        SELECT device_id, check_id, state, severity, reason, evidence::jsonb, %(now)s, %(now)s FROM judged
        ON CONFLICT (device_id, check_id) DO UPDATE SET
            state = EXCLUDED.state,
            severity = EXCLUDED.severity,
            reason = EXCLUDED.reason,
            evidence = EXCLUDED.evidence,
            since = CASE WHEN r.state = EXCLUDED.state THEN r.since ELSE EXCLUDED.since END,
            evaluated_at = EXCLUDED.evaluated_at
        WHERE (r.state, r.severity, r.reason, r.evidence)
                IS DISTINCT FROM (EXCLUDED.state, EXCLUDED.severity, EXCLUDED.reason, EXCLUDED.evidence)
          AND r.evaluated_at <= EXCLUDED.evaluated_at
        RETURNING r.device_id, r.check_id, r.state
    )
    INSERT INTO {transitions}
        (device_id, seat_id, floor_id, check_id, from_state, to_state, from_since, severity, reason,
         policy_version_id, at)
    SELECT judged.device_id, judged.seat_id, seat.floor_id, judged.check_id, COALESCE(old.state, ''),
           changed.state, old.since, judged.severity, judged.reason, judged.version_id, %(now)s
    FROM changed
    JOIN judged ON judged.device_id = changed.device_id AND judged.check_id = changed.check_id
    LEFT JOIN old ON old.device_id = changed.device_id AND old.check_id = changed.check_id
    LEFT JOIN {seat} seat ON seat.id = judged.seat_id
    WHERE old.state IS DISTINCT FROM changed.state
"""


def failing_summary(results: list[checks.CheckResult]) -> list[dict[str, Any]]:
    """The results that keep a seat from READY, worst first, as stored on the seat."""
    failing = [r for r in results if r.state.needs_fix]
    failing.sort(key=lambda r: (-r.state.rank, r.severity != "critical", r.check_id))
    return [
        {"check_id": r.check_id, "state": r.state.value, "severity": r.severity, "reason": r.reason}
        # The browser judged, when it is not Chrome, so titles and fix steps can name it.
        | ({"browser": r.evidence["browser"]} if r.evidence.get("browser", "chrome") != "chrome" else {})
        for r in failing
    ]


def store_verdicts(verdicts: list[_Verdict], now: dt.datetime) -> set[int]:
    """Store seats' readiness and the policy version each was judged under, in one
    statement; an event only for a real transition; and the floor's hourly counts moved by
    what changed. The ids of the seats whose readiness changed.

    One statement locks the seats, stores the verdicts, records the versions, adds the event
    rows of the real transitions (rare) and updates the rollups: every evaluation passes here."""
    if not verdicts:
        return set()
    rows = rawsql.fetch_all_prepared(
        _SEAT_VERDICT_SQL.format(
            seat=Seat._meta.db_table,
            event=SeatEvent._meta.db_table,
            verdict=SeatVerdict._meta.db_table,
            readiness_hour=FloorReadinessHour._meta.db_table,
            check_hour=FloorCheckHour._meta.db_table,
        ),
        {
            "seats": [v.seat_id for v in verdicts],
            "devices": [v.device_id for v in verdicts],
            "readiness": [v.readiness.value for v in verdicts],
            "failing": [json.dumps(v.failing) for v in verdicts],
            "reasons": [_event_reason(v) for v in verdicts],
            "policies": [v.policy_id for v in verdicts],
            "versions": [v.version_id for v in verdicts],
            "now": now,
            "hour": hour_of(now),
        },
    )
    return {row[0] for row in rows}


def hour_of(moment: dt.datetime) -> dt.datetime:
    """The UTC hour a moment falls in: the rollups' bucket."""
    return moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)


# A seat counts in its floor's rollups from its first verdict on, on the floor that verdict
# was made on (SeatVerdict.floor): the old (floor, readiness) and failing checks leave, the new
# ones enter, so a seat moved to another floor moves its counts with it when judged again.
_SEAT_VERDICT_SQL = """
    WITH judged AS (
        SELECT * FROM unnest(%(seats)s::bigint[], %(devices)s::bigint[], %(readiness)s::text[],
                             %(failing)s::text[], %(reasons)s::text[], %(policies)s::bigint[],
                             %(versions)s::bigint[])
            AS judged(seat_id, device_id, readiness, failing, reason, policy_id, version_id)
    ), before AS (
        SELECT seat.id, seat.readiness, seat.failing, seat.floor_id AS new_floor,
               verdict.floor_id AS old_floor, verdict.floor_id IS NOT NULL AS counted
        FROM {seat} seat LEFT JOIN {verdict} verdict ON verdict.seat_id = seat.id
        WHERE seat.id = ANY(%(seats)s::bigint[]) ORDER BY seat.id FOR UPDATE OF seat
    ), stored AS (
        UPDATE {seat} seat SET
            readiness = judged.readiness,
            readiness_since = CASE WHEN before.readiness = judged.readiness THEN seat.readiness_since
                                   ELSE %(now)s END,
            failing = judged.failing::jsonb,
            evaluated_at = %(now)s
        FROM judged JOIN before ON before.id = judged.seat_id
        WHERE seat.id = judged.seat_id
    ), versions AS (
        INSERT INTO {verdict} (seat_id, device_id, policy_id, policy_version_id, floor_id, judged_at)
        SELECT judged.seat_id, judged.device_id, judged.policy_id, judged.version_id,
               before.new_floor, %(now)s
        FROM judged JOIN before ON before.id = judged.seat_id
        ON CONFLICT (seat_id) DO UPDATE SET
            device_id = EXCLUDED.device_id,
            policy_id = EXCLUDED.policy_id,
            policy_version_id = EXCLUDED.policy_version_id,
            floor_id = EXCLUDED.floor_id,
            judged_at = EXCLUDED.judged_at
    ), events AS (
        INSERT INTO {event} (seat_id, device_id, at, from_readiness, to_readiness, reason, failing)
        SELECT judged.seat_id, judged.device_id, %(now)s, before.readiness, judged.readiness,
               judged.reason, judged.failing::jsonb
        FROM judged JOIN before ON before.id = judged.seat_id
        WHERE before.readiness <> judged.readiness
        RETURNING seat_id
    ), old_readiness AS (
        SELECT id AS seat_id, old_floor AS floor_id, readiness FROM before WHERE counted
    ), new_readiness AS (
        SELECT judged.seat_id, before.new_floor AS floor_id, judged.readiness
        FROM judged JOIN before ON before.id = judged.seat_id
    ), readiness_deltas AS (
        SELECT o.floor_id, o.readiness, -1 AS delta FROM old_readiness o
        WHERE NOT EXISTS (SELECT 1 FROM new_readiness n
                          WHERE (n.seat_id, n.floor_id, n.readiness) = (o.seat_id, o.floor_id, o.readiness))
        UNION ALL
        SELECT n.floor_id, n.readiness, 1 FROM new_readiness n
        WHERE NOT EXISTS (SELECT 1 FROM old_readiness o
                          WHERE (n.seat_id, n.floor_id, n.readiness) = (o.seat_id, o.floor_id, o.readiness))
    ), readiness_counts AS (
        INSERT INTO {readiness_hour} AS t (floor_id, hour, readiness, seats)
        SELECT d.floor_id, %(hour)s, d.readiness,
               COALESCE((SELECT h.seats FROM {readiness_hour} h
                         WHERE h.floor_id = d.floor_id AND h.readiness = d.readiness AND h.hour < %(hour)s
                         ORDER BY h.hour DESC LIMIT 1), 0) + sum(d.delta)
        FROM readiness_deltas d GROUP BY d.floor_id, d.readiness HAVING sum(d.delta) <> 0
        ON CONFLICT (floor_id, readiness, hour) DO UPDATE SET
            -- EXCLUDED.seats is the previous hour's count plus this statement's change.
            seats = t.seats + EXCLUDED.seats
                    - COALESCE((SELECT h.seats FROM {readiness_hour} h
                                WHERE h.floor_id = EXCLUDED.floor_id AND h.readiness = EXCLUDED.readiness
                                  AND h.hour < EXCLUDED.hour
                                ORDER BY h.hour DESC LIMIT 1), 0)
    ), old_failing AS (
        SELECT before.id AS seat_id, before.old_floor AS floor_id, item->>'check_id' AS check_id
        FROM before, jsonb_array_elements(before.failing) item
        WHERE before.counted AND item->>'state' = 'fail'
    ), new_failing AS (
        SELECT judged.seat_id, before.new_floor AS floor_id, item->>'check_id' AS check_id
        FROM judged JOIN before ON before.id = judged.seat_id,
             jsonb_array_elements(judged.failing::jsonb) item
        WHERE item->>'state' = 'fail'
    ), check_deltas AS (
        SELECT o.floor_id, o.check_id, -1 AS delta FROM old_failing o
        WHERE NOT EXISTS (SELECT 1 FROM new_failing n
                          WHERE (n.seat_id, n.floor_id, n.check_id) = (o.seat_id, o.floor_id, o.check_id))
        UNION ALL
        SELECT n.floor_id, n.check_id, 1 FROM new_failing n
        WHERE NOT EXISTS (SELECT 1 FROM old_failing o
                          WHERE (n.seat_id, n.floor_id, n.check_id) = (o.seat_id, o.floor_id, o.check_id))
    ), check_counts AS (
        INSERT INTO {check_hour} AS t (floor_id, hour, check_id, failing_seats)
        SELECT d.floor_id, %(hour)s, d.check_id,
               COALESCE((SELECT h.failing_seats FROM {check_hour} h
                         WHERE h.floor_id = d.floor_id AND h.check_id = d.check_id AND h.hour < %(hour)s
                         ORDER BY h.hour DESC LIMIT 1), 0) + sum(d.delta)
        FROM check_deltas d GROUP BY d.floor_id, d.check_id HAVING sum(d.delta) <> 0
        ON CONFLICT (floor_id, check_id, hour) DO UPDATE SET
            failing_seats = t.failing_seats + EXCLUDED.failing_seats
                    - COALESCE((SELECT h.failing_seats FROM {check_hour} h
                                WHERE h.floor_id = EXCLUDED.floor_id AND h.check_id = EXCLUDED.check_id
                                  AND h.hour < EXCLUDED.hour
                                ORDER BY h.hour DESC LIMIT 1), 0)
    )
    SELECT seat_id FROM events
"""


def _event_reason(verdict: _Verdict) -> str:
    return verdict.failing[0]["reason"] if verdict.failing else _quiet_reason(verdict.readiness)


def _quiet_reason(readiness: Readiness) -> str:
    return {
        Readiness.READY: "every check passes",
        Readiness.UNKNOWN: "no workstation reports from this seat",
    }.get(readiness, readiness.label)


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
        .order_by("pk")
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
    empty = Seat.objects.filter(device__isnull=True).exclude(readiness=Readiness.UNKNOWN).order_by("pk")
    verdicts = [
        _Verdict(seat_id, None, Readiness.UNKNOWN, [], None, None)
        for seat_id in empty.values_list("pk", flat=True)
    ]
    with transaction.atomic():
        return len(store_verdicts(verdicts, now))


# --- seats judged under another policy version than the one in force -----------------------

# A seated device is stale when its seat has no verdict yet, or its verdict names another
# policy or policy version than the one that governs it now (a policy was saved, a worker
# read a policy just before a save committed), or another floor (the seat moved: its counts
# in the floors' rollups move when it is judged again).
_STALE_WHERE = """
    d.seat_id IS NOT NULL
    AND (verdict.seat_id IS NULL
         OR verdict.policy_id IS DISTINCT FROM governing.id
         OR verdict.policy_version_id IS DISTINCT FROM governing.current_version_id
         OR verdict.floor_id IS DISTINCT FROM s.floor_id)
"""


@functools.lru_cache(maxsize=1)
def _stale_sql() -> str:
    return governing.device_sql(
        "d.id",
        where=_STALE_WHERE,
        joins=f"LEFT JOIN {SeatVerdict._meta.db_table} verdict ON verdict.seat_id = d.seat_id",
        lock="ORDER BY d.id",
    )


def stale_devices() -> list[int]:
    """Every seated device whose verdict was made under another policy version than the one
    in force: one set-based statement, however many seats there are."""
    return [row[0] for row in rawsql.fetch_all_prepared(_stale_sql(), {})]


def chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Any constant key: it names the one bulk re-evaluation allowed to run at a time.
_BULK_LOCK = 0x52_46_42_55_4C_4B  # "RFBULK"


def reevaluate_stale(chunk_size: int | None = None, passes: int = 3) -> int:
    """Re-judge every stale seat, in chunks of `chunk_size` devices, each chunk in its own
    transaction (a worker killed midway keeps what it finished; the next sweep finds the
    rest). The number of devices judged.

    One runs at a time (a PostgreSQL advisory lock, released if the worker dies): a second
    caller returns at once, since the running one looks for stale seats again when it has
    judged the ones it found, and so also takes in versions saved while it ran."""
    size = chunk_size or settings.READYFLOOR_BULK_CHUNK
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_BULK_LOCK])
        if not cursor.fetchone()[0]:
            return 0
    judged = 0
    try:
        previous: list[int] = []
        for _ in range(passes):
            stale = stale_devices()
            if not stale or stale == previous:
                break  # none left, or none that judging can settle (a seat deleted meanwhile)
            for chunk in chunks(stale, size):
                with transaction.atomic():
                    judge(chunk, timezone.now())
                judged += len(chunk)
            previous = stale
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_BULK_LOCK])
    return judged


def judge_silent(now: dt.datetime, chunk_size: int | None = None) -> int:
    """Judge the devices that may have gone silent, in chunks; how many were judged."""
    silent = silent_devices(now)
    for chunk in chunks(silent, chunk_size or settings.READYFLOOR_BULK_CHUNK):
        with transaction.atomic():
            judge(chunk, now)
    return len(silent)
