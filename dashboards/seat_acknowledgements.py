"""Acknowledging a failing check from its seat's page, and revoking it: for accounts allowed
Action.ACKNOWLEDGE on the seat (IT admins, the seat's supervisors; never auditors). Every step is
made and audited by server.acknowledgements.acknowledging."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboards.seat_history import DATETIME_LOCAL
from dashboards.views import _zone, render_seat_page, role_required, seat_in_scope
from server.acknowledgements.acknowledging import acknowledge, revoke
from server.acknowledgements.models import Acknowledgement
from server.fleet.models import Seat
from server.roles import scope


def _back(seat: Seat) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("dashboards:seat", args=[seat.pk]) + "#acknowledgements", status=303)


@require_POST
@role_required
def seat_acknowledge(request: HttpRequest, seat_id: int) -> HttpResponse:
    seat = seat_in_scope(request, seat_id)
    if not scope.can_act_on(request.user, seat, scope.Action.ACKNOWLEDGE):
        return render(request, "dashboards/forbidden.html", status=403)
    zone = _zone(seat.floor.site.timezone)
    expires_at: dt.datetime | None = None
    errors: dict[str, str] = {}
    raw = request.POST.get("expires_at", "").strip()
    try:
        # The box shows the site's local time (named beside it); stored in UTC.
        expires_at = dt.datetime.strptime(raw, DATETIME_LOCAL).replace(tzinfo=zone) if raw else None
    except ValueError:
        errors["expires_at"] = f"{raw!r} is not a date and time like 2026-12-31T18:00"
    if not errors:
        try:
            acknowledge(
                actor=request.user,
                check_id=request.POST.get("check_id", ""),
                reason=request.POST.get("reason", ""),
                expires_at=expires_at,  # type: ignore[arg-type]  # None is refused by name
                seat=seat,
            )
        except ValidationError as error:
            errors = {field: " ".join(messages) for field, messages in error.message_dict.items()}
    if errors:
        return render_seat_page(request, seat, acknowledge_errors=errors, status=400)
    return _back(seat)


@require_POST
@role_required
def seat_revoke_acknowledgement(request: HttpRequest, seat_id: int, acknowledgement_id: int) -> HttpResponse:
    seat = seat_in_scope(request, seat_id)
    # Only the seat's own: a floor-wide acknowledgement covers other seats too (the admin ends it).
    acknowledgement = Acknowledgement.objects.filter(pk=acknowledgement_id, seat=seat).first()
    if acknowledgement is None:
        raise Http404(f"No acknowledgement {acknowledgement_id} on this seat")
    if not scope.can_act_on(request.user, seat, scope.Action.ACKNOWLEDGE):
        return render(request, "dashboards/forbidden.html", status=403)
    revoke(acknowledgement, actor=request.user, reason=request.POST.get("reason", ""))
    return _back(seat)
