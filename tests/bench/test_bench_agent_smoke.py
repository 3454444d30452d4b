"""bench/agent runs end to end and its verdict follows its numbers (fast settings: 1 run each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "agent"
BUDGETED = {
    "collect_live_s",
    "collect_bundle_s",
    "collect_process_s",
    "rss_collect",
    "rss_run_once",
    "full_report_bundle_gz",
    "full_report_simulated_gz",
    "heartbeat_raw",
    "heartbeat_gz",
}

pytestmark = pytest.mark.slow


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), "--runs", "1", "--rss-runs", "1", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def measures_of(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {measure["key"]: measure for measure in json.loads(done.stdout)["measures"]}


def test_every_budget_is_measured_and_the_exit_status_follows_the_verdicts() -> None:
    done = run_bench("--json")

    measures = measures_of(done)
    assert set(measures) >= BUDGETED, done.stderr
    for key in BUDGETED:
        measure = measures[key]
        assert measure["value"] > 0, key
        assert measure["passed"] == (measure["value"] <= measure["budget"]), key
    all_passed = all(measures[key]["passed"] for key in BUDGETED)
    assert done.returncode == (0 if all_passed else 1), done.stderr


def test_memory_is_the_agent_process_own_not_the_benchmark_s() -> None:
    done = run_bench("--json")

    measures = measures_of(done)
    baseline = measures["rss_baseline"]["value"]
    # A child started straight from the benchmark would report the benchmark's own peak, so
    # a bare interpreter and the agent would come out equal.
    assert measures["rss_collect"]["value"] > baseline
    assert measures["rss_run_once"]["value"] >= measures["rss_collect"]["value"]
    assert measures["rss_collect"]["ratio"] == pytest.approx(measures["rss_collect"]["value"] / baseline)


def test_a_missed_budget_is_named_and_fails_the_run() -> None:
    done = run_bench("--budget", "heartbeat_kb=0.01")

    assert done.returncode == 1, done.stderr
    heartbeat_rows = [line for line in done.stdout.splitlines() if line.startswith("heartbeat")]
    assert heartbeat_rows and all(line.rstrip().endswith("FAIL") for line in heartbeat_rows)
    assert "Budget missed: heartbeat, raw; heartbeat, gzipped" in done.stdout


def test_help_names_every_budget_and_the_exit_statuses() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0
    for name in ("collect_s=1", "rss_mb=40", "full_report_kb=8", "heartbeat_kb=1", "Exit status"):
        assert name in done.stdout
