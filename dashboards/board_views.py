"""The supervisor's shift board, its kiosk form for a wall screen, and acknowledging a seat's
failing check from its row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from readyfloor_agent.checks import get_check

from dashboards import acknowledge_form, figures
from dashboards.views import fix_link_url, floor_url, role_required, seat_in_scope
from server.fleet.models import Floor, Seat
from server.roles import scope
from server.shifts.board import board_for
from server.shifts.models import Shift
from server.shifts.schedule import zone_of

REFRESH_SECONDS = 30
# How long an acknowledgement from the board lasts: what a supervisor decides in the minutes
# before a shift. "date" reads the box beside the choice (the site's local time).
UNTIL_CHOICES = {
    "4h": "4 hours",
    "shift_end": "End of shift",
    "1d": "1 day",
    "7d": "7 days",
    "date": "Until…",
}
UNTIL_DURATIONS = {"4h": dt.timedelta(hours=4), "1d": dt.timedelta(days=1), "7d": dt.timedelta(days=7)}
DEFAULT_UNTIL = "shift_end"
# The form's fields as the board's labels name them, for errors.
FIELD_LABELS = {"check_id": "Check", "reason": "Reason", "expires_at": "Until", "seat": "Seat"}


@require_GET
@role_required
def shift_board(request: HttpRequest) -> HttpResponse:
    return render_board(request)


def render_board(
    request: HttpRequest, *, acknowledging: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """The board its query string asks for; after a refused acknowledgement (`acknowledging`:
    the seat's id, the errors by field, what was posted), with that row's form open."""
    floors = list(scope.floors_visible_to(request.user).select_related("site").order_by("site__name", "name"))
    if not floors:
        return render(request, "dashboards/board.html", {"floor": None, "floors": []}, status=status)
    floor = _floor(request, floors)
    shift_id = request.GET.get("shift")
    board = board_for(
        floor,
        timezone.now(),
        int(shift_id) if shift_id and shift_id.isdigit() else None,
        visible=scope.seats_visible_to(request.user),
    )
    zone = zone_of(floor.site.timezone)
    kiosk = request.GET.get("kiosk") == "1"
    context = {
        "nav": "board",
        "board": board,
        "floor": floor,
        "floors": floors,
        "kiosk": kiosk,
        "tiles": figures.tiles(
            board.counts, lambda status: floor_url(floor, "", status), hide_empty_unknown=True
        ),
        "countdown": figures.duration(board.countdown) if board.countdown else "",
        "refresh_seconds": REFRESH_SECONDS,
        "timezone_name": str(zone),
        "kiosk_url": reverse("dashboards:board")
        + f"?floor={floor.pk}&kiosk=1"
        + (f"&shift={board.shift.pk}" if board.shift else ""),
        "styles": {style.value: style for style in figures.STATUSES},
        # A link per seat to hand to the person sitting there (copy it into a chat).
        "fix_links": {}
        if kiosk
        else {
            item.seat.pk: fix_link_url(request, item.seat)
            for item in board.attention
            if scope.can_act_on(request.user, item.seat, scope.Action.SEND_FIX_LINK)
        },
        # The wall screen is read-only: no forms on it.
        "may_acknowledge": set()
        if kiosk
        else {
            item.seat.pk
            for item in board.attention
            if item.failing and scope.can_act_on(request.user, item.seat, scope.Action.ACKNOWLEDGE)
        },
        "until_choices": UNTIL_CHOICES,
        "board_query": request.GET.urlencode(),
        "acknowledging": acknowledging or {},
    }
    with timezone.override(zone):
        return render(request, "dashboards/board.html", context, status=status)


@require_POST
@role_required
def board_acknowledge(request: HttpRequest, seat_id: int) -> HttpResponse:
    """Acknowledge a failing check of a board's row. The form posts to this URL with the board's
    own query string, so the answer is that same board: on success a redirect with a message,
    on a bad form the board again (400) with the row's errors, nothing stored."""
    seat = seat_in_scope(request, seat_id)
    if (refusal := acknowledge_form.refused(request, seat)) is not None:
        return refusal
    if request.GET.get("kiosk") == "1":
        return render(request, "dashboards/forbidden.html", status=403)
    zone = zone_of(seat.floor.site.timezone)
    expires_at, errors = _until(request, seat, zone)
    acknowledgement = None
    if not errors:
        acknowledgement, errors = acknowledge_form.acknowledge_posted(request, seat, expires_at)
    if acknowledgement is None:
        named = {FIELD_LABELS.get(field, field): message for field, message in errors.items()}
        return render_board(
            request,
            acknowledging={"seat_id": seat.pk, "errors": named, "form": request.POST},
            status=400,
        )
    until = timezone.localtime(acknowledgement.expires_at, zone)
    messages.success(
        request,
        f"Acknowledged “{get_check(acknowledgement.check_id).title}” on seat {seat.label} "
        f"until {until:%a %-d %b, %H:%M} ({zone}).",
    )
    query = request.GET.urlencode()
    return HttpResponseRedirect(reverse("dashboards:board") + (f"?{query}" if query else ""), status=303)


def _until(request: HttpRequest, seat: Seat, zone: Any) -> tuple[dt.datetime | None, dict[str, str]]:
    """The expiry the row's choice means, or the error naming the field."""
    choice = request.POST.get("until", "")
    now = timezone.now()
    if choice in UNTIL_DURATIONS:
        return now + UNTIL_DURATIONS[choice], {}
    if choice == "shift_end":
        # The shift the board showed (current, else next), on the seat's own floor.
        shift_id = request.POST.get("shift", "")
        shifts = Shift.objects.filter(floor_id=seat.floor_id)
        shift = shifts.filter(pk=shift_id).first() if shift_id.isdigit() else None
        occurrence = shift.occurrence(now) if shift else None
        if occurrence is None:
            return None, {"expires_at": "no shift on this seat's floor to end"}
        return occurrence.end, {}
    if choice == "date":
        return acknowledge_form.local_until(request.POST.get("until_date", ""), zone)
    return None, {"expires_at": f"choose one of: {', '.join(UNTIL_CHOICES.values())}"}


def _floor(request: HttpRequest, floors: list[Floor]) -> Floor:
    wanted = request.GET.get("floor")
    if not wanted:
        return floors[0]
    for floor in floors:
        if str(floor.pk) == wanted or floor.name == wanted:
            return floor
    raise Http404(f"No floor {wanted!r}")
