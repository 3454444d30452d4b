"""The person signed in at the seat, in the host facts as ``host.console_user`` on every OS (the
supervisor's board names them), read through the Host interface; never worth the host facts:
when it cannot be read, the name is left out and the reason says why."""

from __future__ import annotations

from typing import Any

import pytest
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.collectors import collect
from readyfloor_agent.host import ReadError
from readyfloor_agent.report import validate

from .fixture_bundles import ROOT

HEALTHY = ["windows-healthy", "macos-healthy", "linux-healthy-pactl"]


def facts_with(name: str, console_user: Any = None) -> dict[str, Any]:
    with open_bundle(ROOT / name) as host:
        if console_user is not None:
            # The bundle maps HKCU through the user's SID: keep that, replace only the reader.
            sid = host.user_sid()
            host.user_sid = lambda: sid  # type: ignore[method-assign]
            host.console_user = console_user  # type: ignore[method-assign]
        return collect(host)


@pytest.mark.parametrize("name", HEALTHY)
def test_each_os_reports_the_person_signed_in(name: str) -> None:
    facts = facts_with(name)

    assert facts["host"]["console_user"] == "mrivera"
    validate("facts", facts)


def nobody() -> None:
    return None


def unreadable() -> None:
    raise ReadError("WTSQuerySessionInformation timed out")


def broken() -> None:
    raise RuntimeError("a bug in a session reader")


@pytest.mark.parametrize("name", HEALTHY)
def test_nobody_signed_in_is_null(name: str) -> None:
    facts = facts_with(name, nobody)

    assert facts["host"]["status"] == "ok" and facts["host"]["console_user"] is None


@pytest.mark.parametrize("name", HEALTHY)
@pytest.mark.parametrize(("reader", "said"), [(unreadable, "timed out"), (broken, "RuntimeError")])
def test_an_unreadable_console_user_costs_only_the_name(name: str, reader: Any, said: str) -> None:
    healthy = facts_with(name)["host"]

    host = facts_with(name, reader)["host"]

    assert "console_user" not in host
    assert host["status"] == "ok"
    assert (host["hostname"], host["os_version"]) == (healthy["hostname"], healthy["os_version"])
    assert "console user not read" in host["reason"] and said in host["reason"]
    validate("facts", {**facts_with(name), "host": host})


def test_the_schema_still_accepts_a_report_without_a_console_user() -> None:
    facts = facts_with("windows-healthy")
    del facts["host"]["console_user"]

    validate("facts", facts)
