"""Help for one seat: "recheck now" from the seat page, and the fix link a supervisor hands to the
person at the seat, which opens that seat's steps without a login."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from readyfloor_agent.checks import State
from readyfloor_agent.checks.catalog import reason_now
from readyfloor_agent.checks.model import OS_LABELS

from dashboards.views import CATALOG_ORDER, _check_title, _fix, _zone, role_required
from server.compliance import governing
from server.compliance.models import CheckResult
from server.fleet import fixlinks
from server.fleet.models import Readiness, Seat
from server.roles import scope

NEEDS_FIX = {State.FAIL.value, State.UNKNOWN.value, State.WARN.value}
# While a recheck is on its way, the fix page reloads itself this often to show it land.
WAITING_REFRESH_S = 10


@require_POST
@role_required
def seat_recheck(request: HttpRequest, seat_id: int) -> HttpResponse:
    seat = scope.seats_visible_to(request.user).select_related("device").filter(pk=seat_id).first()
    if seat is None:
        raise Http404(f"No seat {seat_id}")
    device = getattr(seat, "device", None)
    if device is None or not scope.can_act_on(request.user, seat, scope.Action.RECHECK):
        return render(request, "dashboards/forbidden.html", status=403)
    device.request_recheck()
    return HttpResponseRedirect(reverse("dashboards:seat", args=[seat.pk]), status=303)


def _seat_from_link(token: str) -> Seat:
    try:
        return fixlinks.seat_for(token)
    except fixlinks.LinkInvalid as error:
        raise Http404("This fix link is not valid.") from error


@require_GET
def fix_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        seat = _seat_from_link(token)
    except fixlinks.LinkExpired:
        return render(request, "dashboards/fix_expired.html", status=410)
    device = getattr(seat, "device", None)
    policy = governing.policy_for(seat, seat.floor.site)
    results = [r for r in CheckResult.objects.filter(device=device) if r.state in NEEDS_FIX] if device else []
    results.sort(
        key=lambda r: (State(r.state).rank * -1, r.severity != "critical", CATALOG_ORDER.get(r.check_id, 99))
    )
    os_name = device.os if device else ""
    steps = []
    for result in results:
        browser = str((result.evidence or {}).get("browser") or "chrome")
        fix = _fix(result.check_id, os_name, browser)
        steps.append(
            {
                "title": _check_title(result.check_id, browser),
                "reason": reason_now(
                    result.check_id, result.reason, device.last_seen_at if device else None, timezone.now()
                ),
                "state": result.state,
                "steps": fix.naming(policy.cti_origins or []).steps if fix else (),
            }
        )
    recheck = device.recheck_progress() if device else ""
    context = {
        "seat": seat,
        "device": device,
        "ready": seat.readiness == Readiness.READY,
        "os_label": OS_LABELS.get(os_name, ""),
        "problems": steps,
        "recheck": recheck,
        "refresh_seconds": WAITING_REFRESH_S if recheck in {"waiting", "sent"} else 0,
        "token": token,
    }
    with timezone.override(_zone(seat.floor.site.timezone)):
        return render(request, "dashboards/fix.html", context)


@require_POST
def fix_recheck(request: HttpRequest, token: str) -> HttpResponse:
    try:
        seat = _seat_from_link(token)
    except fixlinks.LinkExpired:
        return render(request, "dashboards/fix_expired.html", status=410)
    device = getattr(seat, "device", None)
    if device is not None:
        device.request_recheck()
    return HttpResponseRedirect(reverse("dashboards:fix", args=[token]), status=303)
