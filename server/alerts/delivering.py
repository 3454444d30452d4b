"""Sending deliveries: signed HTTP POSTs and email, retries with backoff, the attempt log, replay.

At least once, never twice on purpose: a delivery's row is locked while it is sent, a delivery
recorded as delivered is never sent again by the queue, and a send whose outcome was lost (the
worker killed between the receiver's 2xx and our commit) is repeated with the same idempotency
key, which receivers use to drop the duplicate. Only a replay asked for by a person sends again.
"""

from __future__ import annotations

import datetime as dt
import http.client
import smtplib
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from server.alerts import payloads, signing
from server.alerts.models import Attempt, Channel, ChannelKind, Delivery, DeliveryStatus, Digest

USER_AGENT = "ReadyFloor-Alerts/1"
EXCERPT_CHARS = 500


@dataclass
class SendResult:
    ok: bool
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""


@dataclass
class Outcome:
    status: str  # delivered, pending, failed, busy (locked elsewhere or gone), not_due
    retry_in: int | None = None


def attempt_delivery(delivery_id: int) -> Outcome:
    """Try a pending, due delivery once; on failure, schedule the next try (or give up)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "digest")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return Outcome("busy")
        if delivery.status != DeliveryStatus.PENDING:
            return Outcome(delivery.status)
        now = timezone.now()
        # An early copy of the task (a re-queue) leaves the try to the scheduled one. The
        # half second forgives a countdown timer firing a hair early.
        if delivery.next_attempt_at > now + dt.timedelta(seconds=0.5):
            return Outcome("not_due")
        result = _send_and_log(delivery, replay=False)
        if result.ok:
            return Outcome(DeliveryStatus.DELIVERED)
        if delivery.attempts >= settings.READYFLOOR_ALERT_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.save(update_fields=["status"])
            return Outcome(DeliveryStatus.FAILED)
        retry_in = retry_delay(delivery.attempts)
        delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in)
        delivery.queued_at = timezone.now()
        delivery.save(update_fields=["next_attempt_at", "queued_at"])
        return Outcome(DeliveryStatus.PENDING, retry_in=retry_in)


def retry_delay(attempts: int) -> int:
    """Exponential backoff with full jitter: a random wait in [0, min(cap, base · 2^(n-1))] s.
    The jitter spreads the retries of many deliveries failing at once (a receiver down)."""
    return get_exponential_backoff_interval(
        factor=settings.READYFLOOR_ALERT_RETRY_BASE_S,
        retries=max(attempts - 1, 0),
        maximum=settings.READYFLOOR_ALERT_RETRY_MAX_S,
        full_jitter=True,
    )


def replay_delivery(delivery_id: int) -> Attempt:
    """Send a delivery again now, as a person asked from the log: the same body and the same
    idempotency key, whatever its status. A failed delivery that now succeeds becomes delivered."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("channel", "digest")
            .get(pk=delivery_id)
        )
        _send_and_log(delivery, replay=True)
        return delivery.attempt_log.order_by("-pk").first()


def send_test_message(channel: Channel) -> SendResult:
    """Send a sample digest to a channel now, in its format, signed like the real ones, so an
    admin can check the URL, the secret or the mailbox. Not logged as a delivery."""
    from server.alerts.collecting import render  # collecting queues deliveries through this module

    content = payloads.sample_content(settings.SITE_URL.rstrip("/"))
    digest = Digest(idempotency_key=uuid.uuid4())
    return send(Delivery(digest=digest, channel=channel, **render(channel.kind, content)))


def deliveries_log(*, status: str | None = None, channel_id: int | None = None, floor_id: int | None = None):
    """The delivery log, newest first, for the admin and (later) the operator API."""
    queryset = Delivery.objects.select_related("channel", "digest__floor__site", "digest__rule").order_by(
        "-created_at"
    )
    if status:
        queryset = queryset.filter(status=status)
    if channel_id:
        queryset = queryset.filter(channel_id=channel_id)
    if floor_id:
        queryset = queryset.filter(digest__floor_id=floor_id)
    return queryset


def _send_and_log(delivery: Delivery, *, replay: bool) -> SendResult:
    started = timezone.now()
    clock = time.monotonic()
    result = send(delivery)
    duration_ms = int((time.monotonic() - clock) * 1000)
    if not replay:
        delivery.attempts += 1
    Attempt.objects.create(
        delivery=delivery,
        number=delivery.attempt_log.count() + 1,
        replay=replay,
        started_at=started,
        duration_ms=duration_ms,
        status_code=result.status_code,
        ok=result.ok,
        error=result.error[:2000],
        response_excerpt=result.excerpt[:EXCERPT_CHARS],
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error[:2000]
    fields = ["attempts", "last_status_code", "last_error"]
    if result.ok and delivery.status != DeliveryStatus.DELIVERED:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = timezone.now()
        fields += ["status", "delivered_at"]
    delivery.save(update_fields=fields)
    return result


def send(delivery: Delivery) -> SendResult:
    if delivery.channel.kind == ChannelKind.EMAIL:
        return send_email(delivery)
    return post_webhook(delivery)


def webhook_headers(delivery: Delivery, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": delivery.content_type,
        "User-Agent": USER_AGENT,
        "Idempotency-Key": delivery.idempotency_key,
        "ReadyFloor-Event": "alert.digest",
        "ReadyFloor-Delivery": str(delivery.pk or "test"),
    }
    if delivery.channel.secret:
        headers[signing.HEADER] = signing.signature_header(delivery.channel.secret, body, timestamp)
    return headers


def post_webhook(delivery: Delivery) -> SendResult:
    body = delivery.body.encode()
    return post(delivery.channel.url, body, webhook_headers(delivery, body))


def post(url_text: str, body: bytes, headers: dict[str, str]) -> SendResult:
    """One POST, bounded by READYFLOOR_ALERT_HTTP_TIMEOUT_S per connect and per read; any failure
    becomes a SendResult worth retrying. Also used by the reports app for its signed webhooks.

    http.client rather than urllib: header names go out exactly as documented (urllib would
    send "Readyfloor-signature", which trips receivers that look headers up case-sensitively),
    and a redirect is not followed (a redirected POST would arrive as a GET without its body):
    any 3xx is a failure to fix in the channel's URL."""
    url = urlsplit(url_text)
    if url.scheme not in {"http", "https"} or not url.hostname:
        return SendResult(ok=False, error=f"not an http(s) URL: {url_text!r}")
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    connection = connection_class(url.hostname, url.port, timeout=settings.READYFLOOR_ALERT_HTTP_TIMEOUT_S)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_CHARS).decode(errors="replace")
        ok = 200 <= response.status < 300
        error = "" if ok else f"HTTP {response.status} {response.reason}"
        return SendResult(ok=ok, status_code=response.status, error=error, excerpt=excerpt)
    except (OSError, http.client.HTTPException) as error:
        # Refused, reset, timed out, unresolvable, a bad certificate: all worth another try.
        return SendResult(ok=False, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def send_email(delivery: Delivery) -> SendResult:
    recipients = delivery.channel.recipients
    if not recipients:
        return SendResult(ok=False, error="the channel has no email address")
    message = EmailMessage(
        subject=delivery.subject,
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        # The same Message-ID on a resend lets mail systems and clients drop the duplicate.
        headers={
            "Message-ID": f"<{delivery.idempotency_key}@readyfloor>",
            "X-ReadyFloor-Idempotency-Key": delivery.idempotency_key,
        },
        connection=get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT),
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        return SendResult(ok=False, error=f"{type(error).__name__}: {error}")
    return SendResult(ok=True, excerpt=f"accepted for {len(recipients)} recipient(s)")
