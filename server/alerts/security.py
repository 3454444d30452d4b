"""Security alerts: an enrolment that claimed an occupied seat or an enrolled host's identity
is announced on the alert rules that watch the seat's floor, like a seat going down.

A claim joins the floor's open digest when a window is open (it goes out with it, within
`window_s`); otherwise a digest of its own is opened and closed at once, so the claim is sent
now rather than after a window nobody else will fill.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from server.alerts.collecting import close_digest
from server.alerts.models import AlertRule, Digest, DigestEntry, EntryKind
from server.fleet.models import EnrolmentClaim, Floor


def announce_claim(claim: EnrolmentClaim) -> int:
    """Queue the claim to every enabled rule watching its floor; how many rules it reached."""
    floor = _floor_of(claim)
    if floor is None:
        return 0
    rules = AlertRule.objects.filter(enabled=True).filter(
        Q(floor=floor) | Q(site_id=floor.site_id) | Q(site__isnull=True, floor__isnull=True)
    )
    now = timezone.now()
    reached = 0
    for rule in rules:
        with transaction.atomic():
            digest = Digest.objects.select_for_update().filter(rule=rule, floor=floor, closed_at=None).first()
            close_now = digest is None
            if digest is None:
                digest = Digest.objects.create(rule=rule, floor=floor, opened_at=now, closes_at=now)
            DigestEntry.objects.create(
                digest=digest, kind=EntryKind.ENROLMENT_CLAIM, at=now, seat=claim.seat, reason=claim.summary
            )
            if close_now:
                close_digest(digest, now)
        reached += 1
    return reached


def _floor_of(claim: EnrolmentClaim) -> Floor | None:
    if claim.seat_id is not None:
        return claim.seat.floor
    device = claim.device
    if device.seat_id is not None:
        return device.seat.floor
    # An unseated host: announced on its site's first floor, where its site's rules look.
    return Floor.objects.filter(site_id=device.site_id).order_by("name").first()
