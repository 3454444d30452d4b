"""Making a report: the one path every run takes — a schedule's beat entry, the shift tick,
`manage.py report`, the operator API and the reports page all call `create_run` then `generate`.

A scheduled run is created with its due time; (schedule, due_at) is unique, so a due time fires
one run however often it is asked for. `generate` locks the run and does nothing to a run that is
no longer pending, so a task delivered twice (a restart, a redelivered message) renders once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from server.reports import content as report_content
from server.reports import delivering, rendering
from server.reports.models import Format, ReportFile, ReportRun, ReportSchedule, RunStatus, Trigger
from server.reports.scoping import Scope

# Called with the name of each finished step (the command's progress bar counts them).
Progress = Callable[[str], None]


def steps_for(formats: list[str]) -> int:
    """How many times `generate` reports progress: the content's three parts, each file, storing."""
    return 3 + len(formats) + 1


def create_run(
    scope: Scope,
    *,
    formats: list[str],
    trigger: str,
    period_days: int = 7,
    user: object | None = None,
    schedule: ReportSchedule | None = None,
    due_at: dt.datetime | None = None,
) -> ReportRun | None:
    """A pending run, or None when this schedule already has the run for this due time."""
    formats = [value for value in Format.values if value in set(formats)]
    if not formats:
        raise ValueError(f"choose at least one format among {', '.join(Format.values)}")
    parameters = {
        "scope": scope.parameters(),
        "formats": formats,
        "period_days": period_days,
        "trigger": trigger,
        "schedule": {"id": schedule.pk, "name": schedule.name, "cadence": schedule.cadence_text}
        if schedule
        else None,
        "due_at": due_at.isoformat() if due_at else None,
        "requested_by": user.get_username() if user is not None else None,  # type: ignore[attr-defined]
    }
    try:
        with transaction.atomic():
            return ReportRun.objects.create(
                **scope.fields(),
                formats=formats,
                period_days=period_days,
                trigger=trigger,
                schedule=schedule,
                due_at=due_at,
                requested_by=user,
                parameters=parameters,
            )
    except IntegrityError:
        if schedule is not None and due_at is not None:
            return None  # made already by an earlier tick (or a beat before its restart)
        raise


def queue_generation(run: ReportRun) -> None:
    """Render in the worker, once the run's row is committed."""
    from server.reports import tasks

    transaction.on_commit(lambda: tasks.generate_run.delay(run.pk))


def generate(run_id: int, progress: Progress | None = None, *, deliver: bool = True) -> ReportRun | None:
    """Render a pending run's files and store them; then queue its deliveries. None when the run
    is gone or not pending (done already, or being made by another worker)."""
    step = progress or (lambda name: None)
    with transaction.atomic():
        run = ReportRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None or run.status != RunStatus.PENDING:
            return None
        run.status, run.started_at = RunStatus.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    clock = time.monotonic()
    try:
        report = report_content.build(
            Scope.of(run), at=run.started_at, period_days=run.period_days, progress=step
        )
        files = []
        stem = f"readyfloor-{Scope.of(run).slug}-{report.local(report.generated_at):%Y%m%d-%H%M}"
        for value in run.formats:
            render, content_type = rendering.RENDERERS[value]
            files.append(ReportFile.of(run, value, f"{stem}.{value}", content_type, render(report)))
            step(value)
        with transaction.atomic():
            ReportFile.objects.filter(run=run).delete()
            ReportFile.objects.bulk_create(files)
            run.status, run.generated_at = RunStatus.DONE, report.generated_at
            run.duration_ms = int((time.monotonic() - clock) * 1000)
            run.parameters = {**run.parameters, "counts": report.counts, "seats": report.total}
            run.save(update_fields=["status", "generated_at", "duration_ms", "parameters"])
            if deliver:
                delivering.plan_deliveries(run)
        step("stored")
    except Exception as error:
        run.status, run.error = RunStatus.FAILED, f"{type(error).__name__}: {error}"
        run.duration_ms = int((time.monotonic() - clock) * 1000)
        run.save(update_fields=["status", "error", "duration_ms"])
        raise
    return run


def run_now(
    scope: Scope,
    *,
    formats: list[str],
    trigger: str = Trigger.COMMAND,
    period_days: int = 7,
    user: object | None = None,
    progress: Progress | None = None,
) -> ReportRun:
    """On demand, in this process (the command): create and generate at once."""
    run = create_run(scope, formats=formats, trigger=trigger, period_days=period_days, user=user)
    assert run is not None
    return generate(run.pk, progress) or run


def purge_old_runs(now: dt.datetime | None = None) -> int:
    """Delete runs (files and deliveries with them) older than the retention setting."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.READYFLOOR_REPORT_RETENTION_DAYS)
    old = ReportRun.objects.filter(created_at__lt=cutoff)
    count = old.count()
    old.delete()
    return count
