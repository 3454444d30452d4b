"""Never lose a report: the real agent against the real server, both killed at bad moments.

gunicorn serves the real server on the test database; the agent runs as its own process
(tests/e2e/agent_process.py: the AgentService with time compressed tenfold, facts from
fixture bundles, a journal of every report it spools). The test kills the agent with SIGKILL
at random moments and in the middle of a send the server has taken but not answered, kills
the server while the agent keeps collecting, brings both back, and then holds the agent to
its promise: every report it ever spooled is in PostgreSQL exactly once, in the order it was
collected, and the spool is empty with nothing dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, wait_until

from .agent_process import read_journal, spooled_reports
from .live_server import LiveServer, accept_backlog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BUNDLES = REPO / "tests" / "fixtures" / "bundles"
# Two states of one Linux seat: switching every few reports mixes full reports and heartbeats.
SEAT_BUNDLES = (BUNDLES / "linux-healthy-pactl", BUNDLES / "linux-headset-unplugged")
SPEED = 10  # the server's minimum interval (5 s) becomes 0.5 s; the first backoff 0.5 s
SEED = 20240514


class Agent:
    """One agent installation (settings file, state dir, journal) whose process the test
    starts and kills; the state dir outlives every process, as on a real seat."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.state_dir = root / "state"
        self.spool_dir = self.state_dir / "spool"
        self.journal = root / "journal.txt"
        self.log = root / "agent.log"
        self.config = root / "agent.ini"
        # The one settings file (READYFLOOR_CONFIG replaces the system and user files), so
        # nothing on this machine leaks into the test.
        self.config.write_text(f"[agent]\nstate_dir = {self.state_dir}\ntimeout = 2\n", "utf-8")
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("READYFLOOR_")}
        self.env.update(READYFLOOR_CONFIG=str(self.config), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real command line, ``python -m readyfloor_agent ...``."""
        return subprocess.run(
            [sys.executable, "-m", "readyfloor_agent", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self) -> None:
        assert self.process is None
        self.starts += 1
        argv = [sys.executable, "-m", "tests.e2e.agent_process", "--journal", str(self.journal)]
        argv += ["--speed", str(SPEED)]
        for bundle in SEAT_BUNDLES:
            argv += ["--bundle", str(bundle)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        self.process = None
        return code

    def stop_with_empty_spool(self, attempts: int = 100) -> None:
        """Kill the agent at a moment its spool is empty: freeze it, look, and let it run on
        for a moment when a report is still on its way. Frozen with an empty spool, every
        report it queued has been acknowledged (and journaled: that precedes the send)."""
        assert self.process is not None
        for _ in range(attempts):
            self.process.send_signal(signal.SIGSTOP)
            wait_until(lambda: _process_state(self.process) == "T", timeout=5)
            if not self.spool_files():
                self.kill()
                return
            self.process.send_signal(signal.SIGCONT)
            time.sleep(0.05)
        raise AssertionError(f"the spool never emptied: {self.spool_files()}")

    def spool_files(self) -> list[str]:
        """Everything in the spool but its dropped counter: reports, and also a write in
        progress (a .tmp file) or a file set aside as corrupt."""
        if not self.spool_dir.is_dir():
            return []
        return sorted(path.name for path in self.spool_dir.iterdir() if path.name != "dropped")

    def spooled(self) -> list[tuple[str, str]]:
        return spooled_reports(self.spool_dir) if self.spool_dir.is_dir() else []

    def journaled(self) -> list[tuple[str, str]]:
        return read_journal(self.journal)

    def cleanup(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path)
    try:
        yield live
    finally:
        live.kill()
        _purge_evaluation_queue()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    installed = Agent(tmp_path / "seat")
    try:
        yield installed
    finally:
        installed.cleanup()


def _process_state(process: subprocess.Popen[bytes] | None) -> str:
    """R, S, T (stopped), ... from /proc/<pid>/stat: a SIGSTOP takes effect asynchronously."""
    assert process is not None
    stat = Path(f"/proc/{process.pid}/stat").read_text("ascii")
    return stat.rpartition(")")[2].split()[0]


def _purge_evaluation_queue() -> None:
    # No worker runs in this test; the evaluations its check-ins queued must not wait in
    # Redis for the next test's worker.
    from server.celery import app

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)


def stored_checkins() -> list[tuple[str, dt.datetime]]:
    """(report_id, collected_at) of every stored check-in, in the order the server stored them."""
    from server.fleet.models import CheckIn

    rows = CheckIn.objects.order_by("id").values_list("report_id", "collected_at")
    return [(str(report_id), collected_at) for report_id, collected_at in rows]


def delivered(agent: Agent) -> bool:
    stored = {report_id for report_id, _ in stored_checkins()}
    journaled = agent.journaled()
    return bool(journaled) and all(report_id in stored for report_id, _ in journaled)


def wait_for(agent: Agent, what: str, predicate: Callable[[], Any], timeout: float = 15) -> None:
    """wait_until, failing with what the agent and the server hold at that moment."""
    try:
        wait_until(predicate, timeout=timeout)
    except AssertionError:
        stored = {report_id for report_id, _ in stored_checkins()}
        missing = [report_id for report_id, _ in agent.journaled() if report_id not in stored]
        log_tail = agent.log.read_text("utf-8", "replace").splitlines()[-8:] if agent.log.exists() else []
        raise AssertionError(
            f"{what}: not within {timeout:g} s. Journaled {len(agent.journaled())}, stored {len(stored)}, "
            f"journaled but not stored {missing[:5]}, spool {agent.spool_files()}; agent log:\n"
            + "\n".join(log_tail)
        ) from None


def parse_moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_spooled_report_is_stored_exactly_once_in_order_through_agent_and_server_crashes(
    seats: list[Any], policy: Any, enroll_secret: str, server: LiveServer, agent: Agent
) -> None:
    from server.fleet.models import Device

    rng = random.Random(SEED)
    policy.checkin_interval_s = 5  # the agent's minimum; 0.5 s in compressed time
    policy.save()
    server.start()

    enrolled = agent.cli(
        "enroll", "--server", server.url, "--secret", enroll_secret, "--seat", "Floor 1/A-01", "--no-collect"
    )
    assert enrolled.returncode == 0, enrolled.stderr

    # 1. Steady state: reports flow.
    agent.start()
    wait_for(agent, "three reports delivered", lambda: len(agent.journaled()) >= 3 and delivered(agent))

    # 2. SIGKILL at random moments: while starting, collecting, writing the spool, sending.
    for _ in range(4):
        agent.kill()
        agent.start()
        time.sleep(rng.uniform(0.2, 1.2))
    wait_for(agent, "spool drained after random kills", lambda: delivered(agent) and not agent.spooled())

    # 3. SIGKILL mid-send: the server has the request but has not answered. It stores the
    #    report once thawed; the restarted agent, never told, must send it again.
    duplicates_before = server.checkin_statuses().count(200)
    server.freeze()
    try:
        wait_for(
            agent,
            "a check-in waiting on the frozen server",
            lambda: accept_backlog(server.port) and agent.spooled(),
        )
        in_flight = agent.spooled()[0][0]
        agent.kill()
    finally:
        server.thaw()
    wait_for(agent, "the frozen request stored", lambda: in_flight in dict(stored_checkins()))
    agent.start()
    wait_for(
        agent,
        "the re-send answered as a duplicate",
        lambda: server.checkin_statuses().count(200) > duplicates_before,
    )

    # 4. The server dies; the agent keeps collecting into its spool, across its own crash,
    #    and a clean stop keeps what is unsent for the next start.
    server.kill()
    wait_for(agent, "4 reports spooled while the server is down", lambda: len(agent.spooled()) >= 4)
    agent.kill()
    agent.start()
    wait_for(agent, "8 reports spooled across an agent crash", lambda: len(agent.spooled()) >= 8)
    assert agent.terminate() == 0

    # 5. Both come back; the spool drains oldest-first.
    server.start()
    agent.start()
    wait_for(agent, "spool drained after the outage", lambda: delivered(agent) and not agent.spooled(), 20)
    agent.stop_with_empty_spool()

    journaled = agent.journaled()
    stored = stored_checkins()
    assert len(journaled) >= 15, f"too few reports to prove anything: {len(journaled)}"
    assert len({report_id for report_id, _ in journaled}) == len(journaled)
    # Exactly once, nothing foreign, in the order collected, with the agent's own timestamps.
    assert [report_id for report_id, _ in stored] == [report_id for report_id, _ in journaled]
    assert [moment for _, moment in stored] == [parse_moment(text) for _, text in journaled]
    assert [moment for _, moment in stored] == sorted(moment for _, moment in stored)
    # The restarted agent re-sent what the frozen server had stored: answered as a duplicate.
    assert server.checkin_statuses().count(200) > duplicates_before
    # One device, never re-enrolled into a second one; its spool never hit the bound.
    device = Device.objects.get()
    assert device.dropped_reports == 0
    assert agent.spool_files() == []
    assert not (agent.spool_dir / "dropped").exists() or (agent.spool_dir / "dropped").read_text() == "0"
    status = agent.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    spool = json.loads(status.stdout)["spool"]
    assert spool["reports"] == 0 and spool["dropped_not_yet_reported"] == 0
