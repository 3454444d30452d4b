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


def command_line_safe_token(nbytes: int) -> str:
    """A random URL-safe token that does not start with "-": an IT admin pastes it after
    `--secret`, and a leading dash would be read as another option (1 token in 64 would)."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


class EnrollSecret(models.Model):
    """A secret that agents present once to enrol. Only its hash is stored; several can be
    active at once so a secret can be rotated without a gap.

    It sits in a settings file on every seat, so it must be assumed to leak: it is scoped to a
    site or one floor, can expire and be limited to a number of enrolments, and it never lets
    anyone take an occupied seat or an enrolled host's identity silently (see ingest.enroll)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="enroll_secrets")
    floor = models.ForeignKey(
        Floor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="enroll_secrets",
        help_text="Only seats on this floor (of the site); empty: any floor of the site.",
    )
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'rollout 2026-11'.")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=8, editable=False, help_text="First characters, to recognise it.")
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Refused from this moment on; empty: until revoked."
    )
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text="Enrolments it allows; empty: no limit (a rollout's seat count)."
    )
    uses = models.PositiveIntegerField(
        default=0, db_default=0, editable=False, help_text="Enrolments made with it."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site", "-created_at"]

    def __str__(self) -> str:
        return f"{self.site}: {self.name} ({self.hint}…)"

    @classmethod
    def issue(
        cls,
        site: Site,
        name: str,
        *,
        floor: Floor | None = None,
        expires_at: dt.datetime | None = None,
        max_uses: int | None = None,
    ) -> tuple[EnrollSecret, str]:
        """Create a secret and return it with its plain text, which is never stored."""
        plain = command_line_safe_token(24)
        secret = cls.objects.create(
            site=site,
            floor=floor,
            name=name,
            secret_hash=sha256_hex(plain),
            hint=plain[:6],
            expires_at=expires_at,
            max_uses=max_uses,
        )
        return secret, plain

    @classmethod
    def find(cls, plain: str) -> EnrollSecret | None:
        """The secret with this plain text, usable or not (see `refusal`)."""
        return cls.objects.select_related("site", "floor").filter(secret_hash=sha256_hex(plain)).first()

    @classmethod
    def find_active(cls, plain: str) -> EnrollSecret | None:
        secret = cls.find(plain)
        return secret if secret is not None and secret.refusal() is None else None

    def refusal(self, moment: dt.datetime | None = None) -> str | None:
        """Why this secret cannot enrol anything now, or None when it can."""
        moment = moment or now()
        if self.revoked_at is not None:
            return "this enroll secret was revoked"
        if self.expires_at is not None and moment >= self.expires_at:
            return f"this enroll secret expired at {self.expires_at.isoformat()}"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return f"this enroll secret was used up ({self.max_uses} enrolments)"
        return None

    def spend(self, moment: dt.datetime) -> bool:
        """Count one enrolment, unless that would exceed max_uses (race-free: the guard is
        in the UPDATE); False when used up meanwhile."""
        limit = models.Q(max_uses__isnull=True) | models.Q(uses__lt=models.F("max_uses"))
        return bool(
            EnrollSecret.objects.filter(limit, pk=self.pk, revoked_at=None).update(
                uses=models.F("uses") + 1, last_used_at=moment
            )
        )

    @property
    def is_active(self) -> bool:
        return self.refusal() is None

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
    # Chrome's version from the current facts (`chrome.version`), kept on the row so the fleet
    # overview counts devices by Chrome major without reading every facts snapshot. Blank when
    # the agent did not report it. Written by ingest with current_facts, never on its own.
    chrome_version = models.CharField(max_length=50, blank=True, default="", db_default="")
    node_key_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    seat = models.OneToOneField(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="device")
    # sha256 of the claim token the agent sent when it got its current key: the same agent
    # asking again (its answer was lost) proves itself with it, as with its previous key.
    enrolment_token_hash = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )

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
    dead_lettered_reports = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Reports the agent set aside because the server refused them for good "
        "(kept on the workstation: readyfloor-agent requeue-dead --list).",
    )

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


class ClaimKind(models.TextChoices):
    SEAT = "seat", "Occupied seat claimed by another device"
    HOST = "host", "Enrolled host identifier enrolled again without proof"


class ClaimStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved by an admin"
    REFUSED = "refused", "Refused by an admin"
    AUTOMATIC = "automatic", "Taken over (the seat's device was silent long enough)"


class EnrolmentClaim(models.Model):
    """An enrolment that would take something from an enrolled device: an occupied seat, or
    the identity (node key) of an enrolled host. Never done silently: it waits here for an
    admin, or, for a seat whose device has been silent for the policy's
    `seat_takeover_after_s`, happens at once and is recorded as `automatic`. Every claim is
    an audit record and raises an alert."""

    kind = models.CharField(max_length=8, choices=ClaimKind.choices)
    status = models.CharField(max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.PENDING)
    # SEAT: the device that wants the seat. HOST: the enrolled device whose identity is claimed.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="enrolment_claims")
    seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.CASCADE, related_name="claims")
    # SEAT: whoever sat there when the claim was made.
    previous_device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_last_seen_at = models.DateTimeField(null=True, blank=True)
    secret = models.ForeignKey(
        EnrollSecret, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hostname = models.CharField(max_length=255, help_text="As the claiming host named itself.")
    address = models.GenericIPAddressField(null=True, blank=True, help_text="Where the claim came from.")
    # HOST: sha256 of the token the claiming agent keeps; only that agent can pick up the key
    # once the claim is approved.
    claim_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True, help_text="The admin who decided.")
    completed_at = models.DateTimeField(
        null=True, blank=True, help_text="HOST: when the approved agent picked up its new key."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        target = f"seat {self.seat}" if self.kind == ClaimKind.SEAT else f"host {self.device.host_identifier}"
        return f"{self.hostname} claims {target} ({self.get_status_display()})"

    @property
    def summary(self) -> str:
        if self.kind == ClaimKind.SEAT:
            sitting = f" from {self.previous_device.hostname}" if self.previous_device else ""
            verb = "took" if self.status == ClaimStatus.AUTOMATIC else "claims"
            return f"{self.hostname} {verb} seat {self.seat}{sitting} ({self.get_status_display().lower()})"
        return (
            f"{self.hostname} enrolled again as {self.device.hostname} ({self.device.host_identifier}) "
            f"without proof ({self.get_status_display().lower()})"
        )
