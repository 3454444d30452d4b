"""A scheduled report reaches people: by email to a real SMTP server (aiosmtpd) with the CSV and
PDF attached, or linked above the size limit; by the alerts app's signed webhook; and a failed
send is retried with backoff and shown on the run."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy

import pytest
from django.utils import timezone

from server.alerts import signing
from server.alerts.models import Channel, ChannelKind
from server.reports import delivering, running
from server.reports.models import DeliveryStatus, ReportDelivery, ReportSchedule
from server.reports.scoping import Scope
from tests.alerts.conftest import free_port

pytestmark = pytest.mark.django_db


def scheduled_run(known_floor, **schedule_fields):
    fields = {
        "name": "Floor 1 morning",
        "scope_kind": "floor",
        "site": known_floor.floor.site,
        "floor": known_floor.floor,
        "cadence": "daily",
        "at_time": dt.time(7, 30),
        "recipients": "it@example.com, lead@example.com",
        **schedule_fields,
    }
    schedule = ReportSchedule.objects.create(**fields)
    run = running.create_run(
        Scope.of(schedule),
        formats=["csv", "pdf"],
        trigger="schedule",
        schedule=schedule,
        due_at=timezone.now(),
    )
    running.generate(run.pk)
    return run


def test_the_email_arrives_with_the_csv_and_pdf_attached(known_floor, mailbox) -> None:
    run = scheduled_run(known_floor)
    (delivery,) = run.deliveries.all()
    assert delivery.recipients == ["it@example.com", "lead@example.com"]
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED
    ((recipients, message),) = mailbox.messages
    assert sorted(recipients) == ["it@example.com", "lead@example.com"]
    assert message["Subject"] == "ReadyFloor report: floor Lyon contact centre / Floor 1"
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    stored = {file.filename: bytes(file.content) for file in run.files.all()}
    assert sorted(attachments) == sorted(stored)
    pdf_name = next(name for name in stored if name.endswith(".pdf"))
    assert attachments[pdf_name] == stored[pdf_name]
    csv_name = next(name for name in stored if name.endswith(".csv"))
    sent_csv = attachments[csv_name].lstrip("\ufeff").replace("\r\n", "\n")
    assert sent_csv == stored[csv_name].decode("utf-8-sig").replace("\r\n", "\n")
    body = message.get_body(("plain",)).get_content()
    assert "not ready: 2" in body and f"/reports/runs/{run.pk}/" in body
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1 and not delivery.linked


def test_files_over_the_size_limit_are_linked_not_attached(known_floor, mailbox, settings) -> None:
    settings.READYFLOOR_REPORT_ATTACH_MAX_BYTES = 1000
    settings.SITE_URL = "https://readyfloor.example.com"
    run = scheduled_run(known_floor)
    delivering.attempt_delivery(run.deliveries.get().pk)
    ((_, message),) = mailbox.messages
    assert list(message.iter_attachments()) == []
    body = message.get_body(("plain",)).get_content()
    assert f"https://readyfloor.example.com/reports/runs/{run.pk}/pdf" in body
    assert f"https://readyfloor.example.com/reports/runs/{run.pk}/csv" in body
    assert run.deliveries.get().linked


@dataclass
class FlakyMailbox:
    """An SMTP server that answers the next messages with the scripted codes, then accepts."""

    script: list[str] = field(default_factory=list)
    accepted: list[object] = field(default_factory=list)


@pytest.fixture
def flaky_mailbox(settings):
    from aiosmtpd.controller import Controller

    box = FlakyMailbox(script=["451 4.3.0 Mailbox busy, try again later"])

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:
            if box.script:
                return box.script.pop(0)
            box.accepted.append(message_from_bytes(envelope.content, policy=email_policy.default))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.READYFLOOR_ALERT_RETRY_BASE_S = 1
    try:
        yield box
    finally:
        controller.stop()


def test_an_smtp_failure_is_retried_and_shown_on_the_run(
    known_floor, flaky_mailbox, client, admin_user
) -> None:
    run = scheduled_run(known_floor)
    delivery = run.deliveries.get()
    first = delivering.attempt_delivery(delivery.pk)
    assert first.status == DeliveryStatus.PENDING and first.retry_in is not None and first.retry_in <= 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "451" in delivery.last_error
    assert delivery.next_attempt_at <= timezone.now() + dt.timedelta(seconds=1)
    client.force_login(admin_user)
    page = client.get(f"/reports/runs/{run.pk}/").content.decode()
    assert "Mailbox busy" in page and "#1" in page and "failed" in page
    api = client.get(f"/api/v1/reports/runs/{run.pk}").json()
    assert api["deliveries"][0]["status"] == "pending" and "451" in api["deliveries"][0]["last_error"]
    # Not before its time: an early copy of the task leaves the try to the scheduled one.
    ReportDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )
    assert delivering.attempt_delivery(delivery.pk).status == "not_due"
    ReportDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(flaky_mailbox.accepted) == 1
    delivery.refresh_from_db()
    assert [attempt["ok"] for attempt in delivery.attempt_log] == [False, True]
    # Delivered is final: the queue never sends it again.
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED
    assert len(flaky_mailbox.accepted) == 1


def test_a_delivery_that_keeps_failing_ends_failed(known_floor, flaky_mailbox, settings) -> None:
    settings.READYFLOOR_REPORT_MAX_ATTEMPTS = 2
    flaky_mailbox.script = ["554 5.7.1 Rejected"] * 5
    run = scheduled_run(known_floor)
    delivery = run.deliveries.get()
    delivering.attempt_delivery(delivery.pk)
    ReportDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert (
        delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2 and "554" in delivery.last_error
    )


def test_the_webhook_is_signed_like_the_alerts(known_floor, receiver) -> None:
    channel = Channel.objects.create(
        name="reports hook", kind=ChannelKind.WEBHOOK, url=receiver.url, secret="s3cret"
    )
    receiver.script = [500]
    run = scheduled_run(known_floor, recipients="", webhook=channel)
    (delivery,) = run.deliveries.all()
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.PENDING  # the 500
    ReportDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivering.attempt_delivery(delivery.pk).status == DeliveryStatus.DELIVERED
    first, second = receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert signing.verify("s3cret", second.headers[signing.HEADER], second.body)
    assert second.headers["ReadyFloor-Event"] == "report.ready"
    body = json.loads(second.body)
    assert body["run"]["id"] == run.pk and body["run"]["counts"]["not_ready"] == 2
    assert {file["format"]: file["sha256"] for file in body["files"]} == {
        file.format: file.sha256 for file in run.files.all()
    }
