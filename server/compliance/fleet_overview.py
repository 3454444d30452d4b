"""The fleet across sites and floors, for the IT admin's overview: readiness now and its trend,
failing checks ranked, the fleet by OS, Chrome major and agent version, time to fix, the seats
failing longest and the devices no seat holds.

Trends and rankings read the hourly rollups (server.compliance.history), never check-ins;
breakdowns are one GROUP BY in PostgreSQL; lists are bounded. Nothing here walks seats in
Python, so the cost of a page follows floors and rows shown, not the size of the fleet.

Every function takes the floors in view (`floor_ids`, from server.roles.scope; None for the
whole fleet) so a caller cannot forget the scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import QuerySet
from readyfloor_agent.checks import CATALOG

from server.compliance import history
from server.fleet.models import Device, Floor, Readiness, Seat

# The periods a trend is shown over, and how far apart its points are: 15 or 16 points each
# (a point costs an index lookup per floor and readiness), so a 90-day trend costs what a 7-day
# one does, and a fleet of 200 floors about 16,000 lookups.
TREND_STEPS: dict[int, dt.timedelta] = {
    7: dt.timedelta(hours=12),
    30: dt.timedelta(days=2),
    90: dt.timedelta(days=6),
}
COMPARED_DAYS = (7, 30, 90)
BREAKDOWNS = ("os", "chrome", "agent")
NOT_REPORTED = "not reported"


def ready_percent(counts: dict[str, int] | None) -> float | None:
    """Share of counted seats that are READY, or None when none were counted."""
    if not counts:
        return None
    total = sum(counts.values())
    return round(100 * counts.get(Readiness.READY, 0) / total, 1) if total else None


@dataclass
class FloorLine:
    """One floor: readiness now and its ready share 7, 30 and 90 days ago (from the rollups)."""

    floor_id: int
    floor: str
    site: str
    timezone: str
    now: dict[str, int] = field(default_factory=dict)
    ready_then: dict[int, float | None] = field(default_factory=dict)

    @property
    def seats(self) -> int:
        return sum(self.now.values())

    @property
    def ready_now(self) -> float | None:
        return ready_percent(self.now)

    def change(self, days: int) -> float | None:
        """Percentage points gained (or lost) since `days` ago."""
        then = self.ready_then.get(days)
        return None if then is None or self.ready_now is None else round(self.ready_now - then, 1)


def floor_lines(floors: QuerySet[Floor], now: dt.datetime) -> list[FloorLine]:
    """Every floor in view, worst ready share first (floors without history last)."""
    floors = list(floors.select_related("site").order_by("site__name", "name"))
    moments = {0: now, **{days: now - dt.timedelta(days=days) for days in COMPARED_DAYS}}
    counts = history.readiness_at(moments.values(), [floor.pk for floor in floors])
    lines = []
    for floor in floors:
        line = FloorLine(floor.pk, floor.name, floor.site.name, floor.site.timezone)
        line.now = counts.get((floor.pk, now), {})
        line.ready_then = {
            days: ready_percent(counts.get((floor.pk, moments[days]))) for days in COMPARED_DAYS
        }
        lines.append(line)
    lines.sort(key=lambda line: (line.ready_now is None, line.ready_now or 0, line.site, line.floor))
    return lines


def fleet_trend(
    floor_ids: Sequence[int] | None, now: dt.datetime, days: int
) -> list[tuple[dt.datetime, dict[str, int]]]:
    """[(moment, {readiness: seats over the floors})] every TREND_STEPS[days] over `days` days,
    ending now, from the rollups."""
    step = TREND_STEPS[days]
    end = now.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    moments = []
    moment = end - dt.timedelta(days=days)
    while moment <= end:
        moments.append(moment)
        moment += step
    return history.total_readiness_at(moments, floor_ids)


@dataclass(frozen=True)
class CheckLine:
    check_id: str
    failing_seats: int
    floors: int


def failing_checks(floor_ids: Sequence[int] | None) -> list[CheckLine]:
    """Checks failing now, most failing seats first, from each floor's newest rollup."""
    per_floor = history.failing_now(floor_ids, [check.id for check in CATALOG])
    seats: dict[str, int] = {}
    floors: dict[str, int] = {}
    for (_, check_id), failing in per_floor.items():
        seats[check_id] = seats.get(check_id, 0) + failing
        floors[check_id] = floors.get(check_id, 0) + 1
    lines = [CheckLine(check_id, seats[check_id], floors[check_id]) for check_id in seats]
    lines.sort(key=lambda line: (-line.failing_seats, line.check_id))
    return lines


@dataclass(frozen=True)
class BreakdownLine:
    """Seated devices sharing one OS, Chrome major or agent version, by their seat's readiness."""

    by: str
    value: str
    counts: dict[str, int]

    @property
    def devices(self) -> int:
        return sum(self.counts.values())

    @property
    def ready_percent(self) -> float | None:
        return ready_percent(self.counts)


def breakdowns(floor_ids: Sequence[int] | None) -> dict[str, list[BreakdownLine]]:
    """{"os" | "chrome" | "agent": lines, most devices first} in one pass over seated devices.

    Chrome's major version is the first field of the device's `chrome_version` (ingest keeps it
    from `chrome.version` in the current facts); a device that has not reported it is "not
    reported", never guessed."""
    floor_filter = "AND s.floor_id = ANY(%(floors)s)" if floor_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH described AS (
                SELECT d.os, NULLIF(d.agent_version, '') AS agent,
                       NULLIF(split_part(d.chrome_version, '.', 1), '') AS chrome, s.readiness,
                       count(*) AS devices
                FROM {Device._meta.db_table} d
                JOIN {Seat._meta.db_table} s ON s.id = d.seat_id
                WHERE TRUE {floor_filter}
                GROUP BY 1, 2, 3, 4
            )
            SELECT GROUPING(os), GROUPING(chrome), os, chrome, agent, readiness, sum(devices)
            FROM described
            GROUP BY GROUPING SETS ((os, readiness), (chrome, readiness), (agent, readiness))
            """,
            {"floors": list(floor_ids or [])},
        )
        rows = cursor.fetchall()
    grouped: dict[str, dict[str, dict[str, int]]] = {by: {} for by in BREAKDOWNS}
    for no_os, no_chrome, os_name, chrome, agent, readiness, count in rows:
        by = "os" if not no_os else "chrome" if not no_chrome else "agent"
        value = {"os": os_name, "chrome": chrome, "agent": agent}[by] or NOT_REPORTED
        counts = grouped[by].setdefault(value, dict.fromkeys(Readiness.values, 0))
        counts[readiness] = counts.get(readiness, 0) + int(count)
    return {
        by: sorted(
            (BreakdownLine(by, value, counts) for value, counts in values.items()),
            key=lambda line: (-line.devices, _version_key(line.value)),
        )
        for by, values in grouped.items()
    }


def _version_key(value: str) -> tuple:
    # "120" after "99": compare numbers as numbers, names as names.
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in value.split("."))


def fix_times(floor_ids: Sequence[int] | None, now: dt.datetime, days: int = 30) -> list[history.FixTimes]:
    """Per check, how long failures fixed in the last `days` days stayed failing (slowest first),
    on the floors in view (the history records the floor each fix happened on)."""
    return history.time_to_fix(since=now - dt.timedelta(days=days), until=now, floor_ids=floor_ids)


def failing_longest(floor_ids: Sequence[int] | None, limit: int | None) -> QuerySet[Seat]:
    """Seats NOT READY the longest, oldest first: the seats that were left behind."""
    seats = Seat.objects.filter(readiness=Readiness.NOT_READY)
    if floor_ids is not None:
        seats = seats.filter(floor_id__in=floor_ids)
    seats = seats.select_related("floor__site", "device").order_by("readiness_since", "pk")
    return seats[:limit] if limit is not None else seats


def unassigned_devices(site_ids: Iterable[int] | None, limit: int | None) -> QuerySet[Device]:
    """Devices enrolled but on no seat (they report, yet no floor counts them), newest check-in
    first."""
    devices = Device.objects.filter(seat__isnull=True)
    if site_ids is not None:
        devices = devices.filter(site_id__in=list(site_ids))
    devices = devices.select_related("site").order_by("-last_seen_at", "hostname")
    return devices[:limit] if limit is not None else devices


def count_unassigned(site_ids: Iterable[int] | None) -> int:
    devices = Device.objects.filter(seat__isnull=True)
    if site_ids is not None:
        devices = devices.filter(site_id__in=list(site_ids))
    return devices.count()
