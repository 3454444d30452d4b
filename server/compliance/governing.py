"""Which policy governs a seat: one rule, written here in the two forms the server needs.

The most specific policy wins: the seat's floor, then its site (the seat's, or the device's
own while it has no seat), then a default (no site, no floor). Nothing forbids several
default policies, so ties go to the oldest (lowest id) — in both forms, by the same
ordering, and tests/server/test_governing.py holds them to it.

- ``policy_for(seat, site)``: the ORM form, for pages, the admin and enrolment.
- ``device_sql(...)``: the same choice as a LATERAL join, so the check-in and evaluation
  statements find a device and its policy in one prepared round trip.
"""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q

from server.compliance.models import Policy
from server.fleet.models import Device, Floor, Seat, Site

# The tie-break, once: floor policies before site policies before defaults, then the oldest.
# `ORDER_SQL` is the same ordering for the LATERAL join below.
_ORM_ORDER = ("floor_last", "site_last", "id")
ORDER_SQL = "p.floor_id IS NULL, p.site_id IS NULL, p.id"


def policy_for(seat: Seat | None, site: Site | None = None) -> Policy:
    """The policy that governs a seat (or, for a device with no seat yet, its site); an
    unsaved built-in default when no policy applies."""
    floor_id = seat.floor_id if seat else None
    site_id = seat.floor.site_id if seat else (site.pk if site else None)
    governing = (
        Policy.objects.filter(
            Q(floor_id=floor_id, floor__isnull=False)
            | Q(site_id=site_id, site__isnull=False)
            | Q(site__isnull=True, floor__isnull=True)
        )
        .annotate(
            floor_last=ExpressionWrapper(Q(floor__isnull=True), output_field=BooleanField()),
            site_last=ExpressionWrapper(Q(site__isnull=True), output_field=BooleanField()),
        )
        .order_by(*_ORM_ORDER)
        .first()
    )
    return governing or built_in_default()


def seat_takeover_after_s(seat: Seat) -> int | None:
    """How long a seat's device must be silent before another device may take the seat
    without an admin's approval (None: never), from the seat's governing policy."""
    return policy_for(seat).seat_takeover_after_s


def built_in_default() -> Policy:
    """What governs a seat when no policy row applies: the model's defaults, never saved."""
    return Policy(name="built-in default")


# md5 of the governing row stands for its content, so any edit (even an update() that
# bypasses save()) changes it: the check-in answer is cached per process by it.
_DEVICE_SQL = """
    SELECT {columns}, governing.id AS policy_id, md5(governing::text) AS policy_digest
    FROM {device} d
    LEFT JOIN {seat} s ON s.id = d.seat_id
    LEFT JOIN {floor} f ON f.id = s.floor_id
    LEFT JOIN LATERAL (
        SELECT p.* FROM {policy} p
        WHERE p.floor_id = s.floor_id
           OR p.site_id = COALESCE(f.site_id, d.site_id)
           OR (p.floor_id IS NULL AND p.site_id IS NULL)
        ORDER BY {order}
        LIMIT 1
    ) governing ON TRUE
    {joins}
    WHERE {where}
    {lock}
"""


def device_sql(
    columns: str, where: str = "d.node_key_hash = %(key)s", joins: str = "", lock: str = ""
) -> str:
    """SELECT `columns` (of d: device, s: seat, f: floor, governing: its policy, and whatever
    `joins` adds) plus policy_id and policy_digest of the device matching `where` (by
    default, the one whose node key hashes to %(key)s)."""
    return _DEVICE_SQL.format(
        columns=columns,
        device=Device._meta.db_table,
        seat=Seat._meta.db_table,
        floor=Floor._meta.db_table,
        policy=Policy._meta.db_table,
        order=ORDER_SQL,
        joins=joins,
        where=where,
        lock=lock,
    )


_answers: dict[tuple[int | None, str | None], tuple[int, str]] = {}


def checkin_answer(policy_id: int | None, digest: str | None) -> tuple[int, str]:
    """(next_checkin_s, config_version) of a policy, kept per process by the digest of its
    row: any edit of the policy, however it is made, changes the digest, so an answer is
    never stale, and the policy is loaded and hashed once per version instead of per request."""
    key = (policy_id, digest)
    answer = _answers.get(key)
    if answer is None:
        policy = Policy.objects.filter(pk=policy_id).first() if policy_id is not None else None
        policy = policy or built_in_default()
        answer = (policy.checkin_interval_s, policy.config_version())
        if len(_answers) >= 1024:
            _answers.clear()  # old versions are never asked for again
        _answers[key] = answer
    return answer
