"""Webhook alerts, end to end in process: seat events → digest → signed POST to a real local
receiver, with retries, the delivery log, replays and acknowledgements."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from server.acknowledgements.acknowledging import acknowledge
from server.alerts import collecting, delivering, signing
from server.alerts.models import (
    AlertRule,
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    Digest,
    OutboxCursor,
)
from server.compliance.models import SeatEvent
from server.fleet.models import Readiness, Seat
from tests.alerts.conftest import MIC_BLOCKED, NO_HEADSET, minutes_ago, seat_turns

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(receiver) -> Channel:
    return Channel.objects.create(name="IT on-call", kind=ChannelKind.WEBHOOK, url=receiver.url)


@pytest.fixture
def rule(big_floor, webhook) -> AlertRule:
    rule = AlertRule.objects.create(name="Floor 2 seats", floor=big_floor, window_s=60)
    rule.channels.add(webhook)
    return rule


def storm(floor, start: dt.datetime, count: int = 40, failing=(MIC_BLOCKED,)) -> list[Seat]:
    """A Chrome update breaks `count` seats within 40 seconds."""
    seats = list(Seat.objects.filter(floor=floor).order_by("label")[:count])
    for n, seat in enumerate(seats):
        seat_turns(seat, Readiness.NOT_READY, start + dt.timedelta(seconds=n), list(failing))
    return seats


def deliver_all() -> list[delivering.Outcome]:
    return [
        delivering.attempt_delivery(pk) for pk in Delivery.objects.order_by("pk").values_list("pk", flat=True)
    ]


def test_a_storm_of_40_failing_seats_arrives_as_one_signed_digest(alert_settings, rule, webhook, receiver):
    storm(rule.floor, minutes_ago(3))

    collected = collecting.collect()
    deliver_all()

    assert collected.events_read == 40
    assert collected.digests_closed == 1
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert {"ReadyFloor-Signature", "Idempotency-Key"} <= set(request.headers.keys())  # as documented
    assert signing.verify(webhook.secret, request.headers["ReadyFloor-Signature"], request.body)
    assert not signing.verify("whsec_someone-else", request.headers["ReadyFloor-Signature"], request.body)
    body = request.json()
    assert body["type"] == "readyfloor.alert.digest"
    assert body["idempotency_key"] == request.headers["Idempotency-Key"]
    assert len(body["seats_down"]) == 40
    assert body["seats_down"][0]["label"] == "A-01"
    assert body["seats_down"][0]["failing"][0]["check_id"] == "chrome.mic.site"
    assert body["seats_down"][0]["url"].startswith("https://readyfloor.example.com/seats/")
    assert body["summary"] == "Floor 2 (Lyon contact centre): 40 seats NOT READY or OFFLINE"
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_changes_in_the_next_window_make_a_second_digest_and_recoveries_are_announced(
    alert_settings, rule, receiver
):
    start = minutes_ago(5)
    seats = storm(rule.floor, start, count=3)
    for seat in seats:
        seat_turns(seat, Readiness.READY, start + dt.timedelta(minutes=2))

    collecting.collect()
    deliver_all()

    assert [len(r.json()["seats_down"]) for r in receiver.requests] == [3, 0]
    assert [len(r.json()["seats_recovered"]) for r in receiver.requests] == [0, 3]
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 2


def test_a_window_still_open_sends_nothing_yet_and_nothing_is_read_twice(alert_settings, rule, receiver):
    storm(rule.floor, timezone.now() - dt.timedelta(seconds=20), count=5)

    collecting.collect()
    collecting.collect()

    assert Digest.objects.get().closed_at is None
    assert Digest.objects.get().entries.count() == 5
    assert Delivery.objects.count() == 0
    collecting.collect(now=timezone.now() + dt.timedelta(seconds=60))
    assert Delivery.objects.count() == 1
    assert OutboxCursor.objects.get().last_event_id == SeatEvent.objects.aggregate(Max("pk"))["pk__max"]


def test_events_younger_than_the_settle_time_wait_for_the_next_run(alert_settings, rule):
    alert_settings.READYFLOOR_ALERT_SETTLE_S = 30
    storm(rule.floor, timezone.now() - dt.timedelta(seconds=5), count=2)

    assert collecting.collect().events_read == 0
    assert collecting.collect(now=timezone.now() + dt.timedelta(seconds=40)).events_read == 2


def test_a_500_is_retried_with_backoff_and_then_delivered_with_the_same_key(alert_settings, rule, receiver):
    receiver.script = [500, 503]
    storm(rule.floor, minutes_ago(3), count=2)
    collecting.collect()
    delivery = Delivery.objects.get()

    first = delivering.attempt_delivery(delivery.pk)
    assert first.status == DeliveryStatus.PENDING
    assert 0 <= first.retry_in <= 1  # full jitter over base · 2^0
    assert Delivery.objects.get().next_attempt_at > timezone.now() - dt.timedelta(seconds=1)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + dt.timedelta(seconds=5))
    assert delivering.attempt_delivery(delivery.pk).status == "not_due"

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    second = delivering.attempt_delivery(delivery.pk)
    assert 0 <= second.retry_in <= 2  # base · 2^1
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED

    delivery.refresh_from_db()
    assert [(a.number, a.status_code, a.ok) for a in delivery.attempt_log.all()] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert delivery.attempts == 3
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
    assert len(receiver.accepted) == 1


def test_a_delivered_delivery_is_never_sent_again_by_the_queue(alert_settings, rule, receiver):
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()
    delivery = Delivery.objects.get()

    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED
    # A task redelivered after a worker was killed between the send and the broker's ack:
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED

    assert len(receiver.requests) == 1


def test_a_delivery_gives_up_after_the_last_attempt(alert_settings, rule, receiver):
    alert_settings.READYFLOOR_ALERT_MAX_ATTEMPTS = 2
    receiver.script = [500, 500, 500]
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()
    delivery = Delivery.objects.get()

    delivering.attempt_delivery(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    outcome = delivering.attempt_delivery(delivery.pk)

    assert outcome.status == DeliveryStatus.FAILED
    assert outcome.retry_in is None
    assert Delivery.objects.get().last_status_code == 500


def test_an_unanswering_receiver_is_cut_off_by_the_timeout_and_retried(alert_settings, rule, receiver):
    alert_settings.READYFLOOR_ALERT_HTTP_TIMEOUT_S = 1
    receiver.delay_s = 3
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()
    delivery = Delivery.objects.get()

    outcome = delivering.attempt_delivery(delivery.pk)

    assert outcome.status == DeliveryStatus.PENDING
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert "timed out" in attempt.error
    assert attempt.duration_ms < 2500


def test_a_redirect_is_not_followed_but_logged_and_retried(alert_settings, rule, receiver):
    receiver.script = [302]
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()

    outcome = delivering.attempt_delivery(Delivery.objects.get().pk)

    assert outcome.status == DeliveryStatus.PENDING
    assert Delivery.objects.get().last_status_code == 302
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_is_logged_and_retried(alert_settings, rule, webhook):
    webhook.url = "http://127.0.0.1:9/nothing-listens-here"
    webhook.save()
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()

    outcome = delivering.attempt_delivery(Delivery.objects.get().pk)

    assert outcome.status == DeliveryStatus.PENDING
    assert "refused" in Delivery.objects.get().last_error.lower()


def test_a_replay_from_the_admin_log_is_accepted_once_by_a_deduplicating_receiver(
    alert_settings, rule, receiver, client, django_user_model
):
    storm(rule.floor, minutes_ago(3), count=2)
    collecting.collect()
    deliver_all()
    delivery = Delivery.objects.get()
    root = django_user_model.objects.create_superuser("root", "root@example.com", "correct horse battery")
    client.force_login(root)

    response = client.post(
        reverse("admin:alerts_delivery_changelist"),
        {"action": "replay_selected", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert f"Delivery {delivery.pk}: accepted (HTTP 200)" in response.content.decode()
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[0].headers["Idempotency-Key"] == receiver.requests[1].headers["Idempotency-Key"]
    assert len(receiver.accepted) == 1
    assert [(a.replay, a.status_code) for a in delivery.attempt_log.all()] == [(False, 200), (True, 200)]
    page = client.get(reverse("admin:alerts_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert str(delivery.digest.idempotency_key) in page.content.decode()


def test_an_acknowledged_failure_sends_nothing(alert_settings, rule, receiver, admin_user):
    start = minutes_ago(5)
    acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        floor=rule.floor,
        reason="Chrome 142 rollout, INC-4711",
        expires_at=timezone.now() + dt.timedelta(days=1),
        now=start - dt.timedelta(minutes=1),
    )
    seats = storm(rule.floor, start, count=40)
    for seat in seats[:3]:
        seat_turns(seat, Readiness.READY, start + dt.timedelta(minutes=2))

    collecting.collect()

    assert receiver.requests == []
    assert Delivery.objects.count() == 0
    assert sorted(Digest.objects.values_list("sent_entries", "silenced_entries")) == [(0, 3), (0, 40)]


def test_an_acknowledged_check_does_not_hide_another_failing_one(alert_settings, rule, receiver, admin_user):
    start = minutes_ago(5)
    first, second = Seat.objects.filter(floor=rule.floor).order_by("label")[:2]
    acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        seat=first,
        reason="waiting for the vendor",
        expires_at=timezone.now() + dt.timedelta(days=1),
        now=start,
    )
    seat_turns(first, Readiness.NOT_READY, start + dt.timedelta(seconds=1), [MIC_BLOCKED])
    seat_turns(second, Readiness.NOT_READY, start + dt.timedelta(seconds=2), [MIC_BLOCKED, NO_HEADSET])

    collecting.collect()
    deliver_all()

    body = receiver.requests[0].json()
    assert [change["label"] for change in body["seats_down"]] == ["A-02"]
    assert body["acknowledged_changes_not_listed"] == 1


def test_the_floor_threshold_fires_once_on_the_way_down_and_once_on_the_way_back(
    alert_settings, big_floor, webhook, receiver
):
    rule = AlertRule.objects.create(
        name="Floor 2 readiness", floor=big_floor, on_seat_down=False, on_seat_recovered=False,
        floor_threshold_percent=80, window_s=30,
    )  # fmt: skip
    rule.channels.add(webhook)
    seats = list(Seat.objects.filter(floor=big_floor).order_by("label"))
    start = minutes_ago(10)

    # 8 of 40 down: 80 % still able, not under. The 9th takes it to 77.5 %, then 12 go down in all.
    for n, seat in enumerate(seats[:12]):
        seat_turns(seat, Readiness.NOT_READY, start + dt.timedelta(seconds=n * 10), [NO_HEADSET])
        collecting.collect(now=start + dt.timedelta(seconds=n * 10 + 1))
    # Then they come back one by one, a minute later.
    back = start + dt.timedelta(minutes=3)
    for n, seat in enumerate(seats[:12]):
        seat_turns(seat, Readiness.READY, back + dt.timedelta(seconds=n * 10))
        collecting.collect(now=back + dt.timedelta(seconds=n * 10 + 1))
    collecting.collect()
    deliver_all()

    crossings = [r.json()["floor_threshold"] for r in receiver.requests]
    assert [(c["state"], c["percent"]) for c in crossings] == [("below", 77.5), ("recovered", 80.0)]
    assert all(r.json()["seats_down"] == [] for r in receiver.requests)


def test_a_rule_for_the_site_watches_its_floors_and_a_disabled_rule_nothing(
    alert_settings, site, big_floor, webhook, receiver
):
    site_rule = AlertRule.objects.create(name="Lyon", site=site)
    site_rule.channels.add(webhook)
    AlertRule.objects.create(name="old", floor=big_floor, enabled=False).channels.add(webhook)
    storm(big_floor, minutes_ago(3), count=2)

    collecting.collect()
    deliver_all()

    assert len(receiver.requests) == 1
    assert receiver.requests[0].json()["rule"] == "Lyon"


def test_offline_seats_alert_and_an_at_risk_seat_does_not(alert_settings, rule, receiver):
    first, second, third = Seat.objects.filter(floor=rule.floor).order_by("label")[:3]
    start = minutes_ago(3)
    silent = {
        "check_id": "agent.fresh",
        "state": "fail",
        "severity": "critical",
        "reason": "No report for 20 min",
    }
    seat_turns(first, Readiness.OFFLINE, start, [silent])
    warn = {"check_id": "chrome.notifications.site", "state": "warn", "severity": "warning", "reason": "asks"}
    seat_turns(second, Readiness.AT_RISK, start, [warn])
    seat_turns(third, Readiness.UNKNOWN, start)

    collecting.collect()
    deliver_all()

    down = receiver.requests[0].json()["seats_down"]
    assert [(c["label"], c["to_readiness"]) for c in down] == [("A-01", "offline")]


def test_the_delivery_log_is_kept_for_its_retention_and_then_purged(alert_settings, rule, receiver):
    alert_settings.READYFLOOR_ALERT_LOG_RETENTION_DAYS = 90
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()
    deliver_all()

    assert collecting.purge_old_digests(now=timezone.now() + dt.timedelta(days=89)) == 0
    assert collecting.purge_old_digests(now=timezone.now() + dt.timedelta(days=91)) == 1
    assert not Delivery.objects.exists()


def test_a_lost_delivery_task_is_queued_again_by_the_collector(alert_settings, rule):
    storm(rule.floor, minutes_ago(3), count=1)
    collecting.collect()
    Delivery.objects.update(queued_at=minutes_ago(2), next_attempt_at=minutes_ago(2))

    assert collecting.collect().deliveries_requeued == 1
    assert collecting.collect().deliveries_requeued == 0  # not again within the minute
