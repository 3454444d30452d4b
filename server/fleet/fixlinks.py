"""Fix links: a signed, expiring address that opens one seat's fix steps without a login.

A supervisor hands it to the person at the seat (chat, email, a sticky note of a QR code). It
carries the seat's id signed with the server's SECRET_KEY and the time it was made; it grants
reading that seat's failing checks and asking for a recheck, nothing else. Rotating SECRET_KEY
revokes every link at once.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing

from server.fleet.models import Seat

_SALT = "readyfloor.fix-link"


class LinkInvalid(Exception):
    """Tampered with, cut short, or for a seat that no longer exists."""


class LinkExpired(Exception):
    """Made longer ago than READYFLOOR_FIX_LINK_HOURS."""


def max_age() -> dt.timedelta:
    return dt.timedelta(hours=settings.READYFLOOR_FIX_LINK_HOURS)


def token_for(seat: Seat) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(str(seat.pk))


def seat_for(token: str) -> Seat:
    signer = signing.TimestampSigner(salt=_SALT)
    try:
        seat_id = signer.unsign(token, max_age=max_age())
    except signing.SignatureExpired as error:
        raise LinkExpired(str(error)) from error
    except signing.BadSignature as error:
        raise LinkInvalid(str(error)) from error
    seat = Seat.objects.select_related("floor__site", "device").filter(pk=int(seat_id)).first()
    if seat is None:
        raise LinkInvalid("no such seat")
    return seat
