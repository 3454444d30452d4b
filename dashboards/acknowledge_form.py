"""The one path from an acknowledgement form to server.acknowledgements.acknowledging, shared by
the seat page and the shift board: who may post one, how a local "until" reads, and the
domain's refusal as errors by field. The rules themselves (known check, a reason, an expiry in
the future and within a year) are the domain's alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboards.seat_history import DATETIME_LOCAL
from server.acknowledgements.acknowledging import acknowledge
from server.acknowledgements.models import Acknowledgement
from server.fleet.models import Seat
from server.roles import scope


def refused(request: HttpRequest, seat: Seat) -> HttpResponse | None:
    """A 403 for an account that sees the seat but may not acknowledge on it (auditors); None
    when it may. A seat out of view is a 404 before this (dashboards.views.seat_in_scope)."""
    if scope.can_act_on(request.user, seat, scope.Action.ACKNOWLEDGE):
        return None
    return render(request, "dashboards/forbidden.html", status=403)


def local_until(raw: str, zone: Any) -> tuple[dt.datetime | None, dict[str, str]]:
    """A box's "until" in the site's local time (named beside it), as an aware datetime; with
    the error by field when it is not a date and time. Empty is None: the domain says it is
    required."""
    raw = raw.strip()
    if not raw:
        return None, {}
    try:
        return dt.datetime.strptime(raw, DATETIME_LOCAL).replace(tzinfo=zone), {}
    except ValueError:
        return None, {"expires_at": f"{raw!r} is not a date and time like 2026-12-31T18:00"}


def acknowledge_posted(
    request: HttpRequest, seat: Seat, expires_at: dt.datetime | None
) -> tuple[Acknowledgement | None, dict[str, str]]:
    """Acknowledge the posted check on the seat until `expires_at`, by the signed-in account;
    the acknowledgement, or nothing stored and what is wrong by field."""
    try:
        acknowledgement = acknowledge(
            actor=request.user,
            check_id=request.POST.get("check_id", ""),
            reason=request.POST.get("reason", ""),
            expires_at=expires_at,  # type: ignore[arg-type]  # None is refused by name
            seat=seat,
        )
    except ValidationError as error:
        return None, {field: " ".join(messages) for field, messages in error.message_dict.items()}
    return acknowledgement, {}
