"""HTTP client for the server's agent API (``/api/agent/v1/``), standard library only.

Every call either returns a typed result or raises one of four errors that tell the caller
what to do next:

- :class:`NodeInvalid` (401): the node key is unknown or revoked; enrol again, then resend.
- :class:`FactsRequired` (409): a heartbeat named facts the server does not hold; resend the
  same report with its full facts.
- :class:`Rejected` (4xx other than 401, 404, 405, 408, 409 and 429): the request is wrong and
  will never be accepted as it is; do not retry it.
- :class:`Unavailable` (502/503/504, 429, 404/405/408, redirects, network errors, timeouts,
  garbled answers): the server cannot take it now; keep it and try again later, not before
  ``retry_after`` seconds when the server said so (``Retry-After``).
- :class:`ServerError` (other 5xx, a kind of :class:`Unavailable`): the server failed on this
  request. Usually transient, but a report that fails like this again and again is poison:
  the caller counts the failures per report and sets it aside after a few.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from . import __version__

API_PREFIX = "/api/agent/v1"
# Bodies above this size are gzip'ed: a full report compresses ~10x, a heartbeat is not worth it.
GZIP_THRESHOLD = 1024
_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# A Retry-After beyond this is treated as this: a misconfigured proxy must not silence a
# seat for days.
MAX_RETRY_AFTER_S = 3600.0
# Answers that say "this server or the path to it is busy or down", never "this report is bad".
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})
# The address is wrong (a proxy's page, an older server): the report may be perfectly good.
WRONG_ADDRESS_STATUSES = frozenset({404, 405})


class AgentAPIError(Exception):
    """Base of the client's errors. ``status`` is the HTTP status (None for network errors);
    ``error``/``field``/``detail`` come from the server's JSON error body when there is one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        field: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.field = field
        self.detail = detail
        self.retry_after = retry_after

    def answer(self) -> dict[str, Any]:
        """What the server said, as kept next to a dead-lettered report."""
        return {
            "status": self.status,
            "error": self.error,
            "field": self.field,
            "detail": self.detail,
            "message": str(self),
        }


class NodeInvalid(AgentAPIError):
    """The server does not know this node key (revoked, or the server was reset): re-enrol."""


class FactsRequired(AgentAPIError):
    """The server has no facts for the heartbeat's ``facts_hash``: resend with full facts."""


class Rejected(AgentAPIError):
    """The server refused the request for good (invalid field, too large, bad enrol secret)."""


class EnrollmentRefused(Rejected):
    """The enrol secret is wrong or revoked (403): retrying with the same secret cannot help."""


class Unavailable(AgentAPIError):
    """The server could not be reached or could not take the request now: retry later
    (not before ``retry_after`` seconds when the server sent ``Retry-After``)."""


class EnrollmentPending(Unavailable):
    """This host identifier is enrolled and the request could not prove it is the same
    machine (409 approval_required): an admin must approve the claim. Retried later with the
    same claim token, the enrolment then succeeds; the agent keeps its reports meanwhile."""


class ServerError(Unavailable):
    """The server failed on this request (500, 501, 505…): retried, but a report that keeps
    getting it is set aside by the caller so it cannot hold back the reports behind it."""


@dataclass(frozen=True)
class Enrollment:
    node_key: str
    device_id: int | None
    next_checkin_s: int | None
    seat: str | None = None  # the seat the server put this workstation at
    warning: str | None = None  # e.g. the configured seat does not exist on the server


@dataclass(frozen=True)
class CheckinResponse:
    status: str
    duplicate: bool
    next_checkin_s: int | None
    config_version: str | None
    http_status: int


@dataclass(frozen=True)
class AgentConfig:
    config_version: str | None
    next_checkin_s: int | None
    policy: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_version": self.config_version,
            "next_checkin_s": self.next_checkin_s,
            "policy": self.policy,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> AgentConfig:
        policy = document.get("policy")
        return cls(
            config_version=_optional_str(document.get("config_version")),
            next_checkin_s=_optional_int(document.get("next_checkin_s")),
            policy=policy if isinstance(policy, dict) else {},
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without its body; the agent must be
    # configured with the final URL instead, so a redirect is reported, not followed.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class AgentClient:
    """Talks to one ReadyFloor server. Thread-safe: it keeps no per-request state."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10,
        ca_file: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"server URL must look like https://readyfloor.example.com, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.user_agent = user_agent or f"readyfloor-agent/{__version__}"
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if parsed.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    # -- the three endpoints ---------------------------------------------------------------

    def enroll(
        self,
        *,
        enroll_secret: str,
        host_identifier: str,
        host_details: dict[str, Any],
        seat: dict[str, str] | None = None,
        previous_node_key: str | None = None,
        claim_token: str | None = None,
    ) -> Enrollment:
        body: dict[str, Any] = {
            "enroll_secret": enroll_secret,
            "host_identifier": host_identifier,
            "host_details": host_details,
        }
        if seat:
            body["seat"] = seat
        if previous_node_key:
            body["previous_node_key"] = previous_node_key
        if claim_token:
            body["claim_token"] = claim_token
        status, document = self._request("POST", "/enroll", body=body)
        if status not in (200, 201):
            raise self._error_for(status, document, endpoint="enroll")
        node_key = document.get("node_key")
        if not isinstance(node_key, str) or not node_key:
            raise Unavailable("the server's enrol answer has no node_key", status=status)
        return Enrollment(
            node_key=node_key,
            device_id=_optional_int(document.get("device_id")),
            next_checkin_s=_optional_int(document.get("next_checkin_s")),
            seat=document.get("seat") if isinstance(document.get("seat"), str) else None,
            warning=document.get("warning") if isinstance(document.get("warning"), str) else None,
        )

    def checkin(self, node_key: str, body: dict[str, Any]) -> CheckinResponse:
        status, document = self._request("POST", "/checkin", body=body, node_key=node_key)
        if status not in (200, 201, 202):
            raise self._error_for(status, document, endpoint="checkin")
        return CheckinResponse(
            status=str(document.get("status") or "accepted"),
            duplicate=bool(document.get("duplicate", False)),
            next_checkin_s=_optional_int(document.get("next_checkin_s")),
            config_version=_optional_str(document.get("config_version")),
            http_status=status,
        )

    def config(self, node_key: str) -> AgentConfig:
        status, document = self._request("GET", "/config", node_key=node_key)
        if status != 200:
            raise self._error_for(status, document, endpoint="config")
        return AgentConfig.from_dict(document)

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        node_key: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON document); a Retry-After header is in the document as
        ``_retry_after`` (seconds) so that the error built from it can carry it."""
        url = f"{self.base_url}{API_PREFIX}{path}"
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "User-Agent": self.user_agent,
        }
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
            if len(data) > GZIP_THRESHOLD:
                data = gzip.compress(data, compresslevel=6)
                headers["Content-Encoding"] = "gzip"
        if node_key:
            headers["Authorization"] = f"NodeKey {node_key}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            return self._exchange(request, url)
        except (socket.timeout, TimeoutError) as error:
            raise Unavailable(f"{method} {url}: no answer within {self.timeout:g}s") from error
        except urllib.error.URLError as error:
            raise Unavailable(f"{method} {url}: {_reason_text(error.reason)}") from error
        except (OSError, ValueError, http.client.HTTPException) as error:
            # A connection reset mid-answer, TLS failures, a malformed status line.
            raise Unavailable(f"{method} {url}: {error or error.__class__.__name__}") from error

    def _exchange(self, request: urllib.request.Request, url: str) -> tuple[int, dict[str, Any]]:
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, self._read_json(response, response.status)
        except urllib.error.HTTPError as answer:
            try:
                if 300 <= answer.code < 400:
                    target = answer.headers.get("Location", "?")
                    raise Unavailable(
                        f"{url} redirects ({answer.code}) to {target}; configure the server URL "
                        "the redirect points to",
                        status=answer.code,
                    ) from None
                document = self._read_json(answer, answer.code, strict=False)
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
                if retry_after is not None:
                    document["_retry_after"] = retry_after
                return answer.code, document
            finally:
                answer.close()

    def _read_json(self, response: Any, status: int, *, strict: bool = True) -> dict[str, Any]:
        raw = response.read(_MAX_RESPONSE_BYTES + 1)
        if len(raw) > _MAX_RESPONSE_BYTES:
            raise Unavailable("the server's answer is implausibly large", status=status)
        if (response.headers.get("Content-Encoding") or "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as error:
                raise Unavailable(f"the server's gzip answer is corrupt: {error}", status=status) from error
        if not raw.strip():
            return {}
        try:
            document = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            if not strict:
                # An error page from a proxy: the status code alone decides what to do.
                return {"detail": raw[:200].decode("utf-8", "replace")}
            raise Unavailable(f"the server's answer is not JSON (HTTP {status})", status=status) from error
        return document if isinstance(document, dict) else {}

    @staticmethod
    def _error_for(status: int, document: dict[str, Any], *, endpoint: str) -> AgentAPIError:
        error = _optional_str(document.get("error"))
        field_name = _optional_str(document.get("field"))
        detail = _optional_str(document.get("detail"))
        described = " ".join(
            part for part in (error, f"({field_name})" if field_name else None, detail) if part
        )
        message = f"{endpoint}: HTTP {status}" + (f" {described}" if described else "")
        retry_after = document.get("_retry_after")
        details: dict[str, Any] = {"status": status, "error": error, "field": field_name, "detail": detail}
        details["retry_after"] = retry_after if isinstance(retry_after, float) else None
        if retry_after is not None:
            message += f"; retry after {retry_after:g}s"
        if status == 401:
            return NodeInvalid(message, **details)
        if status == 409 and (error == "facts_required" or field_name == "facts_hash"):
            return FactsRequired(message, **details)
        if status == 403 and endpoint == "enroll":
            return EnrollmentRefused(message, **details)
        if status == 409 and endpoint == "enroll" and error == "approval_required":
            return EnrollmentPending(message, **details)
        if status in TRANSIENT_STATUSES or status in WRONG_ADDRESS_STATUSES or status == 409:
            # Busy, down, or the wrong address: none of them says the report itself is bad.
            return Unavailable(message, **details)
        if 400 <= status < 500:
            return Rejected(message, **details)
        if status >= 500:
            return ServerError(message, **details)
        return Unavailable(message, **details)


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date, RFC 9110
    §10.2.3), capped at :data:`MAX_RETRY_AFTER_S`; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit() is also true of "²"
        seconds = float(int(text[:12]))
    else:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        seconds = (moment - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return float(min(MAX_RETRY_AFTER_S, max(0.0, seconds)))


def _reason_text(reason: Any) -> str:
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(reason) or reason.__class__.__name__


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
