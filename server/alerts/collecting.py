"""From seat events to digests: the outbox reader, the floor thresholds, and closing windows.

SeatEvent rows are the outbox (one per real readiness transition). A durable cursor (the last
event id read) moves in the same transaction that stores what was read, so a crash re-reads and
never skips. Events are read only once they are `READYFLOOR_ALERT_SETTLE_S` old: ids are handed
out at insert but become visible at commit, so a young event may still have an older neighbour
in flight; waiting a few seconds (evaluation transactions last milliseconds) lets it land first.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from server.acknowledgements.acknowledging import AcknowledgedFailures, acknowledged_failures
from server.alerts import payloads
from server.alerts.models import (
    DOWN,
    UP,
    AlertRule,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Digest,
    DigestEntry,
    EntryKind,
    FloorThresholdState,
    OutboxCursor,
)
from server.compliance.models import SeatEvent
from server.fleet.models import Floor, Seat

log = logging.getLogger(__name__)

CURSOR = "seat_events"
BATCH = 5000


@dataclass
class Collected:
    events_read: int = 0
    entries: int = 0
    digests_closed: int = 0
    deliveries_queued: int = 0
    deliveries_requeued: int = 0


def collect(now: dt.datetime | None = None) -> Collected:
    """The beat task's work: read new seat events into open digests, close the windows that
    are over (queuing one delivery per channel), and re-queue deliveries whose task was lost."""
    now = now or timezone.now()
    result = Collected()
    while True:
        read, entries, closed_early = read_outbox(now)
        result.events_read += read
        result.entries += entries
        result.digests_closed += closed_early
        if read < BATCH:
            break
    closed, queued = close_due_digests(now)
    result.digests_closed += closed
    result.deliveries_queued += queued
    result.deliveries_requeued = requeue_lost_deliveries(now)
    return result


def seat_event_kind(event: SeatEvent) -> str | None:
    """A seat going down (NOT READY, OFFLINE, or one to the other) or coming back up."""
    if event.to_readiness in DOWN and event.from_readiness != event.to_readiness:
        return EntryKind.SEAT_DOWN
    if event.to_readiness in UP and event.from_readiness in DOWN:
        return EntryKind.SEAT_RECOVERED
    return None


def rules_for_floor(floor: Floor) -> list[AlertRule]:
    """Enabled rules that watch this floor: its own, its site's, and the every-floor ones."""
    return list(
        AlertRule.objects.filter(enabled=True)
        .filter(
            models.Q(floor=floor)
            | models.Q(site_id=floor.site_id)
            | models.Q(site__isnull=True, floor__isnull=True)
        )
        .order_by("pk")
    )


def read_outbox(now: dt.datetime) -> tuple[int, int, int]:
    """Read one batch of settled events after the cursor. Returns (events, entries, digests closed)."""
    horizon = now - dt.timedelta(seconds=settings.READYFLOOR_ALERT_SETTLE_S)
    OutboxCursor.objects.get_or_create(name=CURSOR)
    with transaction.atomic():
        # The lock makes two overlapping beats take turns instead of reading the same events.
        cursor = OutboxCursor.objects.select_for_update().get(name=CURSOR)
        events = list(
            SeatEvent.objects.filter(pk__gt=cursor.last_event_id)
            .select_related("seat__floor")
            .order_by("pk")[:BATCH]
        )
        settled = []
        for event in events:
            if event.at > horizon:
                break  # keep id order: nothing after a young event is read before it
            settled.append(event)
        if not settled:
            return 0, 0, 0
        digests = _OpenDigests(now)
        rules: dict[int, list[AlertRule]] = {}
        entries = 0
        touched: dict[int, tuple[Floor, dt.datetime]] = {}
        for event in settled:
            floor = event.seat.floor
            touched[floor.pk] = (floor, event.at)
            kind = seat_event_kind(event)
            if kind is None:
                continue
            if floor.pk not in rules:
                rules[floor.pk] = rules_for_floor(floor)
            for rule in rules[floor.pk]:
                wanted = rule.on_seat_down if kind == EntryKind.SEAT_DOWN else rule.on_seat_recovered
                if not wanted:
                    continue
                digests.add(
                    DigestEntry(
                        digest=digests.for_change(rule, floor.pk, event.at),
                        kind=kind,
                        at=event.at,
                        seat_id=event.seat_id,
                        seat_event=event,
                        from_readiness=event.from_readiness,
                        to_readiness=event.to_readiness,
                        reason=event.reason,
                        failing=event.failing,
                    )
                )
                entries += 1
        for floor, at in touched.values():
            if floor.pk not in rules:
                rules[floor.pk] = rules_for_floor(floor)
            entries += check_floor_thresholds(floor, rules[floor.pk], at, digests)
        digests.flush()
        cursor.last_event_id = settled[-1].pk
        cursor.updated_at = now
        cursor.save(update_fields=["last_event_id", "updated_at"])
    return len(settled), entries, digests.closed


class _OpenDigests:
    """The open digest of each (rule, floor) during one read, opening and closing windows, and
    the entries read, written together (a policy change can move thousands of seats at once)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.closed = 0
        self._open: dict[tuple[int, int], Digest | None] = {}
        self._pending: list[DigestEntry] = []

    def add(self, entry: DigestEntry) -> None:
        self._pending.append(entry)

    def flush(self) -> None:
        DigestEntry.objects.bulk_create(self._pending, batch_size=1000)
        self._pending = []

    def for_change(self, rule: AlertRule, floor_id: int, at: dt.datetime) -> Digest:
        key = (rule.pk, floor_id)
        if key not in self._open:
            self._open[key] = Digest.objects.filter(rule=rule, floor_id=floor_id, closed_at=None).first()
        digest = self._open[key]
        if digest is not None and at >= digest.closes_at:
            # A change after the window proves the window is over: send it before opening the next.
            self.flush()
            close_digest(digest, self.now)
            self.closed += 1
            digest = None
        if digest is None:
            digest = Digest.objects.create(
                rule=rule, floor_id=floor_id, opened_at=at, closes_at=at + dt.timedelta(seconds=rule.window_s)
            )
            self._open[key] = digest
        return digest


def floor_ready_percent(floor: Floor, acknowledged: AcknowledgedFailures) -> float | None:
    """Percent of a floor's seats that can take calls (READY or AT RISK). A seat down only for
    acknowledged failures counts as able: an accepted failure must not set off the floor alert."""
    seats = list(Seat.objects.filter(floor=floor).values_list("pk", "readiness", "failing"))
    if not seats:
        return None
    able = sum(
        1
        for seat_id, readiness, failing in seats
        if readiness in UP or (readiness in DOWN and acknowledged.covers(seat_id, failing))
    )
    return 100.0 * able / len(seats)


def check_floor_thresholds(
    floor: Floor, rules: list[AlertRule], at: dt.datetime, digests: _OpenDigests
) -> int:
    """Add an entry for each rule whose threshold this floor just crossed, either way."""
    watching = [rule for rule in rules if rule.floor_threshold_percent]
    if not watching:
        return 0
    percent = floor_ready_percent(floor, acknowledged_failures(floor.pk, digests.now))
    if percent is None:
        return 0
    added = 0
    for rule in watching:
        state, _ = FloorThresholdState.objects.select_for_update().get_or_create(rule=rule, floor=floor)
        below = percent < rule.floor_threshold_percent
        if below == state.below:
            if state.percent != percent:
                FloorThresholdState.objects.filter(pk=state.pk).update(percent=percent)
            continue
        state.below, state.percent, state.changed_at = below, percent, at
        state.save(update_fields=["below", "percent", "changed_at"])
        digests.add(
            DigestEntry(
                digest=digests.for_change(rule, floor.pk, at),
                kind=EntryKind.FLOOR_BELOW if below else EntryKind.FLOOR_RECOVERED,
                at=at,
                percent=percent,
                reason=_crossing_reason(percent, rule.floor_threshold_percent, below),
            )
        )
        added += 1
    return added


def _crossing_reason(percent: float, threshold: int, below: bool) -> str:
    where = f"under {threshold} %" if below else f"back at {threshold} % or more"
    return f"{percent:.0f} % of seats READY or AT RISK ({where})"


def close_due_digests(now: dt.datetime) -> tuple[int, int]:
    """Close every window that ended before the settled horizon. Returns (closed, deliveries)."""
    horizon = now - dt.timedelta(seconds=settings.READYFLOOR_ALERT_SETTLE_S)
    closed = queued = 0
    while True:
        with transaction.atomic():
            digest = (
                Digest.objects.select_for_update(skip_locked=True)
                .filter(closed_at=None, closes_at__lte=horizon)
                .order_by("closes_at")
                .first()
            )
            if digest is None:
                return closed, queued
            queued += close_digest(digest, now)
            closed += 1


def close_digest(digest: Digest, now: dt.datetime) -> int:
    """Decide what is silenced, then queue one delivery per enabled channel. Returns how many.

    Silencing is decided now, at the end of the window, so an acknowledgement made while a
    storm was unfolding still keeps it quiet."""
    entries = list(digest.entries.select_related("seat").order_by("at", "pk"))
    acknowledged = acknowledged_failures(digest.floor_id, now)
    downs = [entry for entry in entries if entry.kind == EntryKind.SEAT_DOWN]
    for entry in downs:
        entry.silenced = acknowledged.covers(entry.seat_id, entry.failing)
    _store_silenced(downs)  # before the recoveries ask whether their seat's going down was sent
    recoveries = [entry for entry in entries if entry.kind == EntryKind.SEAT_RECOVERED]
    for entry in recoveries:
        entry.silenced = not _down_was_announced(digest.rule_id, entry)
    _store_silenced(recoveries)

    sent = [entry for entry in entries if not entry.silenced]
    digest.closed_at = now
    digest.sent_entries = len(sent)
    digest.silenced_entries = len(entries) - len(sent)
    digest.save(update_fields=["closed_at", "sent_entries", "silenced_entries"])
    if not sent:
        return 0
    content = digest_content(digest, sent, silenced=len(entries) - len(sent))
    deliveries = [
        Delivery.objects.create(
            digest=digest,
            channel=channel,
            next_attempt_at=now,
            queued_at=now,
            **render(channel.kind, content),
        )
        for channel in digest.rule.channels.filter(enabled=True)
    ]
    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: _enqueue(pk), robust=True)
    return len(deliveries)


def _store_silenced(entries: list[DigestEntry]) -> None:
    # One UPDATE by id list: bulk_update's CASE per row costs seconds for a storm's entries.
    DigestEntry.objects.filter(pk__in=[entry.pk for entry in entries if entry.silenced]).update(silenced=True)


def _down_was_announced(rule_id: int, recovery: DigestEntry) -> bool:
    """A recovery is news only to those told the seat went down."""
    down = (
        DigestEntry.objects.filter(
            digest__rule_id=rule_id, seat_id=recovery.seat_id, kind=EntryKind.SEAT_DOWN, at__lte=recovery.at
        )
        .order_by("-at", "-pk")
        .values_list("silenced", flat=True)
        .first()
    )
    return down is False


def digest_content(digest: Digest, entries: list[DigestEntry], silenced: int) -> payloads.DigestContent:
    floor = Floor.objects.select_related("site").get(pk=digest.floor_id)
    base = settings.SITE_URL.rstrip("/")
    content = payloads.DigestContent(
        idempotency_key=str(digest.idempotency_key),
        rule=digest.rule.name,
        site=floor.site.name,
        floor_id=floor.pk,
        floor=floor.name,
        window_start=payloads.iso(digest.opened_at),
        window_end=payloads.iso(digest.closes_at),
        floor_url=f"{base}{reverse('dashboards:floor')}?floor={floor.pk}",
        timezone=floor.site.timezone,
        acknowledged=silenced,
    )
    # A seat that changed several times in one window is listed once, as it ended up.
    latest: dict[int, DigestEntry] = {}
    for entry in entries:
        if entry.kind == EntryKind.ENROLMENT_CLAIM:
            content.enrolment_claims.append(entry.reason)
        elif entry.seat_id is not None:
            latest[entry.seat_id] = entry
        else:
            content.floor_threshold = payloads.FloorCrossing(
                state="below" if entry.kind == EntryKind.FLOOR_BELOW else "recovered",
                percent=round(entry.percent or 0.0, 1),
                threshold=digest.rule.floor_threshold_percent or 0,
                at=payloads.iso(entry.at),
            )
    for entry in sorted(latest.values(), key=lambda e: (e.seat.label, e.pk)):
        change = payloads.SeatChange(
            seat_id=entry.seat_id,
            label=entry.seat.label,
            from_readiness=entry.from_readiness,
            to_readiness=entry.to_readiness,
            at=payloads.iso(entry.at),
            reason=entry.reason,
            failing=entry.failing,
            url=f"{base}{reverse('dashboards:seat', args=[entry.seat_id])}",
        )
        (content.seats_down if entry.kind == EntryKind.SEAT_DOWN else content.seats_recovered).append(change)
    return content


def render(kind: str, content: payloads.DigestContent) -> dict[str, str]:
    """The stored message of one delivery: subject (email), body and content type."""
    if kind == ChannelKind.EMAIL:
        subject, body = payloads.email_text(content)
        return {"subject": subject, "body": body, "content_type": "text/plain; charset=utf-8"}
    body = {
        ChannelKind.WEBHOOK: payloads.readyfloor_json,
        ChannelKind.SLACK: payloads.slack_json,
        ChannelKind.TEAMS: payloads.teams_json,
    }[ChannelKind(kind)](content)
    return {"subject": content.summary[:300], "body": body, "content_type": "application/json"}


def requeue_lost_deliveries(now: dt.datetime) -> int:
    """Queue again pending deliveries due for a minute whose task has not run (lost in a broker
    outage or with a killed worker). A duplicate task is harmless: delivery locks its row and
    sends only what is pending and due."""
    late = now - dt.timedelta(seconds=60)
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=late)
        .filter(models.Q(queued_at__isnull=True) | models.Q(queued_at__lte=late))
        .values_list("pk", flat=True)[:1000]
    )
    if ids:
        Delivery.objects.filter(pk__in=ids).update(queued_at=now)
        for pk in ids:
            _enqueue(pk)
    return len(ids)


def purge_old_digests(now: dt.datetime | None = None) -> int:
    """Delete closed digests (with their entries, deliveries and attempts) older than
    READYFLOOR_ALERT_LOG_RETENTION_DAYS. Returns how many digests went."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.READYFLOOR_ALERT_LOG_RETENTION_DAYS)
    old = Digest.objects.filter(closed_at__lt=cutoff).exclude(deliveries__status=DeliveryStatus.PENDING)
    deleted = 0
    # In slices, so one run never holds a long transaction over a big log.
    while ids := list(old.values_list("pk", flat=True)[:1000]):
        Digest.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted


def _enqueue(delivery_id: int) -> None:
    from server.alerts.tasks import deliver  # the tasks module imports this one

    try:
        deliver.apply_async((delivery_id,))
    except Exception:
        log.warning(
            "could not queue delivery %s; the collector will queue it again", delivery_id, exc_info=True
        )
