"""The supervisor's shift board: the floor's current or next shift, and who is not ready for it.

Reads what evaluation precomputed (Seat.readiness, Seat.failing, worst first): one aggregate for
the counts and one query for the seats that need attention, however large the floor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.utils import timezone
from readyfloor_agent.checks import Readiness as CatalogReadiness
from readyfloor_agent.checks import fix_for, title_for
from readyfloor_agent.checks.catalog import reason_now

from server.acknowledgements.acknowledging import AcknowledgedFailures, annotate_acknowledgements
from server.acknowledgements.models import Acknowledgement
from server.fleet.models import Floor, Readiness, Seat
from server.shifts import schedule
from server.shifts.models import Shift, ShiftSnapshot

# The order a supervisor works down the list: seats that will fail calls, then silent ones,
# then the unreadable, then those that will only prompt.
FACTS = "device__current_facts__facts"
ATTENTION_ORDER = (Readiness.NOT_READY, Readiness.OFFLINE, Readiness.UNKNOWN, Readiness.AT_RISK)


@dataclass(frozen=True)
class FailingCheck:
    """One failing check of a seat on the board, with the acknowledgement that covers it now."""

    check_id: str
    title: str
    state: str
    acknowledgement: Acknowledgement | None


@dataclass(frozen=True)
class SeatToFix:
    seat: Seat
    hostname: str
    person: str
    since: dt.datetime
    check_title: str
    reason: str
    fix_step: str
    more_failing: int
    failing: tuple[FailingCheck, ...] = ()
    # Down only for acknowledged failures (AcknowledgedFailures.covers): counted apart.
    acknowledged: bool = False

    @property
    def to_acknowledge(self) -> FailingCheck | None:
        """The check the board proposes to acknowledge: the worst not yet acknowledged."""
        open_ones = [check for check in self.failing if check.acknowledgement is None]
        return (open_ones or list(self.failing) or [None])[0]


@dataclass
class Board:
    floor: Floor
    shift: Shift | None
    occurrence: schedule.Occurrence | None
    now: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    seats_total: int = 0
    attention: list[SeatToFix] = field(default_factory=list)
    last_snapshot: ShiftSnapshot | None = None
    other_shifts: list[Shift] = field(default_factory=list)

    @property
    def phase(self) -> str:
        """'none' (no shift), 'later' (before the lead time), 'lead' (the minutes before the
        start) or 'running'."""
        if self.occurrence is None:
            return "none"
        if self.occurrence.is_running(self.now):
            return "running"
        if self.occurrence.in_lead_time(self.now):
            return "lead"
        return "later"

    @property
    def shows_seats(self) -> bool:
        return self.phase in {"lead", "running"}

    @property
    def countdown(self) -> dt.timedelta | None:
        return self.occurrence.countdown(self.now) if self.occurrence else None

    @property
    def ready_total(self) -> int:
        return self.counts.get(Readiness.READY, 0)

    @property
    def acknowledged_total(self) -> int:
        """Seats listed as needing attention whose every failure is acknowledged."""
        return sum(1 for item in self.attention if item.acknowledged)


def choose_shift(shifts: list[Shift], now: dt.datetime) -> tuple[Shift | None, schedule.Occurrence | None]:
    """The shift on now, else the one that starts soonest."""
    best: tuple[Shift | None, schedule.Occurrence | None] = (None, None)
    for shift in shifts:
        occurrence = shift.occurrence(now)
        if occurrence is None:
            continue
        current = best[1]
        if current is None or _sooner(occurrence, current, now):
            best = (shift, occurrence)
    return best


def _sooner(a: schedule.Occurrence, b: schedule.Occurrence, now: dt.datetime) -> bool:
    if a.is_running(now) != b.is_running(now):
        return a.is_running(now)
    return a.start < b.start


def board_for(
    floor: Floor, now: dt.datetime, shift_id: int | None = None, visible: QuerySet[Seat] | None = None
) -> Board:
    """The board of `floor`; `visible` limits it to the seats the viewer may see (a supervisor of
    one team sees that team's seats of the shift, and counts only those)."""
    shifts = list(Shift.objects.filter(floor=floor).select_related("floor__site"))
    chosen = [s for s in shifts if s.pk == shift_id] if shift_id else shifts
    shift, occurrence = choose_shift(chosen, now)
    board = Board(floor=floor, shift=shift, occurrence=occurrence, now=now, other_shifts=shifts)
    if shift is None:
        return board
    board.last_snapshot = ShiftSnapshot.objects.filter(shift=shift).order_by("-starts_at").first()
    seats = shift.seat_queryset()
    if visible is not None:
        seats = seats.filter(pk__in=visible.values("pk"))
    counted = {row["readiness"]: row["n"] for row in seats.values("readiness").annotate(n=Count("id"))}
    board.counts = {readiness.value: counted.get(readiness.value, 0) for readiness in Readiness}
    board.seats_total = sum(board.counts.values())
    if board.shows_seats:
        board.attention = seats_to_fix(seats, now)
    return board


def seats_to_fix(seats: Any, now: dt.datetime | None = None) -> list[SeatToFix]:
    rows = list(
        annotate_acknowledgements(seats.exclude(readiness=Readiness.READY), now)
        .select_related("device")
        # Who is signed in at the workstation, as the agent last reported it.
        .annotate(
            person=KeyTextTransform("console_user", KeyTransform("host", "device__current_facts__facts"))
        )
        .order_by("readiness_since", "label")
    )
    # The catalog's worst-first order: seats that will fail calls, then silent ones, then the
    # unreadable, then those that will only prompt; the longest-failing first within each.
    rows.sort(key=lambda seat: CatalogReadiness(seat.readiness).attention)
    acknowledged = AcknowledgedFailures.from_seats(rows)
    return [_seat_to_fix(seat, acknowledged) for seat in rows]


def _seat_to_fix(seat: Seat, acknowledged: AcknowledgedFailures) -> SeatToFix:
    device = getattr(seat, "device", None)
    failing = [item for item in seat.failing or [] if isinstance(item, dict)]
    top = failing[0] if failing else None
    title, reason, step = _top_fix(seat, device, top)
    return SeatToFix(
        seat=seat,
        hostname=device.hostname if device else "",
        person=str(seat.person or ""),
        since=seat.readiness_since,
        check_title=title,
        reason=reason,
        fix_step=step,
        more_failing=max(len(failing) - 1, 0),
        failing=tuple(
            FailingCheck(
                check_id=str(item.get("check_id", "")),
                title=_title(str(item.get("check_id", "")), str(item.get("browser") or "chrome")),
                state=str(item.get("state", "")),
                acknowledgement=acknowledged.for_check(seat.pk, str(item.get("check_id", ""))),
            )
            for item in failing
        ),
        acknowledged=acknowledged.covers(seat.pk, failing),
    )


def _title(check_id: str, browser: str) -> str:
    try:
        return title_for(check_id, browser)
    except KeyError:
        return check_id


def _top_fix(seat: Seat, device: Any, top: dict[str, Any] | None) -> tuple[str, str, str]:
    """The single most useful thing to do for this seat: the first step of its worst check."""
    if device is None:
        return (
            "No workstation",
            "No workstation is assigned to this seat.",
            "Assign the workstation in the admin.",
        )
    if top is None:
        if seat.readiness == Readiness.OFFLINE:
            return (
                "Not reporting",
                "The workstation has stopped reporting.",
                "Check that the PC is on and online.",
            )
        return ("Waiting", "Waiting for the workstation's first report.", "")
    check_id = str(top.get("check_id", ""))
    browser = str(top.get("browser") or "chrome")
    title = _title(check_id, browser)
    step = ""
    try:
        steps = fix_for(check_id, device.os, browser=browser).steps
        step = steps[0] if steps else ""
    except (KeyError, ValueError):
        pass
    if check_id == "agent.fresh":
        step = step or "Check that the PC is on and online."
    reason = reason_now(check_id, str(top.get("reason", "")), device.last_seen_at, timezone.now())
    return (title, reason, step)
