"""The run loop against a real HTTP server: nothing collected is lost, nothing is stored twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from readyfloor_agent import report, simulate
from readyfloor_agent.client import AgentClient
from readyfloor_agent.config import AgentSettings, Seat, StateDir
from readyfloor_agent.service import AgentService

from .fake_agent_server import FakeAgentServer, running_server

SECRET = "correct-horse-battery"
CTI = "https://acme.my.salesforce.com"


class FakeClock:
    """Monotonic time that only moves when the loop waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class SeatFacts:
    """The collector stand-in: a seat whose scenario the test can change."""

    def __init__(self, scenario: str = "healthy", os_name: str = "windows") -> None:
        self.scenario = scenario
        self.os_name = os_name
        self.broken = False

    def __call__(self) -> dict[str, Any]:
        facts = simulate.scenario_facts(self.scenario, os=self.os_name, seat_label="A-01", cti_origin=CTI)
        if self.broken:
            facts["audio"]["inputs"][0]["state"] = "sparkling"  # not in the schema: the server says 400
        return facts


@pytest.fixture
def server() -> Iterator[FakeAgentServer]:
    with running_server(enroll_secret=SECRET, next_checkin_s=60) as fake:
        yield fake


def make_service(
    server: FakeAgentServer,
    state_dir: Path,
    *,
    facts: SeatFacts | None = None,
    clock: FakeClock | None = None,
    timeout: float = 2.0,
    seed: int = 7,
    **settings: Any,
) -> AgentService:
    clock = clock or FakeClock()
    agent_settings = AgentSettings(
        server=server.url,
        enroll_secret=SECRET,
        state_dir=state_dir,
        seat=Seat("Floor 1", "A-01"),
        timeout=timeout,
        **settings,
    )
    return AgentService(
        agent_settings,
        collect_facts=facts or SeatFacts(),
        clock=clock,
        wait=clock.wait,
        rng=random.Random(seed),
    )


def record_created(service: AgentService, created: list[str] | None = None) -> list[str]:
    """Every report_id the service queues, in order (appended to ``created``)."""
    created = [] if created is None else created
    put = service.spool.put

    def spy(body: dict[str, Any], **options: Any) -> Any:
        created.append(body["report_id"])
        return put(body, **options)

    service.spool.put = spy  # type: ignore[method-assign]
    return created


def advance_to_next_collection(service: AgentService, clock: FakeClock) -> None:
    clock.now = max(clock.now, service._next_collect_at)
    service.step()


def test_first_turn_enrols_the_seat_and_delivers_a_full_report(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    service = make_service(server, tmp_path)

    service.step()

    assert server.devices_by_host[StateDir(tmp_path).host_identifier()].seat == {
        "floor": "Floor 1",
        "label": "A-01",
    }
    [body] = server.stored.values()
    assert "facts" in body
    assert len(service.spool) == 0
    if os.name != "nt":
        assert (tmp_path / "node_key").stat().st_mode & 0o777 == 0o600


def test_unchanged_facts_travel_as_heartbeats_once_acknowledged(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    service.step()

    advance_to_next_collection(service, clock)

    first, second = (server.stored[report_id] for report_id in server.stored_order)
    assert "facts" in first
    assert second["facts_hash"] == report.facts_hash(first["facts"])
    assert "facts" not in second


def test_changed_facts_are_sent_in_full(server: FakeAgentServer, tmp_path: Path) -> None:
    clock, facts = FakeClock(), SeatFacts()
    service = make_service(server, tmp_path, clock=clock, facts=facts)
    service.step()

    facts.scenario = "site_blocked"
    advance_to_next_collection(service, clock)

    latest = server.stored[server.stored_order[-1]]
    assert latest["facts"]["chrome"]["profiles"][0]["mic_exceptions"][0]["setting"] == 2


def test_reports_collected_during_an_outage_are_replayed_oldest_first(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    created = record_created(service)
    service.step()
    server.down = True
    for _ in range(4):
        advance_to_next_collection(service, clock)
    assert len(service.spool) == 4

    server.down = False
    drain_paced(service, clock)

    assert server.stored_order == created
    assert len(service.spool) == 0


def drain_paced(service: AgentService, clock: FakeClock, *, turns: int = 50) -> None:
    """Run turns until the spool is empty: the agent drains a backlog at a bounded pace."""
    for _ in range(turns):
        clock.now = max(clock.now, min(service._next_send_at, service._next_collect_at))
        service.step()
        if not len(service.spool):
            return


def test_backoff_is_capped_exponential_with_full_jitter(server: FakeAgentServer, tmp_path: Path) -> None:
    # Full jitter (a uniform draw up to 5 s doubling to 5 min), not a fixed doubling: seats
    # that lost the server together do not come back together (issue 11, item 5).
    ceilings = [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]
    gaps_by_seed = []
    for seed in range(5):
        clock = FakeClock()
        service = make_service(server, tmp_path / str(seed), clock=clock, seed=seed)
        StateDir(tmp_path / str(seed)).update(next_checkin_s=24 * 3600)  # keep collections out of the way
        server.down = True
        service.step()
        gaps = []
        for _ in range(len(ceilings)):
            before = clock.now
            clock.now = service._next_send_at
            gaps.append(clock.now - before)
            service.step()
        for gap, ceiling in zip(gaps, ceilings):
            assert 1.0 <= gap <= ceiling, (gaps, ceilings)
        gaps_by_seed.append(gaps)

    assert max(max(gaps) for gaps in gaps_by_seed) <= 300
    assert len({round(gaps[-1], 3) for gaps in gaps_by_seed}) == 5, "seats must not retry in step"


def test_a_fresh_collection_retries_at_once_whatever_the_backoff(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    server.down = True
    service.step()
    for _ in range(12):  # a long outage: the backoff grows towards its cap
        clock.now = min(service._next_send_at, service._next_collect_at)
        service.step()
    server.down = False

    clock.now = service._next_collect_at
    service.step()

    assert server.stored, "the seat reports in the turn of its next collection"
    assert clock.now < service._next_collect_at


def test_the_interval_is_the_servers_with_ten_percent_jitter(server: FakeAgentServer, tmp_path: Path) -> None:
    server.next_checkin_s = 30
    delays = []
    for seed in range(20):
        service = make_service(server, tmp_path / str(seed), seed=seed)
        delays.append(service.step())

    assert all(27 <= delay <= 33 for delay in delays)
    assert len({round(delay, 3) for delay in delays}) > 1, "jitter should spread seats"


def test_a_revoked_node_key_triggers_enrolment_and_the_same_report_is_resent(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    created = record_created(service)
    service.step()
    old_key = StateDir(tmp_path).node_key()

    server.revoke_all_keys()
    advance_to_next_collection(service, clock)

    assert StateDir(tmp_path).node_key() not in (None, old_key)
    assert service.counters.reenrolled == 1
    assert server.stored_order == created
    assert len(server.devices_by_host) == 1, "re-enrolment reuses the host identifier"


def test_facts_the_server_lost_are_resent_in_full(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    service.step()

    server.forget_facts()
    advance_to_next_collection(service, clock)

    attempts = [entry for entry in server.requests_to("checkin")][1:]
    assert [(entry["status"], entry["has_facts"]) for entry in attempts] == [(409, False), (202, True)]
    assert attempts[0]["report_id"] == attempts[1]["report_id"]
    assert service.counters.facts_resent == 1


def test_a_rejected_report_is_dropped_counted_and_the_queue_moves_on(
    server: FakeAgentServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock, facts = FakeClock(), SeatFacts()
    service = make_service(server, tmp_path, clock=clock, facts=facts)
    created = record_created(service)
    server.down = True
    facts.broken = True
    service.step()
    facts.broken = False
    advance_to_next_collection(service, clock)

    server.down = False
    drain_paced(service, clock)

    assert server.stored_order == created[1:]
    assert service.counters.rejected == 1
    assert service.spool.rejected == 1
    assert "REJECTED" in caplog.text
    [dead] = service.spool.dead_letters()
    kept = json.loads(dead.read_text())
    assert kept["body"]["report_id"] == created[0]
    assert (kept["answer"]["status"], kept["answer"]["field"]) == (400, "facts.audio.inputs[0].state")


def test_an_answer_lost_after_storing_is_resent_and_stored_once(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    created = record_created(service)
    service.step()
    server.lose_answer()
    advance_to_next_collection(service, clock)
    assert len(service.spool) == 1

    clock.now = service._next_send_at
    service.step()

    assert server.stored_order == created
    assert service.counters.duplicates == 1
    assert len(service.spool) == 0


def test_a_server_slower_than_the_timeout_keeps_the_report(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock, timeout=0.3)
    created = record_created(service)
    service.step()
    server.slow("checkin", 1.0)

    advance_to_next_collection(service, clock)
    assert len(service.spool) == 1 and service.failures == 1
    time.sleep(1.0)  # the slow request completes on the server side meanwhile
    clock.now = service._next_send_at
    service.step()

    assert server.stored_order == created
    assert len(service.spool) == 0


def test_dropped_reports_are_reported_once_then_reset(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock, spool_max_entries=2)
    server.down = True
    for _ in range(5):
        advance_to_next_collection(service, clock)
    assert service.spool.dropped == 3

    server.down = False
    assert service.drain()
    advance_to_next_collection(service, clock)

    sent = [server.stored[report_id] for report_id in server.stored_order]
    assert [body.get("dropped_reports") for body in sent] == [3, None, None]
    assert service.spool.dropped == 0


def test_the_policy_is_cached_and_refetched_when_its_version_changes(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    service.step()
    assert StateDir(tmp_path).cached_config()["policy"] == server.policy

    server.config_version = "v2"
    server.policy = {"cti_origins": ["https://app.hubspot.com"]}
    advance_to_next_collection(service, clock)

    cached = StateDir(tmp_path).cached_config()
    assert (cached["config_version"], cached["policy"]) == ("v2", server.policy)


def test_a_collector_crash_skips_one_report_but_not_the_loop(server: FakeAgentServer, tmp_path: Path) -> None:
    calls = iter([RuntimeError("collector bug"), None])
    healthy = SeatFacts()

    def flaky() -> dict[str, Any]:
        outcome = next(calls, None)
        if isinstance(outcome, Exception):
            raise outcome
        return healthy()

    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock, facts=flaky)  # type: ignore[arg-type]
    service.step()
    advance_to_next_collection(service, clock)

    assert service.counters.collect_failures == 1
    assert len(server.stored) == 1


def test_pointing_the_agent_at_another_server_enrols_again(server: FakeAgentServer, tmp_path: Path) -> None:
    state = StateDir(tmp_path).ensure()
    state.save_node_key("key-from-the-old-server")
    state.update(server="https://old.example.com", last_acknowledged_hash="0" * 64)

    service = make_service(server, tmp_path)
    service.step()

    assert state.node_key() != "key-from-the-old-server"
    assert state.get("server") == server.url
    [body] = server.stored.values()
    assert "facts" in body


def test_run_returns_when_stopped(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)

    def wait(seconds: float) -> None:
        clock.wait(seconds)
        if len(clock.waits) == 3:
            service.stop()

    service.wait = wait
    counters = service.run()

    assert len(clock.waits) == 3
    assert counters.accepted == 3


def test_under_random_trouble_every_report_arrives_exactly_once_in_order(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock, facts = FakeClock(), SeatFacts()
    service = make_service(server, tmp_path, clock=clock, facts=facts, timeout=0.5)
    created = record_created(service)
    chaos = random.Random(2024)
    troubles = [
        lambda: server.fail("checkin", chaos.choice([500, 502, 503, 429])),
        lambda: server.lose_answer(),
        lambda: server.revoke_all_keys(),
        lambda: server.forget_facts(),
        lambda: server.slow("checkin", 0.6),
        lambda: server.fail("enroll", 503),
        lambda: setattr(facts, "scenario", chaos.choice(["healthy", "site_blocked", "no_headset"])),
    ]
    schedule = troubles * 3
    chaos.shuffle(schedule)
    # Three turns per trouble: the spool drains at a bounded pace, so some turns only send.
    for turn in range(3 * len(schedule)):
        if turn % 3 == 0:
            schedule.pop()()  # every kind of trouble, three times, between calm turns
        due = min(service._next_collect_at, service._next_send_at if len(service.spool) else 1e18)
        clock.now = max(clock.now, due)
        service.step()
        if chaos.random() < 0.1:
            service = make_service(server, tmp_path, clock=clock, facts=facts, timeout=0.5)  # agent restart
            record_created(service, created)

    server.troubles.clear()
    time.sleep(0.7)  # let slow requests finish storing
    while len(service.spool):
        clock.now = service._next_send_at
        service.step()

    statuses = {entry.get("status") for entry in server.log}
    assert {401, 409, 502} <= statuses, f"the trouble should really have happened: {statuses}"
    assert len(created) >= 30
    assert server.stored_order == created
    assert len(set(server.stored_order)) == len(server.stored_order)


_AGENT_PROCESS = textwrap.dedent(
    """
    import sys
    from readyfloor_agent import simulate
    from readyfloor_agent.config import AgentSettings
    from readyfloor_agent.service import AgentService, install_signal_handlers

    settings = AgentSettings(server=sys.argv[1], enroll_secret=sys.argv[2], state_dir=sys.argv[3])
    service = AgentService(
        settings,
        collect_facts=lambda: simulate.scenario_facts("healthy", os="linux", seat_label="A-01"),
    )
    install_signal_handlers(service)
    service.run()
    print("stopped cleanly", flush=True)
    """
)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_stops_the_agent_process_cleanly(server: FakeAgentServer, tmp_path: Path) -> None:
    agent = subprocess.Popen(
        [sys.executable, "-c", _AGENT_PROCESS, server.url, SECRET, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not server.stored and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stored, "the agent never reported"
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=10)
    finally:
        if agent.poll() is None:
            agent.kill()
    assert agent.returncode == 0, err
    assert "stopped cleanly" in out


def test_the_service_uses_a_real_client_by_default(server: FakeAgentServer, tmp_path: Path) -> None:
    service = make_service(server, tmp_path)
    assert isinstance(service.client, AgentClient)
    assert service.client.base_url == server.url


def test_an_unexpected_error_in_a_turn_is_logged_and_the_loop_goes_on(
    server: FakeAgentServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)

    def broken_checkin(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the client")

    def wait(seconds: float) -> None:
        clock.wait(seconds)
        if len(clock.waits) == 3:
            service.stop()

    service.client.checkin = broken_checkin  # type: ignore[method-assign]
    service.wait = wait
    service.run()

    assert len(clock.waits) == 3
    assert "retrying" in caplog.text
    assert len(service.spool) >= 1, "the reports are kept for when the bug is fixed"


def test_a_failing_config_endpoint_is_not_asked_on_every_check_in(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    server.fail("config", 503, times=100)

    service.step()
    for _ in range(3):
        advance_to_next_collection(service, clock)

    assert len(server.requests_to("checkin")) == 4
    assert len(server.requests_to("config")) == 1
    assert StateDir(tmp_path).cached_config() is None
