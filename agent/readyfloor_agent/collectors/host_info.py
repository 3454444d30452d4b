"""Which machine this is and who sits at it."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from ..host import Host, ReadError
from .reading import join_reasons

log = logging.getLogger(__name__)


def collect(host: Host, system: ModuleType) -> dict[str, Any]:
    details = system.host_facts(host)
    facts = {
        "status": "ok",
        "source": details["source"],
        "reason": details["reason"],
        "hostname": host.hostname()[:255],
        "os": host.platform,
        "os_version": details["os_version"],
        "serial": details["serial"],
    }
    # The person signed in, for the supervisor's board, read the same way on every OS (the
    # Host's console_user, which bundles and osquery also answer). Never worth the host facts:
    # when it cannot be read the key is left out (the board shows no name) and the reason says
    # why; None means nobody is signed in.
    try:
        user = host.console_user()
    except Exception as error:  # any failure here must cost only the name
        log.debug("console user not read", exc_info=True)
        why = error.reason if isinstance(error, ReadError) else f"{type(error).__name__}: {error}"
        facts["reason"] = join_reasons(facts["reason"], f"console user not read: {why}")
        return facts
    facts["console_user"] = user.name[:200] if user and user.name else None
    return facts
