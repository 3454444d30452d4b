"""Endpoints the workstation agent talks to: enroll, checkin, config.

Kept apart from the UI and the operator API: CSRF-exempt, authenticated by the node key,
gzip accepted, every body validated against agent/readyfloor_agent/report.schema.json.
Every error is JSON naming the field, and no input may produce a 5xx.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
import zlib
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from readyfloor_agent.report import SchemaError, facts_hash, validate

from server.compliance.models import Policy
from server.fleet import ingest, rawsql
from server.fleet.models import Device, EnrollSecret, Seat, sha256_hex

log = logging.getLogger(__name__)


class BadRequest(Exception):
    def __init__(self, status: int, error: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.field = status, error, detail, field

    def response(self) -> JsonResponse:
        body = {"error": self.error, "detail": self.detail}
        if self.field is not None:
            body["field"] = self.field
        return JsonResponse(body, status=self.status)


def node_invalid() -> JsonResponse:
    # The agent reacts to this error by enrolling again.
    return JsonResponse(
        {"error": "node_invalid", "detail": "unknown or revoked node key; enroll again"}, status=401
    )


@method_decorator(csrf_exempt, name="dispatch")
class AgentView(View):
    schema_kind: str = ""
    authenticated = True
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            body = read_json(request)
            quick = self.answer_quickly(request, body)
            if quick is not None:
                return quick
            device = self.authenticate(node_key_of(request)) if self.authenticated else None
            # Invalid input is refused as invalid whoever sends it (400 before 401); knowing
            # the device first only lets a view skip work it has already done for that device.
            self.validate(body, device)
            if self.authenticated and device is None:
                return node_invalid()
            return self.handle(request, body, device)
        except BadRequest as error:
            return error.response()
        except DatabaseError:
            # The agent keeps the report in its spool and retries on a 5xx; say so plainly
            # instead of Django's HTML error page.
            log.exception("database unavailable while handling %s", request.path)
            return JsonResponse(
                {"error": "unavailable", "detail": "the server cannot store reports right now; retry later"},
                status=503,
            )

    def answer_quickly(self, request: HttpRequest, body: Any) -> HttpResponse | None:
        """A view's shortcut for its most common request; None to take the general path."""
        return None

    def authenticate(self, node_key: str) -> Device | None:
        return Device.authenticate(node_key)

    def validate(self, body: Any, device: Device | None) -> None:
        if self.schema_kind:
            validate_document(self.schema_kind, body)

    def handle(self, request: HttpRequest, body: Any, device: Device | None) -> HttpResponse:
        raise NotImplementedError


def node_key_of(request: HttpRequest) -> str:
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return key.strip() if scheme == "NodeKey" else ""


def read_json(request: HttpRequest) -> Any:
    limit = settings.READYFLOOR_MAX_REPORT_BYTES
    # request.META rather than request.headers: every check-in passes here, and building the
    # headers mapping costs more than the three lookups it would serve.
    meta = request.META
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BadRequest(413, "too_large", f"body is {declared} bytes; the limit is {limit}")
    content_type = meta.get("CONTENT_TYPE", "").split(";")[0].strip()
    if content_type and content_type != "application/json":
        raise BadRequest(415, "unsupported_media_type", "send Content-Type: application/json")
    raw = request.body
    if len(raw) > limit:
        raise BadRequest(413, "too_large", f"body is over the limit of {limit} bytes")
    encoding = meta.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    if encoding == "gzip":
        raw = gunzip_bounded(raw, limit)
    elif encoding not in {"identity", ""}:
        raise BadRequest(415, "unsupported_encoding", f"Content-Encoding {encoding!r}; use gzip or none")
    try:
        text = raw.decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BadRequest(400, "malformed_json", f"body is not valid JSON: {error}") from error
    # JSON text cannot carry a raw NUL (control characters must be escaped) and UTF-8 cannot
    # carry a surrogate, so both can only come from \u escapes: without one, skip the walk.
    if _NUL_OR_SURROGATE_ESCAPE.search(text):
        unstorable = find_unstorable(document)
        if unstorable is not None:
            raise BadRequest(
                400, "invalid", "text contains a NUL character or an unpaired surrogate", unstorable
            )
    return document


_NUL_OR_SURROGATE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def gunzip_bounded(raw: bytes, limit: int) -> bytes:
    """Decompress at most `limit` bytes, so a small gzip bomb cannot exhaust memory."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(raw, limit + 1)
        if len(data) > limit:
            raise BadRequest(413, "too_large", f"decompressed body is over the limit of {limit} bytes")
        if not decompressor.eof:
            raise BadRequest(400, "bad_gzip", "gzip body is truncated")
    except (zlib.error, gzip.BadGzipFile, EOFError) as error:
        raise BadRequest(400, "bad_gzip", f"body is not valid gzip: {error}") from error
    return data


def find_unstorable(value: Any, path: str = "") -> str | None:
    """The path of the first string PostgreSQL cannot store (NUL, lone surrogate), or None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or not _encodable(item):
                return where or "(body)"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}".lstrip(".")
                if "\x00" in key or not _encodable(key):
                    return child_path
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_document(kind: str, body: Any) -> None:
    try:
        validate(kind, body)
    except SchemaError as error:
        raise BadRequest(400, "invalid", error.message, error.field) from error
    except RecursionError as error:
        raise BadRequest(400, "invalid", "document is nested too deeply", "(body)") from error


class EnrollView(AgentView):
    schema_kind = "enroll"
    authenticated = False

    def handle(self, request: HttpRequest, body: Any, device: Device | None) -> HttpResponse:
        secret = EnrollSecret.find_active(body["enroll_secret"])
        if secret is None:
            raise BadRequest(
                403, "invalid_enroll_secret", "unknown or revoked enroll secret", "enroll_secret"
            )
        enrolment = ingest.enroll(secret, body)
        policy = Policy.for_seat(enrolment.device.seat, enrolment.device.site)
        response = {
            "node_key": enrolment.node_key,
            "device_id": enrolment.device.pk,
            "seat": str(enrolment.device.seat) if enrolment.device.seat else None,
            "next_checkin_s": policy.checkin_interval_s,
        }
        if enrolment.seat_warning:
            response["warning"] = enrolment.seat_warning
        return JsonResponse(response, status=201)


class CheckinView(AgentView):
    schema_kind = "checkin"

    def answer_quickly(self, request: HttpRequest, body: Any) -> HttpResponse | None:
        """A heartbeat on a judged seat: one statement (ingest.record_heartbeat). Anything
        else, or a heartbeat that statement cannot settle, takes the general path."""
        if not (isinstance(body, dict) and "facts_hash" in body and "facts" not in body):
            return None
        validate_document(self.schema_kind, body)
        node_key = node_key_of(request)
        if not node_key:
            return node_invalid()
        check_collected_at(body)
        heartbeat = ingest.record_heartbeat(sha256_hex(node_key), body)
        if heartbeat is None:
            return node_invalid()
        if not heartbeat.quiet:
            return None
        return accepted(heartbeat.checkin_id is None, heartbeat.policy_id, heartbeat.policy_digest)

    def authenticate(self, node_key: str) -> Device | None:
        return authenticate_for_checkin(node_key)

    def validate(self, body: Any, device: Device | None) -> None:
        self.held = held_facts(body, device) if device is not None else None
        if self.held is None:
            validate_document(self.schema_kind, body)
            return
        # Facts the server already holds were validated when they were first stored: an
        # agent that restarted and resends its facts, or a seat going back to a state it
        # had before (the headset plugged in again). The rest of the report is checked as
        # the heartbeat it amounts to.
        envelope = {key: value for key, value in body.items() if key != "facts"}
        validate_document(self.schema_kind, {**envelope, "facts_hash": self.held.digest})

    def handle(self, request: HttpRequest, body: Any, device: Device | None) -> HttpResponse:
        assert device is not None
        check_collected_at(body)
        try:
            outcome = ingest.record_checkin(device, body, held=self.held)
        except ingest.FactsRequired as error:
            raise BadRequest(
                409,
                "facts_required",
                "the server does not hold facts with this hash; send full facts",
                "facts_hash",
            ) from error
        return accepted(outcome.duplicate, device.governing_policy_id, device.governing_policy_digest)


def check_collected_at(body: dict[str, Any]) -> None:
    """The schema checks the form of `collected_at`; this checks it is a real moment."""
    try:
        ingest.parse_collected_at(body["collected_at"])
    except ValueError as error:
        raise BadRequest(400, "invalid", f"not a valid date-time: {error}", "collected_at") from error


def accepted(duplicate: bool, policy_id: int | None, policy_digest: str | None) -> HttpResponse:
    interval, config_version = policy_answer(policy_id, policy_digest)
    return HttpResponse(
        _accepted_body(duplicate, interval, config_version),
        content_type="application/json",
        status=200 if duplicate else 202,
    )


@functools.lru_cache(maxsize=256)
def _accepted_body(duplicate: bool, interval: int, config_version: str) -> bytes:
    # A floor gets the same few answers all day: encode each once per process.
    answer = {
        "status": "accepted",
        "duplicate": duplicate,
        "next_checkin_s": interval,
        "config_version": config_version,
    }
    return json.dumps(answer).encode()


def held_facts(body: Any, device: Device) -> ingest.HeldFacts | None:
    """The snapshot of a full report's facts, when the server already holds them."""
    if not (isinstance(body, dict) and isinstance(body.get("facts"), dict)):
        return None
    if "facts_hash" in body:
        return None  # both forms at once is invalid: let the full validation say so
    try:
        digest = facts_hash(body["facts"])
    except (ValueError, TypeError, RecursionError):
        return None
    if digest == device.facts_hash and device.current_facts_id is not None:
        return ingest.HeldFacts(digest, device.current_facts_id)
    snapshot_id = ingest.snapshot_id_of(digest)
    return ingest.HeldFacts(digest, snapshot_id) if snapshot_id is not None else None


@functools.lru_cache(maxsize=1)
def _checkin_caller_sql() -> str:
    # A plain cursor: a QuerySet or RawQuerySet would cost more CPU than the query itself.
    return rawsql.device_sql(rawsql.columns_of(Device, "d") + ", s.floor_id, s.readiness")


def authenticate_for_checkin(node_key: str) -> Device | None:
    """Device.authenticate plus, in the same round trip, what a check-in needs: `device.seat`
    (id, floor and readiness only; other fields load on access) and the governing policy's
    id and digest as `device.governing_policy_id` / `device.governing_policy_digest`."""
    if not node_key:
        return None
    row = rawsql.fetch_one_prepared(_checkin_caller_sql(), {"key": sha256_hex(node_key)})
    if row is None:
        return None
    width = len(Device._meta.concrete_fields)
    device = rawsql.instance_from_row(Device, row[:width])
    floor_id, readiness, device.governing_policy_id, device.governing_policy_digest = row[width:]
    if device.seat_id is not None:
        device.seat = Seat.from_db(
            connection.alias, ["id", "floor_id", "readiness"], [device.seat_id, floor_id, readiness]
        )
    return device


_policy_answers: dict[tuple[int | None, str | None], tuple[int, str]] = {}


def policy_answer(policy_id: int | None, digest: str | None) -> tuple[int, str]:
    """(next_checkin_s, config_version) of a policy, kept per process by the digest of its
    row: any edit of the policy, however it is made, changes the digest, so an answer is
    never stale, and the policy is loaded and hashed once per version instead of per request."""
    key = (policy_id, digest)
    answer = _policy_answers.get(key)
    if answer is None:
        policy = Policy.objects.filter(pk=policy_id).first() if policy_id is not None else None
        policy = policy or Policy(name="built-in default")
        answer = (policy.checkin_interval_s, policy.config_version())
        if len(_policy_answers) >= 1024:
            _policy_answers.clear()  # old versions are never asked for again
        _policy_answers[key] = answer
    return answer


@method_decorator(csrf_exempt, name="dispatch")
class ConfigView(View):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> JsonResponse:
        device = Device.authenticate(node_key_of(request))
        if device is None:
            return node_invalid()
        policy = Policy.for_seat(device.seat, device.site)
        return JsonResponse(
            {
                "config_version": policy.config_version(),
                "next_checkin_s": policy.checkin_interval_s,
                "policy": policy.to_catalog().to_dict(),
                "seat": {"floor": device.seat.floor.name, "label": device.seat.label}
                if device.seat
                else None,
            }
        )

    post = get
