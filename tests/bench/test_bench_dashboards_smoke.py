"""bench/dashboards runs end to end on a small fleet: it lays the fleet out in a database of its
own, measures the floor map, the shift board and the fleet overview against the trivial pages,
prints the table and judges each page against its goal.

Uses the PostgreSQL of the test run (DATABASE_URL, or the embedded one); the benchmark makes and
drops a database of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "dashboards"
SMALL = ("--seats", "600", "--floor-seats", "300", "--days", "3", "--runs", "1")

pytestmark = pytest.mark.slow


def run(*flags: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH), *flags], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def test_a_small_fleet_is_laid_out_measured_and_judged(tmp_path: Path) -> None:
    results = tmp_path / "dashboards.json"
    # Goals no loaded test machine misses, so the run shows PASS; the real goals are the defaults.
    done = run(
        *SMALL, "--goal", "floor=30", "--goal", "board=30", "--goal", "fleet=30", "--json", str(results)
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["page", "seats"]
    names = [line[:14].strip() for line in lines[2:8]]
    assert names == ["liveness", "sign-in form", "floor map", "shift board", "fleet 30 d", "fleet 90 d"]
    assert all(line.endswith("PASS") for line in lines[4:8])
    assert lines[-1].startswith("load average")

    document = json.loads(results.read_text())
    assert document["fleet"]["floors"] == 2 and document["fleet"]["seats"] == 600
    assert document["fleet"]["readiness_rows"] > 0 and document["fleet"]["transitions"] == 1200
    pages = {page["name"]: page for page in document["pages"]}
    assert all(page["status"] == 200 for page in pages.values())
    assert pages["floor map"]["seats"] == 300 and pages["fleet 90 d"]["seats"] == 600
    assert document["passed"] is True


def test_a_missed_goal_is_a_fail_and_exit_status_1() -> None:
    done = run(*SMALL, "--goal", "fleet=0.000001")

    assert done.returncode == 1, done.stdout + done.stderr
    fleet = [line for line in done.stdout.splitlines() if line.startswith("fleet")]
    assert len(fleet) == 2 and all(line.endswith("FAIL") for line in fleet)


def test_help_teaches_the_goals_and_the_flags() -> None:
    done = run("--help", timeout=60)

    assert done.returncode == 0
    for text in (
        "--seats",
        "--floor-seats",
        "--days",
        "--runs",
        "--goal",
        "--keep-db",
        "Examples:",
        "200 ms",
    ):
        assert text in done.stdout, text
