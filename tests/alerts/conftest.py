"""Real receivers for alerts: an HTTP server on 127.0.0.1 in a thread (scripted answers, dedupes
on the idempotency key like a careful receiver), an SMTP server (aiosmtpd), and a floor whose
seats change readiness the way evaluation records it (seat row + one SeatEvent)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from server.compliance.models import SeatEvent
from server.fleet.models import Floor, Readiness, Seat

MIC_BLOCKED = {
    "check_id": "chrome.mic.site",
    "state": "fail",
    "severity": "critical",
    "reason": "Microphone set to Block for https://acme.my.salesforce.com in Chrome profile Default",
}
NO_HEADSET = {
    "check_id": "audio.headset.present",
    "state": "fail",
    "severity": "critical",
    "reason": "No headset among the capture devices; only the built-in microphone is present",
}


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What a webhook receiver saw. `script` holds the status codes of the next answers
    (then 200); `delay_s` makes it slow; `accepted` are the first sightings of each key."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    arrived: int = 0  # requests that reached the receiver, answered or not yet
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: Message, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.arrived += 1
        time.sleep(self.delay_s)
        with self.lock:
            status = self.script.pop(0) if self.script else 200
            received = Received(path, headers, body, status)
            self.requests.append(received)
            if status != 200:
                return status, b'{"error": "scripted failure"}'
            key = headers.get("Idempotency-Key")
            if any(earlier.headers.get("Idempotency-Key") == key for earlier in self.accepted):
                return 200, b'{"duplicate": true}'
            self.accepted.append(received)
            return 200, b'{"ok": true}'


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            # Kept as http.server parsed them: looked up case-insensitively, as HTTP says.
            status, answer = state.answer(self.path, self.headers, body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the sender gave up (its timeout) before the answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/readyfloor"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[tuple[list[str], Message]] = field(default_factory=list)


@pytest.fixture
def mailbox(settings) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), with Django's email settings pointing at it."""
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:
            box.messages.append(
                (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=email_policy.default))
            )
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname=box.host, port=box.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = box.host, box.port
    settings.EMAIL_USE_TLS = False
    try:
        yield box
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alert_settings(settings):
    """Events are read as soon as they exist (no settle wait) in these tests' explicit clock."""
    settings.READYFLOOR_ALERT_SETTLE_S = 0
    settings.READYFLOOR_ALERT_RETRY_BASE_S = 1
    settings.READYFLOOR_ALERT_HTTP_TIMEOUT_S = 2
    settings.SITE_URL = "https://readyfloor.example.com"
    return settings


@pytest.fixture
def big_floor(site) -> Floor:
    """A floor of 40 READY seats, A-01 … A-40."""
    floor = Floor.objects.create(site=site, name="Floor 2")
    Seat.objects.bulk_create(
        [
            Seat(
                floor=floor,
                label=f"A-{n:02d}",
                row=(n - 1) // 10,
                column=(n - 1) % 10,
                readiness=Readiness.READY,
            )
            for n in range(1, 41)
        ]
    )
    return floor


def seat_turns(
    seat: Seat, readiness: str, at: dt.datetime, failing: list[dict[str, Any]] | None = None
) -> SeatEvent:
    """What evaluation leaves behind on a real transition: the seat's new verdict and one event."""
    failing = list(failing or [])
    event = SeatEvent.objects.create(
        seat=seat,
        at=at,
        from_readiness=seat.readiness,
        to_readiness=readiness,
        reason=failing[0]["reason"] if failing else "every check passes",
        failing=failing,
    )
    seat.readiness, seat.failing, seat.readiness_since, seat.evaluated_at = readiness, failing, at, at
    seat.save(update_fields=["readiness", "failing", "readiness_since", "evaluated_at"])
    return event


def minutes_ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)
