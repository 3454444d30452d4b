"""The supervisor's shift board, and its kiosk form for a wall screen."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboards import figures
from dashboards.views import fix_link_url, role_required
from server.fleet.models import Floor
from server.roles import scope
from server.shifts.board import board_for
from server.shifts.schedule import zone_of

REFRESH_SECONDS = 30


@require_GET
@role_required
def shift_board(request: HttpRequest) -> HttpResponse:
    floors = list(scope.floors_visible_to(request.user).select_related("site").order_by("site__name", "name"))
    if not floors:
        return render(request, "dashboards/board.html", {"floor": None, "floors": []})
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
        "tiles": [
            {"style": style, "count": board.counts.get(style.value, 0)}
            for style in figures.STATUSES
            if style.value != "unknown" or board.counts.get("unknown")
        ],
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
    }
    with timezone.override(zone):
        return render(request, "dashboards/board.html", context)


def _floor(request: HttpRequest, floors: list[Floor]) -> Floor:
    wanted = request.GET.get("floor")
    if not wanted:
        return floors[0]
    for floor in floors:
        if str(floor.pk) == wanted or floor.name == wanted:
            return floor
    raise Http404(f"No floor {wanted!r}")
