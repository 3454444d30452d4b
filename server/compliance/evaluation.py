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
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from readyfloor_agent import checks
from readyfloor_agent.checks.catalog import JUDGED_HOST_FACTS, with_report_time

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


@dataclass
class Shared:
    """Verdicts of seats judged at one moment, shared between seats whose judged facts
    (checks.catalog.judged_facts) and policy are the same: a floor imaged alike runs the
    catalog once. Pass one to several `judge` calls (the chunks of a bulk re-evaluation)
    to share across them; its `now` is then theirs."""

    now: dt.datetime
    results: dict[tuple[Any, ...], tuple[Any, list[checks.CheckResult]]] = field(default_factory=dict)
    policies: dict[tuple[Any, ...], tuple[Policy, checks.Policy]] = field(default_factory=dict)


def judge(
    device_ids: Sequence[int], now: dt.datetime, shared: Shared | None = None
) -> dict[int, Readiness | None]:
    """Judge `device_ids` in the caller's transaction: {device id: its seat's readiness, or
    None when unseated}. Devices that no longer exist are left out."""
    if shared is None or shared.now != now:
        shared = Shared(now)
    rows = rawsql.fetch_all_prepared(_judging_sql(), {"ids": list(device_ids)})
    if not rows:
        return {}
    device_width = len(_DeviceRow._fields)
    policy_width = len(Policy._meta.concrete_fields)
    judged: list[_Judged] = []
    verdicts: list[_Verdict] = []
    readiness_by_device: dict[int, Readiness | None] = {}

    keyed = []
    for row in rows:
        device = _DeviceRow(*row[:device_width])
        judged_key, floor_id = row[device_width : device_width + 2]
        policy_values = row[device_width + 2 : device_width + 2 + policy_width]
        policy_key = (policy_values[0], row[-1])  # id and digest of the whole row
        if policy_key not in shared.policies:
            policy = (
                rawsql.instance_from_row(Policy, policy_values)
                if policy_values[0] is not None
                else governing.built_in_default()
            )
            shared.policies[policy_key] = (policy, policy.to_catalog())
        keyed.append((device, floor_id, (judged_key, device.current_facts_id is None, policy_key)))
    # Facts are read only for the first seat of each kind: the rest share its verdicts.
    missing: dict[tuple[Any, ...], int] = {}
    for device, _, key in keyed:
        if key not in shared.results and device.current_facts_id is not None:
            missing.setdefault(key, device.current_facts_id)
    facts_of = _facts_of(set(missing.values()))
    for device, floor_id, key in keyed:
        policy, catalog_policy = shared.policies[key[2]]
        if key not in shared.results:
            facts = facts_of.get(device.current_facts_id) if device.current_facts_id is not None else None
            shared.results[key] = (facts, checks.evaluate(facts, catalog_policy, last_seen=now, now=now))
        facts, base = shared.results[key]
        # Only the report-time check is judged per seat (checks.catalog.with_report_time).
        results = with_report_time(base, facts, catalog_policy, last_seen=device.last_seen_at, now=now)
        judged.append(_Judged(device.pk, device.seat_id, floor_id, policy.current_version_id, results))
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


def _facts_of(snapshot_ids: set[int]) -> dict[int, Any]:
    if not snapshot_ids:
        return {}
    rows = rawsql.fetch_all_prepared(
        f"SELECT id, facts::text FROM {FactSnapshot._meta.db_table} WHERE id = ANY(%(ids)s)",
        {"ids": sorted(snapshot_ids)},
    )
    return {snapshot_id: json.loads(text) for snapshot_id, text in rows}


def _judged_key_sql(facts: str) -> str:
    """md5 of checks.catalog.judged_facts(facts), computed by PostgreSQL (jsonb text is
    canonical), so facts need not leave the database to be told apart."""
    host = ", ".join(f"'{key}', {facts} #> '{{host,{key}}}'" for key in JUDGED_HOST_FACTS)
    return (
        f"md5((CASE WHEN jsonb_typeof({facts}) = 'object' "
        f"THEN ({facts} - 'host') || jsonb_build_object('host', jsonb_build_object({host})) "
        f"ELSE {facts} END)::text)"
    )


@functools.lru_cache(maxsize=1)
def _judging_sql() -> str:
    # ORDER BY before FOR UPDATE: devices are always locked in id order, so a bulk chunk and
    # a check-in's evaluation never wait on each other in a cycle.
    return governing.device_sql(
        f"d.id, d.seat_id, d.current_facts_id, d.last_seen_at, {_judged_key_sql('snapshot.facts')}, "
        "s.floor_id, "
        f"{rawsql.columns_of(Policy, 'governing')}",
        where="d.id = ANY(%(ids)s)",
        joins=f"LEFT JOIN {FactSnapshot._meta.db_table} snapshot ON snapshot.id = d.current_facts_id",
        lock="ORDER BY d.id FOR UPDATE OF d",
    )


class _DeviceRow(NamedTuple):
    """What judging needs of a device: a model instance would cost more than its checks."""

    pk: int
    seat_id: int | None
    current_facts_id: int | None
    last_seen_at: dt.datetime | None


@dataclass
class _Judged:
    device_id: int
    seat_id: int | None
    floor_id: int | None
    version_id: int | None
    results: list[checks.CheckResult]


def _store_results(judged: list[_Judged], now: dt.datetime) -> None:
    """Write the results that changed, and a CheckTransition for each real change of state.

    The stored results are read first and compared here: every writer of a device's results
    holds its row lock (taken by the judging statement), so nothing changes in between, and
    only the few rows that differ travel back (on a policy change, a few per seat; in the
    steady state, the report-age check). `since` moves only when the state changes;
    `evaluated_at` is when the row last changed. A row changed at a later moment than `now`
    (a slower worker that read its clock earlier) is left alone, so history never runs
    backwards."""
    if not judged:
        return
    rows = rawsql.fetch_all_prepared(
        _STORED_RESULTS_SQL.format(results=CheckResult._meta.db_table),
        {"devices": [entry.device_id for entry in judged], "now": now},
    )
    stored = {(row[0], row[1]): row[2:] for row in rows}
    changed: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    for entry in judged:
        for result in entry.results:
            before = stored.get((entry.device_id, result.check_id))
            state = result.state.value
            if before is not None:
                old_state, severity, reason, evidence, _, changed_later = before
                if changed_later:
                    continue
                if (old_state, severity, reason) == (state, result.severity, result.reason) and (
                    _parsed_evidence(evidence) == result.evidence
                ):
                    continue
            row = {
                "device_id": entry.device_id,
                "check_id": result.check_id,
                "state": state,
                "severity": result.severity,
                "reason": result.reason,
                "evidence": result.evidence,
            }
            changed.append(row)
            if before is None or before[0] != state:
                transitions.append(
                    {
                        **row,
                        "seat_id": entry.seat_id,
                        "floor_id": entry.floor_id,
                        "from_state": before[0] if before else "",
                        "from_since": before[4] if before else None,
                        "version_id": entry.version_id,
                    }
                )
    if changed:
        # One JSON document rather than an array per column: json.dumps runs in C, while
        # psycopg quotes text arrays element by element in Python.
        rawsql.fetch_all_prepared(
            _RESULTS_SQL.format(results=CheckResult._meta.db_table),
            {"rows": json.dumps(changed), "now": now},
        )
    if transitions:
        rawsql.fetch_all_prepared(
            _TRANSITIONS_SQL.format(transitions=CheckTransition._meta.db_table),
            {"rows": json.dumps(transitions), "now": now},
        )


@functools.lru_cache(maxsize=4096)
def _parsed_evidence(text: str) -> Any:
    # Seats share most evidence texts ("{}", the same origin decision): parse each once.
    # The value is only compared, never changed, so one object can serve every seat.
    return json.loads(text)


_STORED_RESULTS_SQL = """
    -- Text and a flag rather than timestamps: parsing them was a third of this statement's cost.
    SELECT device_id, check_id, state, severity, reason, evidence::text, since::text,
           evaluated_at > %(now)s
    FROM {results} WHERE device_id = ANY(%(devices)s)
"""

_RESULTS_SQL = """
    INSERT INTO {results} AS r (device_id, check_id, state, severity, reason, evidence, since, evaluated_at)
    SELECT device_id, check_id, state, severity, reason, evidence, %(now)s, %(now)s
    FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS judged(device_id bigint, check_id text, state text, severity text, reason text, evidence jsonb)
    ON CONFLICT (device_id, check_id) DO UPDATE SET
        state = EXCLUDED.state,
        severity = EXCLUDED.severity,
        reason = EXCLUDED.reason,
        evidence = EXCLUDED.evidence,
        since = CASE WHEN r.state = EXCLUDED.state THEN r.since ELSE EXCLUDED.since END,
        evaluated_at = EXCLUDED.evaluated_at
"""

_TRANSITIONS_SQL = """
    INSERT INTO {transitions}
        (device_id, seat_id, floor_id, check_id, from_state, to_state, from_since, severity, reason,
         policy_version_id, at)
    SELECT device_id, seat_id, floor_id, check_id, from_state, state, from_since, severity, reason,
           version_id, %(now)s
    FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS changed(device_id bigint, seat_id bigint, floor_id bigint, check_id text, from_state text,
                   state text, from_since timestamptz, severity text, reason text, version_id bigint)
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
            "rows": json.dumps(
                [
                    {
                        "seat_id": v.seat_id,
                        "device_id": v.device_id,
                        "readiness": v.readiness.value,
                        "failing": v.failing,
                        "reason": _event_reason(v),
                        "policy_id": v.policy_id,
                        "version_id": v.version_id,
                    }
                    for v in verdicts
                ]
            ),
            "seats": [v.seat_id for v in verdicts],
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
        SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
            AS judged(seat_id bigint, device_id bigint, readiness text, failing jsonb, reason text,
                      policy_id bigint, version_id bigint)
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
            failing = judged.failing,
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
               judged.reason, judged.failing
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
             jsonb_array_elements(judged.failing) item
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
            # One moment per pass, so seats alike are judged once across all its chunks.
            shared = Shared(timezone.now())
            for chunk in chunks(stale, size):
                with transaction.atomic():
                    _without_waiting_for_disk()
                    judge(chunk, shared.now, shared)
                judged += len(chunk)
            previous = stale
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_BULK_LOCK])
    return judged


def _without_waiting_for_disk() -> None:
    """This transaction's commit does not wait for its WAL to reach disk. Safe for bulk
    re-judging only: a chunk lost in a crash leaves its seats on an old version, and the
    sweep judges them again; nothing an agent was told depends on it."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def judge_silent(now: dt.datetime, chunk_size: int | None = None) -> int:
    """Judge the devices that may have gone silent, in chunks; how many were judged."""
    silent = silent_devices(now)
    shared = Shared(now)
    for chunk in chunks(silent, chunk_size or settings.READYFLOOR_BULK_CHUNK):
        with transaction.atomic():
            judge(chunk, now, shared)
    return len(silent)
