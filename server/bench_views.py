"""The baseline the ingest benchmark measures against (bench/ingest).

Routed only when READYFLOOR_BENCH_HELLO=1, so production never serves it. It goes through
the same middleware as the agent API and does no work of its own: what it costs is the
floor under which no Django endpoint on this stack can go.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "floor"})


@csrf_exempt
def hello_db(request: HttpRequest) -> JsonResponse:
    """hello plus one trivial query: the floor for any request that touches PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"hello": "floor"})
