"""Who may see and act on which seats: the one place that says so.

Every page, API endpoint, CSV export and figure endpoint starts from `seats_visible_to(user)` or
`floors_visible_to(user)`, and every action asks `can_act_on(user, seat, action)`; nothing else
reads `is_staff` or a group name. The rule:

- IT admins and auditors (permission `roles.view_every_floor`) see every seat;
- supervisors (`roles.view_supervised_floors`) see the seats their Supervision rows cover;
- anyone else sees nothing, and is refused rather than shown an empty floor.

Actions on a seat need the seat in view *and* the model permission for the action, so an auditor
sees what a supervisor sees of a floor and more, yet can change nothing.
"""

from __future__ import annotations

import enum
from typing import Any

from django.db.models import Q, QuerySet

from server.fleet.models import Floor, Seat, Site
from server.roles.models import Role, Supervision

EVERY_FLOOR = "roles.view_every_floor"
SUPERVISED_FLOORS = "roles.view_supervised_floors"


class Action(enum.StrEnum):
    VIEW = "view"
    ACKNOWLEDGE = "acknowledge"
    RECHECK = "recheck"
    SEND_FIX_LINK = "send_fix_link"


ACTION_PERMISSIONS: dict[Action, str | None] = {
    Action.VIEW: None,
    Action.ACKNOWLEDGE: "roles.acknowledge_checks",
    Action.RECHECK: "roles.request_recheck",
    Action.SEND_FIX_LINK: "roles.send_fix_links",
}


def role_of(user: Any) -> Role | None:
    """The account's role as people name it (for pages and the demo); checks use permissions."""
    if not getattr(user, "is_active", False):
        return None
    if user.has_perm("roles.use_admin"):
        return Role.IT_ADMIN
    if user.has_perm(EVERY_FLOOR):
        return Role.AUDITOR
    if user.has_perm(SUPERVISED_FLOORS):
        return Role.SUPERVISOR
    return None


def sees_every_floor(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and user.has_perm(EVERY_FLOOR))


def can_read_fleet(user: Any) -> bool:
    """May this account open the dashboards and the operator API at all?"""
    return bool(
        getattr(user, "is_active", False) and (user.has_perm(EVERY_FLOOR) or user.has_perm(SUPERVISED_FLOORS))
    )


def can_use_admin(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and user.is_staff and user.has_perm("roles.use_admin"))


def supervisions_of(user: Any) -> list[Supervision]:
    # Several checks per request ask for them: read once per user object, as Django does permissions.
    if "_rf_supervisions" not in user.__dict__:
        user.__dict__["_rf_supervisions"] = list(Supervision.objects.filter(user=user))
    return user.__dict__["_rf_supervisions"]


def seat_condition(user: Any, prefix: str = "") -> Q | None:
    """A filter for the user's seats (on Seat, or on a model reaching it through `prefix`, e.g.
    "seat__"); None means every seat. An account without a role gets a filter matching nothing."""
    if sees_every_floor(user):
        return None
    if not can_read_fleet(user):
        return Q(pk__in=[])
    condition = Q(pk__in=[])
    for supervision in supervisions_of(user):
        condition |= supervision.seats_q(prefix)
    return condition


def seats_visible_to(user: Any) -> QuerySet[Seat]:
    condition = seat_condition(user)
    return Seat.objects.all() if condition is None else Seat.objects.filter(condition)


def floors_visible_to(user: Any) -> QuerySet[Floor]:
    """Floors with at least one visible seat, and a supervisor's whole floors even while empty."""
    if sees_every_floor(user):
        return Floor.objects.all()
    if not can_read_fleet(user):
        return Floor.objects.none()
    whole = [s.floor_id for s in supervisions_of(user) if s.floor_id]
    return Floor.objects.filter(Q(pk__in=whole) | Q(pk__in=seats_visible_to(user).values("floor_id")))


def sites_visible_to(user: Any) -> QuerySet[Site]:
    if sees_every_floor(user):
        return Site.objects.all()
    return Site.objects.filter(pk__in=floors_visible_to(user).values("site_id"))


def can_see_seat(user: Any, seat: Seat) -> bool:
    if sees_every_floor(user):
        return True
    if not can_read_fleet(user):
        return False
    return any(supervision.covers(seat) for supervision in supervisions_of(user))


def can_act_on(user: Any, seat: Seat | None, action: Action | str) -> bool:
    action = Action(action)
    if seat is None or not can_see_seat(user, seat):
        return False
    permission = ACTION_PERMISSIONS[action]
    return permission is None or user.has_perm(permission)
