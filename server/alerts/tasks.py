"""Celery tasks of alerts, on their own queue so a storm of deliveries (or a slow receiver)
never delays the evaluation of check-ins."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.conf import settings

from server.alerts import collecting, delivering

QUEUE = settings.READYFLOOR_ALERTS_QUEUE


@shared_task(queue=QUEUE, acks_late=True, reject_on_worker_lost=True)
def collect() -> dict[str, int]:
    """Beat: read new seat events into digests, close finished windows, queue deliveries."""
    return asdict(collecting.collect())


@shared_task(queue=QUEUE, acks_late=True, reject_on_worker_lost=True)
def purge_old_digests() -> int:
    """Hourly: keep the delivery log for READYFLOOR_ALERT_LOG_RETENTION_DAYS."""
    return collecting.purge_old_digests()


@shared_task(queue=QUEUE, acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_id: int) -> str:
    """Send one delivery. Safe to run twice (and after a worker kill): see delivering.py."""
    outcome = delivering.attempt_delivery(delivery_id)
    if outcome.retry_in is not None:
        deliver.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status
