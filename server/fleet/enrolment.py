"""Enrolment: a workstation presents an enroll secret and gets a node key.

The enroll secret sits in a settings file on every seat, so it is treated as leaked. What a
holder of it can and cannot do (the threat model is in README.md, "Enrolment and its threat
model"):

- enrol a *new* host at a *free* seat within the secret's scope (its site, or its one floor),
  while the secret is unexpired and has uses left;
- never take an *occupied* seat silently: the claim waits for an admin (an `EnrolmentClaim`,
  with an alert), unless the seat's device has been silent for the governing policy's
  `seat_takeover_after_s`, in which case the takeover happens and is recorded and alerted all
  the same;
- never revoke an enrolled host's node key by enrolling its host identifier again: that needs
  proof (the previous node key) or an admin's approval of the claim; until then the enrolled
  agent keeps working and the claimant is told to wait (409 approval_required).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from server.fleet.models import (
    ClaimKind,
    ClaimStatus,
    Device,
    DeviceMove,
    EnrollSecret,
    EnrolmentClaim,
    Floor,
    Seat,
    sha256_hex,
)


class SecretRefused(Exception):
    """The enroll secret is unknown, revoked, expired or used up."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ApprovalRequired(Exception):
    """A known, enrolled host identifier enrolled again without proof: the enrolled agent
    keeps its key; an admin must approve the claim first."""

    def __init__(self, claim: EnrolmentClaim) -> None:
        super().__init__(claim.summary)
        self.claim = claim


@dataclass(frozen=True)
class Enrolment:
    device: Device
    node_key: str
    seat_warning: str | None
    # A claim this enrolment made (a pending or automatic seat takeover), to be announced.
    claim: EnrolmentClaim | None = None


# How long a seat's device must have been silent before another device may take the seat
# without approval, for a seat (None: never without approval). Given by the caller: the rule
# lives in the governing policy, which fleet does not import.
TakeoverAfter = Callable[[Seat], "int | None"]


def usable_secret(plain: str, moment: dt.datetime | None = None) -> EnrollSecret:
    secret = EnrollSecret.find(plain)
    if secret is None:
        raise SecretRefused("unknown enroll secret")
    refusal = secret.refusal(moment)
    if refusal is not None:
        raise SecretRefused(refusal)
    return secret


def enroll(
    secret: EnrollSecret,
    body: dict[str, Any],
    *,
    takeover_after: TakeoverAfter = lambda seat: None,
    address: str | None = None,
) -> Enrolment:
    """Register a workstation, or re-register one that proves it is the same machine.
    Raises SecretRefused (used up meanwhile) or ApprovalRequired."""
    now = timezone.now()
    node_key, node_key_hash = Device.new_node_key()
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(host_identifier=body["host_identifier"]).first()
        waiting: EnrolmentClaim | None = None
        if device is not None and device.node_key_hash and not _proves_identity(device, body):
            claim = _host_claim(device, body)
            if claim is None or claim.status != ClaimStatus.APPROVED:
                # Committed with the block: the claim is the audit record of this refusal.
                waiting = claim or _open_host_claim(device, secret, body, address, now)
            else:
                claim.completed_at = now
                claim.save(update_fields=["completed_at"])
        if waiting is None:
            enrolment = _register(device, secret, body, node_key, node_key_hash, takeover_after, address, now)
    if waiting is not None:
        raise ApprovalRequired(waiting)
    return enrolment


def _register(
    device: Device | None,
    secret: EnrollSecret,
    body: dict[str, Any],
    node_key: str,
    node_key_hash: str,
    takeover_after: TakeoverAfter,
    address: str | None,
    now: dt.datetime,
) -> Enrolment:
    details = body["host_details"]
    if not secret.spend(now):
        raise SecretRefused(EnrollSecret.objects.get(pk=secret.pk).refusal(now) or "enroll secret refused")
    if device is None:
        device = Device(host_identifier=body["host_identifier"], site=secret.site)
    device.site = secret.site
    device.hostname = details["hostname"]
    device.os = details["os"]
    device.os_version = details.get("os_version") or ""
    device.agent_version = details.get("agent_version") or ""
    device.node_key_hash = node_key_hash
    token = body.get("claim_token")
    device.enrolment_token_hash = sha256_hex(token) if isinstance(token, str) and token else ""
    device.enrolled_at = now
    if device.seat_id is not None and not _in_scope(secret, device.seat):
        device.seat = None  # enrolled again for another site or floor: its old seat is not there
    device.save()
    seat_warning, claim = _seat_from_hint(device, secret, body.get("seat"), takeover_after, address, now)
    device.save()
    return Enrolment(device=device, node_key=node_key, seat_warning=seat_warning, claim=claim)


def _proves_identity(device: Device, body: dict[str, Any]) -> bool:
    """The previous node key, or the claim token of the enrolment that issued the current key
    (an agent whose enrolment answer was lost asks again with it): secrets only that install
    of the agent holds."""
    previous = body.get("previous_node_key")
    if isinstance(previous, str) and previous and sha256_hex(previous) == device.node_key_hash:
        return True
    token = body.get("claim_token")
    return (
        bool(device.enrolment_token_hash)
        and isinstance(token, str)
        and sha256_hex(token) == device.enrolment_token_hash
    )


def _host_claim(device: Device, body: dict[str, Any]) -> EnrolmentClaim | None:
    """The claimant's own open claim on this host: found by its claim token, so that only
    the agent that asked can pick up the key an admin approves (and its retries do not pile
    up claims)."""
    token = body.get("claim_token")
    hashed = sha256_hex(token) if isinstance(token, str) and token else ""
    claims = EnrolmentClaim.objects.filter(kind=ClaimKind.HOST, device=device, completed_at=None)
    if hashed:
        claims = claims.filter(claim_token_hash=hashed)
    else:
        # An agent without a token can only ever be waiting; a repeat joins its open claim.
        claims = claims.filter(
            claim_token_hash="", hostname=body["host_details"]["hostname"], status=ClaimStatus.PENDING
        )
    return claims.exclude(status=ClaimStatus.REFUSED).order_by("-created_at").first()


def _open_host_claim(
    device: Device, secret: EnrollSecret, body: dict[str, Any], address: str | None, now: dt.datetime
) -> EnrolmentClaim:
    token = body.get("claim_token")
    return EnrolmentClaim.objects.create(
        kind=ClaimKind.HOST,
        device=device,
        secret=secret,
        hostname=body["host_details"]["hostname"],
        address=address,
        claim_token_hash=sha256_hex(token) if isinstance(token, str) and token else "",
        created_at=now,
    )


def _in_scope(secret: EnrollSecret, seat: Seat) -> bool:
    floor_id = seat.floor_id
    if secret.floor_id is not None:
        return floor_id == secret.floor_id
    return Floor.objects.filter(pk=floor_id, site_id=secret.site_id).exists()


def _seat_from_hint(
    device: Device,
    secret: EnrollSecret,
    hint: dict[str, str] | None,
    takeover_after: TakeoverAfter,
    address: str | None,
    now: dt.datetime,
) -> tuple[str | None, EnrolmentClaim | None]:
    """Seat the device where its settings say, if that is allowed; (warning, claim)."""
    if not hint:
        return None, None
    if secret.floor_id is not None and hint["floor"] != secret.floor.name:
        return (
            f"this enroll secret enrols seats on floor {secret.floor.name!r} only, not {hint['floor']!r}; "
            "assign the device to a seat in the admin"
        ), None
    seat = (
        Seat.objects.select_for_update()
        .filter(floor__site=secret.site, floor__name=hint["floor"], label=hint["label"])
        .first()
    )
    if seat is None:
        known = Floor.objects.filter(site=secret.site, name=hint["floor"]).exists()
        warning = (
            f"no seat {hint['label']!r} on floor {hint['floor']!r}"
            if known
            else f"no floor {hint['floor']!r} at site {secret.site.name!r}"
        ) + "; assign the device to a seat in the admin"
        return warning, None
    occupant = Device.objects.select_for_update().filter(seat=seat).exclude(pk=device.pk).first()
    if occupant is None:
        move_to_seat(device, seat, by="enrolment")
        return None, None
    claim = EnrolmentClaim(
        kind=ClaimKind.SEAT,
        device=device,
        seat=seat,
        previous_device=occupant,
        previous_last_seen_at=occupant.last_seen_at,
        secret=secret,
        hostname=device.hostname,
        address=address,
        created_at=now,
    )
    silent_for = takeover_after(seat)
    silent_since = occupant.last_seen_at or occupant.enrolled_at
    if silent_for is not None and now - silent_since >= dt.timedelta(seconds=silent_for):
        claim.status = ClaimStatus.AUTOMATIC
        claim.decided_at = now
        claim.save()
        move_to_seat(device, seat, by="enrolment (the seat's device was silent)")
        return (
            f"seat {seat} was held by {occupant.hostname}, silent since {silent_since.isoformat()}; "
            "this device took it (recorded and announced)"
        ), claim
    claim.save()
    return (
        f"seat {seat} is taken by {occupant.hostname}, which reported at "
        f"{silent_since.isoformat()}; this device is enrolled without a seat until an admin "
        "approves its claim"
    ), claim


def move_to_seat(device: Device, seat: Seat | None, *, by: str = "") -> None:
    """Seat a device, unseating whichever device sat there before, and record both moves
    (DeviceMove) for the seats' pages. Only for a seat the caller may give away: a free one, an
    approved claim, an admin's move. `device` must be saved already; the caller saves its new
    seat, in the same transaction."""
    if device.seat_id == (seat.pk if seat else None):
        return
    now = timezone.now()
    previous = Seat.objects.filter(pk=device.seat_id).first() if device.seat_id else None
    moves = []
    if seat is not None:
        displaced = list(Device.objects.filter(seat=seat).exclude(pk=device.pk))
        Device.objects.filter(pk__in=[other.pk for other in displaced]).update(seat=None)
        moves += [
            DeviceMove(
                device=other,
                hostname=other.hostname,
                from_seat=seat,
                from_label=seat.label,
                at=now,
                by=f"{device.hostname} took the seat",
            )
            for other in displaced
        ]
    moves.append(
        DeviceMove(
            device=device,
            hostname=device.hostname,
            from_seat=previous,
            from_label=previous.label if previous else "",
            to_seat=seat,
            to_label=seat.label if seat else "",
            at=now,
            by=by,
        )
    )
    DeviceMove.objects.bulk_create(moves)
    device.seat = seat


def approve(claim: EnrolmentClaim, by: str) -> None:
    """An admin approves a pending claim: the device takes the seat, or the host's next
    enrolment with its claim token gets a new key (which ends the old one)."""
    with transaction.atomic():
        claim = EnrolmentClaim.objects.select_for_update().get(pk=claim.pk)
        if claim.status != ClaimStatus.PENDING:
            return
        claim.status, claim.decided_at, claim.decided_by = ClaimStatus.APPROVED, timezone.now(), by
        claim.save(update_fields=["status", "decided_at", "decided_by"])
        if claim.kind == ClaimKind.SEAT and claim.seat is not None:
            device = Device.objects.select_for_update().get(pk=claim.device_id)
            move_to_seat(device, claim.seat, by=f"claim approved by {by}")
            device.save(update_fields=["seat"])


def refuse(claim: EnrolmentClaim, by: str) -> None:
    """An admin refuses a pending claim: nothing changes for the enrolled device."""
    EnrolmentClaim.objects.filter(pk=claim.pk, status=ClaimStatus.PENDING).update(
        status=ClaimStatus.REFUSED, decided_at=timezone.now(), decided_by=by
    )
