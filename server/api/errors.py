"""The operator API's errors, in the project's one shape: `{"error", "detail"[, "field"]}`.

ninja's own shapes (422 with a list of pydantic errors, `{"detail": ...}`) are mapped here so a
script sees the same JSON from every ReadyFloor endpoint, agent or operator.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

ASK_FOR_CREDENTIALS = "send 'Authorization: Bearer <token>' or log in"
CODES = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "throttled"}


class ErrorOut(Schema):
    error: str
    detail: str
    field: str | None = None


class ApiError(Exception):
    """Raised by an endpoint to answer with an error naming the field, when there is one."""

    def __init__(self, status: int, detail: str, field: str | None = None, error: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field
        self.error = error or CODES.get(status, "error")

    def body(self) -> dict[str, Any]:
        body = {"error": self.error, "detail": self.detail}
        if self.field is not None:
            body["field"] = self.field
        return body


def field_of(error: dict[str, Any]) -> str:
    # loc is ("query", "page_size") or ("body", "body", "items", 0, "name"): drop where it
    # came from, and for a JSON body the endpoint's parameter name, which the client never sent.
    loc = tuple(error.get("loc", ()))
    skip = 2 if len(loc) > 2 and loc[0] == "body" else 1
    parts = [str(part) for part in loc[skip:]]
    return ".".join(parts) or str(error.get("loc", ("request",))[0])


def install(api: NinjaAPI) -> None:
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return api.create_response(request, exc.body(), status=exc.status)

    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        first = exc.errors[0] if exc.errors else {}
        # pydantic prefixes a validator's own message with "Value error, "; the field says enough.
        detail = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        error = ApiError(400, detail, field_of(first))
        return api_error(request, error)

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        detail = exc.message
        if isinstance(exc, AuthenticationError) and detail == "Unauthorized":
            detail = ASK_FOR_CREDENTIALS  # no credentials at all: say which ones work
        return api_error(request, ApiError(exc.status_code, detail))

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api_error(request, ApiError(404, str(exc) or "not found"))

    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(ValidationError, invalid)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(Http404, not_found)
