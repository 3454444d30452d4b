"""Operator API, alerts: rules (IT admins create and change them, naming a bad field), channels
without their secrets, the delivery log with attempts, and a replay that a real local receiver
accepts once (the same idempotency key)."""

from __future__ import annotations

import pytest

from server.alerts import collecting
from server.alerts.models import AlertRule, Channel, ChannelKind, Delivery
from tests.alerts import conftest as alert_fixtures
from tests.alerts.conftest import minutes_ago
from tests.alerts.test_webhooks import deliver_all, storm

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts"

# The alert tests' own fixtures: a real local webhook receiver, a floor of 40 seats, fast retries.
receiver = alert_fixtures.receiver
big_floor = alert_fixtures.big_floor
alert_settings = alert_fixtures.alert_settings


@pytest.fixture
def webhook(receiver) -> Channel:
    return Channel.objects.create(
        name="IT on-call", kind=ChannelKind.WEBHOOK, url=receiver.url, secret="s3cret-value"
    )


@pytest.fixture
def rule(big_floor, webhook) -> AlertRule:
    rule = AlertRule.objects.create(name="Floor 2 seats", floor=big_floor, window_s=60)
    rule.channels.add(webhook)
    return rule


@pytest.fixture
def delivered(alert_settings, rule) -> Delivery:
    storm(rule.floor, minutes_ago(3), count=2)
    collecting.collect()
    deliver_all()
    return Delivery.objects.get()


def post(client, url: str, body: dict | None = None):
    return client.post(url, body or {}, content_type="application/json")


def patch(client, url: str, body: dict):
    return client.patch(url, body, content_type="application/json")


def test_an_it_admin_creates_and_changes_a_rule(client, admin_user, floor, webhook):
    client.force_login(admin_user)

    made = post(
        client,
        f"{ALERTS}/rules",
        {"name": "Floor 1 down", "floor": floor.pk, "channels": [webhook.pk], "window_s": 30},
    )
    changed = patch(client, f"{ALERTS}/rules/{made.json()['id']}", {"floor_threshold_percent": 80})

    assert made.status_code == 201, made.json()
    assert (made.json()["scope"], made.json()["channels"], made.json()["window_s"]) == (
        "floor",
        [webhook.pk],
        30,
    )
    assert changed.status_code == 200, changed.json()
    stored = AlertRule.objects.get()
    assert (stored.floor_threshold_percent, stored.window_s, list(stored.channels.all())) == (
        80,
        30,
        [webhook],
    )
    assert client.get(f"{ALERTS}/rules/{stored.pk}").json()["floor_threshold_percent"] == 80


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "floor_threshold_percent": 0}, "floor_threshold_percent"),
        ({"name": "x", "floor_threshold_percent": 101}, "floor_threshold_percent"),
        ({"name": "x", "window_s": 0}, "window_s"),
        ({"name": "x", "floor": 999999}, "floor"),
        ({"name": "x", "channels": [999999]}, "channels"),
        ({"name": "x", "on_seat_down": None}, "on_seat_down"),
        ({"name": "x", "colour": "blue"}, "colour"),
        ({"window_s": 30}, "name"),
    ],
)
def test_bad_rule_values_are_refused_naming_the_field_and_nothing_is_stored(client, admin_user, body, field):
    client.force_login(admin_user)

    response = post(client, f"{ALERTS}/rules", body)

    assert (response.status_code, response.json().get("field")) == (400, field), response.json()
    assert AlertRule.objects.count() == 0


def test_a_rule_on_a_site_and_a_floor_at_once_is_refused(client, admin_user, site, floor):
    client.force_login(admin_user)

    response = post(client, f"{ALERTS}/rules", {"name": "x", "site": site.pk, "floor": floor.pk})

    assert response.status_code == 400
    assert AlertRule.objects.count() == 0


def test_auditors_and_supervisors_read_rules_but_change_none(client, auditor, supervisor, floor, rule):
    mine = AlertRule.objects.create(name="Floor 1 seats", floor=floor)
    for user, visible in ((auditor, 2), (supervisor, 1)):
        client.force_login(user)
        assert client.get(f"{ALERTS}/rules").json()["count"] == visible
        assert post(client, f"{ALERTS}/rules", {"name": "mine"}).status_code == 403
        assert patch(client, f"{ALERTS}/rules/{mine.pk}", {"enabled": False}).status_code == 403
    client.force_login(supervisor)
    assert client.get(f"{ALERTS}/rules/{rule.pk}").status_code == 404  # Floor 2 is not theirs
    assert AlertRule.objects.get(pk=mine.pk).enabled


def test_channels_are_listed_without_secrets_or_urls(client, admin_user, webhook, receiver):
    Channel.objects.create(
        name="Team Slack", kind=ChannelKind.SLACK, url="https://hooks.slack.com/services/T0/B0/XYZ"
    )
    client.force_login(admin_user)

    response = client.get(f"{ALERTS}/channels")

    assert [(c["name"], c["destination"]) for c in response.json()] == [
        ("IT on-call", "127.0.0.1"),
        ("Team Slack", "hooks.slack.com"),
    ]
    assert "s3cret-value" not in response.content.decode()
    assert "XYZ" not in response.content.decode()


def test_the_delivery_log_lists_attempts_and_filters(
    client,
    admin_user,
    delivered,
    webhook,
    big_floor,
    floor,
):
    client.force_login(admin_user)

    log = client.get(f"{ALERTS}/deliveries").json()

    assert log["count"] == 1
    (row,) = log["results"]
    assert (row["status"], row["floor_name"], row["channel_name"]) == ("delivered", "Floor 2", "IT on-call")
    assert [(a["number"], a["status_code"], a["ok"]) for a in row["attempt_log"]] == [(1, 200, True)]
    assert client.get(f"{ALERTS}/deliveries", {"status": "failed"}).json()["count"] == 0
    assert client.get(f"{ALERTS}/deliveries", {"channel": webhook.pk}).json()["count"] == 1
    assert client.get(f"{ALERTS}/deliveries", {"floor": floor.pk}).json()["count"] == 0
    assert client.get(f"{ALERTS}/deliveries", {"floor": big_floor.pk, "page_size": 1}).json()["pages"] == 1
    assert client.get(f"{ALERTS}/deliveries", {"status": "lost"}).json()["field"] == "status"
    assert client.get(f"{ALERTS}/deliveries", {"channel": 999999}).json()["field"] == "channel"
    assert client.get(f"{ALERTS}/deliveries", {"page": 2}).json()["field"] == "page"


def test_a_replay_is_sent_with_the_same_key_and_accepted_once(client, admin_user, delivered, receiver):
    client.force_login(admin_user)

    response = post(client, f"{ALERTS}/deliveries/{delivered.pk}/replay")

    assert response.status_code == 200, response.json()
    assert [(a["replay"], a["status_code"]) for a in response.json()["attempt_log"]] == [
        (False, 200),
        (True, 200),
    ]
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["Idempotency-Key"] == receiver.requests[1].headers["Idempotency-Key"]
    assert len(receiver.accepted) == 1


def test_only_it_admins_replay_and_a_supervisor_sees_no_other_floors_deliveries(
    client,
    auditor,
    supervisor,
    delivered,
    receiver,
):
    client.force_login(auditor)
    assert client.get(f"{ALERTS}/deliveries").json()["count"] == 1
    assert post(client, f"{ALERTS}/deliveries/{delivered.pk}/replay").status_code == 403

    client.force_login(supervisor)  # of Floor 1; the delivery is about Floor 2
    assert client.get(f"{ALERTS}/deliveries").json()["count"] == 0
    assert post(client, f"{ALERTS}/deliveries/{delivered.pk}/replay").status_code == 404
    assert len(receiver.requests) == 1


def test_the_alert_endpoints_are_in_the_served_openapi_document(client):
    paths = client.get("/api/schema.json").json()["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/alerts/rules"])
    assert {"get", "patch"} <= set(paths["/api/v1/alerts/rules/{rule_id}"])
    assert "get" in paths["/api/v1/alerts/channels"]
    assert "get" in paths["/api/v1/alerts/deliveries"]
    assert "post" in paths["/api/v1/alerts/deliveries/{delivery_id}/replay"]
