"""bench/ingest runs end to end on tiny counts: it starts the stack, measures hello and check-ins
with the same load generator, prints the table, and vouches that nothing acknowledged was lost.

Uses the PostgreSQL and Redis of the test run (DATABASE_URL/REDIS_URL, or the embedded ones);
the benchmark makes and drops a database of its own and uses a Celery queue of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "ingest"

pytestmark = pytest.mark.slow


def test_a_tiny_run_prints_the_table_and_verifies_every_acknowledged_checkin(tmp_path: Path) -> None:
    results = tmp_path / "ingest.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--duration", "1", "--rounds", "1", "--warmup", "0.2",
         "--devices", "4", "--concurrency", "2", "--changed-ratio", "0.5", "--json", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:6] == ["scenario", "requests", "req/s", "p50", "ms", "p95"]
    assert [line.split()[0] for line in lines[2:5]] == ["hello", "checkin", "checkin"]
    assert any(line.startswith("verify: OK") for line in lines)

    document = json.loads(results.read_text())
    hello, checkin, busy = document["scenarios"]
    assert hello["ratio_to_hello"] == 1.0
    # The default run: the floor as --changed-ratio says, and a busy floor (checkin@0.1).
    assert (checkin["scenario"], busy["scenario"]) == ("checkin (50% changed)", "checkin (10% changed)")
    for row in (hello, checkin, busy):
        assert row["requests"] > 0 and row["req_per_s"] > 0 and row["failed"] == 0
        assert 0 < row["p50_ms"] <= row["p95_ms"]
    assert checkin["ratio_to_hello"] == pytest.approx(checkin["req_per_s"] / hello["req_per_s"], rel=0.01)
    verdict = document["verify"]
    assert verdict["ok"] and verdict["stored"] == verdict["acknowledged"] > checkin["requests"]
    assert verdict["evaluated"] == verdict["to_evaluate"] > 0


def test_an_unknown_scenario_is_refused_naming_the_choices() -> None:
    command = [sys.executable, str(BENCH), "--scenarios", "hello,checkin@2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert "unknown scenario(s) checkin@2" in done.stderr and "checkin@R" in done.stderr


def test_help_teaches_the_workload_flags() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0
    for flag in ("--duration", "--concurrency", "--devices", "--changed-ratio", "--json", "Examples:"):
        assert flag in done.stdout
