"""Every report the collectors produce is a valid ``$defs/facts`` document — on every fixture
seat, on this machine, and when a collector breaks."""

from __future__ import annotations

import pytest
from readyfloor_agent.collectors import _linux, collect
from readyfloor_agent.host import live_host
from readyfloor_agent.report import validate

from .bundle_facts import BUNDLES, facts_of


@pytest.mark.parametrize("bundle", BUNDLES)
def test_every_fixture_seat_yields_valid_facts(bundle: str) -> None:
    validate("facts", facts_of(bundle))


def test_there_is_a_fixture_seat_for_every_os() -> None:
    platforms = {facts_of(bundle)["host"]["os"] for bundle in BUNDLES}

    assert platforms == {"windows", "macos", "linux"}


def test_this_machine_yields_valid_facts() -> None:
    facts = collect(live_host())

    validate("facts", facts)
    assert facts["host"]["os"] == "linux"
    assert facts["os_mic"]["status"] == "n/a"


def test_this_machine_without_chrome_reports_chrome_as_not_installed() -> None:
    facts = collect(live_host())

    if any(live_host().exists(path) for path in _linux.CHROME_BINARIES):
        pytest.skip("Google Chrome is installed here")
    assert facts["chrome"]["installed"] is False


def test_a_broken_collector_costs_only_its_own_area(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(host: object) -> dict:
        raise RuntimeError("sound server exploded")

    monkeypatch.setattr(_linux, "audio", broken)

    facts = collect(live_host())

    validate("facts", facts)
    assert facts["audio"]["status"] == "unknown"
    assert "sound server exploded" in facts["audio"]["reason"]
    assert facts["host"]["status"] == "ok"


class _Overlay:
    """Stands in for the osquery bridge: it adapts the host and labels its sources."""

    def adapt(self, host):  # type: ignore[no-untyped-def]
        from readyfloor_agent.host import HostOverlay

        class Labelled(HostOverlay):
            def source(self, kind: str) -> str:
                return f"osquery:{kind}"

        return Labelled(host)


def test_an_osquery_bridge_can_answer_through_its_own_host() -> None:
    facts = collect(live_host(), osquery=_Overlay())

    validate("facts", facts)
    assert facts["host"]["source"] == "osquery:file"
