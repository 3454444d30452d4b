"""Alerts: rules that watch floors, the channels they notify, and the log of every message.

SeatEvent rows (one per real readiness transition) are read as an outbox behind a durable
cursor; each rule gathers a floor's events into a window (a Digest) and, when the window
closes, one message per channel is queued (a Delivery) and every try is logged (an Attempt).
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from server.compliance.models import SeatEvent
from server.fleet.models import Floor, Readiness, Seat, Site

# A seat in one of these cannot take calls; leaving them for READY or AT RISK is a recovery.
DOWN = frozenset({Readiness.NOT_READY, Readiness.OFFLINE})
UP = frozenset({Readiness.READY, Readiness.AT_RISK})


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def default_window_s() -> int:
    return settings.READYFLOOR_ALERT_WINDOW_S


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (ReadyFloor JSON, signed)"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams (Workflows webhook, Adaptive Card)"
    EMAIL = "email", "Email"


class Channel(models.Model):
    """Where alerts go: a URL (webhook, Slack, Teams) or a list of email addresses."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices, default=ChannelKind.WEBHOOK)
    url = models.URLField(max_length=500, blank=True, help_text="For webhook, Slack and Teams channels.")
    secret = models.CharField(
        max_length=100,
        blank=True,
        default=new_signing_secret,
        help_text="Signs every HTTP body (ReadyFloor-Signature header). Give it to the receiver.",
    )
    email_to = models.TextField(blank=True, help_text="For email: addresses separated by commas or lines.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def recipients(self) -> list[str]:
        return [address.strip() for address in self.email_to.replace("\n", ",").split(",") if address.strip()]

    def clean(self) -> None:
        if self.kind == ChannelKind.EMAIL:
            if not self.recipients:
                raise ValidationError({"email_to": "an email channel needs at least one address"})
        elif not self.url:
            raise ValidationError({"url": f"a {self.get_kind_display()} channel needs its URL"})


class AlertRule(models.Model):
    """What to watch on a floor, a site's floors, or (neither set) every floor."""

    name = models.CharField(max_length=100)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules"
    )
    floor = models.ForeignKey(
        Floor, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules"
    )
    on_seat_down = models.BooleanField(default=True, help_text="A seat turns NOT READY or OFFLINE.")
    on_seat_recovered = models.BooleanField(
        default=True, help_text="A seat that was down is READY or AT RISK again."
    )
    floor_threshold_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Alert when under this percent of the floor's seats are READY or AT RISK, and when back.",
    )
    window_s = models.PositiveIntegerField(
        default=default_window_s,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Changes within this many seconds of the first one go out as one digest.",
    )
    channels = models.ManyToManyField(Channel, related_name="rules")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(site__isnull=False) & models.Q(floor__isnull=False)),
                name="alert_rule_scope_is_site_or_floor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.floor or self.site or 'every floor'})"


class OutboxCursor(models.Model):
    """How far the SeatEvent outbox has been read; advanced in the transaction that stores
    what was read, so a crash re-reads rather than skips."""

    name = models.CharField(max_length=50, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} at event {self.last_event_id}"


class FloorThresholdState(models.Model):
    """Whether a floor is under a rule's threshold, so each crossing alerts once."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="floor_states")
    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="+")
    below = models.BooleanField(default=False)
    percent = models.FloatField(default=100.0)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "floor"], name="one_threshold_state_per_rule_floor")
        ]


class Digest(models.Model):
    """One rule's changes on one floor within one window: a storm of 40 seats is one digest."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="digests")
    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="alert_digests")
    opened_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The event's identity for receivers: the same on every try and every replay.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sent_entries = models.PositiveIntegerField(default=0)
    silenced_entries = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "floor"],
                condition=models.Q(closed_at__isnull=True),
                name="one_open_digest_per_rule_floor",
            )
        ]
        indexes = [
            models.Index(fields=["closes_at"], name="digest_open", condition=models.Q(closed_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} · {self.floor} · {self.opened_at:%Y-%m-%d %H:%M:%S}"


class EntryKind(models.TextChoices):
    SEAT_DOWN = "seat_down", "Seat down"
    SEAT_RECOVERED = "seat_recovered", "Seat recovered"
    FLOOR_BELOW = "floor_below", "Floor under threshold"
    FLOOR_RECOVERED = "floor_recovered", "Floor back over threshold"
    ENROLMENT_CLAIM = "enrolment_claim", "Enrolment claim (a seat or a host identity)"


class DigestEntry(models.Model):
    """One change in a digest: a seat event, or a floor crossing its threshold."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    at = models.DateTimeField()
    seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    seat_event = models.ForeignKey(
        SeatEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_readiness = models.CharField(max_length=16, blank=True)
    to_readiness = models.CharField(max_length=16, blank=True)
    reason = models.TextField(blank=True)
    failing = models.JSONField(default=list, blank=True)
    percent = models.FloatField(null=True, blank=True)
    # Decided when the digest closes: an acknowledged failure (and its recovery) sends nothing.
    silenced = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "seat_event"], name="one_entry_per_event_per_digest")
        ]
        indexes = [models.Index(fields=["seat", "kind", "-at"])]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class Delivery(models.Model):
    """One digest to one channel. The body is fixed when queued, so a retry or a replay sends
    exactly the same event (only the signature's timestamp is new)."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    content_type = models.CharField(max_length=100, default="application/json")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When a task for it was last put on the queue: a pending delivery whose task got lost
    # (a broker outage, a killed worker holding a countdown) is queued again, not twice a minute.
    queued_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["digest", "channel"], name="one_delivery_per_digest_channel")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending", condition=models.Q(status="pending")
            )
        ]

    def __str__(self) -> str:
        return f"{self.digest} → {self.channel.name}: {self.status}"

    @property
    def idempotency_key(self) -> str:
        return str(self.digest.idempotency_key)


class Attempt(models.Model):
    """One try to send a delivery: when, how long, what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    replay = models.BooleanField(default=False, help_text="Sent again by hand from the delivery log.")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        outcome = self.status_code or self.error[:40] or ("ok" if self.ok else "failed")
        return f"try {self.number} at {self.started_at:%H:%M:%S}: {outcome}"
