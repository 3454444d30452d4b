"""Email digests to a real local SMTP server, and the Slack and Teams message formats."""

from __future__ import annotations

import json

import pytest

from server.alerts import collecting, delivering
from server.alerts.models import AlertRule, Channel, ChannelKind, Delivery, DeliveryStatus
from tests.alerts.conftest import NO_HEADSET, free_port, minutes_ago
from tests.alerts.test_webhooks import deliver_all, storm

pytestmark = pytest.mark.django_db


def rule_with(floor, *channels: Channel) -> AlertRule:
    rule = AlertRule.objects.create(name="Floor 2", floor=floor, window_s=60)
    rule.channels.add(*channels)
    return rule


def test_a_storm_is_one_email_listing_every_failing_seat(alert_settings, big_floor, mailbox):
    alert_settings.DEFAULT_FROM_EMAIL = "ReadyFloor <alerts@readyfloor.example.com>"
    email = Channel.objects.create(
        name="Supervisors", kind=ChannelKind.EMAIL, email_to="ines@example.com,\nmarc@example.com"
    )
    rule_with(big_floor, email)
    storm(big_floor, minutes_ago(3), count=12, failing=[NO_HEADSET])

    collecting.collect()
    deliver_all()

    assert len(mailbox.messages) == 1
    recipients, message = mailbox.messages[0]
    assert recipients == ["ines@example.com", "marc@example.com"]
    assert message["From"] == "ReadyFloor <alerts@readyfloor.example.com>"
    assert message["Subject"] == "[ReadyFloor] Floor 2 (Lyon contact centre): 12 seats NOT READY or OFFLINE"
    delivery = Delivery.objects.get()
    assert message["Message-ID"] == f"<{delivery.digest.idempotency_key}@readyfloor>"
    text = message.get_payload(decode=True).decode()
    for n in range(1, 13):
        assert f"A-{n:02d}: READY → NOT READY" in text
    assert "A-13" not in text
    assert text.count("No headset among the capture devices") == 12
    assert "https://readyfloor.example.com/seats/" in text
    assert "(Europe/Paris)" in text  # times in the site's zone, named
    assert delivery.status == DeliveryStatus.DELIVERED


def test_an_smtp_server_that_is_down_is_logged_and_retried(alert_settings, big_floor, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    email = Channel.objects.create(name="Supervisors", kind=ChannelKind.EMAIL, email_to="ines@example.com")
    rule_with(big_floor, email)
    storm(big_floor, minutes_ago(3), count=2)
    collecting.collect()

    outcome = delivering.attempt_delivery(Delivery.objects.get().pk)

    assert outcome.status == DeliveryStatus.PENDING
    assert "ConnectionRefusedError" in Delivery.objects.get().last_error


def test_slack_gets_its_incoming_webhook_format(alert_settings, big_floor, receiver):
    slack = Channel.objects.create(name="#floor-2", kind=ChannelKind.SLACK, url=receiver.url, secret="")
    rule_with(big_floor, slack)
    storm(big_floor, minutes_ago(3), count=20)

    collecting.collect()
    deliver_all()

    body = receiver.requests[0].json()
    assert body["text"] == "Floor 2 (Lyon contact centre): 20 seats NOT READY or OFFLINE"
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "section", "context"]
    listed = body["blocks"][2]["text"]["text"]
    assert listed.startswith("*Down*\n• <https://readyfloor.example.com/seats/")
    assert "|A-01> NOT READY: Microphone set to Block for https://acme.my.salesforce.com" in listed
    assert listed.endswith("… and 5 more")
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in body["blocks"])
    assert "ReadyFloor-Signature" not in receiver.requests[0].headers  # no secret, no signature
    assert receiver.requests[0].headers["Idempotency-Key"] == str(
        Delivery.objects.get().digest.idempotency_key
    )


def test_teams_gets_an_adaptive_card_for_a_workflows_webhook(alert_settings, big_floor, receiver):
    teams = Channel.objects.create(name="Teams IT", kind=ChannelKind.TEAMS, url=receiver.url)
    rule_with(big_floor, teams)
    storm(big_floor, minutes_ago(3), count=3)

    collecting.collect()
    deliver_all()

    body = receiver.requests[0].json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    facts = next(item for item in card["body"] if item["type"] == "FactSet")["facts"]
    assert [fact["title"] for fact in facts] == ["A-01", "A-02", "A-03"]
    assert card["actions"][0]["url"] == f"https://readyfloor.example.com/floor/?floor={big_floor.pk}"
    assert json.loads(Delivery.objects.get().body) == body


def test_one_digest_goes_to_every_channel_of_its_rule(alert_settings, big_floor, receiver, mailbox):
    hook = Channel.objects.create(name="hook", kind=ChannelKind.WEBHOOK, url=receiver.url)
    email = Channel.objects.create(name="mail", kind=ChannelKind.EMAIL, email_to="ines@example.com")
    off = Channel.objects.create(name="off", kind=ChannelKind.WEBHOOK, url=receiver.url, enabled=False)
    rule_with(big_floor, hook, email, off)
    storm(big_floor, minutes_ago(3), count=4)

    collecting.collect()
    deliver_all()

    assert len(receiver.requests) == 1
    assert len(mailbox.messages) == 1
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2
