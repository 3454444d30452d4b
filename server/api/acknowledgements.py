"""Operator API, acknowledgements: list, create, revoke, and the audit trail of one, through
server.acknowledgements.acknowledging (which validates, writes and audits).

Every read starts from the caller's scope: an acknowledgement on a seat is seen by those who
see the seat, one across a floor by those who see the floor. Acknowledging needs the
permission too (scope.Action.ACKNOWLEDGE), so auditors read everything and change nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict, field_validator

from server.acknowledgements import acknowledging
from server.acknowledgements.models import Acknowledgement
from server.api.errors import ApiError, ErrorOut
from server.api.paging import Page, PageQuery, paginate
from server.fleet.models import Floor, Seat
from server.roles import scope

router = Router(tags=["acknowledgements"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


class AcknowledgementFilters(PageQuery):
    status: Literal["active", "expired", "revoked"] | None = Field(None, description="As of now.")
    seat: int | None = Field(None, description="Only this seat's own acknowledgements (its id).")
    floor: int | None = Field(None, description="Floor-wide ones and those of the floor's seats (its id).")
    check: str | None = Field(None, max_length=64, description="Only this check id.")


class AcknowledgementOut(Schema):
    id: int
    check_id: str
    seat: int | None
    seat_label: str | None
    floor: int
    floor_name: str
    reason: str
    status: Literal["active", "expired", "revoked"]
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_by: str | None
    revoked_at: dt.datetime | None
    revoke_reason: str


class AcknowledgementPage(Page):
    results: list[AcknowledgementOut]


class AcknowledgementIn(Schema):
    model_config = ConfigDict(extra="forbid")

    check_id: str = Field(..., max_length=64, description="The catalog's check id, e.g. chrome.mic.site.")
    reason: str = Field(..., description="Why this failure is accepted, e.g. a ticket number.")
    expires_at: dt.datetime = Field(..., description="With its time zone; at most 365 days ahead.")
    seat: int | None = Field(None, description="The seat's id; or give floor, not both.")
    floor: int | None = Field(None, description="The floor's id, for every seat of it.")

    @field_validator("expires_at")
    @classmethod
    def _named_time_zone(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-01T18:00:00+01:00")
        return value

    @field_validator("check_id", "reason")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        # PostgreSQL cannot store a NUL character: refuse it here, naming the field.
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


class RevokeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", description="Why it ends early; kept in the audit trail.")

    @field_validator("reason")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


class AuditOut(Schema):
    action: str
    actor: str | None
    at: dt.datetime
    detail: str


def acknowledgements_visible_to(user: Any) -> QuerySet[Acknowledgement]:
    rows = Acknowledgement.objects.select_related("seat__floor", "floor", "created_by", "revoked_by")
    if scope.sees_every_floor(user):
        return rows
    return rows.filter(Q(seat__in=scope.seats_visible_to(user)) | Q(floor__in=scope.floors_visible_to(user)))


def ack_json(ack: Acknowledgement) -> dict[str, Any]:
    floor = ack.seat.floor if ack.seat_id else ack.floor
    return {
        "id": ack.pk,
        "check_id": ack.check_id,
        "seat": ack.seat_id,
        "seat_label": ack.seat.label if ack.seat_id else None,
        "floor": floor.pk,
        "floor_name": floor.name,
        "reason": ack.reason,
        "status": ack.status,
        "created_by": ack.created_by.get_username() if ack.created_by_id else None,
        "created_at": ack.created_at,
        "expires_at": ack.expires_at,
        "revoked_by": ack.revoked_by.get_username() if ack.revoked_by_id else None,
        "revoked_at": ack.revoked_at,
        "revoke_reason": ack.revoke_reason,
    }


def visible_seat(user: Any, seat_id: int, field: str = "seat") -> Seat:
    seat = scope.seats_visible_to(user).select_related("floor").filter(pk=seat_id).first()
    if seat is None:
        raise ApiError(404, f"no seat {seat_id}", field=field, error="not_found")
    return seat


def visible_floor(user: Any, floor_id: int, field: str = "floor") -> Floor:
    floor = scope.floors_visible_to(user).filter(pk=floor_id).first()
    if floor is None:
        raise ApiError(404, f"no floor {floor_id}", field=field, error="not_found")
    return floor


def can_acknowledge_floor(user: Any, floor: Floor) -> bool:
    """IT admins, and the supervisors of the whole floor (not of one team on it)."""
    if not user.has_perm(scope.ACTION_PERMISSIONS[scope.Action.ACKNOWLEDGE]):
        return False
    if scope.sees_every_floor(user):
        return True
    return any(s.floor_id == floor.pk and not s.team for s in scope.supervisions_of(user))


def may_act_on(user: Any, ack: Acknowledgement) -> bool:
    if ack.seat_id:
        return scope.can_act_on(user, ack.seat, scope.Action.ACKNOWLEDGE)
    return can_acknowledge_floor(user, ack.floor)


def _invalid(error: ValidationError) -> ApiError:
    field, messages = next(iter(error.message_dict.items()))
    return ApiError(400, messages[0], field=None if field == "__all__" else field)


@router.get(
    "",
    response={200: AcknowledgementPage, **ERRORS},
    url_name="acknowledgements",
    operation_id="listAcknowledgements",
    summary="Acknowledgements in the caller's scope, newest first; filter by status, seat, floor, check.",
)
def list_acks(request: HttpRequest, filters: Query[AcknowledgementFilters]) -> Any:
    user = request.user
    seat = visible_seat(user, filters.seat) if filters.seat is not None else None
    floor = visible_floor(user, filters.floor) if filters.floor is not None else None
    rows = acknowledging.list_acknowledgements(
        status=filters.status, seat=seat, floor=floor, check_id=filters.check or None
    )
    rows = rows.filter(pk__in=acknowledgements_visible_to(user).values("pk"))
    return paginate(request, rows, filters, ack_json)


@router.post(
    "",
    response={201: AcknowledgementOut, **ERRORS},
    url_name="acknowledge",
    operation_id="createAcknowledgement",
    summary="Acknowledge a failing check on a seat, or across a floor, until it expires.",
)
def create_ack(request: HttpRequest, body: AcknowledgementIn) -> Any:
    user = request.user
    seat = visible_seat(user, body.seat) if body.seat is not None else None
    floor = visible_floor(user, body.floor) if body.floor is not None else None
    if seat is not None and not scope.can_act_on(user, seat, scope.Action.ACKNOWLEDGE):
        raise ApiError(403, "you may not acknowledge checks on this seat", field="seat")
    if floor is not None and not can_acknowledge_floor(user, floor):
        raise ApiError(403, "only IT admins and the floor's supervisors acknowledge across it", field="floor")
    try:
        ack = acknowledging.acknowledge(
            actor=user,
            check_id=body.check_id,
            reason=body.reason,
            expires_at=body.expires_at,
            seat=seat,
            floor=floor,
        )
    except ValidationError as error:
        raise _invalid(error) from None
    return 201, ack_json(acknowledgements_visible_to(user).get(pk=ack.pk))


def visible_ack(user: Any, ack_id: int) -> Acknowledgement:
    ack = acknowledgements_visible_to(user).filter(pk=ack_id).first()
    if ack is None:
        raise ApiError(404, f"no acknowledgement {ack_id}", error="not_found")
    return ack


@router.get(
    "/{int:ack_id}",
    response={200: AcknowledgementOut, **ERRORS},
    url_name="acknowledgement",
    operation_id="getAcknowledgement",
    summary="One acknowledgement.",
)
def get_ack(request: HttpRequest, ack_id: int) -> Any:
    return ack_json(visible_ack(request.user, ack_id))


@router.post(
    "/{int:ack_id}/revoke",
    response={200: AcknowledgementOut, 409: ErrorOut, **ERRORS},
    url_name="acknowledgement_revoke",
    operation_id="revokeAcknowledgement",
    summary="End an acknowledgement now; 409 when it had already ended.",
)
def revoke_ack(request: HttpRequest, ack_id: int, body: RevokeIn | None = None) -> Any:
    user = request.user
    ack = visible_ack(user, ack_id)
    if not may_act_on(user, ack):
        raise ApiError(403, "you may not revoke this acknowledgement")
    if not acknowledging.revoke(ack, actor=user, reason=body.reason if body else ""):
        raise ApiError(
            409, f"acknowledgement {ack_id} had already ended ({ack.status})", error="already_ended"
        )
    return ack_json(visible_ack(user, ack_id))


@router.get(
    "/{int:ack_id}/history",
    response={200: list[AuditOut], **ERRORS},
    url_name="acknowledgement_history",
    operation_id="getAcknowledgementHistory",
    summary="The audit trail of one acknowledgement: created, revoked, expired; oldest first.",
)
def ack_history(request: HttpRequest, ack_id: int) -> Any:
    ack = visible_ack(request.user, ack_id)
    return [
        {"action": step.action, "actor": step.actor_name or None, "at": step.at, "detail": step.detail}
        for step in acknowledging.acknowledgement_history(ack)
    ]
