"""The reports pages: the archive (with "make a report now"), one run, its downloads, and the
schedules (edited by IT admins; anyone who may see a schedule's scope may subscribe to it).

What a page shows is decided by server.reports.scoping: a supervisor never sees, downloads or
subscribes to another floor's report — such a run or schedule is a 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect as redirect_302
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboards.views import role_required
from server.api.reports import file_response
from server.reports import running, scheduling, scoping
from server.reports.forms import ScheduleForm
from server.reports.models import (
    Format,
    ReportFile,
    ReportRun,
    ReportSchedule,
    ReportSubscription,
    ScopeKind,
    Trigger,
)
from server.reports.scoping import Scope, ScopeError
from server.roles import scope as roles

EDIT_SCHEDULES = "reports.change_reportschedule"


def redirect(to: str, **kwargs: Any) -> HttpResponse:
    """After a POST, 303 See Other: the browser fetches the next page with a GET."""
    response = redirect_302(to, **kwargs)
    response.status_code = 303
    return response


RUNS_PER_PAGE = 50


def scope_choices(user: Any) -> list[tuple[str, str]]:
    """The scopes this account may report on, as `manage.py report --scope` spells them."""
    floors = roles.floors_visible_to(user).select_related("site").order_by("site__name", "name")
    choices = []
    for site in roles.sites_visible_to(user).order_by("name"):
        scope = Scope(kind=ScopeKind.SITE, site=site)
        if scoping.can_see(user, scope):
            choices.append((f"site:{site.pk}", f"Site {site.name} (every floor)"))
    for floor in floors:
        if scoping.can_see(user, Scope(kind=ScopeKind.FLOOR, site=floor.site, floor=floor)):
            choices.append((f"floor:{floor.pk}", f"Floor {floor.site.name} / {floor.name}"))
    return choices


@require_GET
@role_required
def archive(request: HttpRequest) -> HttpResponse:
    runs = scoping.visible(request.user, ReportRun.objects.select_related("site", "floor", "schedule"))
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    schedules = scoping.visible(request.user, ReportSchedule.objects.select_related("site", "floor"))
    mine = set(ReportSubscription.objects.filter(user=request.user).values_list("schedule_id", flat=True))
    return render(
        request,
        "dashboards/reports.html",
        {
            "nav": "reports",
            "page": page,
            "schedules": [(schedule, schedule.pk in mine) for schedule in schedules],
            "scopes": scope_choices(request.user),
            "formats": Format.choices,
            "can_edit": request.user.has_perm(EDIT_SCHEDULES),
        },
    )


@require_POST
@role_required
def make_now(request: HttpRequest) -> HttpResponse:
    formats = [value for value in request.POST.getlist("formats") if value in Format.values]
    try:
        scope = Scope.parse(request.POST.get("scope", ""))
    except ScopeError as error:
        messages.error(request, f"Scope: {error}")
        return redirect("dashboards:reports")
    if not scoping.can_see(request.user, scope):
        raise Http404("no such scope")
    if not formats:
        messages.error(request, "Formats: choose CSV, PDF or both.")
        return redirect("dashboards:reports")
    with transaction.atomic():
        run = running.create_run(scope, formats=formats, trigger=Trigger.PAGE, user=request.user)
        assert run is not None
        running.queue_generation(run)
    messages.success(
        request, f"Report #{run.pk} for {scope.label} is being made; this page shows it when ready."
    )
    return redirect("dashboards:report_run", run_id=run.pk)


def _visible_run(request: HttpRequest, run_id: int) -> ReportRun:
    run = (
        scoping.visible(request.user, ReportRun.objects.select_related("site", "floor", "schedule"))
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise Http404("no such report")
    return run


@require_GET
@role_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _visible_run(request, run_id)
    return render(
        request,
        "dashboards/report_run.html",
        {
            "nav": "reports",
            "run": run,
            "files": run.files.defer("content"),
            "deliveries": run.deliveries.select_related("channel"),
            "refresh": run.status in ("pending", "running"),
        },
    )


@require_GET
@role_required
def download(request: HttpRequest, run_id: int, format: str) -> HttpResponse:
    run = _visible_run(request, run_id)
    file = ReportFile.objects.filter(run=run, format=format).first()
    if file is None:
        raise Http404("no such file")
    return file_response(file)


@require_http_methods(["GET", "POST"])
@role_required
def schedule_edit(request: HttpRequest, schedule_id: int | None = None) -> HttpResponse:
    if not request.user.has_perm(EDIT_SCHEDULES):
        raise Http404("only IT admins edit schedules")
    schedule = ReportSchedule.objects.filter(pk=schedule_id).first() if schedule_id else None
    if schedule_id and schedule is None:
        raise Http404("no such schedule")
    form = ScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save(commit=False)
            if saved.created_by_id is None:
                saved.created_by = request.user
            saved.save()
            scheduling.sync_periodic_task(saved)
        messages.success(
            request, f"Schedule '{saved.name}' saved: {saved.cadence_text}. Beat picks it up by itself."
        )
        return redirect("dashboards:reports")
    return render(
        request, "dashboards/report_schedule.html", {"nav": "reports", "form": form, "schedule": schedule}
    )


@require_POST
@role_required
def subscription(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = scoping.visible(request.user, ReportSchedule.objects.all()).filter(pk=schedule_id).first()
    if schedule is None:
        raise Http404("no such schedule")
    if request.POST.get("action") == "unsubscribe":
        ReportSubscription.objects.filter(schedule=schedule, user=request.user).delete()
        messages.success(request, f"You no longer receive '{schedule.name}'.")
    elif not request.user.email:
        messages.error(request, "Your account has no email address: ask an IT admin to add one.")
    else:
        ReportSubscription.objects.get_or_create(schedule=schedule, user=request.user)
        messages.success(request, f"You will receive '{schedule.name}' at {request.user.email}.")
    return redirect("dashboards:reports")
