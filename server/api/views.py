"""Operator API (read-only for now): seats with readiness and failing checks.

Authenticated by an API token (`Authorization: Bearer rf_…`) or a logged-in session.
Lists are paginated; `?format=csv` exports the whole filtered list.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.paginator import EmptyPage, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from server.accounts.models import ApiToken
from server.api.openapi import openapi_document
from server.compliance.models import CheckResult
from server.fleet.models import Readiness, Seat

MAX_PAGE_SIZE = 500


def api_auth(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme in {"Bearer", "Token"} and token:
            user = ApiToken.authenticate(token.strip())
            if user is None:
                return JsonResponse(
                    {"error": "unauthorized", "detail": "unknown or revoked API token"}, status=401
                )
            request.user = user
        elif not request.user.is_authenticated:
            return JsonResponse(
                {"error": "unauthorized", "detail": "send 'Authorization: Bearer <token>' or log in"},
                status=401,
            )
        if not request.user.is_staff:
            return JsonResponse({"error": "forbidden", "detail": "staff access required"}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


class QueryError(Exception):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.detail = field, detail


def filtered_seats(params: Any) -> QuerySet[Seat]:
    seats = Seat.objects.select_related("floor__site", "device").order_by(
        "floor__site__name", "floor__name", "row", "column"
    )
    if params.get("site"):
        seats = seats.filter(floor__site__name=params["site"])
    if params.get("floor"):
        seats = seats.filter(floor__name=params["floor"])
    if params.get("status"):
        wanted = [value.strip() for value in params["status"].split(",") if value.strip()]
        unknown = [value for value in wanted if value not in Readiness.values]
        if unknown:
            raise QueryError(
                "status", f"unknown status {unknown[0]!r}; use one of {', '.join(Readiness.values)}"
            )
        seats = seats.filter(readiness__in=wanted)
    if params.get("check"):
        seats = seats.filter(failing__contains=[{"check_id": params["check"]}])
    return seats


def seat_json(seat: Seat) -> dict[str, Any]:
    device = getattr(seat, "device", None)
    return {
        "id": seat.pk,
        "site": seat.floor.site.name,
        "floor": seat.floor.name,
        "label": seat.label,
        "row": seat.row,
        "column": seat.column,
        "team": seat.team,
        "status": seat.readiness,
        "status_since": seat.readiness_since.isoformat(),
        "evaluated_at": seat.evaluated_at.isoformat() if seat.evaluated_at else None,
        "failing_checks": seat.failing,
        "device": None
        if device is None
        else {
            "id": device.pk,
            "hostname": device.hostname,
            "os": device.os,
            "agent_version": device.agent_version,
            "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
        },
    }


@require_GET
@api_auth
def seats(request: HttpRequest) -> HttpResponse:
    try:
        queryset = filtered_seats(request.GET)
        if request.GET.get("format") == "csv":
            return seats_csv(queryset)
        page_number = _positive_int(request.GET.get("page"), "page", 1)
        page_size = min(_positive_int(request.GET.get("page_size"), "page_size", 100), MAX_PAGE_SIZE)
    except QueryError as error:
        return JsonResponse({"error": "invalid", "field": error.field, "detail": error.detail}, status=400)
    paginator = Paginator(queryset, page_size)
    try:
        page = paginator.page(page_number)
    except EmptyPage:
        return JsonResponse(
            {"error": "invalid", "field": "page", "detail": f"there are {paginator.num_pages} pages"},
            status=404,
        )

    def link(number: int) -> str:
        query = request.GET.copy()
        query["page"] = str(number)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return JsonResponse(
        {
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": link(page.previous_page_number()) if page.has_previous() else None,
            "results": [seat_json(seat) for seat in page.object_list],
        }
    )


@require_GET
@api_auth
def seat_detail(request: HttpRequest, seat_id: int) -> HttpResponse:
    seat = Seat.objects.select_related("floor__site", "device").filter(pk=seat_id).first()
    if seat is None:
        return JsonResponse({"error": "not_found", "detail": f"no seat {seat_id}"}, status=404)
    body = seat_json(seat)
    device = getattr(seat, "device", None)
    body["checks"] = (
        [
            {
                "check_id": r.check_id,
                "state": r.state,
                "severity": r.severity,
                "reason": r.reason,
                "since": r.since.isoformat(),
                "evidence": r.evidence,
            }
            for r in CheckResult.objects.filter(device=device)
        ]
        if device
        else []
    )
    return JsonResponse(body)


def _positive_int(value: str | None, field: str, default: int) -> int:
    if value in (None, ""):
        return default
    if not value.isdigit() or int(value) < 1:
        raise QueryError(field, "must be a positive whole number")
    return int(value)


class _Echo:
    def write(self, value: str) -> str:
        return value


def seats_csv(queryset: QuerySet[Seat]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    header = [
        "site",
        "floor",
        "seat",
        "team",
        "status",
        "status_since",
        "hostname",
        "last_seen_at",
        "failing_checks",
    ]

    def rows():
        yield writer.writerow(header)
        for seat in queryset.iterator(chunk_size=500):
            device = getattr(seat, "device", None)
            yield writer.writerow(
                [
                    seat.floor.site.name,
                    seat.floor.name,
                    seat.label,
                    seat.team,
                    seat.readiness,
                    seat.readiness_since.isoformat(),
                    device.hostname if device else "",
                    device.last_seen_at.isoformat() if device and device.last_seen_at else "",
                    "; ".join(f"{item['check_id']}: {item['reason']}" for item in seat.failing),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="readyfloor-seats.csv"'
    return response


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(request.build_absolute_uri("/")))
