"""Which machine this is and who sits at it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..host import Host


def collect(host: Host, system: ModuleType) -> dict[str, Any]:
    details = system.host_facts(host)
    user = details["console_user"]
    return {
        "status": "ok",
        "source": details["source"],
        "reason": details["reason"],
        "hostname": host.hostname()[:255],
        "os": host.platform,
        "os_version": details["os_version"],
        "serial": details["serial"],
        "console_user": user[:200] if user else None,
    }
