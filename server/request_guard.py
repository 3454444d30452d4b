"""What every request passes before any view: input no view should have to think about, and
API answers that are JSON whoever produced them.

- A query parameter (name or value) holding a NUL character or an unpaired surrogate cannot be
  stored or compared by PostgreSQL (psycopg raises, a 500; a CSV export was cut off mid-stream
  with a 200). It is refused up front: 400 naming the parameter.
- Under ``/api/``, a 4xx produced outside the API's own code (the URL resolver's 404, a
  view's 405, Django's 400 for a body too large to read) is answered in the API's one error
  shape, ``{"error", "detail"[, "field"]}``, instead of an HTML page; headers such as
  ``Allow`` are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

API_PREFIX = "/api/"
ERROR_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "timeout",
    411: "length_required",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "throttled",
}
DETAILS = {
    404: "no such endpoint; see /api/schema.json",
    405: "method not allowed here",
    413: "the body is too large",
    415: "send Content-Type: application/json",
}


def unstorable_parameter(request: HttpRequest) -> str | None:
    """The name of the first query parameter whose name or value PostgreSQL cannot hold."""
    for name, values in request.GET.lists():
        if not _storable(name):
            return name.replace("\x00", "\\u0000")
        for value in values:
            if not _storable(value):
                return name
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_json(response: HttpResponse) -> bool:
    media_type = response.get("Content-Type", "").split(";")[0].strip()
    return media_type in {"application/json", "application/problem+json"}


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith(API_PREFIX)
        parameter = unstorable_parameter(request)
        if parameter is not None:
            detail = "must not contain a NUL character or an unpaired surrogate"
            if any("\x00" in value for value in request.GET.getlist(parameter)):
                detail = "must not contain a NUL character"
            if api:
                return JsonResponse({"error": "invalid", "detail": detail, "field": parameter}, status=400)
            return HttpResponseBadRequest(f"{parameter}: {detail}", content_type="text/plain")
        response = self.get_response(request)
        if api and 400 <= response.status_code < 500 and not is_json(response):
            return as_json(response)
        return response


def as_json(response: HttpResponse) -> JsonResponse:
    status = response.status_code
    detail = DETAILS.get(status) or response.reason_phrase or "error"
    answer = JsonResponse({"error": ERROR_CODES.get(status, "error"), "detail": detail}, status=status)
    for header in ("Allow", "Retry-After", "WWW-Authenticate", "Vary"):
        if header in response:
            answer[header] = response[header]
    # Cookies set on the way (a session, the replica router's sticky cookie) must survive.
    answer.cookies = response.cookies
    if status == 405 and "Allow" in response:
        answer.content = json.dumps(
            {"error": "method_not_allowed", "detail": f"use {response['Allow']}"}
        ).encode()
    return answer
