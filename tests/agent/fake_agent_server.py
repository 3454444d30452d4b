"""A small, real HTTP server speaking the agent protocol, for the agent's own tests.

It implements what the agent relies on — enrolment with a secret, node-key authentication,
gzip bodies, schema validation (400 naming the field), a size limit (413), report_id
idempotency (200 duplicate), heartbeats that need known facts (409 facts_required) and the
config endpoint — plus switches to misbehave: fail with a status (and headers such as
Retry-After), answer slowly, store a report and then fail the answer (a lost response),
revoke every node key, forget facts, refuse one report forever with a 5xx (poison).
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from readyfloor_agent import report

PREFIX = "/api/agent/v1"


@dataclass
class Trouble:
    """One scripted misbehaviour, consumed by the next request to ``endpoint``."""

    endpoint: str
    status: int | None = None
    delay_s: float = 0.0
    store_then_fail: bool = False
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Device:
    device_id: int
    host_identifier: str
    seat: dict[str, str] | None
    known_hashes: set[str] = field(default_factory=set)


class _Listener(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a simulated floor connecting all at once would
    # see refused connections that a real server (gunicorn: 2048) never gives.
    request_queue_size = 128


class FakeAgentServer:
    def __init__(
        self,
        *,
        enroll_secret: str = "correct-horse-battery",
        next_checkin_s: int = 60,
        max_body_bytes: int = 512 * 1024,
        policy: dict[str, Any] | None = None,
        config_version: str = "v1",
    ) -> None:
        self.enroll_secret = enroll_secret
        self.next_checkin_s = next_checkin_s
        self.max_body_bytes = max_body_bytes
        self.policy = policy or {"cti_origins": ["https://acme.my.salesforce.com"]}
        self.config_version = config_version
        self.lock = threading.Lock()
        self.devices: dict[str, Device] = {}  # node key -> device
        self.devices_by_host: dict[str, Device] = {}
        self.stored: dict[str, dict[str, Any]] = {}  # report_id -> body as stored
        self.stored_order: list[str] = []
        self.log: list[dict[str, Any]] = []
        self.troubles: list[Trouble] = []
        self.poisoned: dict[str, int] = {}  # report_id -> the status it always gets
        self.down = False
        self._server = _Listener(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAgentServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- switches --------------------------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        times: int = 1,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.lock:
            self.troubles.extend(
                Trouble(endpoint, status=status, body=body, headers=dict(headers or {})) for _ in range(times)
            )

    def poison(self, report_id: str, status: int = 500) -> None:
        """Answer ``status`` to every check-in of this report, as a server bug would."""
        with self.lock:
            self.poisoned[report_id] = status

    def slow(self, endpoint: str, delay_s: float, *, times: int = 1) -> None:
        with self.lock:
            self.troubles.extend(Trouble(endpoint, delay_s=delay_s) for _ in range(times))

    def lose_answer(self, endpoint: str = "checkin", *, times: int = 1) -> None:
        """Store the report, then answer 502 as a proxy whose upstream died would."""
        with self.lock:
            self.troubles.extend(Trouble(endpoint, status=502, store_then_fail=True) for _ in range(times))

    def revoke_all_keys(self) -> None:
        with self.lock:
            self.devices.clear()

    def forget_facts(self) -> None:
        with self.lock:
            for device in self.devices_by_host.values():
                device.known_hashes.clear()

    # -- what arrived ----------------------------------------------------------------------

    def requests_to(self, endpoint: str) -> list[dict[str, Any]]:
        with self.lock:
            return [entry for entry in self.log if entry["endpoint"] == endpoint]

    # -- protocol --------------------------------------------------------------------------

    def _take_trouble(self, endpoint: str) -> Trouble | None:
        with self.lock:
            for index, trouble in enumerate(self.troubles):
                if trouble.endpoint == endpoint:
                    return self.troubles.pop(index)
        return None

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        status, answer, _ = self.handle_with_headers(method, path, headers, raw)
        return status, answer

    def handle_with_headers(
        self, method: str, path: str, headers: Any, raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        endpoint = path.removeprefix(PREFIX + "/").split("?")[0]
        entry: dict[str, Any] = {"endpoint": endpoint, "method": method, "gzip": False}
        with self.lock:
            self.log.append(entry)
        trouble = self._take_trouble(endpoint)
        if trouble and trouble.delay_s:
            time.sleep(trouble.delay_s)
        if self.down:
            entry["status"] = 503
            return 503, {"error": "unavailable"}, {}
        if trouble and trouble.status and not trouble.store_then_fail:
            entry["status"] = trouble.status
            answer = trouble.body or {"error": "scripted", "detail": f"HTTP {trouble.status}"}
            return trouble.status, answer, trouble.headers
        status, answer = self._dispatch(method, endpoint, headers, raw, entry)
        entry["status"] = status
        if trouble and trouble.store_then_fail:
            entry["status"] = trouble.status
            return trouble.status or 502, {"error": "bad_gateway"}, {}
        return status, answer, {}

    def _dispatch(
        self, method: str, endpoint: str, headers: Any, raw: bytes, entry: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if endpoint == "config" and method == "GET":
            device = self._authenticate(headers)
            if device is None:
                return 401, {"error": "node_invalid", "detail": "unknown node key"}
            return 200, {
                "config_version": self.config_version,
                "next_checkin_s": self.next_checkin_s,
                "policy": self.policy,
            }
        if method != "POST" or endpoint not in ("enroll", "checkin"):
            return 404, {"error": "not_found"}
        if len(raw) > self.max_body_bytes:
            return 413, {"error": "too_large", "field": "(body)", "detail": "body too large"}
        if (headers.get("Content-Encoding") or "").lower() == "gzip":
            entry["gzip"] = True
            raw = gzip.decompress(raw)
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "invalid", "field": "(body)", "detail": "not JSON"}
        try:
            report.validate(endpoint, body)
        except report.SchemaError as error:
            return 400, {"error": "invalid", "field": error.field, "detail": error.message}
        if endpoint == "enroll":
            return self._enroll(body)
        return self._checkin(headers, body, entry)

    def _authenticate(self, headers: Any) -> Device | None:
        scheme, _, key = (headers.get("Authorization") or "").partition(" ")
        with self.lock:
            return self.devices.get(key.strip()) if scheme == "NodeKey" else None

    def _enroll(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body["enroll_secret"] != self.enroll_secret:
            return 403, {
                "error": "invalid_enroll_secret",
                "field": "enroll_secret",
                "detail": "unknown secret",
            }
        key = secrets.token_urlsafe(24)
        with self.lock:
            device = self.devices_by_host.get(body["host_identifier"])
            if device is None:
                device = Device(len(self.devices_by_host) + 1, body["host_identifier"], body.get("seat"))
                self.devices_by_host[device.host_identifier] = device
            self.devices[key] = device
        return 201, {"node_key": key, "device_id": device.device_id, "next_checkin_s": self.next_checkin_s}

    def _checkin(
        self, headers: Any, body: dict[str, Any], entry: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        device = self._authenticate(headers)
        entry["report_id"] = body["report_id"]
        entry["has_facts"] = "facts" in body
        entry["dead_lettered_reports"] = body.get("dead_lettered_reports")
        with self.lock:
            poisoned = self.poisoned.get(body["report_id"])
        if poisoned:
            return poisoned, {"error": "server_error", "detail": "a bug on the server"}
        if device is None:
            return 401, {"error": "node_invalid", "detail": "unknown node key"}
        answer = {
            "status": "accepted",
            "next_checkin_s": self.next_checkin_s,
            "config_version": self.config_version,
        }
        with self.lock:
            if body["report_id"] in self.stored:
                return 200, {**answer, "duplicate": True}
            if "facts" in body:
                device.known_hashes.add(report.facts_hash(body["facts"]))
            elif body["facts_hash"] not in device.known_hashes:
                return 409, {"error": "facts_required", "field": "facts_hash", "detail": "unknown facts"}
            self.stored[body["report_id"]] = body
            self.stored_order.append(body["report_id"])
        return 202, {**answer, "duplicate": False}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, answer, extra = fake.handle_with_headers(method, self.path, self.headers, raw)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_POST(self) -> None:
                self._respond("POST")

            def do_GET(self) -> None:
                self._respond("GET")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def running_server(**options: Any) -> Iterator[FakeAgentServer]:
    server = FakeAgentServer(**options).start()
    try:
        yield server
    finally:
        server.close()
