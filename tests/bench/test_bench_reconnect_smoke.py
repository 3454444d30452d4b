"""bench/reconnect runs end to end and its verdict follows its numbers (a small floor)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "reconnect"


def test_every_seat_comes_back_and_the_exit_status_follows_the_goals() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--seats", "40", "--outage", "300", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    document = json.loads(done.stdout)
    [result] = document["results"]
    assert result["seats_back"] == 40
    assert result["steady_mean_per_window"] > 0
    assert result["back_passed"] == (result["back_within_s_max"] <= 66)
    assert result["peak_passed"] == (result["peak_ratio"] <= 3.0)
    assert done.returncode == (0 if result["back_passed"] and result["peak_passed"] else 1), done.stderr
