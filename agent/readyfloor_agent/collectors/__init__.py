"""Collect every readiness fact of a seat: ``collect(host) -> facts`` (``$defs/facts``).

Each area (host, os_mic, chrome, audio) has its own module; what differs per operating
system lives in ``_windows``, ``_macos`` and ``_linux``, which define the same functions
(``host_facts``, ``os_mic``, ``chrome_install``, ``chrome_user_data_dir``, ``chrome_policy``,
``audio``). The module is chosen once per host from ``host.platform``, so a bundle captured on
a Mac is judged by the macOS code on any machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..checks.browsers import BROWSERS, OTHER_BROWSERS
from ..host import Host
from . import _linux, _macos, _windows, audio, chrome, host_info, os_mic
from .reading import unknown

log = logging.getLogger(__name__)

SYSTEMS: dict[str, ModuleType] = {"windows": _windows, "macos": _macos, "linux": _linux}


def collect(host: Host, *, osquery: Any = None) -> dict[str, Any]:
    """The facts of the seat behind ``host``. One area failing never stops the others.

    ``osquery``: optional object with ``adapt(host) -> Host`` (``osquery_bridge.OsqueryBridge``),
    returning a host that answers the registry/plist/system_profiler reads through osquery and
    the rest through ``host``; its ``annotate`` then names each area's source ``osquery:<table>``
    (or says why a read fell back to the native reader).
    """
    if osquery is not None:
        host = osquery.adapt(host)
    system = SYSTEMS[host.platform]
    # One area at a time, in this order: Host.annotate attributes the reads in between to it.
    facts = {
        "host": host.annotate("host", _guarded("host", lambda: host_info.collect(host, system), host)),
        "os_mic": host.annotate("os_mic", _guarded("os_mic", lambda: os_mic.collect(host, system), host)),
        "chrome": host.annotate("chrome", _guarded("chrome", lambda: chrome.collect(host, system), host)),
    }
    # Edge and Chromium: the same readers with their own paths (a softphone may run in either).
    facts["browsers"] = {
        browser_id: host.annotate(
            "chrome",
            _guarded(
                "chrome", lambda browser=BROWSERS[browser_id]: chrome.collect(host, system, browser), host
            ),
        )
        for browser_id in OTHER_BROWSERS
    }
    for browser_id, group in facts["browsers"].items():
        group.setdefault("browser", browser_id)
    facts["audio"] = host.annotate("audio", _guarded("audio", lambda: audio.collect(host, system), host))
    return facts


def _guarded(area: str, read: Callable[[], dict[str, Any]], host: Host) -> dict[str, Any]:
    try:
        return read()
    except Exception as error:  # a bug in one collector must not cost the seat its report
        log.exception("the %s collector failed", area)
        reason = f"the {area} collector failed: {type(error).__name__}: {error}"
        return _FALLBACKS[area](host, reason)


_FALLBACKS: dict[str, Callable[[Host, str], dict[str, Any]]] = {
    "host": lambda host, reason: unknown(
        "agent",
        reason,
        hostname=_safe_hostname(host),
        os=host.platform,
        os_version=None,
        serial=None,
        console_user=None,
    ),
    "os_mic": lambda host, reason: unknown("agent", reason),
    "chrome": lambda host, reason: unknown("agent", reason, installed=None, profiles=[]),
    "audio": lambda host, reason: unknown("agent", reason, inputs=[], holders=None, enumeration="failed"),
}


def _safe_hostname(host: Host) -> str:
    try:
        return host.hostname()[:255]
    except Exception:
        return "unknown"


__all__ = ["collect"]
