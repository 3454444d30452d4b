"""The envelope every group of facts travels in, and the time formats the sources use."""

from __future__ import annotations

import datetime as dt
from typing import Any

REASON_LIMIT = 500
_EPOCH_1601 = dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)


def ok(source: str, reason: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"status": "ok", "source": source[:100], "reason": short(reason), **fields}


def unknown(source: str, reason: str, **fields: Any) -> dict[str, Any]:
    return {
        "status": "unknown",
        "source": source[:100],
        "reason": short(reason) or "could not be read",
        **fields,
    }


def not_applicable(source: str, reason: str, **fields: Any) -> dict[str, Any]:
    return {"status": "n/a", "source": source[:100], "reason": short(reason), **fields}


def short(reason: str | None, limit: int = REASON_LIMIT) -> str | None:
    if reason is None:
        return None
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def join_reasons(*reasons: str | None) -> str | None:
    parts = [reason for reason in reasons if reason]
    return short("; ".join(parts)) if parts else None


def isoformat(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def from_1601_microseconds(value: Any) -> str | None:
    """Chrome's timestamps (microseconds since 1601-01-01 UTC, stored as a decimal string).
    0, garbage or an out-of-range value is None: a wrong date helps nobody."""
    try:
        microseconds = int(str(value))
    except (TypeError, ValueError):
        return None
    if microseconds <= 0:
        return None
    try:
        return isoformat(_EPOCH_1601 + dt.timedelta(microseconds=microseconds))
    except OverflowError:
        return None


def from_filetime(value: Any) -> str | None:
    """A Windows FILETIME (100-nanosecond intervals since 1601-01-01 UTC)."""
    if not isinstance(value, int) or value <= 0:
        return None
    return from_1601_microseconds(value // 10)
