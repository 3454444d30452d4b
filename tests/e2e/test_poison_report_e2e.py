"""A poison report against the real server (issue 11, item 2): the agent, with its real client,
spool and state folder, reports through a proxy in front of gunicorn that answers 500 to every
try of one report, as a server bug would. That report ends in the dead letters with the
answer; every other report reaches PostgreSQL, in order; the server counts the dead letter."""

from __future__ import annotations

import gzip
import http.client
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from readyfloor_agent.config import AgentSettings, Seat
from readyfloor_agent.service import SERVER_ERROR_LIMIT, AgentService

from server.fleet.models import CheckIn, Device
from tests.agent.test_service import FakeClock, drain_paced
from tests.server.reports import healthy_facts

from .live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


class PoisoningProxy:
    """Forwards everything to the real server, except check-ins of `poisoned` report ids."""

    def __init__(self, upstream_port: int) -> None:
        self.poisoned: set[str] = set()
        self.refused: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.endswith("/checkin"):
                    plain = gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body
                    report_id = json.loads(plain).get("report_id")
                    if report_id in proxy.poisoned:
                        proxy.refused.append(report_id)
                        self._answer(500, b"<h1>Server Error (500)</h1>", "text/html")
                        return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
                headers = {key: value for key, value in self.headers.items() if key.lower() != "host"}
                upstream.request(
                    self.command, self.path, body=body or None, headers={**headers, "Host": "localhost"}
                )
                answer = upstream.getresponse()
                self._answer(
                    answer.status, answer.read(), answer.getheader("Content-Type") or "application/json"
                )
                upstream.close()

            def _answer(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[PoisoningProxy]:
    live = LiveServer(tmp_path, workers=1)
    live.start()
    poisoning = PoisoningProxy(live.port)
    try:
        yield poisoning
    finally:
        poisoning.close()
        live.kill()


def test_a_report_the_server_always_fails_is_dead_lettered_and_the_rest_reach_postgresql(
    proxy: PoisoningProxy, enroll_secret, seats, policy, tmp_path: Path
) -> None:
    clock = FakeClock()
    facts = healthy_facts()
    service = AgentService(
        AgentSettings(
            server=proxy.url,
            enroll_secret=enroll_secret,
            state_dir=tmp_path / "seat",
            seat=Seat("Floor 1", "A-01"),
        ),
        collect_facts=lambda: facts,
        clock=clock,
        wait=clock.wait,
        rng=random.Random(11),
    )
    created: list[str] = []
    put = service.spool.put

    def spy(body: dict[str, Any], **options: Any) -> Any:
        created.append(body["report_id"])
        if len(created) == 2:
            proxy.poisoned.add(body["report_id"])
        return put(body, **options)

    service.spool.put = spy  # type: ignore[method-assign]

    service.step()
    for _ in range(4):
        clock.now = service._next_collect_at
        service.step()
    drain_paced(service, clock, turns=200)

    poison = created[1]
    assert proxy.refused == [poison] * SERVER_ERROR_LIMIT
    stored = list(CheckIn.objects.order_by("collected_at").values_list("report_id", flat=True))
    assert [str(report_id) for report_id in stored] == [r for r in created if r != poison]
    [dead] = service.spool.dead_letters()
    kept = json.loads(dead.read_text())
    assert kept["body"]["report_id"] == poison and kept["answer"]["status"] == 500
    assert Device.objects.get().dead_lettered_reports == 1
    assert service.spool.dead_lettered == 0 and len(service.spool) == 0
