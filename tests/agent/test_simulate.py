"""Virtual seats: schema-valid facts that break exactly what their scenario says, on a real API."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from readyfloor_agent import report, simulate
from readyfloor_agent.checks import Policy, State, evaluate, readiness_of

from .fake_agent_server import FakeAgentServer, running_server

SECRET = "correct-horse-battery"
CTI = "https://acme.my.salesforce.com"
POLICY = Policy(cti_origins=(CTI,), min_chrome_major=120)

SCENARIO_OS = [
    (name, os_name) for name in simulate.SCENARIOS for os_name in simulate.scenario_platforms(name)
]


@pytest.fixture
def server() -> Iterator[FakeAgentServer]:
    with running_server(enroll_secret=SECRET, next_checkin_s=60) as fake:
        yield fake


@pytest.mark.parametrize(("name", "os_name"), SCENARIO_OS, ids=[f"{n}-{o}" for n, o in SCENARIO_OS])
def test_every_scenario_gives_schema_valid_facts_on_each_of_its_platforms(name: str, os_name: str) -> None:
    facts = simulate.scenario_facts(name, os=os_name, seat_label="C-04", cti_origin=CTI)

    report.validate("facts", facts)
    assert facts["host"]["os"] == os_name


def test_the_library_covers_every_os_with_a_healthy_seat() -> None:
    assert set(simulate.scenario_platforms("healthy")) == {"windows", "macos", "linux"}


# What each scenario must break, judged by the real check catalog. Any other check must pass or
# not apply, so a seat on the demo floor shows exactly its one story.
BROKEN = {
    "healthy": {},
    "offline": {},
    "desktop_apps_off": {"os.mic.chrome": {State.FAIL}},
    "device_mic_off": {"os.mic.device_access": {State.FAIL}, "os.mic.chrome": {State.FAIL}},
    # Whether LetAppsAccessMicrophone=2 also blocks desktop apps is unverified: warn or fail.
    "gpo_force_deny": {"os.mic.chrome": {State.WARN, State.FAIL}},
    "tcc_denied": {"os.mic.chrome": {State.FAIL}},
    "tcc_not_asked": {"os.mic.chrome": {State.WARN}},
    "no_full_disk_access": {"os.mic.chrome": {State.UNKNOWN}},
    "chrome_mic_blocked": {"chrome.mic.global": {State.FAIL}, "chrome.mic.site": {State.FAIL}},
    "policy_mic_blocked": {"chrome.mic.global": {State.FAIL}, "chrome.mic.site": {State.FAIL}},
    "site_blocked": {"chrome.mic.site": {State.FAIL}},
    "one_time_allow": {"chrome.mic.site": {State.WARN}},
    "wrong_origin": {"chrome.mic.site": {State.WARN}, "chrome.notifications.site": {State.WARN}},
    "notifications_blocked": {"chrome.notifications.site": {State.FAIL}},
    "no_headset": {"audio.headset.present": {State.FAIL}},
    "headset_unplugged": {"audio.headset.present": {State.FAIL}},
    "headset_not_default": {"audio.headset.default": {State.WARN}, "chrome.mic.device": {State.WARN}},
    "chrome_prefers_builtin": {"chrome.mic.device": {State.WARN}},
    "exclusive_teams": {"os.mic.exclusive": {State.WARN, State.FAIL}, "os.mic.in_use": {State.WARN}},
    "chrome_not_installed": {"chrome.installed": {State.FAIL}},
}


def test_every_scenario_has_an_expectation() -> None:
    assert set(BROKEN) == set(simulate.SCENARIOS)


@pytest.mark.parametrize(("name", "os_name"), SCENARIO_OS, ids=[f"{n}-{o}" for n, o in SCENARIO_OS])
def test_each_scenario_breaks_exactly_what_it_describes(name: str, os_name: str) -> None:
    facts = simulate.scenario_facts(name, os=os_name, seat_label="C-04", cti_origin=CTI)

    results = {result.check_id: result.state for result in evaluate(facts, POLICY)}

    not_passing = {check: state for check, state in results.items() if state not in (State.PASS, State.NA)}
    assert set(not_passing) == set(BROKEN[name]), not_passing
    for check, state in not_passing.items():
        assert state in BROKEN[name][check], (check, state)


def test_healthy_seats_are_ready_on_every_os() -> None:
    for os_name in ("windows", "macos", "linux"):
        facts = simulate.scenario_facts("healthy", os=os_name, seat_label="A-01", cti_origin=CTI)
        assert readiness_of(evaluate(facts, POLICY)).value == "ready"


def test_the_cti_origin_is_the_one_the_seat_allows() -> None:
    hubspot = "https://app.hubspot.com"
    facts = simulate.scenario_facts("healthy", os="linux", seat_label="A-01", cti_origin=hubspot)

    results = {r.check_id: r.state for r in evaluate(facts, Policy(cti_origins=(hubspot,)))}

    assert results["chrome.mic.site"] is State.PASS


def test_facts_are_identical_for_the_same_seat_so_heartbeats_work() -> None:
    first = simulate.scenario_facts("site_blocked", os="windows", seat_label="B-02", cti_origin=CTI)
    again = simulate.scenario_facts("site_blocked", os="windows", seat_label="B-02", cti_origin=CTI)

    assert report.facts_hash(first) == report.facts_hash(again)


def test_seats_differ_from_each_other() -> None:
    hostnames = {
        simulate.scenario_facts("healthy", os="windows", seat_label=label, cti_origin=CTI)["host"]["hostname"]
        for label, _row, _col in simulate.seat_labels(16)
    }
    assert len(hostnames) == 16


def test_a_scenario_on_an_os_it_does_not_exist_on_is_refused() -> None:
    with pytest.raises(ValueError, match="tcc_denied"):
        simulate.scenario_facts("tcc_denied", os="windows", seat_label="A-01", cti_origin=CTI)


def test_an_unknown_scenario_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="healthy"):
        simulate.scenario_facts("gremlins", os="linux", seat_label="A-01", cti_origin=CTI)


@pytest.mark.parametrize(
    ("count", "per_row", "expected"),
    [
        (3, 8, [("A-01", 0, 0), ("A-02", 0, 1), ("A-03", 0, 2)]),
        (10, 8, [("B-01", 1, 0), ("B-02", 1, 1)]),
        (5, 2, [("C-01", 2, 0)]),
    ],
)
def test_seat_labels_fill_rows_left_to_right(count: int, per_row: int, expected: list) -> None:
    labels = simulate.seat_labels(count, per_row)

    assert len(labels) == count
    assert labels[-len(expected) :] == expected


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")]
)
def test_rows_past_z_continue_like_spreadsheet_columns(index: int, letters: str) -> None:
    assert simulate.row_letters(index) == letters


@given(
    st.dictionaries(st.sampled_from(list(simulate.SCENARIOS)), st.integers(1, 100), min_size=1),
    st.integers(0, 500),
)
def test_apportioned_counts_add_up_and_stay_within_one_seat_of_the_weights(weights: dict, total: int) -> None:
    counts = simulate.apportion(weights, total)

    assert sum(counts.values()) == total
    scale = sum(weights.values())
    for name, weight in weights.items():
        assert abs(counts[name] - weight * total / scale) < 1


def test_a_floor_plan_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    plan = simulate.plan_floor(48, seed=3)

    assert plan == simulate.plan_floor(48, seed=3)
    assert plan != simulate.plan_floor(48, seed=4)
    assert (
        Counter(seat.scenario for seat in plan)["healthy"]
        == simulate.apportion(simulate.DEMO_MIX, 48)["healthy"]
    )


def test_os_specific_scenarios_land_on_their_os() -> None:
    plan = simulate.plan_floor(40, mix="tcc_denied=1,exclusive_teams=1,healthy=2", seed=1)

    for seat in plan:
        assert seat.os in simulate.scenario_platforms(seat.scenario)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("healthy", "NAME=WEIGHT"),
        ("gremlins=3", "unknown scenario"),
        ("healthy=x", "number"),
        ("healthy=0", "positive"),
    ],
)
def test_a_bad_mix_is_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate.parse_mix(text)


# -- against the HTTP API ----------------------------------------------------------------


def test_once_enrols_every_seat_with_its_label_and_sends_one_full_report(server: FakeAgentServer) -> None:
    summary = simulate.run_simulation(server.url, SECRET, seats=16, floor="Floor 2", once=True, seed=5)

    assert (summary.enrolled, summary.checkins, summary.full_reports, summary.failed) == (16, 16, 16, 0)
    seats = sorted(device.seat["label"] for device in server.devices_by_host.values())
    assert seats == sorted(label for label, _row, _col in simulate.seat_labels(16))
    assert {device.seat["floor"] for device in server.devices_by_host.values()} == {"Floor 2"}
    for body in server.stored.values():
        report.validate("checkin", body)


def test_unchanged_seats_send_heartbeats_after_their_first_report(server: FakeAgentServer) -> None:
    summary = simulate.run_simulation(
        server.url, SECRET, seats=6, mix="healthy=1", interval=0.1, duration=1.0, concurrency=4
    )

    assert summary.full_reports == 6
    assert summary.heartbeats >= 6
    assert summary.failed == 0


def test_fix_after_turns_failing_seats_healthy(server: FakeAgentServer) -> None:
    summary = simulate.run_simulation(
        server.url, SECRET, seats=4, mix="site_blocked=1", interval=0.1, duration=1.2, fix_after=0.4
    )

    assert summary.fixed == 4
    by_device: dict[str, list[dict]] = {}
    for report_id in server.stored_order:
        body = server.stored[report_id]
        if "facts" in body:
            by_device.setdefault(body["facts"]["host"]["hostname"], []).append(body["facts"])
    for reports in by_device.values():
        settings = [facts["chrome"]["profiles"][0]["mic_exceptions"][0]["setting"] for facts in reports]
        assert settings == [2, 1], "blocked first, then allowed once fixed"


def test_offline_seats_report_once_dated_in_the_past_then_fall_silent(server: FakeAgentServer) -> None:
    summary = simulate.run_simulation(
        server.url, SECRET, seats=3, mix="offline=1", interval=0.1, duration=0.8
    )

    assert summary.checkins == 3
    now = dt.datetime.now(dt.timezone.utc)
    for body in server.stored.values():
        collected = dt.datetime.fromisoformat(body["collected_at"].replace("Z", "+00:00"))
        assert now - collected > dt.timedelta(minutes=50)


def test_virtual_seats_recover_from_lost_facts_and_revoked_keys(server: FakeAgentServer) -> None:
    from readyfloor_agent.client import AgentClient

    plans = simulate.plan_floor(5, mix="healthy=1")
    simulation = simulate.Simulation(AgentClient(server.url, timeout=2), SECRET, plans)
    simulation.run(once=True)

    server.forget_facts()
    simulation.run(once=True)
    server.revoke_all_keys()
    summary = simulation.run(once=True)

    assert summary.facts_required == 5
    assert summary.reenrolled == 5
    assert len(server.stored) == 15
    assert len(server.devices_by_host) == 5


def test_server_trouble_is_counted_not_raised(server: FakeAgentServer) -> None:
    server.down = True

    summary = simulate.run_simulation(server.url, SECRET, seats=4, once=True)

    assert summary.enrolled == 0
    assert summary.unavailable == 4
    assert summary.errors


def test_the_summary_reads_as_text_and_json(server: FakeAgentServer) -> None:
    summary = simulate.run_simulation(server.url, SECRET, seats=2, once=True)

    assert "2 seats" in str(summary)
    assert summary.to_dict()["latency_ms"]["p95"] is not None
    assert "check-ins" in summary.render()
