"""When schedules run: their django-celery-beat entries, and the "N minutes before each shift" tick.

Daily, weekly and cron schedules each own one PeriodicTask with a CrontabSchedule in the site's
time zone. `sync_periodic_task` writes it whenever a schedule is saved (the admin and the page call
it; no signal does), and django-celery-beat's DatabaseScheduler, which beat runs, notices the change
by itself: an edit takes effect without a restart.

"Before each shift" schedules have no entry of their own: their due times move with the floor's
shifts, so one beat job (`tick`, every READYFLOOR_REPORT_TICK_S) works out which are due from the
shifts' own schedule (server/shifts/schedule.py) and makes each due run once — (schedule, due_at)
is unique, so a second tick, a restarted beat or a duplicate message makes nothing more.
"""

from __future__ import annotations

import datetime as dt
import json

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from server.reports.models import Cadence, ReportRun, ReportSchedule, Trigger
from server.shifts import schedule as shift_schedule
from server.shifts.models import Shift

RUN_TASK = "server.reports.tasks.run_schedule"
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def cron_fields(expression: str) -> dict[str, str]:
    parts = (expression or "").split()
    if len(parts) != 5:
        raise ValueError("a cron expression has 5 fields: minute hour day-of-month month day-of-week")
    minute, hour, day_of_month, month_of_year, day_of_week = parts
    return {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
    }


def cron_error(expression: str) -> str:
    """Why a cron expression is refused, or '' (Celery's own parser decides)."""
    try:
        crontab(**cron_fields(expression))
    except (ValueError, TypeError) as error:
        return f"{expression!r} is not a cron expression: {error}"
    return ""


def crontab_of(schedule: ReportSchedule) -> dict[str, str] | None:
    """The crontab fields of a daily, weekly or cron schedule; None for a shift-relative one."""
    if schedule.cadence == Cadence.CRON:
        return cron_fields(schedule.cron)
    if schedule.cadence in (Cadence.DAILY, Cadence.WEEKLY) and schedule.at_time is not None:
        at = schedule.at_time
        # Cron counts days from Sunday = 0; the schedule from Monday = 0, as Python and shifts do.
        day = (
            str((schedule.weekday + 1) % 7)
            if schedule.cadence == Cadence.WEEKLY and schedule.weekday is not None
            else "*"
        )
        return {
            "minute": str(at.minute),
            "hour": str(at.hour),
            "day_of_month": "*",
            "month_of_year": "*",
            "day_of_week": day,
        }
    return None


def describe(schedule: ReportSchedule) -> str:
    zone = schedule.site.timezone if schedule.site_id else "UTC"
    if schedule.cadence == Cadence.DAILY and schedule.at_time:
        return f"daily at {schedule.at_time:%H:%M} ({zone})"
    if schedule.cadence == Cadence.WEEKLY and schedule.at_time and schedule.weekday is not None:
        return f"every {WEEKDAY_NAMES[schedule.weekday]} at {schedule.at_time:%H:%M} ({zone})"
    if schedule.cadence == Cadence.CRON:
        return f"cron '{schedule.cron}' ({zone})"
    if schedule.cadence == Cadence.BEFORE_SHIFT:
        floor = schedule.floor.name if schedule.floor_id else "the floor"
        return f"{schedule.minutes_before} min before each shift of {floor}"
    return schedule.get_cadence_display()


@transaction.atomic
def sync_periodic_task(schedule: ReportSchedule) -> PeriodicTask | None:
    """Write (or remove) the beat entry of a saved schedule. Call after every save."""
    fields = crontab_of(schedule)
    task = schedule.periodic_task
    if fields is None:
        if task is not None:
            schedule.periodic_task = None
            schedule.save(update_fields=["periodic_task"])
            task.delete()
        return None
    cron, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=schedule.site.timezone)
    values = {
        "name": f"report schedule {schedule.pk}: {schedule.name}"[:200],
        "task": RUN_TASK,
        "crontab": cron,
        "interval": None,
        "args": json.dumps([schedule.pk]),
        "enabled": schedule.enabled,
        "description": f"ReadyFloor report '{schedule.name}', {describe(schedule)}. "
        "Edit it under Reports, not here.",
    }
    if task is None:
        task = PeriodicTask.objects.create(**values)
        schedule.periodic_task = task
        schedule.save(update_fields=["periodic_task"])
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()
    return task


def delete_schedule(schedule: ReportSchedule) -> None:
    with transaction.atomic():
        task = schedule.periodic_task
        schedule.delete()
        if task is not None:
            task.delete()


def due_cron(schedule: ReportSchedule, now: dt.datetime) -> dt.datetime | None:
    """The latest minute at or before now, within the grace period, that the schedule's crontab
    names on the site's wall clock; None when there is none (the task ran too late, or is not
    this schedule's any more after an edit). Worked out from the schedule, not from when the task
    happens to run, so a message delivered twice, or late behind a queue, names the same run."""
    fields = crontab_of(schedule)
    if fields is None:
        return None
    cron = crontab(**fields)
    zone = shift_schedule.zone_of(schedule.site.timezone)
    minute = now.replace(second=0, microsecond=0)
    for back in range(settings.READYFLOOR_REPORT_GRACE_MIN + 1):
        local = (minute - dt.timedelta(minutes=back)).astimezone(zone)
        if (
            local.minute in cron.minute
            and local.hour in cron.hour
            and local.day in cron.day_of_month
            and local.month in cron.month_of_year
            and local.isoweekday() % 7 in cron.day_of_week  # cron: Sunday is 0
        ):
            return minute - dt.timedelta(minutes=back)
    return None


def due_before_shift(schedule: ReportSchedule, now: dt.datetime) -> dt.datetime | None:
    """The latest due time (a shift start minus `minutes_before`) at or before now, within the
    grace period; None when none is due."""
    if schedule.cadence != Cadence.BEFORE_SHIFT or schedule.minutes_before is None or not schedule.floor_id:
        return None
    lead = dt.timedelta(minutes=schedule.minutes_before)
    grace = dt.timedelta(minutes=settings.READYFLOOR_REPORT_GRACE_MIN)
    zone = shift_schedule.zone_of(schedule.site.timezone)
    due: dt.datetime | None = None
    for shift in Shift.objects.filter(floor_id=schedule.floor_id):
        start = shift_schedule.last_start(
            starts=shift.starts_at,
            ends=shift.ends_at,
            weekdays=shift.weekdays,
            zone=zone,
            now=now + lead,
            within=grace,
        )
        if start is not None and (due is None or start - lead > due):
            due = start - lead
    return due


def tick(now: dt.datetime | None = None) -> list[ReportRun]:
    """Make the runs of "before each shift" schedules that are due now, once each."""
    from server.reports import running
    from server.reports.scoping import Scope

    now = now or timezone.now()
    made = []
    schedules = ReportSchedule.objects.filter(enabled=True, cadence=Cadence.BEFORE_SHIFT).select_related(
        "site", "floor"
    )
    for schedule in schedules:
        due = due_before_shift(schedule, now)
        if due is None:
            continue
        run = running.create_run(
            Scope.of(schedule),
            formats=list(schedule.formats),
            trigger=Trigger.SCHEDULE,
            period_days=schedule.period_days,
            schedule=schedule,
            due_at=due,
        )
        if run is not None:
            running.queue_generation(run)
            made.append(run)
    return made


def run_scheduled(schedule_id: int, now: dt.datetime | None = None) -> ReportRun | None:
    """Beat fired a schedule's entry: make the run of its due time, once."""
    from server.reports import running
    from server.reports.scoping import Scope

    schedule = (
        ReportSchedule.objects.select_related("site", "floor").filter(pk=schedule_id, enabled=True).first()
    )
    if schedule is None:
        return None
    due = due_cron(schedule, now or timezone.now())
    if due is None:
        return None  # too late for its due time (beat or the queue was down): skipped, not sent late
    return running.create_run(
        Scope.of(schedule),
        formats=list(schedule.formats),
        trigger=Trigger.SCHEDULE,
        period_days=schedule.period_days,
        schedule=schedule,
        due_at=due,
    )
