"""Acknowledgements: an accepted, known failure of one check on a seat or across a floor.

An acknowledgement never changes a verdict. It marks a failure as known (shown as such and
counted apart on the dashboards) and keeps alerts quiet about it until it expires or is revoked.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from server.fleet.models import Floor, Seat


class AcknowledgementQuerySet(models.QuerySet):
    def active_at(self, at: dt.datetime) -> AcknowledgementQuerySet:
        """In force at `at`: created by then, not yet expired, not revoked by then."""
        return self.filter(created_at__lte=at, expires_at__gt=at).filter(
            models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=at)
        )


class Acknowledgement(models.Model):
    """One check acknowledged on one seat, or on every seat of a floor, until `expires_at`."""

    check_id = models.CharField(max_length=64, help_text="The catalog's check id, e.g. chrome.mic.site.")
    seat = models.ForeignKey(
        Seat, null=True, blank=True, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    floor = models.ForeignKey(
        Floor, null=True, blank=True, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    reason = models.TextField(help_text="Why this failure is accepted, e.g. a ticket number.")
    # A user, not a staff flag: floor supervisors will be allowed to acknowledge too.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)
    # Set when the expiry was written to the audit log, so it is written once.
    expiry_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AcknowledgementQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seat__isnull=False, floor__isnull=True)
                | models.Q(seat__isnull=True, floor__isnull=False),
                name="acknowledgement_scope_is_seat_or_floor",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="acknowledgement_expires_after_creation",
            ),
        ]
        indexes = [
            models.Index(fields=["floor", "expires_at"]),
            models.Index(fields=["seat", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.check_id} on {self.scope_label} until {self.expires_at:%Y-%m-%d %H:%M}"

    @property
    def scope_label(self) -> str:
        return f"seat {self.seat}" if self.seat_id else f"floor {self.floor}"

    def status_at(self, at: dt.datetime) -> str:
        if self.revoked_at is not None and self.revoked_at <= at:
            return "revoked"
        if self.expires_at <= at:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())


class AuditAction(models.TextChoices):
    CREATED = "created", "Created"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class AcknowledgementAudit(models.Model):
    """Every step of an acknowledgement, append-only. The actor is empty for an expiry."""

    acknowledgement = models.ForeignKey(Acknowledgement, on_delete=models.CASCADE, related_name="audit")
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The actor's name at the time, kept when the account is later deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            # An acknowledgement is created, revoked and expires at most once each.
            models.UniqueConstraint(fields=["acknowledgement", "action"], name="one_audit_row_per_step")
        ]

    def __str__(self) -> str:
        actor = self.actor_name or "ReadyFloor"
        return f"{self.acknowledgement_id} {self.action} by {actor} at {self.at:%Y-%m-%d %H:%M}"
