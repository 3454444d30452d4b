"""Operator API, seats: readiness and failing checks, a page at a time or as CSV.

One router per subject (seats here; policies, history, acknowledgements and alerts get their own
module and router, added in server/api/operator.py). Every query starts from what the caller may
see (server.roles.scope), so a filter can narrow the scope but never widen it.
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any, Literal

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import field_validator
from readyfloor_agent.checks import fix_for

from dashboards.figures import STATUSES
from server.api.errors import ApiError, ErrorOut
from server.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, paginate
from server.compliance.models import CheckResult
from server.fleet.models import Floor, Readiness, Seat, Site
from server.roles import scope

router = Router(tags=["seats"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


class SeatFilters(Schema):
    site: str | None = Field(None, description="The site's id or name.")
    floor: str | None = Field(None, description="The floor's id or name.")
    team: str | None = Field(None, description="Only seats of this team.")
    status: str | None = Field(
        None, description="Comma-separated readiness: ready, at_risk, not_ready, offline, unknown."
    )
    check: str | None = Field(None, description="Only seats failing this check id.")
    page: int = Field(1, ge=1)
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    format: Literal["json", "csv"] = Field("json", description="csv exports the whole filtered list.")

    @field_validator("site", "floor", "team", "status", "check")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL cannot store or compare a NUL character: refuse it here, naming the field.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


class DeviceOut(Schema):
    id: int
    hostname: str
    os: str
    agent_version: str
    last_seen_at: dt.datetime | None


class FailingCheckOut(Schema):
    check_id: str
    state: Literal["fail", "warn", "unknown"]
    severity: Literal["critical", "warning"]
    reason: str


class SeatOut(Schema):
    id: int
    site: str
    floor: str
    label: str
    row: int = Field(description="Row on the floor map, from 1 (the front), as on every page.")
    column: int = Field(description="Column on the floor map, from 1 (the left).")
    timezone: str = Field(description="The site's IANA time zone; times here are UTC, pages show them in it.")
    team: str
    status: Readiness
    status_since: dt.datetime
    evaluated_at: dt.datetime | None
    failing_checks: list[FailingCheckOut]
    device: DeviceOut | None


class CheckOut(Schema):
    check_id: str
    state: str
    severity: str
    reason: str
    since: dt.datetime
    evidence: dict[str, Any]


class SeatDetailOut(SeatOut):
    checks: list[CheckOut] = Field(description="Every check result of the seat's workstation.")


class SeatPage(Page):
    results: list[SeatOut]


@router.get(
    "",
    response={200: SeatPage, **ERRORS},
    url_name="seats",
    operation_id="listSeats",
    summary="Seats with readiness and failing checks; paginated; format=csv exports.",
    openapi_extra={
        "responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    },
)
def list_seats(request: HttpRequest, filters: Query[SeatFilters]) -> Any:
    seats = filtered_seats(request.user, filters)
    if filters.format == "csv":
        return seats_csv(seats)
    return paginate(request, seats, filters, seat_json)


@router.get(
    "/{int:seat_id}",
    response={200: SeatDetailOut, **ERRORS},
    url_name="seat",
    operation_id="getSeat",
    summary="One seat with every check result.",
)
def get_seat(request: HttpRequest, seat_id: int) -> Any:
    visible = scope.seats_visible_to(request.user).select_related("floor__site", "device")
    seat = visible.filter(pk=seat_id).first()
    if seat is None:
        # The same answer whether the seat does not exist or is outside the caller's floors.
        raise ApiError(404, f"no seat {seat_id}", error="not_found")
    body = seat_json(seat)
    device = getattr(seat, "device", None)
    body["checks"] = (
        [
            {
                "check_id": r.check_id,
                "state": r.state,
                "severity": r.severity,
                "reason": r.reason,
                "since": r.since,
                "evidence": r.evidence,
            }
            for r in CheckResult.objects.filter(device=device)
        ]
        if device
        else []
    )
    return body


def filtered_seats(user: Any, filters: SeatFilters) -> QuerySet[Seat]:
    """The seats the user may see, narrowed by the filters; a filter naming something that does
    not exist is refused naming it, one the user may not see is forbidden."""
    seats = scope.seats_visible_to(user).select_related("floor__site", "device")
    seats = seats.order_by("floor__site__name", "floor__name", "row", "column")
    if filters.site:
        site = _by_id_or_name(Site.objects.all(), filters.site, "site")
        if not scope.floors_visible_to(user).filter(site=site).exists():
            raise ApiError(403, f"you cannot see site {filters.site!r}", field="site")
        seats = seats.filter(floor__site=site)
    if filters.floor:
        floors = Floor.objects.all()
        if filters.site:
            floors = floors.filter(site__in=Site.objects.filter(_id_or_name(filters.site)))
        floor = _by_id_or_name(floors, filters.floor, "floor")
        if not scope.floors_visible_to(user).filter(pk=floor.pk).exists():
            raise ApiError(403, f"you cannot see floor {filters.floor!r}", field="floor")
        seats = seats.filter(floor=floor)
    if filters.team:
        if not Seat.objects.filter(team=filters.team).exists():
            raise ApiError(400, f"no seat belongs to team {filters.team!r}", field="team")
        seats = seats.filter(team=filters.team)
    if filters.status:
        wanted = [value.strip() for value in filters.status.split(",") if value.strip()]
        unknown = [value for value in wanted if value not in Readiness.values]
        if unknown:
            choices = ", ".join(Readiness.values)
            raise ApiError(400, f"unknown status {unknown[0]!r}; use one of {choices}", field="status")
        seats = seats.filter(readiness__in=wanted)
    if filters.check:
        seats = seats.filter(failing__contains=[{"check_id": filters.check}])
    return seats


MAX_ID = 2**63 - 1  # PostgreSQL bigint: a longer number is a name that matches nothing, not an error


def _id_or_name(value: str) -> Q:
    is_id = value.isascii() and value.isdigit() and int(value) <= MAX_ID
    return Q(pk=int(value)) | Q(name=value) if is_id else Q(name=value)


def _by_id_or_name(queryset: QuerySet, value: str, field: str) -> Any:
    matches = list(queryset.filter(_id_or_name(value))[:2])
    if not matches:
        raise ApiError(400, f"no {field} {value!r} (give its id or its name)", field=field)
    if len(matches) > 1:
        raise ApiError(400, f"{value!r} names more than one {field}; give its id", field=field)
    return matches[0]


def seat_json(seat: Seat) -> dict[str, Any]:
    device = getattr(seat, "device", None)
    return {
        "id": seat.pk,
        "site": seat.floor.site.name,
        "floor": seat.floor.name,
        "label": seat.label,
        # Stored from 0 (the map's grid), numbered from 1 for people and clients alike.
        "row": seat.row + 1,
        "column": seat.column + 1,
        "timezone": seat.floor.site.timezone,
        "team": seat.team,
        "status": seat.readiness,
        "status_since": seat.readiness_since,
        "evaluated_at": seat.evaluated_at,
        "failing_checks": seat.failing,
        "device": None
        if device is None
        else {
            "id": device.pk,
            "hostname": device.hostname,
            "os": device.os,
            "agent_version": device.agent_version,
            "last_seen_at": device.last_seen_at,
        },
    }


# Worst first, as the floor page lists them: the CSV is the page's table for a spreadsheet.
WORST_FIRST = Case(
    *(When(readiness=style.value, then=Value(rank)) for rank, style in enumerate(STATUSES)),
    default=Value(len(STATUSES)),
    output_field=IntegerField(),
)

CSV_HEADER = [
    "site",
    "floor",
    "seat",
    "team",
    "status",
    "status_since",
    "hostname",
    "last_seen_at",
    "failing_checks",
    "os",
    "top_fix",
    "row",
    "column",
    "timezone",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def top_fix(seat: Seat, os_name: str) -> str:
    """The first step for the seat's worst failing check, for its OS: what to do first."""
    for item in seat.failing or []:
        try:
            fix = fix_for(str(item.get("check_id", "")), os_name)
        except (KeyError, ValueError):
            continue  # a check this catalog does not know, or no OS reported yet
        if fix.steps:
            return fix.steps[0]
    return ""


def site_zone(name: str) -> zoneinfo.ZoneInfo | dt.timezone:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc  # a mistyped zone must not break the export; UTC is still true


def seats_csv(seats: QuerySet[Seat]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    ordered = seats.order_by(WORST_FIRST, "readiness_since", "floor__site__name", "floor__name", "label")

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for seat in ordered.iterator(chunk_size=500):
            device = getattr(seat, "device", None)
            os_name = device.os if device else ""
            # Times in the site's own zone (named in the last column), as the pages show them.
            zone = site_zone(seat.floor.site.timezone)
            yield writer.writerow(
                [
                    seat.floor.site.name,
                    seat.floor.name,
                    seat.label,
                    seat.team,
                    seat.readiness,
                    timezone.localtime(seat.readiness_since, zone).isoformat(),
                    device.hostname if device else "",
                    timezone.localtime(device.last_seen_at, zone).isoformat()
                    if device and device.last_seen_at
                    else "",
                    "; ".join(f"{item['check_id']}: {item['reason']}" for item in seat.failing),
                    os_name,
                    top_fix(seat, os_name),
                    seat.row + 1,
                    seat.column + 1,
                    str(zone),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="readyfloor-seats.csv"'
    return response
