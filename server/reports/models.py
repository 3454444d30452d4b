"""Reports: schedules (what, for whom, when), runs (the archive), their files and deliveries.

A run is one report, scheduled or asked for on demand: it keeps the parameters it was made with,
its files (CSV, PDF) with size and checksum, and one delivery per way it was sent. Files live in
PostgreSQL, not on a disk: the worker that renders and the web process that serves a download run
on different machines in the deployments of deploy/, and share only the database.
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.db import models
from django.utils import timezone

from server.fleet.models import Floor, Site


class ScopeKind(models.TextChoices):
    SITE = "site", "Site"
    FLOOR = "floor", "Floor"
    TEAM = "team", "Team on a floor"


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    PDF = "pdf", "PDF"


class Cadence(models.TextChoices):
    DAILY = "daily", "Daily at a time"
    WEEKLY = "weekly", "Weekly on a day at a time"
    CRON = "cron", "Cron expression"
    BEFORE_SHIFT = "before_shift", "Minutes before each shift of the floor"


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


def formats_default() -> list[str]:
    return [Format.CSV, Format.PDF]


def split_addresses(text: str) -> list[str]:
    return [item.strip() for item in re.split(r"[,;\s]+", text or "") if item.strip()]


class ScopedModel(models.Model):
    """What a report covers: a site, a floor, or one team on a floor."""

    scope_kind = models.CharField(max_length=8, choices=ScopeKind.choices, default=ScopeKind.FLOOR)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    floor = models.ForeignKey(
        Floor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="For a floor or team.",
    )
    team = models.CharField(max_length=100, blank=True, help_text="For a team report: the team's name.")

    class Meta:
        abstract = True

    def scope_errors(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        if self.scope_kind in (ScopeKind.FLOOR, ScopeKind.TEAM):
            if not self.floor_id:
                errors["floor"] = "a floor or team report names its floor"
            elif self.site_id and self.floor.site_id != self.site_id:
                errors["floor"] = "this floor is not on the chosen site"
        elif self.floor_id:
            errors["floor"] = "a site report names no floor"
        if self.scope_kind == ScopeKind.TEAM and not self.team.strip():
            errors["team"] = "a team report names its team"
        if self.scope_kind != ScopeKind.TEAM and self.team:
            errors["team"] = "only a team report names a team"
        return errors

    @property
    def scope_label(self) -> str:
        if self.scope_kind == ScopeKind.SITE:
            return f"site {self.site.name}"
        if self.scope_kind == ScopeKind.FLOOR:
            return f"floor {self.floor}"
        return f"team {self.team} on {self.floor}"


class ReportSchedule(ScopedModel):
    """A report made on a cadence and sent to people. Saving one through the admin or the page
    re-writes its django-celery-beat entry (server/reports/scheduling.py), which the running
    beat reads from the database: an edit takes effect without a restart."""

    name = models.CharField(max_length=100, unique=True)
    cadence = models.CharField(max_length=16, choices=Cadence.choices, default=Cadence.DAILY)
    at_time = models.TimeField(
        null=True, blank=True, help_text="Daily and weekly: the site's wall-clock time, e.g. 07:30."
    )
    weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=WEEKDAYS, help_text="Weekly: the day."
    )
    cron = models.CharField(
        max_length=100,
        blank=True,
        help_text="Cron: 'minute hour day-of-month month day-of-week' in the site's time zone, "
        "e.g. '30 7 * * 1-5'.",
    )
    minutes_before = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(24 * 60)],
        help_text="Before each shift: how many minutes before every start of the floor's shifts.",
    )
    period_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(400)], help_text="Trend period (days)."
    )
    formats = ArrayField(
        models.CharField(max_length=8, choices=Format.choices), default=formats_default, help_text="csv, pdf"
    )
    recipients = models.TextField(blank=True, help_text="Email addresses, separated by commas or lines.")
    webhook = models.ForeignKey(
        "alerts.Channel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"kind": "webhook"},
        help_text="Also announce each run to this signed webhook (an alerts channel).",
    )
    enabled = models.BooleanField(default=True)
    # The beat entry this schedule owns (none for "before each shift": the minute tick runs those).
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = self.scope_errors() if self.site_id else {"site": "required"}
        errors.update(self.cadence_errors())
        for address in split_addresses(self.recipients):
            try:
                validate_email(address)
            except ValidationError:
                errors["recipients"] = f"{address!r} is not an email address"
        unknown = [value for value in self.formats or [] if value not in Format.values]
        if not self.formats or unknown:
            errors["formats"] = f"choose among {', '.join(Format.values)}"
        if errors:
            raise ValidationError(errors)

    def cadence_errors(self) -> dict[str, str]:
        from server.reports import scheduling

        errors: dict[str, str] = {}
        if self.cadence in (Cadence.DAILY, Cadence.WEEKLY) and self.at_time is None:
            errors["at_time"] = "a daily or weekly report needs its time"
        if self.cadence == Cadence.WEEKLY and self.weekday is None:
            errors["weekday"] = "a weekly report needs its day"
        if self.cadence == Cadence.CRON:
            problem = scheduling.cron_error(self.cron)
            if problem:
                errors["cron"] = problem
        if self.cadence == Cadence.BEFORE_SHIFT:
            if self.minutes_before is None:
                errors["minutes_before"] = "say how many minutes before each shift"
            if self.scope_kind == ScopeKind.SITE:
                errors["cadence"] = "shifts belong to a floor: choose a floor or team report"
        return errors

    @property
    def recipient_list(self) -> list[str]:
        return split_addresses(self.recipients)

    @property
    def cadence_text(self) -> str:
        from server.reports import scheduling

        return scheduling.describe(self)


class ReportSubscription(models.Model):
    """A person who receives a schedule's reports by email at their account's address. A
    supervisor may subscribe to the reports of their own floors only (server/reports/scoping.py)."""

    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schedule", "user"], name="subscribe_once_per_schedule")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.schedule}"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    COMMAND = "command", "manage.py report"
    API = "api", "Operator API"
    PAGE = "page", "Reports page"


class ReportRun(ScopedModel):
    """One report: its parameters, when it was made, its status, its files and deliveries."""

    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # The time a scheduled run was due; (schedule, due_at) is unique, so however often beat or
    # the minute tick fires for one due time (a restart, a duplicate message), one run is made.
    due_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    formats = ArrayField(models.CharField(max_length=8, choices=Format.choices), default=formats_default)
    period_days = models.PositiveSmallIntegerField(default=7)
    parameters = models.JSONField(default=dict, blank=True, help_text="Everything the run was made with.")
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True, help_text="The moment the report describes.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "due_at"],
                condition=models.Q(schedule__isnull=False, due_at__isnull=False),
                name="one_run_per_schedule_due_time",
            )
        ]
        indexes = [models.Index(fields=["created_at"]), models.Index(fields=["floor", "-created_at"])]

    def __str__(self) -> str:
        return f"Report #{self.pk} · {self.scope_label} · {self.status}"


class ReportFile(models.Model):
    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="files")
    format = models.CharField(max_length=8, choices=Format.choices)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "format"]
        constraints = [models.UniqueConstraint(fields=["run", "format"], name="one_file_per_format_per_run")]

    def __str__(self) -> str:
        return self.filename

    @classmethod
    def of(cls, run: ReportRun, format: str, filename: str, content_type: str, content: bytes) -> ReportFile:
        return cls(
            run=run,
            format=format,
            filename=filename,
            content_type=content_type,
            content=content,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )


class DeliveryKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class ReportDelivery(models.Model):
    """One way a run was sent: an email to its recipients, or a signed webhook. Failures are
    retried with backoff; every attempt is kept in `attempt_log` and shown on the run."""

    run = models.ForeignKey(ReportRun, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=8, choices=DeliveryKind.choices)
    recipients = models.JSONField(default=list, blank=True)
    channel = models.ForeignKey(
        "alerts.Channel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    linked = models.BooleanField(
        default=False, help_text="Files linked instead of attached (over the size limit)."
    )
    attempt_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        target = ", ".join(self.recipients) if self.kind == DeliveryKind.EMAIL else str(self.channel)
        return f"{self.get_kind_display()} to {target}: {self.status}"
