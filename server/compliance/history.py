"""Reading compliance history: since when each check fails on a seat, how long fixes take,
and a floor's readiness and failing checks hour by hour.

Everything here reads what evaluation wrote as it judged (CheckTransition rows and the
hourly rollups FloorReadinessHour / FloorCheckHour); nothing scans seats or results, so a
month of a 100k-seat fleet costs what its changes cost. Hours are UTC; pages convert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, OuterRef, QuerySet, Subquery, When
from django.utils import timezone

from server.compliance.evaluation import hour_of
from server.compliance.models import (
    CheckResult,
    CheckState,
    CheckTransition,
    FloorCheckHour,
    FloorReadinessHour,
)
from server.fleet.models import Floor, Readiness


def state_since(seat_id: int) -> dict[str, tuple[str, dt.datetime]]:
    """{check id: (its current state on the seat, since when)} from the seat's history: the
    latest transition of each check. Follows the seat, whichever floor it is on now."""
    rows = (
        CheckTransition.objects.filter(seat_id=seat_id)
        .order_by("check_id", "-at", "-id")
        .distinct("check_id")
        .values_list("check_id", "to_state", "at")
    )
    return {check_id: (state, at) for check_id, state, at in rows}


def with_state_since(results: QuerySet[CheckResult], seat_id: int) -> QuerySet[CheckResult]:
    """`results` (CheckResult rows) annotated, in the same query, with `state_since`: since
    when the check has been in its current state on seat `seat_id`, from the seat's history
    (the latest transition, when it led to that state; else the row's own `since`, for
    verdicts older than the history)."""
    latest = CheckTransition.objects.filter(seat_id=seat_id, check_id=OuterRef("check_id")).order_by(
        "-at", "-id"
    )
    return results.annotate(
        history_state=Subquery(latest.values("to_state")[:1]),
        history_at=Subquery(latest.values("at")[:1]),
    ).annotate(
        state_since=Case(When(history_state=F("state"), then=F("history_at")), default=F("since")),
    )


def failing_since(seat_id: int, check_id: str | None = None) -> dict[str, dt.datetime]:
    """{check id: since when it has been failing} for every check failing on the seat now
    (or only `check_id`)."""
    return {
        check: at
        for check, (state, at) in state_since(seat_id).items()
        if state == CheckState.FAIL and (check_id is None or check == check_id)
    }


@dataclass(frozen=True)
class FixTimes:
    """How long a check stayed failing before it passed again, over the fixes in a period."""

    check_id: str
    fixes: int
    median_s: float
    p90_s: float
    longest_s: float
    mean_s: float = 0.0


def time_to_fix(
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    floor_id: int | None = None,
    check_id: str | None = None,
    floor_ids: Iterable[int] | None = None,
) -> list[FixTimes]:
    """Per check, the failures fixed (fail → pass) between `since` and `until` (default:
    the last 30 days), slowest median first."""
    until = until or timezone.now()
    since = since or until - dt.timedelta(days=30)
    where = ["from_state = %s", "to_state = %s", "at >= %s", "at < %s", "from_since IS NOT NULL"]
    params: list[object] = [CheckState.FAIL, CheckState.PASS, since, until]
    if floor_id is not None:
        where.append("floor_id = %s")
        params.append(floor_id)
    if floor_ids is not None:
        where.append("floor_id = ANY(%s)")
        params.append(list(floor_ids))
    if check_id is not None:
        where.append("check_id = %s")
        params.append(check_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT check_id, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM at - from_since)),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM at - from_since)),
                   max(extract(epoch FROM at - from_since)),
                   avg(extract(epoch FROM at - from_since))
            FROM {CheckTransition._meta.db_table}
            WHERE {" AND ".join(where)}
            GROUP BY check_id
            ORDER BY 3 DESC, check_id
            """,
            params,
        )
        return [
            FixTimes(row[0], row[1], float(row[2]), float(row[3]), float(row[4]), float(row[5]))
            for row in cursor.fetchall()
        ]


def _hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    first = start.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    hours = []
    while first <= end:
        hours.append(first)
        first += dt.timedelta(hours=1)
    return hours


def readiness_by_hour(
    floor_id: int, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dict[str, int]]]:
    """[(hour, {readiness: seats at the end of that hour})] for every hour from `start` to
    `end`, carrying each count forward through the hours in which it did not change."""
    rows = FloorReadinessHour.objects.filter(floor_id=floor_id, hour__lte=end)
    return _carried(
        _hours(start, end),
        ((row.hour, row.readiness, row.seats) for row in rows.order_by("hour")),
        [r.value for r in Readiness],
    )


def failing_by_hour(
    floor_id: int, start: dt.datetime, end: dt.datetime, check_ids: Iterable[str] | None = None
) -> list[tuple[dt.datetime, dict[str, int]]]:
    """[(hour, {check id: failing seats at the end of that hour})], carried forward."""
    rows = FloorCheckHour.objects.filter(floor_id=floor_id, hour__lte=end)
    if check_ids is not None:
        rows = rows.filter(check_id__in=list(check_ids))
    ordered = [(row.hour, row.check_id, row.failing_seats) for row in rows.order_by("hour")]
    return _carried(_hours(start, end), ordered, sorted({key for _, key, _ in ordered}))


def readiness_at(
    moments: Iterable[dt.datetime], floor_ids: Iterable[int] | None = None
) -> dict[tuple[int, dt.datetime], dict[str, int]]:
    """{(floor id, moment): {readiness: seats}} as the rollups stood at each moment, for every
    floor (or only `floor_ids`) that has any.

    One index lookup per floor, readiness and moment (the newest row at or before the moment's
    hour), so the cost grows with floors x moments, not with how many hours the table holds:
    a fleet overview samples a handful of moments rather than reading 90 days of hours."""
    moments = list(moments)
    keys = list(Readiness.values)
    counts: dict[tuple[int, dt.datetime], dict[str, int]] = {}
    for floor_id, index, readiness, seats in _readiness_lookups(
        "floors.id, m.i, r.readiness, latest.seats", "", moments, floor_ids
    ):
        key = (floor_id, moments[index - 1])
        if key not in counts:
            counts[key] = dict.fromkeys(keys, 0)
        counts[key][readiness] = seats
    return counts


def total_readiness_at(
    moments: Iterable[dt.datetime], floor_ids: Iterable[int] | None = None
) -> list[tuple[dt.datetime, dict[str, int]]]:
    """[(moment, {readiness: seats summed over the floors})], like readiness_at but added up in
    PostgreSQL, so a fleet trend moves a row per moment and readiness rather than per floor."""
    moments = list(moments)
    totals = {moment: dict.fromkeys(Readiness.values, 0) for moment in moments}
    for index, readiness, seats in _readiness_lookups(
        "m.i, r.readiness, sum(latest.seats)", "GROUP BY m.i, r.readiness", moments, floor_ids
    ):
        totals[moments[index - 1]][readiness] = int(seats)
    return [(moment, totals[moment]) for moment in moments]


def _readiness_lookups(
    columns: str, group_by: str, moments: list[dt.datetime], floor_ids: Iterable[int] | None
) -> list[tuple]:
    hours = [hour_of(moment) for moment in moments]
    floor_filter = "WHERE f.id = ANY(%(floors)s)" if floor_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH floors AS (SELECT f.id FROM {Floor._meta.db_table} f {floor_filter})
            SELECT {columns}
            FROM floors
            CROSS JOIN unnest(%(hours)s::timestamptz[]) WITH ORDINALITY AS m(at, i)
            CROSS JOIN unnest(%(readiness)s::text[]) AS r(readiness)
            CROSS JOIN LATERAL (
                SELECT h.seats FROM {FloorReadinessHour._meta.db_table} h
                WHERE h.floor_id = floors.id AND h.readiness = r.readiness AND h.hour <= m.at
                ORDER BY h.hour DESC LIMIT 1
            ) latest
            {group_by}
            """,
            {"floors": list(floor_ids or []), "hours": hours, "readiness": list(Readiness.values)},
        )
        return cursor.fetchall()


def failing_now(
    floor_ids: Iterable[int] | None = None, check_ids: Iterable[str] = ()
) -> dict[tuple[int, str], int]:
    """{(floor id, check id): seats failing it now} from the newest row of each floor and check
    among `check_ids` (the catalog's): one index lookup each, however long the history."""
    table = FloorCheckHour._meta.db_table
    floor_filter = "WHERE f.id = ANY(%(floors)s)" if floor_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH floors AS (SELECT f.id FROM {Floor._meta.db_table} f {floor_filter})
            SELECT floors.id, c.check_id, latest.failing_seats
            FROM floors
            CROSS JOIN unnest(%(checks)s::text[]) AS c(check_id)
            CROSS JOIN LATERAL (
                SELECT h.failing_seats FROM {table} h
                WHERE h.floor_id = floors.id AND h.check_id = c.check_id
                ORDER BY h.hour DESC LIMIT 1
            ) latest
            WHERE latest.failing_seats > 0
            """,
            {"floors": list(floor_ids or []), "checks": list(check_ids)},
        )
        return {(floor_id, check_id): seats for floor_id, check_id, seats in cursor.fetchall()}


def _carried(
    hours: list[dt.datetime], rows: Iterable[tuple[dt.datetime, str, int]], keys: list[str]
) -> list[tuple[dt.datetime, dict[str, int]]]:
    current = dict.fromkeys(keys, 0)
    pending = iter(rows)
    upcoming = next(pending, None)
    series = []
    for hour in hours:
        while upcoming is not None and upcoming[0] <= hour:
            current[upcoming[1]] = upcoming[2]
            upcoming = next(pending, None)
        series.append((hour, dict(current)))
    return series


def purge(now: dt.datetime | None = None) -> dict[str, int]:
    """Forget transitions and hourly counts older than READYFLOOR_HISTORY_RETENTION_DAYS,
    keeping the newest count of each floor and key: later hours carry it forward."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.READYFLOOR_HISTORY_RETENTION_DAYS)
    with transaction.atomic():
        transitions, _ = CheckTransition.objects.filter(at__lt=cutoff).delete()
        counts = 0
        for model, key in ((FloorReadinessHour, "readiness"), (FloorCheckHour, "check_id")):
            table = model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    DELETE FROM {table} old WHERE old.hour < %s AND EXISTS (
                        SELECT 1 FROM {table} newer
                        WHERE newer.floor_id = old.floor_id AND newer.{key} = old.{key}
                          AND newer.hour > old.hour AND newer.hour <= %s)
                    """,
                    [cutoff, cutoff],
                )
                counts += cursor.rowcount
    return {"transitions": transitions, "hourly_counts": counts}
