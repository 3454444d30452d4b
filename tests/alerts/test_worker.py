"""Alerts through the real pipeline: agents report to the HTTP API, a real Celery worker judges
the seats, collects the events (beat's task) and delivers the digest from the alerts queue."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from server.alerts import collecting, signing
from server.alerts.models import AlertRule, Channel, ChannelKind, Delivery, DeliveryStatus
from server.alerts.tasks import collect
from server.compliance.models import SeatEvent
from tests.conftest import start_celery_worker, stop, wait_until
from tests.server.reports import checkin_body, enroll_body, healthy_facts, site_blocked
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.worker


@pytest.fixture
def quick_alerts(monkeypatch, settings):
    """Read events at once; the worker process takes its settings from the environment."""
    monkeypatch.setenv("READYFLOOR_ALERT_SETTLE_S", "0")
    settings.READYFLOOR_ALERT_SETTLE_S = 0


@pytest.fixture
def watched_floor(floor, receiver) -> tuple[AlertRule, Channel]:
    channel = Channel.objects.create(name="IT on-call", kind=ChannelKind.WEBHOOK, url=receiver.url)
    rule = AlertRule.objects.create(name="Floor 1", floor=floor, window_s=1)
    rule.channels.add(channel)
    return rule, channel


def seats_break(client, enroll_secret, labels: list[str]) -> None:
    """Agents at these seats enrol and report the CTI site blocked; the worker judges them."""
    for label in labels:
        body = enroll_body(enroll_secret, f"host-{label}", seat=("Floor 1", label))
        key = post(client, ENROLL, body).json()["node_key"]
        assert post(client, CHECKIN, checkin_body(site_blocked(healthy_facts())), key=key).status_code == 202
    wait_until(lambda: SeatEvent.objects.filter(to_readiness="not_ready").count() == len(labels))


def test_failing_reports_reach_a_receiver_as_one_signed_digest_through_the_worker(
    quick_alerts, celery_worker, client, enroll_secret, seats, policy, watched_floor, receiver
):
    _, channel = watched_floor
    seats_break(client, enroll_secret, ["A-01", "A-02", "A-03"])

    def delivered() -> bool:
        collect.delay()  # what beat does every READYFLOOR_ALERT_COLLECT_S
        return Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists()

    wait_until(delivered, timeout=30, interval=0.5)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert signing.verify(channel.secret, request.headers["ReadyFloor-Signature"], request.body)
    body = request.json()
    assert [change["label"] for change in body["seats_down"]] == ["A-01", "A-02", "A-03"]
    assert body["seats_down"][0]["failing"][0]["check_id"] == "chrome.mic.site"
    assert Delivery.objects.get().attempt_log.get().status_code == 200


def test_a_worker_killed_mid_send_resends_with_the_same_key_and_the_receiver_keeps_one(
    quick_alerts, celery_worker, client, enroll_secret, seats, policy, watched_floor, receiver
):
    receiver.delay_s = 4  # the receiver is slow: the worker is killed while it waits
    seats_break(client, enroll_secret, ["A-01"])

    def sending() -> bool:
        collect.delay()
        return receiver.arrived >= 1

    wait_until(sending, timeout=30, interval=0.5)
    celery_worker.kill()
    celery_worker.wait(timeout=10)
    wait_until(lambda: len(receiver.requests) == 1, timeout=10)  # it answered 200 to no one

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING  # the send's transaction died with the worker
    assert delivery.attempt_log.count() == 0

    receiver.delay_s = 0
    with restarted_worker():
        # A minute later the collector finds the delivery due and not done, and queues it again.
        Delivery.objects.update(next_attempt_at=delivery.created_at.replace(year=2000), queued_at=None)
        assert collecting.requeue_lost_deliveries(now=delivery.created_at) == 1
        wait_until(lambda: Delivery.objects.get().status == DeliveryStatus.DELIVERED, timeout=20)

    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["Idempotency-Key"] == receiver.requests[1].headers["Idempotency-Key"]
    assert len(receiver.accepted) == 1
    assert Delivery.objects.get().attempt_log.count() == 1


@contextlib.contextmanager
def restarted_worker() -> Iterator[subprocess.Popen]:
    """A second worker process like the celery_worker fixture's, after the first was killed."""
    process = start_celery_worker()
    try:
        yield process
    finally:
        stop(process)
