"""bench/faults, short: a few dozen seats for about a minute while the broker, the worker and the
web server are SIGKILLed and restarted and (where namespaces and tc work) the network between
agents and server is degraded and cut. Nothing acknowledged is lost or stored twice, and every
stored report is evaluated within two minutes of the last fault; on Redis and on RabbitMQ.

The benchmark starts its own test hosts (network namespaces: agents, web, db), its own
PostgreSQL cluster and broker on the db host (it kills the broker), and cleans all of them up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "faults"

pytestmark = [pytest.mark.slow, pytest.mark.worker]

BROKER_SERVERS = {"redis": "redis-server", "rabbitmq": "rabbitmq-server"}


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_kills_and_network_cuts_lose_nothing_duplicate_nothing_and_leave_nothing_unevaluated(
    broker: str, tmp_path: Path
) -> None:
    if not shutil.which(BROKER_SERVERS[broker]):
        pytest.skip(f"{BROKER_SERVERS[broker]} is not installed: bench/faults starts a {broker} of its own")
    results = tmp_path / "faults.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--broker", broker, "--duration", "50", "--seats", "24",
         "--interval", "3", "--fault-length", "5", "--drain", "20", "--settle", "120",
         "--json", str(results), "--log", str(tmp_path / "floor.jsonl")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )

    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    document = json.loads(results.read_text())
    outcome = document["outcome"]
    assert outcome["acknowledged"] > 24 * 10
    assert outcome["stored"] == outcome["acknowledged"]
    assert outcome["lost"] == outcome["duplicated"] == outcome["repeated_events"] == 0
    assert outcome["unevaluated"] == 0
    assert outcome["readiness_matches"] == outcome["seats"] == 24
    kinds = [fault["kind"] for fault in document["faults"]]
    if os.geteuid() == 0 and document["network"]["method"]:
        assert kinds == ["degrade", "broker", "worker", "web", "cut"]
        # Agents, web and db each ran on a test host of its own, and none is left behind.
        placement = {row["host"]: row for row in document["placement"]}
        namespaces = {placement[role]["namespace"] for role in ("agents", "web", "db")}
        assert len(namespaces) == 3
        assert "gunicorn" in placement["web"]["processes"] and "postgresql" in placement["db"]["processes"]
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        assert not namespaces & set(left)
    else:
        assert kinds == ["broker", "worker", "web"]
        assert "network faults skipped" in done.stdout or "KILLS ONLY" in done.stdout
    for fault in document["faults"]:
        # Every fault was survived: answers came back and its backlog was evaluated.
        assert fault["answers_back_s"] is not None and fault["caught_up_s"] is not None, fault
    # The floor really met the faults: some reports went unanswered and were resent.
    floor_log = [json.loads(line) for line in (tmp_path / "floor.jsonl").read_text().splitlines()]
    assert any(entry.get("answer") == "unavailable" for entry in floor_log)
    assert "lost" in done.stdout and "PASS" in done.stdout and "FAIL" not in done.stdout


def test_an_unknown_fault_is_refused_naming_the_choices() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--faults", "web,meteor"], capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 2
    assert "unknown fault(s) meteor" in done.stderr and "degrade, broker, worker, web, cut" in done.stderr
