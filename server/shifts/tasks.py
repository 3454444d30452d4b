"""Beat jobs of shifts. Safe to run twice: a start is recorded once (a unique constraint)."""

from __future__ import annotations

from celery import shared_task

from server.shifts import snapshots


@shared_task(acks_late=True, reject_on_worker_lost=True)
def take_shift_snapshots() -> int:
    return len(snapshots.take_due_snapshots())
