"""The OpenAPI document at /api/schema.json (the endpoints themselves are in server/api/operator.py)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from server.api.openapi import openapi_document


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document(request.build_absolute_uri("/")))
