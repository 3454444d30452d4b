"""bench/reports runs end to end on small floors: a fresh database, a floor laid out with history,
the report made through the scheduled path, a table per part, and a missed goal exits 1.

Uses the PostgreSQL of the test run (DATABASE_URL, or the embedded one); the benchmark makes and
drops a database of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BENCH = REPO / "bench" / "reports"

pytestmark = pytest.mark.slow


def test_a_small_floor_is_reported_part_by_part_and_a_missed_goal_fails(tmp_path: Path) -> None:
    results = tmp_path / "reports.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--seats", "200", "--baseline-seats", "20", "--days", "1",
         "--goal-s", "0.001", "--json", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert done.returncode == 1, done.stdout + done.stderr  # nothing renders a PDF in a millisecond
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["part", "200", "seats"]
    parts = [line for line in lines[2:] if line.strip()]
    for name in ("content: seats, history, acks", "render CSV", "render PDF (WeasyPrint)", "store files"):
        assert any(line.startswith(name) for line in parts), name
    total = next(line for line in parts if line.startswith("report, CSV + PDF"))
    assert total.split()[-4:] == ["<=", "0.001", "s", "FAIL"]
    document = json.loads(results.read_text())
    assert document["passed"] is False
    assert document["big"]["sizes"]["pdf"] > 0 and document["big"]["sizes"]["csv"] > 0
    assert document["baseline"]["total_s"] > 0 and document["big"]["total_s"] > 0
