"""Celery tasks of acknowledgements."""

from __future__ import annotations

from celery import shared_task

from server.acknowledgements import acknowledging


@shared_task(acks_late=True, reject_on_worker_lost=True)
def record_expiries() -> int:
    """Audit the acknowledgements that ran out (idempotent: each expiry is written once)."""
    return acknowledging.record_expiries()
