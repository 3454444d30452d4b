"""bench/evaluate runs end to end on tiny counts: it lays out seats, re-judges them after a
policy change at two sizes, measures flags through the real stack, prints the table with a
PASS/FAIL line per goal and exits 1 when one is missed.

Uses the PostgreSQL and Redis of the test run (DATABASE_URL/REDIS_URL, or the embedded ones);
the benchmark makes and drops a database of its own and uses a Celery queue of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "evaluate"

pytestmark = pytest.mark.slow

TINY = ["--seats", "200,800", "--sample", "10", "--duration", "2", "--rate", "40", "--flips-per-s", "3",
        "--live-devices", "60", "--clients", "4", "--workers", "1"]  # fmt: skip


def test_a_tiny_run_prints_the_table_and_a_verdict_per_goal(tmp_path: Path) -> None:
    results = tmp_path / "evaluate.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), *TINY, "--json", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode in (0, 1), done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["seats", "first", "judgement"]
    assert [line.split()[0] for line in lines[2:4]] == ["200", "800"]
    verdicts = [line.split()[0] for line in lines if line.startswith("  PASS") or line.startswith("  FAIL")]
    assert len(verdicts) == 3
    document = json.loads(results.read_text())
    small, large = document["sizes"]
    assert (small["seats"], large["seats"]) == (200, 800)
    # Every seat of the floor was re-judged under the new policy version.
    assert small["judged"] == 200 and large["judged"] == 800
    assert small["change_s"] > 0 and 0 < large["one_p50_ms"] <= large["one_p95_ms"]
    flags = document["flags"]
    assert flags["flips"] > 0 and flags["seen"] == flags["flips"] and flags["failed"] == 0
    assert 0 < flags["p50_s"] <= flags["p95_s"]
    assert (done.returncode == 0) == all(goal["ok"] for goal in document["goals"])


def test_a_missed_goal_fails_the_run() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--seats", "100", "--sample", "5", "--no-flags", "--goal-full-s", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "  FAIL  policy change at 100 seats within 0 s" in done.stdout


def test_help_teaches_the_flags() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0
    for flag in ("--seats", "--rate", "--duration", "--goal-full-s", "Examples:"):
        assert flag in done.stdout
