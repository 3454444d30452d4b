"""Acknowledging failing checks: create, revoke, expire, and ask what is acknowledged.

Plain functions for the admin, the dashboards, alerts and (later) the operator API. Every step
is written to the audit table in the same transaction as the change itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import JSONObject
from django.utils import timezone
from readyfloor_agent.checks import get_check

from server.acknowledgements.models import Acknowledgement, AcknowledgementAudit, AuditAction
from server.fleet.models import Floor, Seat

# Long enough for a vendor fix to ship, short enough that nobody forgets an acknowledgement.
MAX_DURATION = dt.timedelta(days=365)


@dataclass(frozen=True)
class AcknowledgedFailures:
    """Which check is acknowledged on which seat, for one floor at one time (one query).

    `for_check(seat_id, check_id)` answers "is this failing check acknowledged" with the
    acknowledgement that covers it: the seat's own first, else the floor-wide one.
    """

    by_seat: dict[int, dict[str, Acknowledgement]]
    floor_wide: dict[str, Acknowledgement]

    @classmethod
    def from_seats(cls, seats: Iterable[Seat]) -> AcknowledgedFailures:
        """From seats read through `annotate_acknowledgements`."""
        by_seat: dict[int, dict[str, Acknowledgement]] = {}
        for seat in seats:
            rows = [_from_json(row) for row in getattr(seat, "acknowledgements_in_force", None) or []]
            # Floor-wide first, so the seat's own acknowledgement is the one kept and shown.
            rows.sort(key=lambda ack: (ack.seat_id is not None, ack.expires_at))
            by_seat[seat.pk] = {ack.check_id: ack for ack in rows}
        return cls(by_seat=by_seat, floor_wide={})

    def for_check(self, seat_id: int, check_id: str) -> Acknowledgement | None:
        return self.by_seat.get(seat_id, {}).get(check_id) or self.floor_wide.get(check_id)

    def covers(self, seat_id: int, failing: Iterable[dict]) -> bool:
        """True when every failing (state "fail") check in a seat's `failing` list is
        acknowledged, and there is at least one: nothing left to alert about."""
        fails = [item.get("check_id", "") for item in failing if item.get("state") == "fail"]
        return bool(fails) and all(self.for_check(seat_id, check_id) for check_id in fails)


def acknowledge(
    *,
    actor: AbstractBaseUser,
    check_id: str,
    reason: str,
    expires_at: dt.datetime,
    seat: Seat | None = None,
    floor: Floor | None = None,
    now: dt.datetime | None = None,
) -> Acknowledgement:
    """Acknowledge `check_id` on a seat or across a floor until `expires_at`.

    Raises ValidationError naming the field for an unknown check, an empty reason, a scope
    that is not exactly one seat or one floor, or an expiry not in (now, now + 365 days]."""
    now = now or timezone.now()
    errors = acknowledgement_errors(
        check_id=check_id, reason=reason, expires_at=expires_at, seat=seat, floor=floor, now=now
    )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        acknowledgement = Acknowledgement.objects.create(
            check_id=check_id,
            seat=seat,
            floor=floor,
            reason=reason.strip(),
            created_by=actor,
            created_at=now,
            expires_at=expires_at,
        )
        _audit(acknowledgement, AuditAction.CREATED, actor, now, acknowledgement.reason)
    return acknowledgement


def acknowledgement_errors(
    *,
    check_id: str,
    reason: str,
    expires_at: dt.datetime | None,
    seat: Seat | None,
    floor: Floor | None,
    now: dt.datetime,
) -> dict[str, str]:
    """What is wrong with an acknowledgement before it is made, by field (empty when fine)."""
    errors: dict[str, str] = {}
    try:
        get_check(check_id)
    except KeyError:
        errors["check_id"] = f"{check_id!r} is not a check of the catalog"
    if not (reason or "").strip():
        errors["reason"] = "say why this failure is accepted"
    if (seat is None) == (floor is None):
        errors["seat"] = "acknowledge on one seat or across one floor, not both or neither"
    if expires_at is None:
        errors["expires_at"] = "required"
    elif expires_at <= now:
        errors["expires_at"] = "must be in the future"
    elif expires_at > now + MAX_DURATION:
        errors["expires_at"] = f"at most {MAX_DURATION.days} days ahead"
    return errors


def revoke(
    acknowledgement: Acknowledgement,
    *,
    actor: AbstractBaseUser,
    reason: str = "",
    now: dt.datetime | None = None,
) -> bool:
    """End an acknowledgement now. False (and nothing written) if it had already ended."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Acknowledgement.objects.select_for_update().get(pk=acknowledgement.pk)
        if locked.status_at(now) != "active":
            return False
        locked.revoked_at = now
        locked.revoked_by = actor
        locked.revoke_reason = reason.strip()
        locked.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        _audit(locked, AuditAction.REVOKED, actor, now, locked.revoke_reason)
    acknowledgement.refresh_from_db()
    return True


def record_expiries(now: dt.datetime | None = None) -> int:
    """Write the "expired" audit step for acknowledgements that ran out unrevoked.

    Expiry itself needs no job (every query compares expires_at with the time asked about);
    this only makes the audit trail complete. Safe to run twice. Returns how many it wrote."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Acknowledgement.objects.select_for_update(skip_locked=True)
            .filter(expires_at__lte=now, revoked_at__isnull=True, expiry_recorded_at__isnull=True)
            .only("pk", "expires_at")
        )
        AcknowledgementAudit.objects.bulk_create(
            [
                AcknowledgementAudit(acknowledgement=ack, action=AuditAction.EXPIRED, at=ack.expires_at)
                for ack in expired
            ],
            ignore_conflicts=True,
        )
        Acknowledgement.objects.filter(pk__in=[ack.pk for ack in expired]).update(expiry_recorded_at=now)
    return len(expired)


def active_acknowledgements(
    *,
    seat: Seat | None = None,
    floor: Floor | None = None,
    check_id: str | None = None,
    at: dt.datetime | None = None,
) -> models.QuerySet[Acknowledgement]:
    """Acknowledgements in force at `at` (default now), newest first.

    For a seat: its own and its floor's. For a floor: floor-wide ones and those of its seats."""
    queryset = Acknowledgement.objects.active_at(at or timezone.now()).select_related(
        "seat", "floor", "created_by"
    )
    if seat is not None:
        queryset = queryset.filter(models.Q(seat=seat) | models.Q(floor_id=seat.floor_id))
    if floor is not None:
        queryset = queryset.filter(models.Q(floor=floor) | models.Q(seat__floor=floor))
    if check_id is not None:
        queryset = queryset.filter(check_id=check_id)
    return queryset


def list_acknowledgements(
    *,
    status: str | None = None,
    seat: Seat | None = None,
    floor: Floor | None = None,
    check_id: str | None = None,
    at: dt.datetime | None = None,
) -> models.QuerySet[Acknowledgement]:
    """Acknowledgements, newest first, by status at `at` ("active", "expired", "revoked") and
    scope (a floor includes its seats' own). For the admin's lists and the operator API."""
    at = at or timezone.now()
    queryset = Acknowledgement.objects.select_related("seat__floor", "floor", "created_by", "revoked_by")
    if status == "active":
        queryset = queryset.active_at(at)
    elif status == "revoked":
        queryset = queryset.filter(revoked_at__lte=at)
    elif status == "expired":
        queryset = queryset.filter(expires_at__lte=at).filter(
            models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=models.F("expires_at"))
        )
    elif status is not None:
        raise ValidationError({"status": "one of active, expired, revoked"})
    if seat is not None:
        queryset = queryset.filter(seat=seat)
    if floor is not None:
        queryset = queryset.filter(models.Q(floor=floor) | models.Q(seat__floor=floor))
    if check_id is not None:
        queryset = queryset.filter(check_id=check_id)
    return queryset.order_by("-created_at", "-pk")


def acknowledged_failures(floor_id: int, at: dt.datetime | None = None) -> AcknowledgedFailures:
    """Every acknowledgement in force on a floor at `at`, keyed for lookup, in one query."""
    by_seat: dict[int, dict[str, Acknowledgement]] = defaultdict(dict)
    floor_wide: dict[str, Acknowledgement] = {}
    rows = (
        Acknowledgement.objects.active_at(at or timezone.now())
        .filter(models.Q(floor_id=floor_id) | models.Q(seat__floor_id=floor_id))
        .select_related("created_by")
        # Latest expiry last, so it is the one kept when two cover the same check.
        .order_by("expires_at")
    )
    for ack in rows:
        if ack.seat_id is None:
            floor_wide[ack.check_id] = ack
        else:
            by_seat[ack.seat_id][ack.check_id] = ack
    return AcknowledgedFailures(by_seat=dict(by_seat), floor_wide=floor_wide)


def annotate_acknowledgements(
    seats: models.QuerySet[Seat], at: dt.datetime | None = None
) -> models.QuerySet[Seat]:
    """The seats, each with `acknowledgements_in_force` (its own and its floor's, as JSON), read
    in the same query as the seats: pages that list seats pay no extra query for them.
    Read them with `AcknowledgedFailures.from_seats`."""
    in_force = (
        Acknowledgement.objects.active_at(at or timezone.now())
        .filter(models.Q(seat_id=models.OuterRef("pk")) | models.Q(floor_id=models.OuterRef("floor_id")))
        .order_by("expires_at")
        .values(
            json=JSONObject(
                pk="pk",
                check_id="check_id",
                seat_id="seat_id",
                floor_id="floor_id",
                reason="reason",
                expires_at="expires_at",
                created_by="created_by__username",
            )
        )
    )
    return seats.annotate(acknowledgements_in_force=ArraySubquery(in_force))


def acknowledgement_history(acknowledgement: Acknowledgement) -> models.QuerySet[AcknowledgementAudit]:
    return acknowledgement.audit.select_related("actor").order_by("at", "id")


def _from_json(row: dict) -> Acknowledgement:
    ack = Acknowledgement(
        pk=row["pk"],
        check_id=row["check_id"],
        seat_id=row["seat_id"],
        floor_id=row["floor_id"],
        reason=row["reason"],
        expires_at=dt.datetime.fromisoformat(row["expires_at"]),
    )
    if row["created_by"] is not None:
        # Only the name is read (for display); the account itself is not loaded.
        ack.created_by = get_user_model()(username=row["created_by"])
    return ack


def _audit(
    acknowledgement: Acknowledgement,
    action: AuditAction,
    actor: AbstractBaseUser | None,
    at: dt.datetime,
    detail: str,
) -> None:
    AcknowledgementAudit.objects.create(
        acknowledgement=acknowledgement,
        action=action,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        at=at,
        detail=detail,
    )
