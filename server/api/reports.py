"""Operator API, reports: make a report on demand, list and read the archive, download files,
list schedules and subscribe to them. Everything asks server.reports.scoping (built on
server.roles.scope): another floor's runs are 404 as if they did not exist, and a report or
subscription for a scope the caller may not see is refused naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.paginator import EmptyPage, Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from server.api.errors import ApiError, ErrorOut
from server.reports import running, scoping
from server.reports.models import ReportFile, ReportRun, ReportSchedule, ReportSubscription, Trigger
from server.reports.scoping import SCOPE_HELP, Scope, ScopeError
from server.roles import scope as roles

router = Router(tags=["reports"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


class RunIn(Schema):
    scope: str = Field(description=f"What the report covers: {SCOPE_HELP}.", examples=["floor:Floor 1"])
    formats: list[Literal["csv", "pdf"]] = Field(default_factory=lambda: ["csv", "pdf"], min_length=1)
    period_days: int = Field(7, ge=1, le=400, description="The trend's period in days.")


class FileOut(Schema):
    format: str
    filename: str
    size: int
    sha256: str
    url: str


class DeliveryOut(Schema):
    kind: str
    recipients: list[str]
    status: str
    attempts: int
    last_error: str
    delivered_at: dt.datetime | None
    linked: bool
    attempt_log: list[dict[str, Any]]


class RunOut(Schema):
    id: int
    scope: dict[str, Any]
    schedule_id: int | None
    trigger: str
    status: str
    formats: list[str]
    period_days: int
    created_at: dt.datetime
    generated_at: dt.datetime | None
    duration_ms: int | None
    error: str
    counts: dict[str, int] | None
    files: list[FileOut]
    deliveries: list[DeliveryOut]
    url: str


class RunPage(Schema):
    count: int
    page: int
    pages: int
    results: list[RunOut]


class RunFilters(Schema):
    floor: int | None = Field(None, description="Only runs of this floor (id).")
    status: Literal["pending", "running", "done", "failed"] | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=200)


class ScheduleOut(Schema):
    id: int
    name: str
    scope: str
    cadence: str
    formats: list[str]
    enabled: bool
    subscribed: bool


def run_json(request: HttpRequest, run: ReportRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "scope": run.parameters.get("scope") or {},
        "schedule_id": run.schedule_id,
        "trigger": run.trigger,
        "status": run.status,
        "formats": list(run.formats),
        "period_days": run.period_days,
        "created_at": run.created_at,
        "generated_at": run.generated_at,
        "duration_ms": run.duration_ms,
        "error": run.error,
        "counts": run.parameters.get("counts"),
        "files": [
            {
                "format": file.format,
                "filename": file.filename,
                "size": file.size,
                "sha256": file.sha256,
                "url": request.build_absolute_uri(reverse("api:reportFile", args=[run.pk, file.format])),
            }
            for file in run.files.all().defer("content")
        ],
        "deliveries": [
            {
                "kind": delivery.kind,
                "recipients": delivery.recipients,
                "status": delivery.status,
                "attempts": delivery.attempts,
                "last_error": delivery.last_error,
                "delivered_at": delivery.delivered_at,
                "linked": delivery.linked,
                "attempt_log": delivery.attempt_log,
            }
            for delivery in run.deliveries.all()
        ],
        "url": request.build_absolute_uri(reverse("dashboards:report_run", args=[run.pk])),
    }


def _visible(request: HttpRequest, model: Any, pk: int, what: str, field: str) -> Any:
    """One run or schedule the caller may see; the same 404 whether it is missing or out of scope."""
    found = scoping.visible(request.user, model.objects.select_related("site", "floor")).filter(pk=pk).first()
    if found is None:
        raise ApiError(404, f"no {what} {pk} that you can see", field=field)
    return found


def visible_run(request: HttpRequest, run_id: int) -> ReportRun:
    return _visible(request, ReportRun, run_id, "report run", "run_id")


@router.post(
    "/runs",
    response={202: RunOut, **ERRORS},
    url_name="reportRuns",
    operation_id="createReportRun",
    summary="Make a report now; the worker renders it. Poll the run, then download its files.",
)
def create_run(request: HttpRequest, body: RunIn) -> Any:
    try:
        scope = Scope.parse(body.scope)
    except ScopeError as error:
        raise ApiError(400, str(error), field="scope") from None
    if not scoping.can_see(request.user, scope):
        raise ApiError(403, f"you may not see every seat of {scope.label}", field="scope")
    with transaction.atomic():
        run = running.create_run(
            scope,
            formats=list(body.formats),
            trigger=Trigger.API,
            period_days=body.period_days,
            user=request.user,
        )
        assert run is not None
        running.queue_generation(run)
    return Status(202, run_json(request, run))


@router.get(
    "/runs",
    response={200: RunPage, **ERRORS},
    url_name="reportRuns",
    operation_id="listReportRuns",
    summary="The archive: runs you may see, newest first.",
)
def list_runs(request: HttpRequest, filters: Query[RunFilters]) -> Any:
    runs = scoping.visible(request.user, ReportRun.objects.all())
    if filters.floor is not None:
        if not roles.floors_visible_to(request.user).filter(pk=filters.floor).exists():
            raise ApiError(403, f"floor {filters.floor} is not one you can see", field="floor")
        runs = runs.filter(floor_id=filters.floor)
    if filters.status:
        runs = runs.filter(status=filters.status)
    paginator = Paginator(runs.prefetch_related("deliveries"), filters.page_size)
    try:
        page = paginator.page(filters.page)
    except EmptyPage:
        raise ApiError(404, f"there are {paginator.num_pages} pages", field="page") from None
    return {
        "count": paginator.count,
        "page": page.number,
        "pages": paginator.num_pages,
        "results": [run_json(request, run) for run in page.object_list],
    }


@router.get(
    "/runs/{int:run_id}",
    response={200: RunOut, **ERRORS},
    url_name="reportRun",
    operation_id="getReportRun",
    summary="One run: parameters, status, files (size, sha256), deliveries and their attempts.",
)
def get_run(request: HttpRequest, run_id: int) -> Any:
    return run_json(request, visible_run(request, run_id))


@router.get(
    "/runs/{int:run_id}/files/{format}",
    response={200: None, **ERRORS},
    url_name="reportFile",
    operation_id="downloadReportFile",
    summary="Download a run's CSV or PDF.",
    openapi_extra={
        "responses": {
            200: {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                }
            }
        }
    },
)
def download(request: HttpRequest, run_id: int, format: str) -> Any:
    run = visible_run(request, run_id)
    file = ReportFile.objects.filter(run=run, format=format).first()
    if file is None:
        raise ApiError(404, f"report run {run_id} has no {format!r} file", field="format")
    return file_response(file)


def file_response(file: ReportFile) -> HttpResponse:
    response = HttpResponse(bytes(file.content), content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response["Digest"] = f"sha-256={file.sha256}"
    return response


@router.get(
    "/schedules",
    response={200: list[ScheduleOut], **ERRORS},
    url_name="reportSchedules",
    operation_id="listReportSchedules",
    summary="Schedules whose reports you may see, and whether you receive them.",
)
def list_schedules(request: HttpRequest) -> Any:
    mine = set(ReportSubscription.objects.filter(user=request.user).values_list("schedule_id", flat=True))
    schedules = scoping.visible(request.user, ReportSchedule.objects.select_related("site", "floor"))
    return [
        {
            "id": schedule.pk,
            "name": schedule.name,
            "scope": schedule.scope_label,
            "cadence": schedule.cadence_text,
            "formats": list(schedule.formats),
            "enabled": schedule.enabled,
            "subscribed": schedule.pk in mine,
        }
        for schedule in schedules
    ]


def visible_schedule(request: HttpRequest, schedule_id: int) -> ReportSchedule:
    return _visible(request, ReportSchedule, schedule_id, "report schedule", "schedule_id")


@router.post(
    "/schedules/{int:schedule_id}/subscription",
    response={201: ScheduleOut, **ERRORS},
    url_name="reportSubscription",
    operation_id="subscribeToReportSchedule",
    summary="Receive this schedule's reports at your account's email address.",
)
def subscribe(request: HttpRequest, schedule_id: int) -> Any:
    schedule = visible_schedule(request, schedule_id)
    if not request.user.email:
        raise ApiError(400, "your account has no email address to send reports to", field="email")
    ReportSubscription.objects.get_or_create(schedule=schedule, user=request.user)
    return Status(
        201,
        {
            "id": schedule.pk,
            "name": schedule.name,
            "scope": schedule.scope_label,
            "cadence": schedule.cadence_text,
            "formats": list(schedule.formats),
            "enabled": schedule.enabled,
            "subscribed": True,
        },
    )


@router.delete(
    "/schedules/{int:schedule_id}/subscription",
    response={204: None, **ERRORS},
    url_name="reportSubscription",
    operation_id="unsubscribeFromReportSchedule",
    summary="Stop receiving this schedule's reports.",
)
def unsubscribe(request: HttpRequest, schedule_id: int) -> Any:
    schedule = visible_schedule(request, schedule_id)
    ReportSubscription.objects.filter(schedule=schedule, user=request.user).delete()
    return Status(204, None)
