"""Delivery under a hostile or struggling server (issue 11): a poison report never blocks the
reports behind it, transient answers never count against a report, Retry-After is honoured,
and a backlog drains at a bounded pace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from readyfloor_agent.client import parse_retry_after
from readyfloor_agent.config import StateDir
from readyfloor_agent.service import SERVER_ERROR_LIMIT
from readyfloor_agent.spool import Spool

from .fake_agent_server import FakeAgentServer, running_server
from .test_service import SECRET, FakeClock, drain_paced, make_service, record_created


@pytest.fixture
def server() -> Iterator[FakeAgentServer]:
    with running_server(enroll_secret=SECRET, next_checkin_s=60) as fake:
        yield fake


def test_a_report_the_server_always_fails_with_500_is_dead_lettered_and_the_rest_flow_on(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    created = record_created(service)
    server.down = True
    service.step()
    poison = created[0]
    server.poison(poison, 500)
    server.down = False

    drain_paced(service, clock, turns=200)
    for _ in range(2):  # two more reports after the one that told the server
        clock.now = service._next_collect_at
        service.step()
    drain_paced(service, clock)

    attempts = [entry for entry in server.requests_to("checkin") if entry.get("report_id") == poison]
    assert len(attempts) == SERVER_ERROR_LIMIT
    assert server.stored_order == created[1:]
    [dead] = service.spool.dead_letters()
    kept = json.loads(dead.read_text())
    assert kept["body"]["report_id"] == poison
    assert kept["answer"]["status"] == 500 and kept["server_errors"] == SERVER_ERROR_LIMIT
    told = [server.stored[report_id].get("dead_lettered_reports") for report_id in server.stored_order]
    assert told[0] == 1 and set(told[1:]) == {None}, "counted once, in the next check-in"
    assert service.counters.dead_lettered == 1 and service.spool.dead_lettered == 0


def test_502_503_504_429_and_timeouts_never_count_against_a_report(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock, timeout=0.3)
    created = record_created(service)
    for status in (502, 503, 504, 429) * 3:
        server.fail("checkin", status)
    server.slow("checkin", 0.5, times=2)

    drain_paced(service, clock, turns=100)

    assert server.stored_order[0] == created[0]
    assert service.spool.dead_letters() == []
    assert service.counters.dead_lettered == 0


def test_a_5xx_count_survives_an_agent_restart(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    created = record_created(service)
    server.down = True
    service.step()
    server.poison(created[0], 500)
    server.down = False
    for _ in range(SERVER_ERROR_LIMIT - 1):
        clock.now = service._next_send_at
        service.step()
        service = make_service(server, tmp_path, clock=clock)  # restarted between tries

    clock.now = service._next_send_at
    service.step()

    assert len(service.spool.dead_letters()) == 1


def test_retry_after_on_a_429_is_honoured_even_across_a_fresh_collection(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    service.step()
    sent_before = len(server.requests_to("checkin"))
    server.fail("checkin", 429, headers={"Retry-After": "150"}, body={"error": "rate_limited"})

    clock.now = service._next_collect_at
    service.step()
    refused_at = clock.now
    assert len(server.requests_to("checkin")) == sent_before + 1
    assert service._next_send_at >= refused_at + 150

    clock.now = service._next_collect_at  # a fresh collection ~60 s later: still too early
    service.step()
    assert len(server.requests_to("checkin")) == sent_before + 1
    assert len(service.spool) == 2

    sent_at: list[float] = []
    original = service.client.checkin

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent_at.append(clock.now)
        return original(*args, **kwargs)

    service.client.checkin = timed  # type: ignore[method-assign]
    drain_paced(service, clock)

    assert len(service.spool) == 0
    assert sent_at[0] >= refused_at + 150
    retried = server.requests_to("checkin")[sent_before + 1]
    assert retried["status"] == 202


def test_a_503_with_retry_after_is_honoured_too(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    server.fail("checkin", 503, headers={"Retry-After": "40"})

    service.step()

    assert 40 <= service._next_send_at - clock.now <= 44


def test_a_backlog_drains_oldest_first_at_a_bounded_pace(server: FakeAgentServer, tmp_path: Path) -> None:
    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    created = record_created(service)
    server.down = True
    service.step()
    for _ in range(19):
        clock.now = service._next_collect_at
        service.step()
    assert len(service.spool) == 20
    server.down = False
    sent_at: list[float] = []
    original = service.client.checkin

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent_at.append(clock.now)
        return original(*args, **kwargs)

    service.client.checkin = timed  # type: ignore[method-assign]

    drain_paced(service, clock, turns=400)

    assert len(service.spool) == 0
    assert server.stored_order == created
    interval = 60 * 1.1
    busiest = max(sum(1 for t in sent_at if start <= t < start + interval) for start in sent_at)
    assert busiest <= 3, f"at most 2.5 reports per interval, plus the one due: {busiest}"
    catch_up = sent_at[-1] - sent_at[0]
    assert catch_up < 20 * 60, "a 20-interval backlog drains in less than the outage lasted"


def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped() -> None:
    import datetime as dt

    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 30 Nov 2026 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Mon, 30 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("9" * 40) == 3600.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_dead_letters_are_bounded_and_their_count_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.max_dead_letters = 3
    for index in range(5):
        entry = spool.put({"report_id": f"r{index}"})
        spool.dead_letter(entry, {"status": 400})

    reopened = Spool(tmp_path)

    assert [json.loads(path.read_text())["body"]["report_id"] for path in reopened.dead_letters()] == [
        "r2",
        "r3",
        "r4",
    ]
    assert reopened.dead_lettered == 5
    assert reopened.stats().dead_letters == 3
    reopened.acknowledge_dead_lettered(5)
    assert Spool(tmp_path).dead_lettered == 0


def test_requeue_dead_lists_then_puts_dead_letters_back_in_the_queue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from readyfloor_agent import cli

    spool = Spool(tmp_path / "spool")
    entry = spool.put({"report_id": "r-poison"}, facts={"host": {}})
    spool.dead_letter(entry, {"status": 500, "message": "checkin: HTTP 500 server_error"})

    assert cli.main(["requeue-dead", "--list", "--state-dir", str(tmp_path)]) == 0
    assert "r-poison" in capsys.readouterr().out and len(Spool(tmp_path / "spool")) == 0
    assert cli.main(["requeue-dead", "--state-dir", str(tmp_path)]) == 0

    again = Spool(tmp_path / "spool")
    assert "1 report(s) put back" in capsys.readouterr().out
    assert [queued.body["report_id"] for queued in again.entries()] == ["r-poison"]
    assert again.entries()[0].facts == {"host": {}} and again.dead_letters() == []


def test_an_enrolment_waiting_for_approval_keeps_the_reports_and_asks_again_calmly(
    server: FakeAgentServer, tmp_path: Path
) -> None:
    from readyfloor_agent.client import EnrollmentPending

    clock = FakeClock()
    service = make_service(server, tmp_path, clock=clock)
    server.fail("enroll", 409, times=3, body={"error": "approval_required", "field": "host_identifier"})

    service.step()
    with pytest.raises(EnrollmentPending):
        service.client.enroll(
            enroll_secret=SECRET, host_identifier="h", host_details={"hostname": "h", "os": "linux"}
        )

    assert len(service.spool) == 1 and service.failures == 1
    first_try = server.requests_to("enroll")[0]
    assert first_try["status"] == 409
    drain_paced(service, clock)
    assert len(server.stored) >= 1 and len(service.spool) == 0
    assert len(StateDir(tmp_path).claim_token()) >= 16, "kept for the approved pick-up"
