"""Without a usable Local State, Chrome's profile in use is the one whose Preferences were
written last: every profile with Preferences is read, that one decides and is named, and the
facts say Local State could not be read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.checks import evaluate
from readyfloor_agent.collectors import collect
from readyfloor_agent.host import HostOverlay, ReadError

from .factsbuilder import POLICY
from .fixture_bundles import (
    CTI,
    HEALTHY_MIC,
    T_GRANTED,
    T_RECENT,
    WIN_USER_DATA,
    ChromeProfile,
    WindowsSeat,
    exception,
    preferences,
    site,
    winjoin,
)

BLOCKED = preferences(name="Personal", mic={site(CTI): exception(2, T_RECENT)})
HEALTHY = preferences(mic=HEALTHY_MIC)


def _chrome(tmp_path: Path, profiles: list[ChromeProfile], edit=None) -> dict:
    bundle = WindowsSeat("seat", with_local_state=False, profiles=profiles).build()
    if edit is not None:
        edit(bundle)
    with open_bundle(bundle.write(tmp_path)) as host:
        facts = collect(host)
    return facts


def test_the_profile_written_last_decides_and_is_named(tmp_path: Path) -> None:
    facts = _chrome(
        tmp_path,
        [
            ChromeProfile("Default", "Acme", HEALTHY, written=T_RECENT),
            ChromeProfile("Profile 1", "Personal", BLOCKED, written=T_GRANTED),
        ],
    )
    chrome = facts["chrome"]
    assert chrome["last_used_profile"] == "Default"
    assert "Local State is missing: judged profile 'Default'" in chrome["reason"]
    assert [p["last_used_by"] for p in chrome["profiles"] if p["last_used"]] == ["file_time"]
    results = {r.check_id: r for r in evaluate(facts, POLICY)}
    assert results["chrome.mic.site"].state.value == "pass"
    assert "most recently used, as Local State could not be read" in results["chrome.mic.site"].reason


def test_a_profile_without_preferences_is_never_the_one_judged(tmp_path: Path) -> None:
    facts = _chrome(
        tmp_path,
        [
            ChromeProfile("Default", "Acme", None),
            ChromeProfile("Profile 2", "Work", HEALTHY, written=T_GRANTED),
        ],
        lambda bundle: bundle.dirs.append({"path": WIN_USER_DATA, "entries": ["Default", "Profile 2"]}),
    )
    assert facts["chrome"]["last_used_profile"] == "Profile 2"
    results = {r.check_id: r for r in evaluate(facts, POLICY)}
    assert "not been started" not in results["chrome.mic.site"].reason


def test_an_unreadable_local_state_is_said_and_file_times_decide(tmp_path: Path) -> None:
    def corrupt(bundle) -> None:
        bundle.file(winjoin(WIN_USER_DATA, "Local State"), '{"profile": {"last_used": "Defa')

    facts = _chrome(
        tmp_path,
        [
            ChromeProfile("Default", "Acme", HEALTHY, written=T_GRANTED),
            ChromeProfile("Profile 1", "Personal", BLOCKED, written=T_GRANTED + dt.timedelta(days=1)),
        ],
        corrupt,
    )
    assert facts["chrome"]["last_used_profile"] == "Profile 1"
    assert facts["chrome"]["reason"].startswith("Local State is unreadable")
    # The display name comes from the profile's own Preferences.
    assert [p["name"] for p in facts["chrome"]["profiles"]] == ["Acme", "Personal"]


def test_without_file_times_default_is_judged_as_chrome_would_open_it(tmp_path: Path) -> None:
    class NoTimes(HostOverlay):
        # osquery and older hosts cannot tell when a file was written.
        def modified(self, path: str) -> dt.datetime:
            raise ReadError("no file times here")

    bundle = WindowsSeat(
        "seat",
        with_local_state=False,
        profiles=[
            ChromeProfile("Default", "Acme", HEALTHY, written=T_GRANTED),
            ChromeProfile("Profile 1", "Personal", BLOCKED, written=T_RECENT),
        ],
    ).build()
    with open_bundle(bundle.write(tmp_path)) as host:
        chrome = collect(NoTimes(host))["chrome"]

    assert chrome["last_used_profile"] == "Default"
    assert "no file times were readable: judged profile 'Default'" in chrome["reason"]
    assert [p["last_used_by"] for p in chrome["profiles"] if p["last_used"]] == ["default"]
