"""Judging seats: reports become verdicts, silence becomes OFFLINE, and only real changes
become events. The first tests cross a real Celery worker process; the rest call the
domain functions directly on the real database."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.utils import timezone

from server.compliance import evaluation
from server.compliance.models import CheckResult, SeatEvent
from server.compliance.tasks import evaluate_device as evaluate_device_task
from server.compliance.tasks import sweep
from server.fleet import ingest
from server.fleet.models import CheckIn, Device, Readiness, Seat
from tests.conftest import wait_until
from tests.server.reports import (
    checkin_body,
    enroll_body,
    healthy_facts,
    heartbeat_body,
    no_headset,
    site_blocked,
)
from tests.server.test_agent_api import CHECKIN, ENROLL, post


@contextlib.contextmanager
def broker_unreachable():
    """Point the web side's Celery at a port where nothing listens, as when Redis (or
    RabbitMQ, with CELERY_BROKER_URL=amqp://...) is down."""
    from urllib.parse import urlsplit

    from kombu import pools

    from server.celery import app

    def reset() -> None:
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    real_broker = app.conf.broker_url
    parts = urlsplit(real_broker)
    credentials = parts.netloc.rpartition("@")[0]
    app.conf.broker_url = parts._replace(netloc=f"{credentials}@127.0.0.1:9".lstrip("@")).geturl()
    reset()
    try:
        yield
    finally:
        app.conf.broker_url = real_broker
        reset()


def seat_a01() -> Seat:
    return Seat.objects.get(label="A-01")


def worker_caught_up(client_seat_id: int) -> None:
    """Everything queued before this call has been processed: the worker takes tasks in
    order, one at a time, so once this evaluation lands the earlier ones have too."""
    before = Seat.objects.get(pk=client_seat_id).evaluated_at
    evaluate_device_task.delay(Device.objects.get(seat_id=client_seat_id).pk)
    wait_until(lambda: Seat.objects.get(pk=client_seat_id).evaluated_at != before)


@pytest.mark.worker
def test_a_failing_report_flags_the_seat_and_a_fixed_one_clears_it(
    client, celery_worker, enroll_secret, seats, policy
):
    key = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    broken = checkin_body(site_blocked(healthy_facts()))

    assert post(client, CHECKIN, broken, key=key).status_code == 202
    wait_until(lambda: seat_a01().readiness == Readiness.NOT_READY)

    seat = seat_a01()
    assert seat.failing[0]["check_id"] == "chrome.mic.site"
    assert "acme.my.salesforce.com" in seat.failing[0]["reason"]
    assert list(SeatEvent.objects.values_list("from_readiness", "to_readiness")) == [("unknown", "not_ready")]

    assert post(client, CHECKIN, broken, key=key).json()["duplicate"] is True
    worker_caught_up(seat.pk)
    assert SeatEvent.objects.count() == 1

    fixed = checkin_body(healthy_facts())
    assert post(client, CHECKIN, fixed, key=key).status_code == 202
    wait_until(lambda: seat_a01().readiness == Readiness.READY)

    assert seat_a01().failing == []
    assert SeatEvent.objects.count() == 2
    assert SeatEvent.objects.first().to_readiness == Readiness.READY

    for replay in (broken, fixed):
        assert post(client, CHECKIN, replay, key=key).json()["duplicate"] is True
    worker_caught_up(seat.pk)
    assert seat_a01().readiness == Readiness.READY
    assert SeatEvent.objects.count() == 2
    assert CheckIn.objects.count() == 2


@pytest.mark.worker
def test_a_checkin_accepted_while_redis_was_down_is_evaluated_by_the_sweep(
    client, celery_worker, enroll_secret, seats, policy
):
    key = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    with broker_unreachable():
        response = post(client, CHECKIN, checkin_body(no_headset(healthy_facts())), key=key)

    assert response.status_code == 202
    checkin = CheckIn.objects.get()
    assert checkin.evaluated_at is None
    CheckIn.objects.filter(pk=checkin.pk).update(received_at=timezone.now() - dt.timedelta(minutes=5))

    sweep.delay()

    wait_until(lambda: seat_a01().readiness == Readiness.NOT_READY)
    assert seat_a01().failing[0]["check_id"] == "audio.headset.present"
    wait_until(lambda: CheckIn.objects.get().evaluated_at is not None)


# --- domain functions on the real database (no worker) ------------------------------------


@pytest.fixture
def seated_device(client, enroll_secret, seats, policy) -> tuple[Device, str]:
    key = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    return Device.objects.get(), key


def report(device: Device, facts: dict, at: dt.datetime | None = None) -> None:
    ingest.record_checkin(device, checkin_body(facts, collected_at=at), received_at=at)
    evaluation.evaluate_device(device.pk, now=at)


def test_results_remember_since_when_a_check_has_been_failing(seated_device):
    device, _ = seated_device
    start = timezone.now() - dt.timedelta(minutes=10)
    report(device, site_blocked(healthy_facts()), at=start)
    report(
        Device.objects.get(),
        site_blocked(healthy_facts(hostname="lyon-a01-renamed")),
        at=start + dt.timedelta(minutes=5),
    )

    result = CheckResult.objects.get(device=device, check_id="chrome.mic.site")
    assert result.state == "fail"
    assert result.since == start
    assert CheckResult.objects.filter(device=device).count() >= 12


def test_only_changed_results_are_rewritten_and_since_follows_the_state(seated_device):
    device, _ = seated_device
    first = timezone.now() - dt.timedelta(minutes=10)
    ingest.record_checkin(device, checkin_body(site_blocked(healthy_facts())))
    evaluation.evaluate_device(device.pk, now=first)
    before = {r.check_id: r for r in CheckResult.objects.filter(device=device)}

    # Same facts, judged again later: no row changes, not even its evaluated_at, except
    # agent.fresh, whose evidence is the report's age.
    evaluation.evaluate_device(device.pk, now=first + dt.timedelta(minutes=1))
    again = {r.check_id: r for r in CheckResult.objects.filter(device=device)}
    assert len(before) >= 12
    for check_id, row in before.items():
        if check_id != "agent.fresh":
            assert (again[check_id].reason, again[check_id].evaluated_at) == (row.reason, row.evaluated_at)

    # Fixed: the site check passes from now on, the others keep their rows.
    later = first + dt.timedelta(minutes=5)
    ingest.record_checkin(Device.objects.get(), checkin_body(healthy_facts()))
    evaluation.evaluate_device(device.pk, now=later)
    site = CheckResult.objects.get(device=device, check_id="chrome.mic.site")
    assert (site.state, site.since, site.evaluated_at) == ("pass", later, later)
    untouched = CheckResult.objects.get(device=device, check_id="audio.headset.present")
    assert untouched.evaluated_at == first


def test_a_silent_seat_goes_offline_once_and_comes_back_with_its_next_report(seated_device):
    device, _ = seated_device
    long_ago = timezone.now() - dt.timedelta(hours=1)
    report(device, healthy_facts(), at=long_ago)
    assert seat_a01().readiness == Readiness.READY

    now = timezone.now()
    assert evaluation.silent_devices(now) == [device.pk]
    for device_id in evaluation.silent_devices(now):
        evaluation.evaluate_device(device_id, now=now)
    assert seat_a01().readiness == Readiness.OFFLINE
    assert "agent.fresh" in [f["check_id"] for f in seat_a01().failing]
    assert evaluation.silent_devices(now) == []

    # An unchanged heartbeat still brings an OFFLINE seat back: it needs a new verdict.
    outcome = ingest.record_checkin(Device.objects.get(), heartbeat_body(healthy_facts()))
    assert outcome.needs_evaluation
    evaluation.evaluate_device(device.pk)
    assert seat_a01().readiness == Readiness.READY
    assert list(SeatEvent.objects.order_by("at").values_list("to_readiness", flat=True)) == [
        "ready",
        "offline",
        "ready",
    ]


def test_an_unchanged_heartbeat_on_a_judged_seat_needs_no_evaluation(seated_device):
    device, _ = seated_device
    report(device, healthy_facts())

    outcome = ingest.record_checkin(Device.objects.get(), heartbeat_body(healthy_facts()))

    assert outcome.needs_evaluation is False
    assert CheckIn.objects.get(pk=outcome.checkin_id).evaluated_at is not None


def test_evaluating_twice_writes_one_event(seated_device):
    device, _ = seated_device
    ingest.record_checkin(device, checkin_body(site_blocked(healthy_facts())))

    evaluation.evaluate_device(device.pk)
    evaluation.evaluate_device(device.pk)

    assert SeatEvent.objects.count() == 1


def test_a_seat_whose_device_moved_away_reads_unknown(seated_device, seats):
    device, _ = seated_device
    report(device, healthy_facts())
    ingest.move_to_seat(device, seats[2])
    device.save()

    evaluation.unseat_empty_seats(timezone.now())

    assert seat_a01().readiness == Readiness.UNKNOWN
    assert SeatEvent.objects.first().reason == "no workstation reports from this seat"


def test_stale_unevaluated_checkins_are_found_for_requeueing(seated_device):
    device, _ = seated_device
    outcome = ingest.record_checkin(device, checkin_body(healthy_facts()))
    CheckIn.objects.filter(pk=outcome.checkin_id).update(received_at=timezone.now() - dt.timedelta(minutes=5))

    assert evaluation.stale_checkins(timezone.now()) == [outcome.checkin_id]
    evaluation.evaluate_checkin(outcome.checkin_id)
    assert evaluation.stale_checkins(timezone.now()) == []


def test_evaluating_a_deleted_checkin_or_device_is_a_no_op(db):
    evaluation.evaluate_checkin(123456789)

    assert evaluation.evaluate_device(123456789) is None
