"""Roles: what an account may do (Django groups and permissions) and, for a supervisor, where
(Supervision rows: their floors or teams). The scope rule itself lives in server.roles.scope."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from server.fleet.models import Floor


class Role(models.TextChoices):
    """The three roles; each is a Django group of the same label holding its permissions."""

    IT_ADMIN = "it_admin", "IT admins"
    SUPERVISOR = "supervisor", "Supervisors"
    AUDITOR = "auditor", "Auditors"

    @property
    def group_name(self) -> str:
        return str(self.label)


class Supervision(models.Model):
    """One part of the fleet a supervisor looks after: a whole floor, one team on a floor, or a
    team wherever its seats are. A supervisor may have several."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supervisions")
    floor = models.ForeignKey(
        Floor,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="supervisions",
        help_text="Leave empty to follow the team on every floor.",
    )
    team = models.CharField(max_length=100, blank=True, help_text="Leave empty for every seat of the floor.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username", "floor__name", "team"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(floor=None, team=""), name="supervision_names_a_floor_or_a_team"
            ),
            models.UniqueConstraint(
                fields=["user", "floor", "team"], nulls_distinct=False, name="supervision_once_per_part"
            ),
        ]
        # The capabilities of the roles, granted to their groups (migration 0002). Model
        # permissions say *what* an account may do; Supervision rows say *where* a supervisor may.
        permissions = [
            ("view_every_floor", "Can see every site, floor and seat"),
            ("view_supervised_floors", "Can see the floors and teams they supervise"),
            ("use_admin", "Can use the admin site"),
            ("acknowledge_checks", "Can acknowledge failing checks on seats they can see"),
            ("request_recheck", "Can ask seats they can see to check again"),
            ("send_fix_links", "Can send fix links for seats they can see"),
        ]

    def __str__(self) -> str:
        where = self.floor.name if self.floor_id else "every floor"
        return f"{self.user} · {where}" + (f" · team {self.team}" if self.team else "")

    def seats_q(self, prefix: str = "") -> Q:
        """The seats this supervision covers, as a filter on Seat (or on a model `prefix`ed to it)."""
        condition = Q()
        if self.floor_id:
            condition &= Q(**{f"{prefix}floor_id": self.floor_id})
        if self.team:
            condition &= Q(**{f"{prefix}team": self.team})
        return condition

    def covers(self, seat: Any) -> bool:
        return (not self.floor_id or seat.floor_id == self.floor_id) and (
            not self.team or seat.team == self.team
        )
