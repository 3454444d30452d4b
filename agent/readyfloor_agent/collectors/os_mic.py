"""Whether the operating system lets Chrome use the microphone (Windows consent store,
macOS TCC; Linux has no such gate)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..host import Host

# Every report of a platform carries the same fields, read or not, so that a seat's facts
# keep one shape between a good day and a day something was unreadable.
FIELDS = {
    "windows": ("device_access", "user_access", "desktop_apps", "group_policy"),
    "macos": ("chrome_tcc", "tcc_db"),
    "linux": (),
}


def collect(host: Host, system: ModuleType) -> dict[str, Any]:
    facts = system.os_mic(host)
    for name in FIELDS.get(host.platform, ()):
        facts.setdefault(name, None)
    return facts
