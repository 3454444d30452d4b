"""A check-in sent with Transfer-Encoding: chunked (no Content-Length), as some proxies and
HTTP clients do, is read and stored by the real server under gunicorn, not refused as empty
(issue 11: an empty read was a 400 that made the agent drop the report)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.fleet.models import CheckIn
from tests.server.reports import checkin_body, enroll_body, healthy_facts

from .live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path, workers=1)
    live.start()
    try:
        yield live
    finally:
        live.kill()


def send_chunked(server: LiveServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        pieces = iter([body[:100], body[100:1000], body[1000:]])
        connection.request(
            "POST",
            path,
            body=pieces,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **headers},
            encode_chunked=True,
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def test_a_chunked_check_in_is_read_and_stored(server: LiveServer, enroll_secret, seats) -> None:
    status, enrolled = send_chunked(
        server, "/api/agent/v1/enroll", json.dumps(enroll_body(enroll_secret, "chunky")).encode(), {}
    )
    assert status == 201, enrolled
    body = checkin_body(healthy_facts())

    status, answer = send_chunked(
        server,
        "/api/agent/v1/checkin",
        json.dumps(body).encode(),
        {"Authorization": f"NodeKey {enrolled['node_key']}"},
    )

    assert status == 202, answer
    assert CheckIn.objects.filter(report_id=body["report_id"]).exists()


def test_a_chunked_body_over_the_limit_is_a_413(server: LiveServer, enroll_secret, seats) -> None:
    huge = json.dumps({"enroll_secret": "x" * 300_000}).encode()

    status, answer = send_chunked(server, "/api/agent/v1/enroll", huge, {})

    assert status == 413 and answer["error"] == "too_large"
