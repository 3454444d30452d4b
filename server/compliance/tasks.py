"""Celery tasks. Each takes ids, loads fresh rows, calls the domain module, and is safe to
run twice (evaluation is computed from current state and only real changes write events),
which is what makes acks_late + reject_on_worker_lost safe here.

Queues (settings.READYFLOOR_QUEUES, routed by CELERY_TASK_ROUTES): a check-in's evaluation
goes to `evaluate`; re-judging many seats, the sweep and the purge go to `bulk`, so a policy
change on 100k seats never sits in front of the flag of a seat that just failed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import kombu.exceptions
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from server.compliance import evaluation, history
from server.fleet import partitions

log = logging.getLogger(__name__)

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}
# Retried with exponential backoff and jitter: what passes by itself. A database that
# restarts or refuses connections, a deadlock or serialization failure (both are
# OperationalError), a broker that cannot be reached. A bug (any other exception) is not
# retried: running it again would fail again, and the sweep re-queues what was left.
TRANSIENT = (OperationalError, InterfaceError, kombu.exceptions.OperationalError)
RETRIED = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**IDEMPOTENT, **RETRIED)
def evaluate_checkin(checkin_id: int) -> None:
    evaluation.evaluate_checkin(checkin_id)


@shared_task(**IDEMPOTENT, **RETRIED)
def evaluate_device(device_id: int) -> None:
    evaluation.evaluate_device(device_id)


@shared_task(**IDEMPOTENT, **RETRIED)
def reevaluate_stale() -> int:
    """Re-judge, in chunks in this process, every seat judged under another policy version."""
    return evaluation.reevaluate_stale()


@shared_task(**IDEMPOTENT, **RETRIED)
def sweep() -> dict[str, int]:
    """Mark silent seats OFFLINE, re-queue check-ins whose evaluation never ran (Redis may
    have been down when they arrived), give unseated seats their UNKNOWN state, and re-judge
    every seat whose verdict names another policy version than the one in force (a lost
    task, or a worker that read a policy just before a save committed, heals here)."""
    now = timezone.now()
    silent = evaluation.judge_silent(now)
    stale = evaluation.stale_checkins(now)
    for checkin_id in stale:
        evaluate_checkin.apply_async((checkin_id,))
    emptied = evaluation.unseat_empty_seats(now)
    rejudged = evaluation.reevaluate_stale()
    return {"silent": silent, "requeued": len(stale), "emptied": emptied, "rejudged": rejudged}


@shared_task(**IDEMPOTENT, **RETRIED)
def purge_old_checkins() -> dict[str, Any]:
    """Hourly: the check-in table's partitions for the next days made, the days past
    retention dropped whole (server/fleet/partitions.py)."""
    done = partitions.maintain(timezone.now(), settings.READYFLOOR_CHECKIN_RETENTION_DAYS)
    return asdict(done)


@shared_task(**IDEMPOTENT, **RETRIED)
def purge_old_history() -> dict[str, int]:
    return history.purge()


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


def queue_reevaluation() -> None:
    """Ask the bulk worker to re-judge stale seats (called after a policy save commits). If
    Redis is down, the next sweep does it."""
    try:
        reevaluate_stale.apply_async(retry=False)
    except Exception:
        log.warning("could not queue re-evaluation; the sweep will do it", exc_info=True)
