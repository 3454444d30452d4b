"""Every alerts and acknowledgements page of the admin opens, with rows in it; a channel
without its address is refused naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from server.acknowledgements.acknowledging import acknowledge
from server.alerts import collecting, delivering, signing
from server.alerts.models import AlertRule, Channel, ChannelKind, Delivery
from tests.alerts.conftest import MIC_BLOCKED, minutes_ago, seat_turns

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "correct horse battery")
    )
    return client


def test_every_list_and_change_page_opens(root_client, alert_settings, big_floor, receiver, admin_user):
    channel = Channel.objects.create(name="hook", kind=ChannelKind.WEBHOOK, url=receiver.url)
    AlertRule.objects.create(name="Floor 2", floor=big_floor, floor_threshold_percent=90).channels.add(
        channel
    )
    seat = big_floor.seats.first()
    acknowledge(
        actor=admin_user,
        check_id="audio.headset.present",
        seat=seat,
        reason="ordered",
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    seat_turns(seat, "not_ready", minutes_ago(3), [MIC_BLOCKED])
    collecting.collect()
    delivering.attempt_delivery(Delivery.objects.get().pk)

    opened = 0
    for model in admin.site._registry:
        if model._meta.app_label not in {"alerts", "acknowledgements"}:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        assert root_client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200, info
        for obj in model.objects.all()[:3]:
            page = root_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            assert page.status_code == 200, (info, obj.pk)
            opened += 1
    assert opened >= 7


def test_a_channel_without_its_address_is_refused_naming_the_field(root_client):
    response = root_client.post(
        reverse("admin:alerts_channel_add"),
        {"name": "mail", "kind": "email", "email_to": "", "url": "", "secret": "", "enabled": "on"},
    )

    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"email_to"}
    assert not Channel.objects.exists()


def test_an_admin_sends_a_test_message_to_check_a_channel(root_client, receiver, mailbox, alert_settings):
    hook = Channel.objects.create(name="hook", kind=ChannelKind.WEBHOOK, url=receiver.url)
    mail = Channel.objects.create(name="mail", kind=ChannelKind.EMAIL, email_to="ines@example.com")
    broken = Channel.objects.create(name="broken", kind=ChannelKind.SLACK, url="http://127.0.0.1:9/")

    response = root_client.post(
        reverse("admin:alerts_channel_changelist"),
        {"action": "send_test_message", "_selected_action": [hook.pk, mail.pk, broken.pk]},
        follow=True,
    )

    page = response.content.decode()
    assert "Hook: accepted (HTTP 200)." in page
    assert "Mail: accepted" in page
    assert "Broken: not accepted (ConnectionRefusedError" in page
    request = receiver.requests[0]
    assert signing.verify(hook.secret, request.headers["ReadyFloor-Signature"], request.body)
    assert request.json()["rule"] == "Test message"
    assert mailbox.messages[0][1]["Subject"].startswith("[ReadyFloor] Test floor (Test site): 2 seats")
    assert not Delivery.objects.exists()  # a test is not a delivery
