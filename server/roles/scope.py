"""Who may see and act on which seats: the one place that says so.

Every page, API endpoint, CSV export and figure endpoint asks this module, never `is_staff`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from server.fleet.models import Floor, Seat


def can_read_fleet(user: Any) -> bool:
    return bool(user.is_active and user.is_staff)


def seats_visible_to(user: Any) -> QuerySet[Seat]:
    return Seat.objects.all() if can_read_fleet(user) else Seat.objects.none()


def floors_visible_to(user: Any) -> QuerySet[Floor]:
    return Floor.objects.all() if can_read_fleet(user) else Floor.objects.none()
