"""Acknowledging a failing check from its seat's page, and revoking it: for accounts allowed
Action.ACKNOWLEDGE on the seat (IT admins, the seat's supervisors; never auditors). Every step is
made and audited by server.acknowledgements.acknowledging."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboards import acknowledge_form
from dashboards.views import _zone, render_seat_page, role_required, seat_in_scope
from server.acknowledgements.acknowledging import revoke
from server.acknowledgements.models import Acknowledgement
from server.fleet.models import Seat


def _back(seat: Seat) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("dashboards:seat", args=[seat.pk]) + "#acknowledgements", status=303)


@require_POST
@role_required
def seat_acknowledge(request: HttpRequest, seat_id: int) -> HttpResponse:
    seat = seat_in_scope(request, seat_id)
    if (refusal := acknowledge_form.refused(request, seat)) is not None:
        return refusal
    # The box shows the site's local time (named beside it); stored in UTC.
    expires_at, errors = acknowledge_form.local_until(
        request.POST.get("expires_at", ""), _zone(seat.floor.site.timezone)
    )
    if not errors:
        _, errors = acknowledge_form.acknowledge_posted(request, seat, expires_at)
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
    if (refusal := acknowledge_form.refused(request, seat)) is not None:
        return refusal
    revoke(acknowledgement, actor=request.user, reason=request.POST.get("reason", ""))
    return _back(seat)
