"""Celery tasks of reports: take primary keys, load, call the domain code, return early when the
row is gone. Each is safe to run twice (see running.py and delivering.py)."""

from __future__ import annotations

from celery import shared_task

from server.reports import delivering, running, scheduling


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_schedule(schedule_id: int) -> int | None:
    """Beat: a daily, weekly or cron schedule is due. Makes and renders its run (once per due minute)."""
    run = scheduling.run_scheduled(schedule_id)
    if run is None:
        return None
    running.generate(run.pk)
    return run.pk


@shared_task
def tick() -> int:
    """Beat, every READYFLOOR_REPORT_TICK_S: "N minutes before each shift" runs that are due."""
    return len(scheduling.tick())


@shared_task(acks_late=True, reject_on_worker_lost=True)
def generate_run(run_id: int) -> str:
    run = running.generate(run_id)
    return run.status if run else "not pending"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_id: int) -> str:
    outcome = delivering.attempt_delivery(delivery_id)
    if outcome.retry_in is not None:
        deliver.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task
def purge() -> int:
    """Beat, daily: runs older than READYFLOOR_REPORT_RETENTION_DAYS go, with their files."""
    return running.purge_old_runs()
