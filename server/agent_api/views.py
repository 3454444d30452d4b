"""Endpoints the workstation agent talks to: enroll, checkin, config.

Kept apart from the UI and the operator API: CSRF-exempt, authenticated by the node key,
gzip accepted, every body validated against agent/readyfloor_agent/report.schema.json.
Every error is JSON naming the field, and no input may produce a 5xx.

HTTP only: these views read the body (size, gzip, JSON), hand it to fleet.ingest, which
validates, authenticates and stores it, and map its outcome or refusal to a response.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
import re
import zlib
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from server.agent_api import throttle
from server.alerts import security
from server.compliance import governing
from server.fleet import enrolment, ingest
from server.fleet.models import Device
from server.shifts.snapshots import lead_time

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
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            # Counted before the body is read: a flood costs a Redis INCR, not a parse.
            too_many = self.limited(request)
            if too_many is not None:
                return too_many
            return self.handle(request, read_json(request))
        except BadRequest as error:
            return error.response()
        except ingest.Invalid as error:
            return BadRequest(400, "invalid", error.detail, error.field).response()
        except ingest.NodeInvalid:
            return self.refused(request) or node_invalid()
        except ingest.FactsRequired:
            return BadRequest(
                409,
                "facts_required",
                "the server does not hold facts with this hash; send full facts",
                "facts_hash",
            ).response()
        except DatabaseError:
            # The agent keeps the report in its spool and retries on a 5xx; say so plainly
            # instead of Django's HTML error page.
            log.exception("database unavailable while handling %s", request.path)
            return JsonResponse(
                {"error": "unavailable", "detail": "the server cannot store reports right now; retry later"},
                status=503,
            )

    def limited(self, request: HttpRequest) -> HttpResponse | None:
        return None

    def refused(self, request: HttpRequest) -> HttpResponse | None:
        """The answer to a request refused for its node key when a limit says more than 401."""
        return None

    def handle(self, request: HttpRequest, body: Any) -> HttpResponse:
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
    raw = read_body(request, limit)
    if len(raw) > limit:
        raise BadRequest(413, "too_large", f"body is over the limit of {limit} bytes")
    encoding = meta.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
    if encoding == "gzip":
        raw = gunzip_bounded(raw, limit)
    elif encoding not in {"identity", ""}:
        raise BadRequest(415, "unsupported_encoding", f"Content-Encoding {encoding!r}; use gzip or none")
    try:
        text = raw.decode("utf-8")
        document = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        # ValueError covers JSONDecodeError and what json.loads raises beyond it: an integer
        # literal of more than 4,300 digits, and NaN/Infinity or a float that overflows to
        # infinity, which PostgreSQL's jsonb cannot store.
        raise BadRequest(400, "malformed_json", f"body is not valid JSON: {error}", "(body)") from error
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


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range for a number")
    return value


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, at most `limit` + 1 bytes. A chunked body has no Content-Length, and
    Django reads such a body as empty: read it from the server's input stream instead
    (gunicorn decodes the chunks), so the agent's report is not refused as empty."""
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not meta.get("CONTENT_LENGTH"):
        stream = meta.get("wsgi.input")
        if stream is None:
            return b""
        try:
            return stream.read(limit + 1)
        except (OSError, ValueError) as error:
            raise BadRequest(400, "bad_body", f"the chunked body could not be read: {error}") from error
    try:
        return request.body
    except OSError as error:
        # The client went away mid-body, or lied about its length.
        raise BadRequest(400, "bad_body", f"the body could not be read: {error}") from error


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


class EnrollView(AgentView):
    def limited(self, request: HttpRequest) -> HttpResponse | None:
        return throttle.enroll_limited_by_address(request)

    def handle(self, request: HttpRequest, body: Any) -> HttpResponse:
        ingest.validate_document("enroll", body)
        too_many = throttle.enroll_limited_by_secret(request, body["enroll_secret"])
        if too_many is not None:
            return too_many
        try:
            secret = enrolment.usable_secret(body["enroll_secret"])
            enrolled = enrolment.enroll(
                secret,
                body,
                takeover_after=governing.seat_takeover_after_s,
                address=request.META.get("REMOTE_ADDR") or None,
            )
        except enrolment.SecretRefused as refused:
            raise BadRequest(403, "invalid_enroll_secret", refused.detail, "enroll_secret") from refused
        except enrolment.ApprovalRequired as waiting:
            security.announce_claim(waiting.claim)
            return JsonResponse(
                {
                    "error": "approval_required",
                    "detail": "this host identifier is enrolled and this request cannot prove it is the "
                    "same machine (send its previous node key); an admin must approve the claim in "
                    "the admin, the enrolled agent keeps working meanwhile",
                    "field": "host_identifier",
                    "claim_id": waiting.claim.pk,
                },
                status=409,
            )
        if enrolled.claim is not None:
            security.announce_claim(enrolled.claim)
        policy = governing.policy_for(enrolled.device.seat, enrolled.device.site)
        response = {
            "node_key": enrolled.node_key,
            "device_id": enrolled.device.pk,
            "seat": str(enrolled.device.seat) if enrolled.device.seat else None,
            "next_checkin_s": policy.checkin_interval_s,
        }
        if enrolled.seat_warning:
            response["warning"] = enrolled.seat_warning
        return JsonResponse(response, status=201)


class CheckinView(AgentView):
    def limited(self, request: HttpRequest) -> HttpResponse | None:
        return throttle.checkin_limited(request, node_key_of(request))

    def refused(self, request: HttpRequest) -> HttpResponse | None:
        return throttle.refused_checkin_limited(request)

    def handle(self, request: HttpRequest, body: Any) -> HttpResponse:
        outcome = ingest.checkin(node_key_of(request), body)
        return accepted(
            outcome.duplicate, outcome.policy_id, outcome.policy_digest, outcome.floor_id, outcome.recheck
        )


# A recheck answer asks for the next report at the agent's shortest interval: it collects anew then.
RECHECK_INTERVAL_S = 5


def accepted(
    duplicate: bool,
    policy_id: int | None,
    policy_digest: str | None,
    floor_id: int | None = None,
    recheck: bool = False,
) -> HttpResponse:
    interval, config_version = governing.checkin_answer(policy_id, policy_digest)
    # In the minutes before a shift its floor reports more often, so the board is current.
    interval = RECHECK_INTERVAL_S if recheck else lead_time.interval_for(floor_id, interval)
    return HttpResponse(
        _accepted_body(duplicate, interval, config_version, recheck),
        content_type="application/json",
        status=200 if duplicate else 202,
    )


@functools.lru_cache(maxsize=256)
def _accepted_body(duplicate: bool, interval: int, config_version: str, recheck: bool = False) -> bytes:
    # A floor gets the same few answers all day: encode each once per process.
    answer: dict[str, Any] = {
        "status": "accepted",
        "duplicate": duplicate,
        "next_checkin_s": interval,
        "config_version": config_version,
    }
    if recheck:
        answer["recheck"] = True
    return json.dumps(answer).encode()


@method_decorator(csrf_exempt, name="dispatch")
class ConfigView(View):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> JsonResponse:
        device = Device.authenticate(node_key_of(request))
        if device is None:
            return node_invalid()
        policy = governing.policy_for(device.seat, device.site)
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
