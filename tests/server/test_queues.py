"""Celery as a queueing system: check-in evaluations, bulk re-evaluation and alert delivery
travel on queues of their own, and a worker killed in the middle of re-judging every seat
leaves nothing behind once a worker runs again."""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings
from django.db import transaction

from server.celery import app
from server.compliance import evaluation, policy_versions, tasks
from server.compliance.models import Policy, SeatVerdict
from server.fleet.models import Readiness, Seat
from tests.conftest import purge_queues, start_celery_worker, stop, wait_until
from tests.server.floors import seated_devices


def queue_of(task) -> str:
    return app.amqp.router.route({}, task.name)["queue"].name


def test_each_kind_of_work_has_its_own_queue():
    queues = settings.READYFLOOR_QUEUES

    assert queue_of(tasks.evaluate_checkin) == queue_of(tasks.evaluate_device) == queues["evaluate"]
    assert queue_of(tasks.reevaluate_stale) == queue_of(tasks.sweep) == queues["bulk"]
    assert queues["alerts"].endswith(".alerts")
    assert len(set(queues.values())) == 3


def test_only_transient_database_and_broker_errors_are_retried():
    import kombu.exceptions
    from django.db import InterfaceError, OperationalError

    transient = {OperationalError, InterfaceError, kombu.exceptions.OperationalError}
    for task in (tasks.evaluate_checkin, tasks.evaluate_device, tasks.reevaluate_stale, tasks.sweep):
        assert set(task.autoretry_for) == transient
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 5


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_bulk_reevaluation_leaves_every_seat_on_the_new_version_after_restart(floor):
    policy = Policy(name="Floor 1", floor=floor, cti_origins=["https://acme.my.salesforce.com"])
    policy_versions.save(policy)
    devices = seated_devices(floor, 4000)
    for chunk in evaluation.chunks([d.pk for d in devices], 1000):
        with transaction.atomic():
            evaluation.judge(chunk, devices[0].last_seen_at)
    purge_queues()
    # Small chunks, so the kill lands between two of them with most of the work undone.
    worker = start_celery_worker(READYFLOOR_BULK_CHUNK="50")
    try:
        policy.min_chrome_major = 999
        new = policy_versions.save(policy)  # queues the bulk re-evaluation after commit

        def on_new_version() -> int:
            return SeatVerdict.objects.filter(policy_version=new).count()

        wait_until(lambda: on_new_version() >= 100, timeout=60)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        stop(worker)
    done_before_restart = on_new_version()
    assert 0 < done_before_restart < 4000, done_before_restart

    restarted = start_celery_worker()
    try:
        # The killed task's message comes back only after visibility_timeout; the sweep,
        # which beat sends every 30 s, finds the seats left behind with one query.
        tasks.sweep.delay()
        wait_until(lambda: on_new_version() == 4000, timeout=120)
    finally:
        stop(restarted)
    assert set(Seat.objects.values_list("readiness", flat=True)) == {Readiness.NOT_READY}
    assert evaluation.stale_devices() == []
