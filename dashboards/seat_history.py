"""What a seat's page shows of its past: each check's transitions, the acknowledgements made on
it, the workstations that moved to or from it, and the policy version it was judged under.

Context builders only; the page (dashboards.views.render_seat_page) and the acknowledgement
forms (dashboards.seat_acknowledgements) use them. Each reads a bounded number of rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from readyfloor_agent.checks import CATALOG, get_check

from server.acknowledgements.acknowledging import active_acknowledgements, list_acknowledgements
from server.compliance import history
from server.compliance.models import CheckState, SeatVerdict
from server.fleet.models import DeviceMove, Seat
from server.roles import scope

# The timeline's first page, and how far "more" reaches (one page, still bounded).
TIMELINE_ROWS = 20
TIMELINE_MORE = 200
ACKNOWLEDGEMENT_ROWS = 20
MOVE_ROWS = 20
# What the "until" box proposes: a week is long enough for a vendor ticket, short enough to review.
DEFAULT_ACKNOWLEDGEMENT = dt.timedelta(days=7)
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _title(check_id: str) -> str:
    try:
        return get_check(check_id).title
    except KeyError:
        return check_id


def _state_label(state: str) -> str:
    return CheckState(state).label if state in CheckState.values else (state or "—")


def timeline_context(request: HttpRequest, seat: Seat) -> dict[str, Any]:
    """Transitions of each check on the seat, newest first; `?check=` narrows to one check and
    `?timeline=all` shows up to TIMELINE_MORE instead of TIMELINE_ROWS."""
    check_id = request.GET.get("check", "")
    more = request.GET.get("timeline") == "all"
    cap = TIMELINE_MORE if more else TIMELINE_ROWS
    rows = history.transitions(seat.pk, check_id or None, limit=cap + 1)
    page = reverse("dashboards:seat", args=[seat.pk])

    def url(**query: str) -> str:
        query = {key: value for key, value in query.items() if value}
        return page + ("?" + urlencode(query) if query else "") + "#timeline"

    return {
        "timeline": [
            {
                "transition": row,
                "title": _title(row.check_id),
                "from_label": _state_label(row.from_state),
                "to_label": _state_label(row.to_state),
                "check_url": url(check=row.check_id),
            }
            for row in rows[:cap]
        ],
        "timeline_check": check_id,
        "timeline_check_title": _title(check_id) if check_id else "",
        "timeline_more_url": url(check=check_id, timeline="all") if len(rows) > cap and not more else "",
        "timeline_capped": more and len(rows) > cap,
        "timeline_cap": cap,
        "timeline_all_url": url() if check_id or more else "",
    }


def acknowledgements_context(
    request: HttpRequest,
    seat: Seat,
    zone: Any,
    checks: list[dict[str, Any]],
    errors: dict[str, str] | None,
) -> dict[str, Any]:
    """The seat's own acknowledgements (in force and ended, newest first), the floor-wide ones in
    force, and the form to add one for accounts allowed Action.ACKNOWLEDGE on the seat."""
    now = timezone.now()
    may_acknowledge = scope.can_act_on(request.user, seat, scope.Action.ACKNOWLEDGE)
    own = list(list_acknowledgements(seat=seat, at=now)[:ACKNOWLEDGEMENT_ROWS])
    floor_wide = list(active_acknowledgements(floor=seat.floor, at=now).filter(seat__isnull=True))
    failing = [row["result"].check_id for row in checks if row["needs_fix"]]
    # The failing checks first (what one acknowledges), then the rest of the catalog.
    choices = [(check_id, _title(check_id)) for check_id in failing]
    choices += [(check.id, check.title) for check in CATALOG if check.id not in failing]
    posted = request.POST if errors else {}
    default_until = timezone.localtime(now + DEFAULT_ACKNOWLEDGEMENT, zone).strftime(DATETIME_LOCAL)
    return {
        "may_acknowledge": may_acknowledge,
        "acknowledgements": [
            {
                "ack": ack,
                "title": _title(ack.check_id),
                "status": ack.status_at(now),
                "can_revoke": may_acknowledge and ack.status_at(now) == "active",
            }
            for ack in own
        ],
        "floor_acknowledgements": [{"ack": ack, "title": _title(ack.check_id)} for ack in floor_wide],
        "acknowledge_choices": choices,
        "acknowledge_errors": errors or {},
        "acknowledge_form": {
            "check_id": posted.get("check_id", failing[0] if failing else ""),
            "reason": posted.get("reason", ""),
            "expires_at": posted.get("expires_at", default_until),
        },
    }


def moves_context(request: HttpRequest, seat: Seat) -> dict[str, Any]:
    """Workstations that arrived at or left this seat, newest first. The other seat of a move is
    named only when the viewer may see it."""
    moves = list(
        DeviceMove.objects.filter(Q(from_seat=seat) | Q(to_seat=seat))
        .select_related("from_seat__floor", "to_seat__floor")
        .order_by("-at", "-id")[:MOVE_ROWS]
    )
    others = {move.from_seat_id for move in moves} | {move.to_seat_id for move in moves}
    others.discard(seat.pk)
    others.discard(None)
    visible = set(scope.seats_visible_to(request.user).filter(pk__in=others).values_list("pk", flat=True))

    def where(other: Seat | None, label: str) -> str:
        if other is None:
            return f"seat {label} (since deleted)" if label else ""
        if other.pk not in visible:
            return "a seat outside your floors"
        return f"seat {other.label} ({other.floor.name})"

    rows = []
    for move in moves:
        arrived = move.to_seat_id == seat.pk
        other = move.from_seat if arrived else move.to_seat
        other_label = move.from_label if arrived else move.to_label
        place = where(other, other_label)
        if arrived:
            text = f"arrived from {place}" if place else "arrived (it had no seat)"
        else:
            text = f"left for {place}" if place else "left (now without a seat)"
        rows.append({"move": move, "arrived": arrived, "text": text})
    return {"moves": rows, "moves_admin_url": _admin_url(request, "admin:fleet_devicemove_changelist")}


def verdict_context(request: HttpRequest, seat: Seat) -> dict[str, Any]:
    """The policy version the seat's readiness was last judged under, linked to the admin for
    those who may open it."""
    verdict = SeatVerdict.objects.filter(seat=seat).select_related("policy_version__policy").first()
    version = verdict.policy_version if verdict else None
    return {
        "verdict": verdict,
        "policy_version": version,
        "policy_version_url": _admin_url(request, "admin:compliance_policyversion_change", version.pk)
        if version
        else "",
    }


def _admin_url(request: HttpRequest, name: str, *args: Any) -> str:
    return reverse(name, args=args) if scope.can_use_admin(request.user) else ""
