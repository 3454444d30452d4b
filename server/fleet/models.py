"""Fleet inventory: where seats are, which workstation sits at each, and what it reported."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from django.utils.timezone import now
from readyfloor_agent import checks


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Readiness(models.TextChoices):
    """The catalog's readiness (readyfloor_agent.checks.Readiness) as database choices: its
    values and labels, and its orders through `verdict`, so no ordering is written twice."""

    READY = checks.Readiness.READY.value, checks.Readiness.READY.label
    AT_RISK = checks.Readiness.AT_RISK.value, checks.Readiness.AT_RISK.label
    NOT_READY = checks.Readiness.NOT_READY.value, checks.Readiness.NOT_READY.label
    OFFLINE = checks.Readiness.OFFLINE.value, checks.Readiness.OFFLINE.label
    UNKNOWN = checks.Readiness.UNKNOWN.value, checks.Readiness.UNKNOWN.label

    @property
    def verdict(self) -> checks.Readiness:
        return checks.Readiness(self.value)


class Site(models.Model):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Paris.")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Floor(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="floors")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["site__name", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="floor_unique_name_per_site")]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"


class Seat(models.Model):
    """A desk on the floor. Its readiness is precomputed by the evaluation job so pages and
    the API read it instead of judging on every request."""

    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="seats")
    label = models.CharField(max_length=50)
    row = models.PositiveIntegerField(default=0, help_text="Row on the floor map, from 0.")
    column = models.PositiveIntegerField(default=0, help_text="Column on the floor map, from 0.")
    team = models.CharField(max_length=100, blank=True)

    readiness = models.CharField(max_length=16, choices=Readiness.choices, default=Readiness.UNKNOWN)
    readiness_since = models.DateTimeField(default=now)
    # When the readiness above was last computed, and the non-passing results it came from
    # ([{check_id, state, severity, reason}]), so a list of seats needs no join.
    evaluated_at = models.DateTimeField(null=True, blank=True)
    failing = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["floor", "row", "column", "label"]
        constraints = [models.UniqueConstraint(fields=["floor", "label"], name="seat_unique_label_per_floor")]
        indexes = [models.Index(fields=["readiness"])]

    def __str__(self) -> str:
        return f"{self.floor.name} {self.label}"


class EnrollSecret(models.Model):
    """A per-site secret that agents present once to enrol. Only its hash is stored; several
    can be active at once so a secret can be rotated without a gap."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="enroll_secrets")
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'rollout 2026-11'.")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=8, editable=False, help_text="First characters, to recognise it.")
    created_at = models.DateTimeField(default=now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "-created_at"]

    def __str__(self) -> str:
        return f"{self.site}: {self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, site: Site, name: str) -> tuple[EnrollSecret, str]:
        """Create a secret and return it with its plain text, which is never stored."""
        plain = secrets.token_urlsafe(24)
        secret = cls.objects.create(site=site, name=name, secret_hash=sha256_hex(plain), hint=plain[:6])
        return secret, plain

    @classmethod
    def find_active(cls, plain: str) -> EnrollSecret | None:
        return (
            cls.objects.select_related("site").filter(secret_hash=sha256_hex(plain), revoked_at=None).first()
        )

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = now()
            self.save(update_fields=["revoked_at"])


class FactSnapshot(models.Model):
    """Immutable facts, addressed by the sha256 of their canonical JSON. Most check-ins repeat
    the previous facts, so they point at an existing snapshot instead of storing a copy."""

    sha256 = models.CharField(max_length=64, unique=True)
    facts = models.JSONField()
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return self.sha256[:12]


class Device(models.Model):
    """A workstation running the agent. It sits at one seat at a time and can move."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="devices")
    host_identifier = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=255)
    os = models.CharField(max_length=16)
    os_version = models.CharField(max_length=100, blank=True)
    agent_version = models.CharField(max_length=50, blank=True)
    node_key_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    seat = models.OneToOneField(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="device")

    enrolled_at = models.DateTimeField(default=now)
    last_seen_at = models.DateTimeField(null=True, blank=True, help_text="Server time of the last check-in.")
    # The newest facts by the agent's collection time; an older report never moves these back.
    current_facts = models.ForeignKey(FactSnapshot, null=True, blank=True, on_delete=models.PROTECT)
    facts_hash = models.CharField(max_length=64, blank=True)
    facts_collected_at = models.DateTimeField(null=True, blank=True)
    dropped_reports = models.PositiveIntegerField(
        default=0, help_text="Reports the agent's spool had to drop while the server was away."
    )
    # "Recheck now" (the seat page, the fix link): asked by a person, handed to the agent in its next
    # check-in answer, which asks it to collect and report at once. Pages compare the two with
    # last_seen_at to say where the recheck is.
    recheck_requested_at = models.DateTimeField(null=True, blank=True)
    recheck_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname

    @staticmethod
    def new_node_key() -> tuple[str, str]:
        plain = secrets.token_urlsafe(32)
        return plain, sha256_hex(plain)

    @classmethod
    def authenticate(cls, node_key: str) -> Device | None:
        if not node_key:
            return None
        return cls.objects.select_related("seat").filter(node_key_hash=sha256_hex(node_key)).first()

    def request_recheck(self, now: dt.datetime | None = None) -> None:
        """Ask the agent to collect and report at its next check-in (one update, however often asked)."""
        self.recheck_requested_at = now or timezone.now()
        Device.objects.filter(pk=self.pk).update(recheck_requested_at=self.recheck_requested_at)

    @property
    def recheck_pending(self) -> bool:
        """Asked for, and not yet handed to the agent."""
        return self.recheck_requested_at is not None and (
            self.recheck_sent_at is None or self.recheck_sent_at < self.recheck_requested_at
        )

    def recheck_progress(self) -> str:
        """Where the last recheck is: 'waiting' for the agent's next check-in, 'sent' to the agent
        (collecting now), 'done' (it reported since), or '' when none was asked for."""
        if self.recheck_requested_at is None:
            return ""
        if self.recheck_pending:
            return "waiting"
        if (
            self.last_seen_at is not None
            and self.recheck_sent_at
            and self.last_seen_at > self.recheck_sent_at
        ):
            return "done"
        return "sent"

    def revoke_node_key(self) -> None:
        self.node_key_hash = None
        self.save(update_fields=["node_key_hash"])


class DeviceMove(models.Model):
    """A workstation changing seat: arriving at one, leaving one, or both. Written by
    `ingest.move_to_seat` (enrolment with a seat hint, the admin), so a seat's page can say which
    machines sat there and when. Labels are kept as they were, for seats deleted since."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="moves")
    from_seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_label = models.CharField(max_length=50, blank=True)
    to_label = models.CharField(max_length=50, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=now)
    # Who moved it: an account's name, or what did it ("enrolment", "another device took the seat").
    by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["from_seat", "-at"]), models.Index(fields=["to_seat", "-at"])]

    def __str__(self) -> str:
        return f"{self.hostname}: {self.from_label or '—'} → {self.to_label or '—'}"


class CheckIn(models.Model):
    """One accepted report. `report_id` makes replays from the agent's spool no-ops.

    The table is partitioned by day of `agent_collected_at` (PostgreSQL declarative range
    partitioning, migration 0003 and server/fleet/partitions.py), so the retention purge drops
    whole days instead of deleting rows. PostgreSQL allows a unique index on a partitioned
    table only if it contains the partition key; the key is therefore the collection time
    exactly as the agent sent it, which every resend of a report repeats byte for byte (the
    spool keeps the body). A replay lands in the partition of its first copy, where the unique
    (report_id, agent_collected_at) index refuses it. `collected_at` is the same time capped at
    our receive time (an agent clock in the future must not pin its facts), so it cannot be
    the key: a replay received later would be capped differently."""

    # No index of its own: the (device, -collected_at) index below starts with it, and every
    # index is written once per check-in, the server's most frequent insert.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="checkins", db_index=False)
    report_id = models.UUIDField()
    collected_at = models.DateTimeField()
    agent_collected_at = models.DateTimeField(
        default=now, help_text="collected_at as the agent sent it (its clock); the partition key."
    )
    received_at = models.DateTimeField(default=now)
    facts_hash = models.CharField(max_length=64)
    agent_version = models.CharField(max_length=50, blank=True)
    # Null until the evaluation job has run for it; the sweep re-queues old nulls (Redis
    # may have been down when the check-in arrived).
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["report_id", "agent_collected_at"], name="checkin_report_once"),
        ]
        indexes = [
            models.Index(fields=["device", "-collected_at"]),
            models.Index(
                fields=["received_at"], name="checkin_unevaluated", condition=models.Q(evaluated_at=None)
            ),
            # The hourly purge deletes by received_at. Rows arrive in received_at order, so a
            # BRIN index finds old ones for a fraction of a btree's size and upkeep.
            BrinIndex(fields=["received_at"], name="checkin_received_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.device} @ {self.collected_at:%Y-%m-%d %H:%M:%S}"
