"""bench/capacity runs end to end on a tiny floor: it lays out the seats in a fresh database,
starts the stack, steps the seats up on an open-loop schedule, measures the answer and the
time until a failing seat shows NOT READY, and judges the goal it was given.

Uses the PostgreSQL and Redis of the test run (DATABASE_URL/REDIS_URL, or the embedded ones);
the benchmark makes and drops a database of its own and uses a Celery queue of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "capacity"

pytestmark = pytest.mark.slow


def run(*flags: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *flags], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_a_tiny_floor_is_stepped_up_measured_and_judged_against_its_goal(tmp_path: Path) -> None:
    results = tmp_path / "capacity.json"
    done = run("--goal", "10=120", "--seats", "60,120", "--step-duration", "6", "--warmup", "1",
               "--changed-ratio", "0.2", "--workers", "2", "--json", str(results))

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["interval", "seats", "ckin/s"]
    assert [line.split()[2] for line in lines[2:4]] == ["60", "120"]
    assert all(line.split()[-1] == "held" for line in lines[2:4])
    assert "goal 120 seats at 10 s: holds 120  PASS" in done.stdout
    assert any(line.startswith("load average") for line in lines)

    document = json.loads(results.read_text())
    first, second = document["steps"]
    for step in (first, second):
        # Every report was answered, and the rate is the floor's: seats / interval.
        assert step["failed"] == 0 and step["measured"] > 0
        assert step["checkins_per_s"] == pytest.approx(step["seats"] / 10, rel=0.5)
        assert 0 < step["p50_answer_s"] <= step["p95_answer_s"] < 1
        assert set(step["cores"]) >= {"web", "worker", "db", "loadgen", "machine", "others"}
    # Failing reports were sent and the worker turned their seats NOT READY, every one of them.
    flags = first["flags"] + second["flags"]
    assert flags > 0 and first["unflagged"] == second["unflagged"] == 0
    assert 0 < second["p95_flag_s"] < 5
    assert document["capacity"] == [
        {"interval": 10, "goal": 120, "held": 120, "broke_at": None, "reason": "", "passed": True}
    ]


def test_a_step_that_breaks_stops_the_series_names_why_and_fails_the_goal(tmp_path: Path) -> None:
    # An answer limit no server meets: the first step breaks, the series stops there.
    done = run("--goal", "10=120", "--seats", "60,120", "--step-duration", "4", "--warmup", "1",
               "--answer-p95", "0.000001", "--workers", "1")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "goal 120 seats at 10 s: holds 0; 60 broke: p95 answer" in done.stdout
    assert "cores busy" in done.stdout
    assert len([line for line in done.stdout.splitlines() if line.strip().startswith("10 s")]) == 1


def test_help_teaches_the_steps_and_the_limits() -> None:
    done = run("--help", timeout=60)

    assert done.returncode == 0
    for flag in ("--goal", "--seats", "--step-duration", "--answer-p95", "--flag-p95", "--connections",
                 "Examples:"):
        assert flag in done.stdout
