"""Operator API, history: a seat's per-check transitions and since when its checks fail,
time-to-fix per check, and a floor's readiness and failing checks hour by hour — read
through compliance.history from what evaluation wrote as it judged (no scans).

A seat is reached only through scope.seats_visible_to, a floor through floors_visible_to:
outside them the answer is a 404, the same as for one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from server.api.errors import ApiError, ErrorOut
from server.api.paging import Page, PageQuery, paginate
from server.compliance import history
from server.compliance.models import CheckTransition
from server.fleet.models import Floor, Seat
from server.roles import scope

router = Router(tags=["history"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
# The rollups are kept for at least 400 days; one request reads at most that far.
MAX_PERIOD = dt.timedelta(days=400)


class TransitionFilters(PageQuery):
    check: str | None = Field(None, max_length=64, description="Only this check id.")


class TransitionOut(Schema):
    id: int
    check_id: str
    from_state: str = Field(description="Empty for the check's first verdict on the seat.")
    to_state: str
    reason: str
    severity: str
    at: dt.datetime
    floor: int | None = Field(description="Where the seat was when the state changed.")
    device: int | None
    policy_version: int | None = Field(description="The number of the policy version it was judged under.")


class TransitionPage(Page):
    results: list[TransitionOut]


class FailingSinceOut(Schema):
    check_id: str
    since: dt.datetime


class FixTimesQuery(Schema):
    floor: int | None = Field(
        None, description="The floor's id; without it, the whole fleet (IT admins, auditors)."
    )
    days: int = Field(30, ge=1, le=400, description="The period: the last N days.")
    check: str | None = Field(None, max_length=64)


class FixTimesOut(Schema):
    check_id: str
    fixes: int = Field(description="Failures fixed (fail → pass) in the period.")
    median_s: float
    p90_s: float
    longest_s: float


class PeriodQuery(Schema):
    start: dt.datetime | None = Field(None, description="With its time zone; default: 24 hours before end.")
    end: dt.datetime | None = Field(None, description="With its time zone; default: now.")
    check: str | None = Field(None, max_length=64, description="Failing counts: only this check id.")

    @field_validator("start", "end")
    @classmethod
    def _named_time_zone(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-11-30T08:00:00+01:00")
        return value


class HourOut(Schema):
    hour: dt.datetime = Field(description="The hour's start, UTC; counts are at its end.")
    counts: dict[str, int]


class HoursOut(Schema):
    floor: int
    start: dt.datetime
    end: dt.datetime
    hours: list[HourOut]


def visible_seat(user: Any, seat_id: int) -> Seat:
    seat = scope.seats_visible_to(user).filter(pk=seat_id).first()
    if seat is None:
        raise ApiError(404, f"no seat {seat_id}", error="not_found")
    return seat


def visible_floor(user: Any, floor_id: int, field: str | None = None) -> Floor:
    floor = scope.floors_visible_to(user).filter(pk=floor_id).first()
    if floor is None:
        raise ApiError(404, f"no floor {floor_id}", field=field, error="not_found")
    return floor


def transition_json(row: CheckTransition) -> dict[str, Any]:
    return {
        "id": row.pk,
        "check_id": row.check_id,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "reason": row.reason,
        "severity": row.severity,
        "at": row.at,
        "floor": row.floor_id,
        "device": row.device_id,
        "policy_version": row.policy_version.number if row.policy_version_id else None,
    }


@router.get(
    "/seats/{int:seat_id}/transitions",
    response={200: TransitionPage, **ERRORS},
    url_name="seat_transitions",
    operation_id="listSeatTransitions",
    summary="A seat's per-check transitions, newest first (its whole history, on every floor); paginated.",
)
def seat_transitions(request: HttpRequest, seat_id: int, filters: Query[TransitionFilters]) -> Any:
    seat = visible_seat(request.user, seat_id)
    rows = CheckTransition.objects.filter(seat=seat).select_related("policy_version").order_by("-at", "-id")
    if filters.check:
        rows = rows.filter(check_id=filters.check)
    return paginate(request, rows, filters, transition_json)


@router.get(
    "/seats/{int:seat_id}/failing-since",
    response={200: list[FailingSinceOut], **ERRORS},
    url_name="seat_failing_since",
    operation_id="getSeatFailingSince",
    summary="Since when each check failing on the seat now has been failing.",
)
def seat_failing_since(request: HttpRequest, seat_id: int) -> Any:
    seat = visible_seat(request.user, seat_id)
    failing = history.failing_since(seat.pk)
    return [{"check_id": check_id, "since": since} for check_id, since in sorted(failing.items())]


@router.get(
    "/time-to-fix",
    response={200: list[FixTimesOut], **ERRORS},
    url_name="time_to_fix",
    operation_id="getTimeToFix",
    summary="Per check, how long failures stayed failing before they were fixed; slowest median first.",
)
def time_to_fix(request: HttpRequest, query: Query[FixTimesQuery]) -> Any:
    floor_id = None
    if query.floor is not None:
        floor_id = visible_floor(request.user, query.floor, field="floor").pk
    elif not scope.sees_every_floor(request.user):
        raise ApiError(400, "name your floor: the whole fleet is for IT admins and auditors", field="floor")
    until = timezone.now()
    rows = history.time_to_fix(
        since=until - dt.timedelta(days=query.days),
        until=until,
        floor_id=floor_id,
        check_id=query.check or None,
    )
    return [row.__dict__ for row in rows]


def period(query: PeriodQuery) -> tuple[dt.datetime, dt.datetime]:
    """The period asked for, bounded: start before end, at most MAX_PERIOD long."""
    end = query.end or timezone.now()
    start = query.start or end - dt.timedelta(hours=24)
    if start >= end:
        raise ApiError(400, "must be before end", field="start")
    if end - start > MAX_PERIOD:
        raise ApiError(400, f"at most {MAX_PERIOD.days} days before end", field="start")
    return start, end


def _hours(
    floor: Floor, start: dt.datetime, end: dt.datetime, series: list[tuple[dt.datetime, dict[str, int]]]
) -> dict[str, Any]:
    return {
        "floor": floor.pk,
        "start": start,
        "end": end,
        "hours": [{"hour": hour, "counts": counts} for hour, counts in series],
    }


@router.get(
    "/floors/{int:floor_id}/readiness",
    response={200: HoursOut, **ERRORS},
    url_name="floor_readiness_by_hour",
    operation_id="getFloorReadinessByHour",
    summary="Seats of a floor by readiness at the end of each hour (UTC) of a period.",
)
def floor_readiness(request: HttpRequest, floor_id: int, query: Query[PeriodQuery]) -> Any:
    floor = visible_floor(request.user, floor_id)
    start, end = period(query)
    return _hours(floor, start, end, history.readiness_by_hour(floor.pk, start, end))


@router.get(
    "/floors/{int:floor_id}/failing",
    response={200: HoursOut, **ERRORS},
    url_name="floor_failing_by_hour",
    operation_id="getFloorFailingByHour",
    summary="Failing seats of a floor per check at the end of each hour (UTC) of a period.",
)
def floor_failing(request: HttpRequest, floor_id: int, query: Query[PeriodQuery]) -> Any:
    floor = visible_floor(request.user, floor_id)
    start, end = period(query)
    checks = [query.check] if query.check else None
    return _hours(floor, start, end, history.failing_by_hour(floor.pk, start, end, checks))
