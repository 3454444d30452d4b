"""The HTTP client turns every server answer into a result or an error that says what to do."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from readyfloor_agent import report, simulate
from readyfloor_agent.client import (
    AgentClient,
    EnrollmentRefused,
    FactsRequired,
    NodeInvalid,
    Rejected,
    Unavailable,
)

from .fake_agent_server import FakeAgentServer, running_server

SECRET = "correct-horse-battery"
HOST = {"hostname": "seat-a-01", "os": "windows", "os_version": "10.0.22631", "agent_version": "0.1.0"}


def seat_facts() -> dict:
    return simulate.scenario_facts(
        "healthy", os="windows", seat_label="A-01", cti_origin="https://acme.my.salesforce.com"
    )


@pytest.fixture
def server() -> Iterator[FakeAgentServer]:
    with running_server(enroll_secret=SECRET, next_checkin_s=30) as fake:
        yield fake


@pytest.fixture
def client(server: FakeAgentServer) -> AgentClient:
    return AgentClient(server.url, timeout=2)


def enrolled_key(client: AgentClient) -> str:
    return client.enroll(enroll_secret=SECRET, host_identifier="hw-1", host_details=HOST).node_key


def test_enroll_returns_the_node_key_device_and_interval(
    client: AgentClient, server: FakeAgentServer
) -> None:
    enrollment = client.enroll(
        enroll_secret=SECRET,
        host_identifier="hw-1",
        host_details=HOST,
        seat={"floor": "Floor 1", "label": "A-01"},
    )

    assert enrollment.node_key
    assert enrollment.device_id == 1
    assert enrollment.next_checkin_s == 30
    assert server.devices_by_host["hw-1"].seat == {"floor": "Floor 1", "label": "A-01"}


def test_a_wrong_enroll_secret_is_refused_for_good(client: AgentClient) -> None:
    with pytest.raises(EnrollmentRefused) as refused:
        client.enroll(enroll_secret="wrong-secret-value", host_identifier="hw-1", host_details=HOST)

    assert refused.value.status == 403
    assert refused.value.field == "enroll_secret"
    assert isinstance(refused.value, Rejected)


def test_a_full_report_is_gzipped_and_accepted(client: AgentClient, server: FakeAgentServer) -> None:
    body = report.build_checkin(seat_facts())

    response = client.checkin(enrolled_key(client), body)

    assert (response.http_status, response.duplicate, response.next_checkin_s) == (202, False, 30)
    assert response.config_version == "v1"
    assert server.requests_to("checkin")[-1]["gzip"] is True
    assert body["report_id"] in server.stored


def test_a_small_heartbeat_is_sent_uncompressed(client: AgentClient, server: FakeAgentServer) -> None:
    key = enrolled_key(client)
    facts = seat_facts()
    client.checkin(key, report.build_checkin(facts))

    client.checkin(key, report.build_checkin(facts, last_acknowledged_hash=report.facts_hash(facts)))

    assert server.requests_to("checkin")[-1]["gzip"] is False
    assert server.requests_to("checkin")[-1]["has_facts"] is False


def test_a_replayed_report_is_a_duplicate_success(client: AgentClient, server: FakeAgentServer) -> None:
    key = enrolled_key(client)
    body = report.build_checkin(seat_facts())
    client.checkin(key, body)

    again = client.checkin(key, body)

    assert (again.http_status, again.duplicate) == (200, True)
    assert server.stored_order == [body["report_id"]]


def test_an_unknown_node_key_means_enrol_again(client: AgentClient) -> None:
    with pytest.raises(NodeInvalid) as invalid:
        client.checkin("not-a-key", report.build_checkin(seat_facts()))

    assert invalid.value.status == 401
    assert invalid.value.error == "node_invalid"


def test_a_heartbeat_for_unknown_facts_asks_for_them(client: AgentClient) -> None:
    facts = seat_facts()

    with pytest.raises(FactsRequired) as required:
        client.checkin(
            enrolled_key(client), report.build_checkin(facts, last_acknowledged_hash=report.facts_hash(facts))
        )

    assert required.value.field == "facts_hash"


def test_an_invalid_report_is_rejected_naming_the_field(client: AgentClient) -> None:
    body = report.build_checkin(seat_facts())
    body["facts"]["audio"]["inputs"][0]["state"] = "sparkling"

    with pytest.raises(Rejected) as rejected:
        client.checkin(enrolled_key(client), body)

    assert rejected.value.status == 400
    assert rejected.value.field == "facts.audio.inputs[0].state"


def test_a_report_over_the_size_limit_is_rejected(server: FakeAgentServer, client: AgentClient) -> None:
    server.max_body_bytes = 200
    key = enrolled_key(client)

    with pytest.raises(Rejected) as rejected:
        client.checkin(key, report.build_checkin(seat_facts()))

    assert rejected.value.status == 413


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 404, 408])
def test_server_side_and_transient_statuses_mean_try_later(
    server: FakeAgentServer, client: AgentClient, status: int
) -> None:
    key = enrolled_key(client)
    server.fail("checkin", status)

    with pytest.raises(Unavailable) as unavailable:
        client.checkin(key, report.build_checkin(seat_facts()))

    assert unavailable.value.status == status


def test_a_slow_server_times_out_as_unavailable(server: FakeAgentServer) -> None:
    impatient = AgentClient(server.url, timeout=0.3)
    key = enrolled_key(impatient)
    server.slow("checkin", 1.5)

    with pytest.raises(Unavailable, match="no answer within"):
        impatient.checkin(key, report.build_checkin(seat_facts()))


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AgentClient(f"http://127.0.0.1:{port}", timeout=1)

    with pytest.raises(Unavailable):
        client.enroll(enroll_secret=SECRET, host_identifier="hw-1", host_details=HOST)


def test_config_returns_the_policy_and_version(client: AgentClient, server: FakeAgentServer) -> None:
    config = client.config(enrolled_key(client))

    assert config.config_version == "v1"
    assert config.policy == server.policy
    assert config.next_checkin_s == 30


class _OddServer:
    """Answers every request with one canned raw HTTP response."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        canned = (status, body, headers)

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(canned[0])
                for name, value in canned[2].items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(canned[1])))
                self.end_headers()
                self.wfile.write(canned[1])

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (200, b"<html>captive portal</html>", {"Content-Type": "text/html"}, Unavailable),
        (302, b"", {"Location": "https://elsewhere.example/"}, Unavailable),
        (502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}, Unavailable),
        (401, b"", {}, NodeInvalid),
        (409, b'{"error": "conflict"}', {"Content-Type": "application/json"}, Unavailable),
    ],
    ids=["html-200", "redirect", "html-502", "bare-401", "other-409"],
)
def test_odd_answers_map_to_the_safe_error(status: int, body: bytes, headers: dict, expected: type) -> None:
    odd = _OddServer(status, body, headers)
    try:
        with pytest.raises(expected):
            AgentClient(odd.url, timeout=2).checkin("key", report.build_checkin(seat_facts()))
    finally:
        odd.close()


def test_a_base_url_without_a_scheme_is_refused_early() -> None:
    with pytest.raises(ValueError, match="server URL"):
        AgentClient("readyfloor.example.com")
