"""Rate limits of the agent API: per node key for check-ins, and per address for check-ins
refused for their node key; per address and per enroll secret for enrolment (django-ratelimit,
counted in Redis so every web process shares the counts).

Accepted check-ins are not counted per address: a whole site may reach the server through one
NAT address (a 10,000-seat site reporting every minute would meet any per-address limit meant
for a flood), and each of its agents is already held by its own node key's limit. What a flood
from one address looks like without valid keys -- guessed, revoked or missing ones -- is what
the per-address count holds.

A limited request gets ``429 rate_limited`` naming what was limited, with ``Retry-After``
(seconds until the window ends), which the agent honours to the second. The limits protect
the server from a flood (2,000 check-ins from one key in 2 s, 1,000 wrong secrets in 1.5 s); a
well-behaved floor never meets them (see the rates in settings.py).

Without Redis the limits are skipped, never enforced by refusing: PostgreSQL is what a
check-in needs, and the product keeps accepting check-ins while Redis is down. After a Redis
error the limits rest for a few seconds so that each request does not pay a connect timeout.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_ratelimit.core import get_usage

from server.fleet.models import sha256_hex

log = logging.getLogger(__name__)

REDIS_RETRY_AFTER_ERROR_S = 5.0
_redis_failed_at = 0.0


def client_address(request: HttpRequest) -> str:
    """The address counted: REMOTE_ADDR (a trusted proxy's address when there is one, so a
    floor behind a proxy shares one count; the per-key limits still tell seats apart)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def limited(request: HttpRequest, group: str, rate: str, value: str, field: str) -> JsonResponse | None:
    """Count one request against `rate` for `value`; the 429 answer when over it, else None."""
    global _redis_failed_at
    if not settings.RATELIMIT_ENABLE or not rate:
        return None
    if time.monotonic() - _redis_failed_at < REDIS_RETRY_AFTER_ERROR_S:
        return None
    try:
        usage: dict[str, Any] | None = get_usage(
            request, group=group, key=lambda _group, _request: value, rate=rate, increment=True
        )
    except Exception:  # Redis down or unreachable: serve unlimited rather than refuse
        _redis_failed_at = time.monotonic()
        log.warning("rate limits skipped: their Redis is unavailable", exc_info=True)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    retry_after = max(1, int(usage["time_left"]))
    answer = JsonResponse(
        {
            "error": "rate_limited",
            "detail": f"more than {rate} for this {field.strip('()')}; retry after {retry_after} s",
            "field": field,
        },
        status=429,
    )
    answer["Retry-After"] = str(retry_after)
    return answer


def checkin_limited(request: HttpRequest, node_key: str) -> JsonResponse | None:
    """Counted before the body is read; a check-in without a node key is counted when it is
    refused (refused_checkin_limited)."""
    if not node_key:
        return None
    return limited(
        request,
        "checkin-node-key",
        settings.READYFLOOR_RATE_CHECKIN_PER_NODE_KEY,
        sha256_hex(node_key),
        "(node key)",
    )


def refused_checkin_limited(request: HttpRequest) -> JsonResponse | None:
    """Count a check-in refused for its node key against its address: the 429 once over."""
    return limited(
        request,
        "checkin-address",
        settings.READYFLOOR_RATE_CHECKIN_PER_ADDRESS,
        client_address(request),
        "(address)",
    )


def enroll_limited_by_address(request: HttpRequest) -> JsonResponse | None:
    return limited(
        request,
        "enroll-address",
        settings.READYFLOOR_RATE_ENROLL_PER_ADDRESS,
        client_address(request),
        "(address)",
    )


def enroll_limited_by_secret(request: HttpRequest, secret: Any) -> JsonResponse | None:
    # Counted on what was sent, known or not: a leaked secret cannot enrol a floor's worth of
    # hosts in a burst, and a guesser is held by the address limit.
    value = sha256_hex(secret) if isinstance(secret, str) else "(none)"
    return limited(
        request, "enroll-secret", settings.READYFLOOR_RATE_ENROLL_PER_SECRET, value, "enroll_secret"
    )
