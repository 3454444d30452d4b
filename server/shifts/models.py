"""Shifts: when a floor's seats must be ready, and what the floor looked like as each shift began."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from server.fleet.models import Floor, Readiness, Seat
from server.shifts import schedule


def weekdays_default() -> list[int]:
    return [0, 1, 2, 3, 4]


class Shift(models.Model):
    """A recurring shift on one floor. Its times are the wall clock of the floor's site."""

    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="shifts")
    name = models.CharField(max_length=100, help_text="e.g. 'Morning'.")
    starts_at = models.TimeField(help_text="Local time at the site, e.g. 08:00.")
    ends_at = models.TimeField(
        help_text="Local time at the site; earlier than the start means it ends the next day."
    )
    weekdays = ArrayField(
        models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)]),
        default=weekdays_default,
        help_text="Days the shift starts on, Monday = 0 … Sunday = 6.",
    )
    teams = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Teams on this shift; empty means every seat of the floor (unless seats are listed).",
    )
    seats = models.ManyToManyField(
        Seat, blank=True, related_name="shifts", help_text="Seats on this shift, when it is not whole teams."
    )
    lead_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
        help_text="How long before the start the board shows the shift and agents report more often.",
    )
    lead_interval_s = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="How often the floor's agents report during the lead time (seconds).",
    )

    class Meta:
        ordering = ["floor", "starts_at", "name"]
        constraints = [models.UniqueConstraint(fields=["floor", "name"], name="shift_unique_name_per_floor")]

    def __str__(self) -> str:
        return f"{self.floor} · {self.name} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"

    def clean(self) -> None:
        if not self.weekdays:
            raise ValidationError({"weekdays": "Pick at least one day."})
        if any(day > 6 for day in self.weekdays):
            raise ValidationError({"weekdays": "Days are 0 (Monday) to 6 (Sunday)."})
        if self.starts_at is not None and self.starts_at == self.ends_at:
            raise ValidationError({"ends_at": "A shift cannot end when it starts."})

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return schedule.zone_of(self.floor.site.timezone)

    @property
    def lead(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.lead_minutes)

    def occurrence(self, now: dt.datetime | None = None) -> schedule.Occurrence | None:
        """The run on now, else the next one."""
        return schedule.current_or_next(
            starts=self.starts_at,
            ends=self.ends_at,
            weekdays=self.weekdays,
            zone=self.zone,
            lead=self.lead,
            now=now or timezone.now(),
        )

    def seat_queryset(self) -> models.QuerySet[Seat]:
        """The seats this shift covers: listed seats, else the floor's seats of its teams, else the floor."""
        if self.pk and self.seats.exists():
            return self.seats.all()
        seats = Seat.objects.filter(floor_id=self.floor_id)
        return seats.filter(team__in=self.teams) if self.teams else seats

    @property
    def days_text(self) -> str:
        return schedule.weekdays_text(self.weekdays)


class ShiftSnapshot(models.Model):
    """The floor as a shift began: taken once per start by the beat job, then never changed.

    The shift's name and floor are copied so the record outlives an edited or deleted shift."""

    shift = models.ForeignKey(Shift, null=True, on_delete=models.SET_NULL, related_name="snapshots")
    floor = models.ForeignKey(Floor, on_delete=models.CASCADE, related_name="shift_snapshots")
    shift_name = models.CharField(max_length=100)
    starts_at = models.DateTimeField(help_text="The start of the shift this snapshot belongs to.")
    taken_at = models.DateTimeField(default=timezone.now)
    seats_total = models.PositiveIntegerField(default=0)
    ready = models.PositiveIntegerField(default=0)
    at_risk = models.PositiveIntegerField(default=0)
    not_ready = models.PositiveIntegerField(default=0)
    offline = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    acknowledged = models.PositiveIntegerField(
        default=0,
        help_text="Seats down only for failures acknowledged at the start (every failing check covered).",
    )

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            # One snapshot per start, however often the job runs or beat restarts.
            models.UniqueConstraint(fields=["shift", "starts_at"], name="one_snapshot_per_shift_start")
        ]
        indexes = [models.Index(fields=["floor", "-starts_at"])]

    def __str__(self) -> str:
        return f"{self.shift_name} {self.starts_at:%Y-%m-%d %H:%M}: {self.ready} of {self.seats_total} ready"

    def count_of(self, readiness: str) -> int:
        return int(getattr(self, readiness))


class ShiftSnapshotSeat(models.Model):
    """One seat as the shift began: its readiness and what kept it from READY."""

    snapshot = models.ForeignKey(ShiftSnapshot, on_delete=models.CASCADE, related_name="seats")
    seat = models.ForeignKey(Seat, null=True, on_delete=models.SET_NULL, related_name="+")
    seat_label = models.CharField(max_length=50)
    team = models.CharField(max_length=100, blank=True)
    readiness = models.CharField(max_length=16, choices=Readiness.choices)
    readiness_since = models.DateTimeField(null=True)
    failing = models.JSONField(default=list, blank=True)
    # [{check_id, acknowledgement id, reason, until}] for the failing checks acknowledged at the start.
    acknowledged = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["snapshot", "seat_label"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "seat"], name="one_row_per_seat_per_snapshot")
        ]

    def __str__(self) -> str:
        return f"{self.seat_label}: {self.readiness}"
