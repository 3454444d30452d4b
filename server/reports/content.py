"""What a report says, computed once from the database and rendered as CSV and PDF.

Every part reads stored, precomputed state (seat readiness, check results with their `since`,
shift snapshots, acknowledgements): nothing is judged here. Set-based queries only — a
10k-seat floor is a handful of queries, not one per seat (bench/reports measures it).

The trend comes from the engine's hourly floor rollups and time-to-fix and "failing since" from
its per-check transitions (server/compliance/history.py). A team's trend, which the per-floor
rollups cannot give, comes from the start-of-shift snapshots of its seats, and so does any trend
of a period the rollups do not cover yet; "failing since" falls back to CheckResult.since for
verdicts older than the history.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone
from readyfloor_agent.checks import Readiness as Verdict
from readyfloor_agent.checks import get_check

from dashboards.figures import duration
from server.acknowledgements.acknowledging import acknowledged_failures
from server.compliance import history
from server.compliance.models import CheckResult, CheckState
from server.fleet.models import Device, Readiness
from server.reports.scoping import Scope
from server.shifts.models import ShiftSnapshot, ShiftSnapshotSeat
from server.shifts.schedule import zone_of

NO_FIXES = "No failure was fixed in this period."
ORDER = [verdict.value for verdict in Verdict.worst_first()]

Progress = Callable[[str], None]


def check_title(check_id: str) -> str:
    try:
        return get_check(check_id).title
    except KeyError:
        return check_id


@dataclass
class SeatLine:
    """One seat as the report shows it (and one CSV row)."""

    seat_id: int
    site: str
    floor: str
    label: str
    team: str
    row: int
    column: int
    readiness: str
    readiness_since: dt.datetime
    failing: list[dict[str, Any]]
    failing_since: dt.datetime | None
    hostname: str = ""
    os: str = ""
    agent_version: str = ""
    last_seen_at: dt.datetime | None = None
    acknowledgements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(str(item.get("reason", "")) for item in self.failing if item.get("state") != "n/a")

    @property
    def failing_check_ids(self) -> list[str]:
        return [str(item.get("check_id", "")) for item in self.failing]

    def failed_for(self, at: dt.datetime) -> dt.timedelta | None:
        return at - self.failing_since if self.failing_since else None


@dataclass
class CheckRank:
    check_id: str
    title: str
    severity: str
    seats: int
    acknowledged: int


@dataclass
class TrendPoint:
    at: dt.datetime
    label: str
    ready: int
    total: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.ready / self.total, 1) if self.total else 0.0


@dataclass
class SnapshotSummary:
    shift_name: str
    starts_at: dt.datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ReportContent:
    title: str
    scope: Scope
    generated_at: dt.datetime
    zone_name: str
    period_days: int
    counts: dict[str, int]
    seats: list[SeatLine]
    snapshot: SnapshotSummary | None
    trend: list[TrendPoint]
    trend_source: str
    failing_checks: list[CheckRank]
    time_to_fix: list[dict[str, Any]]
    time_to_fix_note: str
    unassigned_devices: list[Device]

    @property
    def total(self) -> int:
        return len(self.seats)

    @property
    def not_ready(self) -> list[SeatLine]:
        return [seat for seat in self.seats if seat.readiness == Readiness.NOT_READY]

    @property
    def offline(self) -> list[SeatLine]:
        return [seat for seat in self.seats if seat.readiness == Readiness.OFFLINE]

    @property
    def ready_percent(self) -> float:
        able = self.counts.get(Readiness.READY, 0)
        return round(100.0 * able / self.total, 1) if self.total else 0.0

    def local(self, moment: dt.datetime | None) -> dt.datetime | None:
        return moment.astimezone(zone_of(self.zone_name)) if moment else None


def build(
    scope: Scope, *, at: dt.datetime | None = None, period_days: int = 7, progress: Progress | None = None
) -> ReportContent:
    """Everything a report of `scope` shows, as of `at` (default now)."""
    at = at or timezone.now()
    step = progress or (lambda name: None)
    seats = _seat_lines(scope, at)
    step("seats")
    counts = Counter(seat.readiness for seat in seats)
    snapshot = _last_snapshot(scope, at)
    trend, trend_source = _trend(scope, at, period_days)
    step("snapshots and trend")
    ranking = _ranking(seats)
    unassigned = list(Device.objects.filter(seat__isnull=True, site=scope.site).order_by("hostname"))
    step("checks and devices")
    return ReportContent(
        title=f"Readiness report — {scope.title}",
        scope=scope,
        generated_at=at,
        zone_name=scope.site.timezone,
        period_days=period_days,
        counts={value: counts.get(value, 0) for value in ORDER},
        seats=seats,
        snapshot=snapshot,
        trend=trend,
        trend_source=trend_source,
        failing_checks=ranking,
        time_to_fix=_time_to_fix(scope, at, period_days),
        time_to_fix_note=NO_FIXES
        + (" Per floor: a team's fixes are counted with its floor's." if scope.team else ""),
        unassigned_devices=unassigned,
    )


SEAT_FIELDS = (
    "pk",
    "floor_id",
    "floor__name",
    "floor__site__name",
    "label",
    "team",
    "row",
    "column",
    "readiness",
    "readiness_since",
    "failing",
    "device__id",
    "device__hostname",
    "device__os",
    "device__agent_version",
    "device__last_seen_at",
)


def _seat_lines(scope: Scope, at: dt.datetime) -> list[SeatLine]:
    # Plain rows, not model instances: a 10k-seat floor is read in one query (bench/reports).
    seats = [
        dict(zip(SEAT_FIELDS, row, strict=True))
        for row in scope.seats().order_by("floor__name", "row", "column", "label").values_list(*SEAT_FIELDS)
    ]
    failing_seats = [seat for seat in seats if seat["failing"]]
    # Since when each seat's failing checks fail: the seat's history where its latest transition
    # led to the state it is in, else the result's own `since` (verdicts older than the history).
    results = CheckResult.objects.filter(
        device_id__in=[seat["device__id"] for seat in failing_seats if seat["device__id"]],
        state__in=[CheckState.FAIL, CheckState.UNKNOWN, CheckState.WARN],
    ).values_list("device_id", "check_id", "since")
    by_device: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
    for device_id, check_id, moment in results.iterator(chunk_size=5000):
        by_device[device_id][check_id] = moment
    transitions = history.states_since(seat["pk"] for seat in failing_seats)
    acks = {
        floor_id: acknowledged_failures(floor_id, at) for floor_id in {seat["floor_id"] for seat in seats}
    }
    lines = []
    for seat in seats:
        failing = list(seat["failing"] or [])
        seat_history = transitions.get(seat["pk"], {})
        device_results = by_device.get(seat["device__id"], {})
        moments = []
        acknowledged = []
        for item in failing:
            check_id, state = str(item.get("check_id", "")), item.get("state")
            latest = seat_history.get(check_id)
            if latest is not None and latest[0] == state:
                moments.append(latest[1])
            elif check_id in device_results:
                moments.append(device_results[check_id])
            ack = acks[seat["floor_id"]].for_check(seat["pk"], check_id)
            if ack is not None:
                acknowledged.append(
                    {
                        "check_id": ack.check_id,
                        "by": ack.created_by.get_username() if ack.created_by else "",
                        "until": ack.expires_at,
                        "reason": ack.reason,
                        "floor_wide": ack.seat_id is None,
                    }
                )
        failing_since = min(moments) if moments else None
        if failing_since is None and failing and seat["readiness"] != Readiness.READY:
            failing_since = seat["readiness_since"]
        lines.append(
            SeatLine(
                seat_id=seat["pk"],
                site=seat["floor__site__name"],
                floor=seat["floor__name"],
                label=seat["label"],
                team=seat["team"],
                row=seat["row"],
                column=seat["column"],
                readiness=seat["readiness"],
                readiness_since=seat["readiness_since"],
                failing=failing,
                failing_since=failing_since,
                hostname=seat["device__hostname"] or "",
                os=seat["device__os"] or "",
                agent_version=seat["device__agent_version"] or "",
                last_seen_at=seat["device__last_seen_at"],
                acknowledgements=acknowledged,
            )
        )
    # Worst first, as on every page; then the floor's own order.
    lines.sort(key=lambda line: ORDER.index(line.readiness) if line.readiness in ORDER else len(ORDER))
    return lines


def _snapshot_counts(snapshot_ids: list[int], scope: Scope) -> dict[int, Counter]:
    rows = ShiftSnapshotSeat.objects.filter(snapshot_id__in=snapshot_ids)
    if scope.team:
        rows = rows.filter(team=scope.team)
    counts: dict[int, Counter] = defaultdict(Counter)
    for snapshot_id, readiness, number in rows.values_list("snapshot_id", "readiness").annotate(
        n=Count("id")
    ):
        counts[snapshot_id][readiness] += number
    return counts


def _last_snapshot(scope: Scope, at: dt.datetime) -> SnapshotSummary | None:
    snapshots = ShiftSnapshot.objects.filter(floor__in=scope.floors(), starts_at__lte=at).order_by(
        "-starts_at"
    )
    latest = snapshots.first()
    if latest is None:
        return None
    # A site report adds up the floors' snapshots of that same start (shifts of a site start together
    # more often than not); a floor or team report takes the floor's latest.
    same_start = list(snapshots.filter(starts_at=latest.starts_at))
    counts = Counter()
    for snapshot_counts in _snapshot_counts([s.pk for s in same_start], scope).values():
        counts.update(snapshot_counts)
    names = sorted({s.shift_name for s in same_start})
    return SnapshotSummary(
        shift_name=", ".join(names),
        starts_at=latest.starts_at,
        counts={value: counts.get(value, 0) for value in ORDER},
    )


def _trend(scope: Scope, at: dt.datetime, period_days: int) -> tuple[list[TrendPoint], str]:
    """Percent of seats READY over the period: hourly from the floors' rollups, else (a team, or
    no rollups yet) at each shift start from the snapshots."""
    start = at - dt.timedelta(days=period_days)
    zone = zone_of(scope.site.timezone)
    if not scope.team:
        totals: dict[dt.datetime, Counter] = defaultdict(Counter)
        for floor in scope.floors():
            for hour, counts in history.readiness_by_hour(floor.pk, start, at):
                totals[hour].update(counts)
        points = [
            TrendPoint(
                at=hour,
                label=hour.astimezone(zone).strftime("%a %d %b %H:00"),
                ready=tally.get(Readiness.READY, 0),
                total=sum(tally.values()),
            )
            for hour, tally in sorted(totals.items())
            if sum(tally.values())
        ]
        if points:
            return points, f"hourly floor rollups, {len(points)} hours"
    return _snapshot_trend(scope, at, start, zone), "start-of-shift snapshots"


def _snapshot_trend(scope: Scope, at: dt.datetime, start: dt.datetime, zone: Any) -> list[TrendPoint]:
    in_period = ShiftSnapshot.objects.filter(floor__in=scope.floors(), starts_at__lte=at, starts_at__gt=start)
    snapshots = list(in_period.order_by("starts_at"))
    counts = _snapshot_counts([s.pk for s in snapshots], scope)
    by_start: dict[dt.datetime, Counter] = defaultdict(Counter)
    for snapshot in snapshots:
        by_start[snapshot.starts_at].update(counts.get(snapshot.pk, Counter()))
    return [
        TrendPoint(
            at=moment,
            label=moment.astimezone(zone).strftime("%a %d %b %H:%M"),
            ready=tally.get(Readiness.READY, 0),
            total=sum(tally.values()),
        )
        for moment, tally in sorted(by_start.items())
    ]


def _time_to_fix(scope: Scope, at: dt.datetime, period_days: int) -> list[dict[str, Any]]:
    """Per check, failures fixed in the period on the scope's floors: how many, median, p90, longest."""
    fixes = history.time_to_fix(
        since=at - dt.timedelta(days=period_days), until=at, floor_ids=[floor.pk for floor in scope.floors()]
    )
    return [
        {
            "check_id": fix.check_id,
            "title": check_title(fix.check_id),
            "fixes": fix.fixes,
            "median_s": fix.median_s,
            "p90_s": fix.p90_s,
            "longest_s": fix.longest_s,
            "median": duration(dt.timedelta(seconds=fix.median_s)),
            "p90": duration(dt.timedelta(seconds=fix.p90_s)),
            "longest": duration(dt.timedelta(seconds=fix.longest_s)),
        }
        for fix in fixes
    ]


def _ranking(seats: list[SeatLine]) -> list[CheckRank]:
    failing: Counter = Counter()
    acknowledged: Counter = Counter()
    severity: dict[str, str] = {}
    for seat in seats:
        acked = {ack["check_id"] for ack in seat.acknowledgements}
        for item in seat.failing:
            check_id = str(item.get("check_id", ""))
            failing[check_id] += 1
            acknowledged[check_id] += check_id in acked
            if severity.get(check_id) != "critical":
                severity[check_id] = str(item.get("severity", ""))
    ranked = sorted(failing, key=lambda c: (severity.get(c) != "critical", -failing[c], c))
    return [
        CheckRank(
            check_id=check_id,
            title=check_title(check_id),
            severity=severity.get(check_id, ""),
            seats=failing[check_id],
            acknowledged=acknowledged[check_id],
        )
        for check_id in ranked
    ]
