"""Turning agent requests into stored rows: enrolment and check-ins.

Called by the agent API views after the body has been validated against the report schema.
A check-in is durable in PostgreSQL before the agent hears 202; evaluation is queued only
after commit, and only when something changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from readyfloor_agent.report import facts_hash

from server.fleet.models import CheckIn, Device, EnrollSecret, FactSnapshot, Floor, Readiness, Seat

log = logging.getLogger(__name__)


class FactsRequired(Exception):
    """A heartbeat named facts by hash that the server does not hold."""


@dataclass(frozen=True)
class Enrolment:
    device: Device
    node_key: str
    seat_warning: str | None


def enroll(secret: EnrollSecret, body: dict[str, Any]) -> Enrolment:
    """Register (or re-register) a workstation. Re-enrolling issues a new node key, which
    invalidates the old one, and keeps the device's history."""
    details = body["host_details"]
    node_key, node_key_hash = Device.new_node_key()
    now = timezone.now()
    with transaction.atomic():
        device, _ = Device.objects.select_for_update().get_or_create(
            host_identifier=body["host_identifier"],
            defaults={"site": secret.site, "hostname": details["hostname"], "os": details["os"]},
        )
        device.site = secret.site
        device.hostname = details["hostname"]
        device.os = details["os"]
        device.os_version = details.get("os_version") or ""
        device.agent_version = details.get("agent_version") or ""
        device.node_key_hash = node_key_hash
        device.enrolled_at = now
        seat_warning = None
        hint = body.get("seat")
        if hint:
            seat = Seat.objects.filter(
                floor__site=secret.site, floor__name=hint["floor"], label=hint["label"]
            ).first()
            if seat is None:
                known = Floor.objects.filter(site=secret.site, name=hint["floor"]).exists()
                seat_warning = (
                    f"no seat {hint['label']!r} on floor {hint['floor']!r}"
                    if known
                    else f"no floor {hint['floor']!r} at site {secret.site.name!r}"
                ) + "; assign the device to a seat in the admin"
            else:
                move_to_seat(device, seat)
        device.save()
        EnrollSecret.objects.filter(pk=secret.pk).update(last_used_at=now)
    return Enrolment(device=device, node_key=node_key, seat_warning=seat_warning)


def move_to_seat(device: Device, seat: Seat | None) -> None:
    """Seat a device, unseating whichever device sat there before. The caller saves `device`."""
    if device.seat_id == (seat.pk if seat else None):
        return
    if seat is not None:
        Device.objects.filter(seat=seat).exclude(pk=device.pk).update(seat=None)
    device.seat = seat


@dataclass(frozen=True)
class CheckinOutcome:
    checkin_id: int | None
    duplicate: bool
    needs_evaluation: bool


def record_checkin(
    device: Device, body: dict[str, Any], received_at: dt.datetime | None = None
) -> CheckinOutcome:
    received_at = received_at or timezone.now()
    # An agent with a clock in the future must not pin its facts forever: later reports
    # would all look older. Its collection time is capped at our receive time.
    collected_at = min(parse_collected_at(body["collected_at"]), received_at)
    report_id = uuid.UUID(body["report_id"])

    with transaction.atomic():
        if "facts" in body:
            digest = facts_hash(body["facts"])
            snapshot_id = _store_snapshot(digest, body["facts"], received_at)
        else:
            digest = body["facts_hash"]
            if digest == device.facts_hash:
                snapshot_id = device.current_facts_id
            else:
                snapshot_id = FactSnapshot.objects.filter(sha256=digest).values_list("pk", flat=True).first()
                if snapshot_id is None:
                    raise FactsRequired(digest)

        is_newer = device.facts_collected_at is None or collected_at >= device.facts_collected_at
        facts_changed = is_newer and digest != device.facts_hash
        seat_readiness = device.seat.readiness if device.seat_id else None
        # Unchanged facts still need a verdict when the seat is shown as silent or unjudged.
        needs_evaluation = facts_changed or seat_readiness in {Readiness.OFFLINE, Readiness.UNKNOWN}

        checkin_id = _insert_checkin(
            device.pk,
            report_id,
            collected_at,
            received_at,
            digest,
            body.get("agent_version", ""),
            None if needs_evaluation else received_at,
        )
        if checkin_id is None:
            return CheckinOutcome(checkin_id=None, duplicate=True, needs_evaluation=False)

        updates: dict[str, Any] = {
            "last_seen_at": received_at,
            "agent_version": body.get("agent_version", ""),
        }
        if is_newer:
            updates.update(facts_collected_at=collected_at, facts_hash=digest, current_facts_id=snapshot_id)
        dropped = body.get("dropped_reports", 0)
        if dropped:
            from django.db.models import F

            updates["dropped_reports"] = F("dropped_reports") + dropped
        Device.objects.filter(pk=device.pk).update(**updates)

        if needs_evaluation:
            transaction.on_commit(lambda: queue_evaluation(checkin_id))
    return CheckinOutcome(checkin_id=checkin_id, duplicate=False, needs_evaluation=needs_evaluation)


def parse_collected_at(value: str) -> dt.datetime:
    """RFC 3339 text to an aware datetime; ValueError when it is not a real moment."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("collected_at needs a time zone offset")
    return moment


def _store_snapshot(digest: str, facts: dict[str, Any], now: dt.datetime) -> int:
    existing = FactSnapshot.objects.filter(sha256=digest).values_list("pk", flat=True).first()
    if existing is not None:
        return existing
    # Two devices may send identical new facts at the same moment: let the unique index decide.
    FactSnapshot.objects.bulk_create(
        [FactSnapshot(sha256=digest, facts=facts, created_at=now)], ignore_conflicts=True
    )
    return FactSnapshot.objects.values_list("pk", flat=True).get(sha256=digest)


def _insert_checkin(
    device_id: int,
    report_id: uuid.UUID,
    collected_at: dt.datetime,
    received_at: dt.datetime,
    digest: str,
    agent_version: str,
    evaluated_at: dt.datetime | None,
) -> int | None:
    """Insert unless the report_id is known; the id of the new row, or None for a replay.

    ON CONFLICT is the only race-free way to make a replay a no-op; the ORM cannot say
    whether an ignored conflict happened."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {CheckIn._meta.db_table}
                (device_id, report_id, collected_at, received_at, facts_hash, agent_version, evaluated_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (report_id) DO NOTHING
            RETURNING id
            """,
            [device_id, report_id, collected_at, received_at, digest, agent_version, evaluated_at],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def queue_evaluation(checkin_id: int) -> None:
    """Hand the check-in to the worker. If Redis is down the check-in is still safe in
    PostgreSQL; the sweep finds it unevaluated and queues it again."""
    from server.compliance.tasks import evaluate_checkin

    try:
        evaluate_checkin.apply_async((checkin_id,), retry=False)
    except Exception:
        log.warning(
            "could not queue evaluation of check-in %s; the sweep will retry", checkin_id, exc_info=True
        )
