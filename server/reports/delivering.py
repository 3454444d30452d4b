"""Sending a finished run: email with the files attached (or linked above a size limit) and the
signed webhook of the alerts app. Failures are retried with the alerts app's backoff (exponential,
full jitter) and every attempt is written on the delivery, which the run's page shows.

The row is locked while it is sent and a delivered row is never sent again by the queue, as in
server/alerts/delivering.py; the email's Message-ID and the webhook's Idempotency-Key are the same
on every try, so a receiver can drop the one repeat a killed worker may cause.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from server.alerts import delivering as alert_delivering
from server.alerts import signing
from server.alerts.delivering import SendResult
from server.reports.models import DeliveryKind, DeliveryStatus, ReportDelivery, ReportRun
from server.reports.scoping import Scope, can_see

USER_AGENT = "ReadyFloor-Reports/1"


@dataclass
class Outcome:
    status: str  # delivered, pending, failed, busy, not_due
    retry_in: int | None = None


def recipients_of(run: ReportRun) -> list[str]:
    """The schedule's addresses and its subscribers' — those who may still see the scope (a
    supervisor moved to another floor stops receiving its reports)."""
    schedule = run.schedule
    if schedule is None:
        return []
    addresses = list(schedule.recipient_list)
    users = get_user_model().objects.filter(report_subscriptions__schedule=schedule, is_active=True)
    scope = Scope.of(run)
    for user in users:
        if user.email and can_see(user, scope):
            addresses.append(user.email)
    return list(dict.fromkeys(addresses))


def plan_deliveries(run: ReportRun) -> list[ReportDelivery]:
    """One email delivery (every recipient on it) and one webhook delivery, queued after commit."""
    deliveries = []
    addresses = recipients_of(run)
    if addresses:
        deliveries.append(ReportDelivery(run=run, kind=DeliveryKind.EMAIL, recipients=addresses))
    channel = run.schedule.webhook if run.schedule else None
    if channel is not None and channel.enabled and channel.url:
        deliveries.append(ReportDelivery(run=run, kind=DeliveryKind.WEBHOOK, channel=channel))
    ReportDelivery.objects.bulk_create(deliveries)
    from server.reports import tasks

    for delivery in deliveries:
        transaction.on_commit(lambda pk=delivery.pk: tasks.deliver.delay(pk))
    return deliveries


def attempt_delivery(delivery_id: int) -> Outcome:
    """Try a pending, due delivery once; on failure schedule the next try, or give up."""
    with transaction.atomic():
        delivery = (
            ReportDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("run__site", "run__floor", "channel")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return Outcome("busy")
        if delivery.status != DeliveryStatus.PENDING:
            return Outcome(delivery.status)
        if delivery.next_attempt_at > timezone.now() + dt.timedelta(seconds=0.5):
            return Outcome("not_due")
        started = timezone.now()
        result = send(delivery)
        delivery.attempts += 1
        delivery.attempt_log = [
            *delivery.attempt_log,
            {
                "number": delivery.attempts,
                "at": started.isoformat(),
                "ok": result.ok,
                "status_code": result.status_code,
                "error": result.error[:1000],
            },
        ]
        delivery.last_error = result.error[:2000]
        if result.ok:
            delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, timezone.now()
            delivery.save()
            return Outcome(DeliveryStatus.DELIVERED)
        if delivery.attempts >= settings.READYFLOOR_REPORT_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.save()
            return Outcome(DeliveryStatus.FAILED)
        retry_in = alert_delivering.retry_delay(delivery.attempts)
        delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in)
        delivery.save()
        return Outcome(DeliveryStatus.PENDING, retry_in=retry_in)


def send(delivery: ReportDelivery) -> SendResult:
    if delivery.kind == DeliveryKind.EMAIL:
        return send_email(delivery)
    return post_webhook(delivery)


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _file_urls(run: ReportRun) -> list[tuple[str, str]]:
    return [
        (file.filename, _absolute(reverse("dashboards:report_download", args=[run.pk, file.format])))
        for file in run.files.all()
    ]


def email_body(run: ReportRun, linked: bool) -> str:
    counts = run.parameters.get("counts") or {}
    lines = [
        f"ReadyFloor readiness report for {run.scope_label}",
        f"Generated {run.generated_at:%Y-%m-%d %H:%M} UTC" if run.generated_at else "",
        "",
    ]
    if counts:
        lines += [f"  {name.replace('_', ' ')}: {number}" for name, number in counts.items()] + [""]
    if linked:
        lines.append("The files are larger than the attachment limit; download them (sign-in required):")
        lines += [f"  {name}: {url}" for name, url in _file_urls(run)]
    else:
        lines.append("The report is attached.")
    lines += ["", f"In the archive: {_absolute(reverse('dashboards:report_run', args=[run.pk]))}"]
    if run.schedule:
        lines.append(f"Schedule: {run.schedule.name} ({run.schedule.cadence_text})")
    return "\n".join(lines)


def send_email(delivery: ReportDelivery) -> SendResult:
    run = delivery.run
    files = list(run.files.all())
    linked = sum(file.size for file in files) > settings.READYFLOOR_REPORT_ATTACH_MAX_BYTES
    delivery.linked = linked
    key = f"report-{run.pk}-delivery-{delivery.pk}"
    message = EmailMessage(
        subject=f"ReadyFloor report: {run.scope_label}",
        body=email_body(run, linked),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(delivery.recipients),
        headers={"Message-ID": f"<{key}@readyfloor>", "X-ReadyFloor-Idempotency-Key": key},
        connection=get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT),
    )
    if not linked:
        for file in files:
            message.attach(file.filename, bytes(file.content), file.content_type.split(";")[0])
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        return SendResult(ok=False, error=f"{type(error).__name__}: {error}")
    return SendResult(ok=True, excerpt=f"accepted for {len(delivery.recipients)} recipient(s)")


def webhook_body(delivery: ReportDelivery) -> bytes:
    run = delivery.run
    body = {
        "type": "readyfloor.report.ready",
        "idempotency_key": f"report-{run.pk}-delivery-{delivery.pk}",
        "run": {
            "id": run.pk,
            "scope": run.parameters.get("scope"),
            "generated_at": run.generated_at.isoformat() if run.generated_at else None,
            "url": _absolute(reverse("dashboards:report_run", args=[run.pk])),
            "counts": run.parameters.get("counts"),
        },
        "files": [
            {"format": file.format, "size": file.size, "sha256": file.sha256, "url": url}
            for file, (_, url) in zip(run.files.all(), _file_urls(run), strict=True)
        ],
    }
    return json.dumps(body, sort_keys=True).encode()


def post_webhook(delivery: ReportDelivery) -> SendResult:
    channel = delivery.channel
    if channel is None or not channel.url:
        return SendResult(ok=False, error="the webhook channel is gone")
    body = webhook_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": f"report-{delivery.run_id}-delivery-{delivery.pk}",
        "ReadyFloor-Event": "report.ready",
        "ReadyFloor-Delivery": f"report-{delivery.pk}",
    }
    if channel.secret:
        headers[signing.HEADER] = signing.signature_header(channel.secret, body)
    return alert_delivering.post(channel.url, body, headers)
