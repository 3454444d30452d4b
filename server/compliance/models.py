"""Compliance: the central policy, each device's check results and each seat's transitions."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from readyfloor_agent import checks

from server.fleet.models import Device, Floor, Readiness, Seat, Site


def default_browsers() -> list[str]:
    return ["chrome"]


class Policy(models.Model):
    """What a seat must satisfy. The most specific policy wins: floor, then site, then the
    default (no site, no floor), as compliance.governing chooses. Agents fetch it so their
    self-check matches the server."""

    name = models.CharField(max_length=100)
    site = models.OneToOneField(Site, null=True, blank=True, on_delete=models.CASCADE, related_name="policy")
    floor = models.OneToOneField(
        Floor, null=True, blank=True, on_delete=models.CASCADE, related_name="policy"
    )
    cti_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Origins of the softphone, e.g. ["https://acme.my.salesforce.com"].',
    )
    notifications_required = models.BooleanField(default=True)
    min_chrome_major = models.PositiveIntegerField(null=True, blank=True)
    approved_headsets = models.JSONField(
        default=list, blank=True, help_text='USB ids "vvvv:pppp" or name patterns like "*Jabra*".'
    )
    freshness_s = models.PositiveIntegerField(
        default=900, help_text="A seat silent for longer than this is OFFLINE (seconds)."
    )
    checkin_interval_s = models.PositiveIntegerField(
        default=60, help_text="How often agents report (seconds)."
    )
    disabled_checks = models.JSONField(default=list, blank=True)
    browsers = models.JSONField(
        default=default_browsers,
        help_text='The browsers the softphone runs in at these seats: "chrome", "chromium", "edge".',
    )
    seat_takeover_after_s = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=86400,
        help_text="A new device enrolling at an occupied seat takes it at once only when the seat's "
        "device has been silent this long (seconds); otherwise the claim waits for approval in the "
        "admin. Empty: always wait for approval.",
    )
    severities = models.JSONField(
        default=dict, blank=True, help_text='Overrides, e.g. {"os.mic.in_use": "critical"}.'
    )
    updated_at = models.DateTimeField(auto_now=True)
    # The version in force: saved with the policy's fields in one transaction by
    # compliance.policy_versions.save, so a verdict that names another one is stale.
    current_version = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(site__isnull=False) & models.Q(floor__isnull=False)),
                name="policy_scope_is_site_or_floor",
            )
        ]

    def __str__(self) -> str:
        scope = self.floor or self.site or "default"
        return f"{self.name} ({scope})"

    def clean(self) -> None:
        try:
            self.to_catalog()
        except ValueError as error:
            # The catalog says "field: what is wrong"; name the field so a form shows it there.
            name, _, message = str(error).partition(": ")
            if message and name in {f.name for f in self._meta.fields}:
                raise ValidationError({name: message}) from error
            raise ValidationError(str(error)) from error

    def to_catalog(self) -> checks.Policy:
        return checks.Policy.from_dict(
            {
                "cti_origins": list(self.cti_origins or []),
                "notifications_required": self.notifications_required,
                "min_chrome_major": self.min_chrome_major,
                "approved_headsets": list(self.approved_headsets or []),
                "freshness_s": self.freshness_s,
                "disabled_checks": list(self.disabled_checks or []),
                "severities": dict(self.severities or {}),
                "browsers": list(self.browsers or default_browsers()),
            }
        )

    def config_version(self) -> str:
        body = {"policy": self.to_catalog().to_dict(), "interval": self.checkin_interval_s}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


class PolicyVersion(models.Model):
    """A policy as it was saved: immutable (a database trigger refuses edits), numbered per
    policy, with who saved it, why, and what changed against the version before."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField(help_text="The policy's fields as saved.")
    changes = models.JSONField(
        default=list, blank=True, help_text="[{field, label, before, after}] against the previous version."
    )
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="one_number_per_policy_version")
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"


class SeatVerdict(models.Model):
    """Under which policy version a seat's readiness (on fleet.Seat) was last judged. Kept
    here because fleet knows nothing of policies; the sweep re-judges every seat whose row
    names another version than the one in force, or has no row."""

    seat = models.OneToOneField(Seat, primary_key=True, on_delete=models.CASCADE, related_name="verdict")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The floor the seat was on when judged: the hourly rollups count it there, and a seat
    # moved since is judged again (and its counts moved) by the sweep.
    floor = models.ForeignKey(Floor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    judged_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.seat_id} judged under {self.policy_version_id}"


class CheckState(models.TextChoices):
    PASS = "pass", "Pass"
    WARN = "warn", "Warning"
    FAIL = "fail", "Fail"
    UNKNOWN = "unknown", "Unknown"
    NA = "n/a", "Not applicable"


class CheckResult(models.Model):
    """The latest verdict of one check on one device; `since` is when that state began."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="results")
    check_id = models.CharField(max_length=64)
    state = models.CharField(max_length=8, choices=CheckState.choices)
    severity = models.CharField(max_length=16)
    reason = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)
    since = models.DateTimeField(default=timezone.now)
    evaluated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["device", "check_id"]
        constraints = [models.UniqueConstraint(fields=["device", "check_id"], name="one_result_per_check")]
        indexes = [models.Index(fields=["check_id", "state"])]

    def __str__(self) -> str:
        return f"{self.device} {self.check_id}: {self.state}"


class SeatEvent(models.Model):
    """A real change of a seat's readiness. Re-evaluating without a change writes nothing."""

    seat = models.ForeignKey(Seat, on_delete=models.CASCADE, related_name="events")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)
    from_readiness = models.CharField(max_length=16, choices=Readiness.choices)
    to_readiness = models.CharField(max_length=16, choices=Readiness.choices)
    reason = models.TextField(blank=True)
    failing = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["seat", "-at"]), models.Index(fields=["-at"])]

    def __str__(self) -> str:
        return f"{self.seat}: {self.from_readiness} → {self.to_readiness}"


class CheckTransition(models.Model):
    """A real change of one check's state on one device, at its seat: the history that
    'failing since', time-to-fix and the trends are read from. Written by evaluation from the
    rows its results upsert changed, under the device's lock, so a replayed report (which is
    not judged again) or an older one (whose facts never become current) adds nothing, and
    `at` never goes backwards for a device and check. Kept when the seat moves floors: `floor`
    is where the seat was when the state changed."""

    device = models.ForeignKey(Device, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    seat = models.ForeignKey(Seat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    floor = models.ForeignKey(Floor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    check_id = models.CharField(max_length=64)
    from_state = models.CharField(max_length=8, choices=CheckState.choices, blank=True)
    to_state = models.CharField(max_length=8, choices=CheckState.choices)
    # When the state being left began, so time-to-fix needs no search for the previous row.
    from_since = models.DateTimeField(null=True, blank=True)
    severity = models.CharField(max_length=16)
    reason = models.TextField()
    policy_version = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["seat", "check_id", "-at"]),
            models.Index(fields=["device", "check_id", "-at"]),
            models.Index(fields=["check_id", "from_state", "-at"]),
            models.Index(fields=["-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.check_id} on {self.device_id}: {self.from_state or '—'} → {self.to_state}"


class FloorReadinessHour(models.Model):
    """How many seats of a floor were at a readiness at the end of an hour (UTC). Sparse: a
    row exists for the hours in which that count changed; later hours carry it forward.
    Maintained by evaluation as seats change, never by scanning seats."""

    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    readiness = models.CharField(max_length=16, choices=Readiness.choices)
    seats = models.IntegerField()

    class Meta:
        ordering = ["floor", "hour", "readiness"]
        constraints = [
            models.UniqueConstraint(
                fields=["floor", "readiness", "hour"], name="one_readiness_count_per_hour"
            )
        ]


class FloorCheckHour(models.Model):
    """How many seats of a floor failed a check at the end of an hour (UTC); sparse like
    FloorReadinessHour, and maintained the same way."""

    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    check_id = models.CharField(max_length=64)
    failing_seats = models.IntegerField()

    class Meta:
        ordering = ["floor", "hour", "check_id"]
        constraints = [
            models.UniqueConstraint(fields=["floor", "check_id", "hour"], name="one_failing_count_per_hour")
        ]
