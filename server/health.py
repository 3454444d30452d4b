"""Health endpoints for people, load balancers and orchestrators.

- ``GET /healthz/live``: the process answers (liveness). Touches nothing else: restarting a web
  process because PostgreSQL is down would not bring PostgreSQL back.
- ``GET /healthz/ready``: this process can do its job (readiness): 200 when PostgreSQL answers,
  503 when it does not. Redis is reported but not required: check-ins are accepted while it is
  down (the sweep queues their evaluation later), so a web pod must stay in service then.
- ``GET /healthz``: 200 only when PostgreSQL and Redis both answer, 503 naming what does not;
  for monitoring and people, not for probes.

Every check is bounded by a short timeout so that a probe never hangs on a dead dependency.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

DATABASE_TIMEOUT_MS = 2000
BROKER_TIMEOUT_S = 2


def database_status() -> str:
    try:
        # A database that accepts the connection but hangs must not hang the probe; SET LOCAL
        # ends with the transaction, so the kept connection is left as it was.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {DATABASE_TIMEOUT_MS}")
            cursor.execute("SELECT 1")
    except Exception as error:
        return f"error: {error.__class__.__name__}"
    return "ok"


def broker_status() -> str:
    try:
        from server.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
    except Exception as error:
        return f"error: {error.__class__.__name__}"
    return "ok"


@never_cache
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    status = {"database": database_status(), "broker": broker_status()}
    is_ready = status["database"] == "ok"
    overall = "ok" if is_ready and status["broker"] == "ok" else ("degraded" if is_ready else "unavailable")
    return JsonResponse({"status": overall, **status}, status=200 if is_ready else 503)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    status = {"database": database_status(), "broker": broker_status()}
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **status}, status=200 if healthy else 503)
