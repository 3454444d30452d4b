"""Celery tasks. Each takes ids, loads fresh rows, calls the domain module, and is safe to
run twice (evaluation is computed from current state and only real changes write events),
which is what makes acks_late + reject_on_worker_lost safe here."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from server.compliance import evaluation
from server.fleet import partitions

log = logging.getLogger(__name__)

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(**IDEMPOTENT, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def evaluate_checkin(checkin_id: int) -> None:
    evaluation.evaluate_checkin(checkin_id)


@shared_task(**IDEMPOTENT, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def evaluate_device(device_id: int) -> None:
    evaluation.evaluate_device(device_id)


@shared_task(**IDEMPOTENT)
def sweep() -> dict[str, int]:
    """Mark silent seats OFFLINE, re-queue check-ins whose evaluation never ran (Redis may
    have been down when they arrived) and give unseated seats their UNKNOWN state."""
    now = timezone.now()
    silent = evaluation.silent_devices(now)
    for device_id in silent:
        evaluation.evaluate_device(device_id, now=now)
    stale = evaluation.stale_checkins(now)
    for checkin_id in stale:
        evaluate_checkin.apply_async((checkin_id,))
    emptied = evaluation.unseat_empty_seats(now)
    return {"silent": len(silent), "requeued": len(stale), "emptied": emptied}


@shared_task(**IDEMPOTENT)
def purge_old_checkins() -> dict[str, Any]:
    """Hourly: the check-in table's partitions for the next days made, the days past
    retention dropped whole (server/fleet/partitions.py)."""
    done = partitions.maintain(timezone.now(), settings.READYFLOOR_CHECKIN_RETENTION_DAYS)
    return asdict(done)


def queue_checkin_evaluation(checkin_id: int) -> None:
    """Hand a stored check-in to the worker (ingest calls this after commit). If Redis is
    down the check-in is still safe in PostgreSQL; the sweep finds it unevaluated and
    queues it again."""
    try:
        evaluate_checkin.apply_async((checkin_id,), retry=False)
    except Exception:
        log.warning(
            "could not queue evaluation of check-in %s; the sweep will retry", checkin_id, exc_info=True
        )
