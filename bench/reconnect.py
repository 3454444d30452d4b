#!/usr/bin/env python3
"""After a server outage, does the floor report again quickly, and without a stampede?

A discrete-event simulation of a floor of seats, each running the agent's real service loop
(readyfloor_agent.service.AgentService: its spool on disk, its backoff, its drain pace, its
Retry-After handling), on a simulated clock, against an in-process server that is up, then
down for the outage, then up again. Nothing sleeps: an hour of floor takes seconds.

Seats boot at random moments of the first interval, as a real floor does. The steady rate is
measured before the outage in the same run and is the baseline of the ratios.

Goals (issue 11, item 5):
  time to report again   every seat's first check-in accepted after the server's return
                         within one interval (its jitter included: interval x 1.1)
  reconnect peak         the busiest window of check-ins (--window seconds) after the
                         return, at most 3x the mean steady window

Also printed: how long the backlog takes to drain (every spool empty again).

Exit status: 0 every goal met, 1 a goal missed.

Examples:
  python bench/reconnect
  python bench/reconnect --seats 500 --outage 180 --outage 3600
  python bench/reconnect --json
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "agent"))

from readyfloor_agent.client import AgentConfig, CheckinResponse, Enrollment, Unavailable  # noqa: E402
from readyfloor_agent.config import AgentSettings, StateDir  # noqa: E402
from readyfloor_agent.service import AgentService  # noqa: E402

PEAK_GOAL = 3.0
FACTS = {"host": {"hostname": "seat", "os": "linux"}, "chrome": {"status": "ok"}}


@dataclass
class SimulatedServer:
    """Up or down on a schedule; counts the requests that reach it while up."""

    interval_s: int
    down_from: float
    down_until: float
    now: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    first_after_return: dict[int, float] = field(default_factory=dict)
    keys: int = 0

    @property
    def up(self) -> bool:
        return not (self.down_from <= self.now < self.down_until)

    def refuse_when_down(self) -> None:
        if not self.up:
            raise Unavailable("connection refused (simulated outage)")


class SeatClient:
    """The agent's client API, answered by the simulated server for one seat."""

    def __init__(self, server: SimulatedServer, seat: int) -> None:
        self.server, self.seat = server, seat
        self.base_url = "http://simulated"

    def enroll(self, **_: Any) -> Enrollment:
        self.server.refuse_when_down()
        self.server.keys += 1
        return Enrollment(f"key-{self.seat}", self.seat, self.server.interval_s)

    def checkin(self, node_key: str, body: dict[str, Any]) -> CheckinResponse:
        self.server.refuse_when_down()
        # Check-ins are what the goal counts: the floor's reports (an hourly policy fetch
        # per seat is spread like the check-ins and does not follow the outage).
        self.server.arrivals.append(self.server.now)
        if self.server.now >= self.server.down_until:
            self.server.first_after_return.setdefault(self.seat, self.server.now)
        return CheckinResponse("accepted", False, self.server.interval_s, "v1", 202)

    def config(self, node_key: str) -> AgentConfig:
        self.server.refuse_when_down()
        return AgentConfig("v1", self.server.interval_s, {})


def simulate(seats: int, interval_s: int, outage_s: float, window_s: float, seed: int) -> dict[str, Any]:
    steady_from, down_from = 5 * interval_s, 20 * interval_s
    down_until = down_from + outage_s
    end = down_until + max(outage_s, 10 * interval_s) + 10 * interval_s
    server = SimulatedServer(interval_s, down_from, down_until)
    services: list[AgentService] = []
    due: list[tuple[float, int]] = []
    # Spools on a RAM disk where there is one: the simulation writes hundreds of thousands.
    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="rf-reconnect-", dir=scratch) as root:
        for seat in range(seats):
            rng = random.Random(seed * 100_003 + seat)
            settings = AgentSettings(
                server="http://simulated", enroll_secret="x" * 12, state_dir=Path(root) / str(seat)
            )
            state = StateDir(settings.state_dir)
            state.ensure()
            state.update(next_checkin_s=interval_s)
            service = AgentService(
                settings,
                state=state,
                client=SeatClient(server, seat),  # type: ignore[arg-type]
                collect_facts=lambda: dict(FACTS),
                clock=lambda: server.now,
                wait=lambda _seconds: None,
                rng=rng,
            )
            service._next_collect_at = rng.uniform(0, interval_s)  # seats boot at random moments
            services.append(service)
            heapq.heappush(due, (service._next_collect_at, seat))
        drained_at: float | None = None
        while due:
            moment, seat = heapq.heappop(due)
            if moment > end:
                break
            server.now = moment
            delay = services[seat].step()
            heapq.heappush(due, (moment + max(delay, 0.001), seat))
            all_back = moment > down_until and len(server.first_after_return) == seats
            if drained_at is None and all_back and all(len(service.spool) <= 1 for service in services):
                drained_at = moment
        backlog_left = sum(len(service.spool) for service in services)

    def count(start: float, stop: float) -> int:
        return sum(1 for t in server.arrivals if start <= t < stop)

    steady_windows = [count(t, t + window_s) for t in _range(steady_from, down_from, window_s)]
    steady_mean = sum(steady_windows) / len(steady_windows)
    steady_peak = max(steady_windows)
    after = [count(t, t + window_s) for t in _range(down_until, end - window_s, 1.0)]
    reconnect_peak = max(after) if after else 0
    delays = sorted(t - down_until for t in server.first_after_return.values())
    return {
        "seats": seats,
        "interval_s": interval_s,
        "outage_s": outage_s,
        "window_s": window_s,
        "steady_mean_per_window": steady_mean,
        "steady_peak_per_window": steady_peak,
        "reconnect_peak_per_window": reconnect_peak,
        "peak_ratio": reconnect_peak / steady_mean if steady_mean else float("inf"),
        "steady_peak_ratio": steady_peak / steady_mean if steady_mean else float("inf"),
        "seats_back": len(delays),
        "back_within_s_max": delays[-1] if delays else None,
        "back_within_s_p50": delays[len(delays) // 2] if delays else None,
        "drained_after_s": (drained_at - down_until) if drained_at is not None else None,
        "backlog_left": backlog_left,
    }


def _range(start: float, stop: float, step: float) -> list[float]:
    values, value = [], start
    while value < stop:
        values.append(value)
        value += step
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/reconnect",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("Examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seats", type=int, default=200, help="seats on the floor (default 200)")
    parser.add_argument("--interval", type=int, default=60, help="check-in interval, seconds (default 60)")
    parser.add_argument(
        "--outage", type=float, action="append", metavar="SECONDS",
        help="outage length; repeat for several (default 180 and 1800)",
    )
    parser.add_argument("--window", type=float, default=10.0, help="rate window, seconds (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # every seat's "server unavailable" line, times hundreds
    outages = args.outage or [180.0, 1800.0]
    started = time.monotonic()
    results = [simulate(args.seats, args.interval, outage, args.window, args.seed) for outage in outages]
    missed = []
    for result in results:
        back_goal = args.interval * 1.1
        all_back = result["seats_back"] == args.seats
        result["back_passed"] = all_back and result["back_within_s_max"] <= back_goal
        result["peak_passed"] = result["peak_ratio"] <= PEAK_GOAL
        if not result["back_passed"]:
            missed.append(f"time to report again after {result['outage_s']:g} s")
        if not result["peak_passed"]:
            missed.append(f"reconnect peak after {result['outage_s']:g} s")
    if args.json:
        print(json.dumps({"results": results, "missed": missed}, indent=2))
        return 1 if missed else 0
    print(
        f"{args.seats} seats, interval {args.interval} s, rate windows of {args.window:g} s "
        f"(simulated in {time.monotonic() - started:.1f} s)\n"
    )
    header = f"{'outage':>8}  {'measure':<34} {'value':>12} {'goal':>12}  result"
    print(header)
    print("-" * len(header))
    for result in results:
        outage = f"{result['outage_s']:g} s"
        rows = [
            ("steady rate (baseline)", f"{result['steady_mean_per_window']:.1f}/win", "-", ""),
            ("steady peak window", f"{result['steady_peak_ratio']:.2f}x", "-", ""),
            (
                "last seat back after return",
                "never" if result["back_within_s_max"] is None else f"{result['back_within_s_max']:.0f} s",
                f"{args.interval * 1.1:.0f} s",
                "PASS" if result["back_passed"] else "FAIL",
            ),
            ("median seat back after return", f"{result['back_within_s_p50'] or 0:.0f} s", "-", ""),
            (
                "reconnect peak window",
                f"{result['peak_ratio']:.2f}x",
                f"{PEAK_GOAL:.1f}x",
                "PASS" if result["peak_passed"] else "FAIL",
            ),
            (
                "backlog drained after return",
                f"{result['drained_after_s']:.0f} s" if result["drained_after_s"] is not None else "not yet",
                "-",
                "",
            ),
        ]
        for name, value, goal, verdict in rows:
            print(f"{outage:>8}  {name:<34} {value:>12} {goal:>12}  {verdict}")
    print()
    print("Goal missed: " + "; ".join(missed) if missed else "Every goal met.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
