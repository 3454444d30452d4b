#!/usr/bin/env python3
"""The largest floor this machine holds: simulated seats report at a fixed interval while the
number of seats steps up, until the answer an agent waits for, or the time from a failing
report to its seat showing NOT READY, gets too slow.

One command does everything: a fresh database on the PostgreSQL named by DATABASE_URL (the
embedded one when unset), migrated; gunicorn (sync workers, as deployed), a Celery worker and
Celery beat on the broker named by CELERY_BROKER_URL or REDIS_URL, on a queue of their own.
Seats are laid out directly in the database (site, floors of 1,000 seats, a device per seat,
enrolled and judged READY, with the facts of its operating system) so that 100,000 seats take
seconds instead of 100,000 enrolments.

Each step runs --step-duration seconds of an open-loop schedule: every seat reports once per
--interval at its own phase, whatever the server's speed, as a floor does. Most reports are
heartbeats (facts unchanged, only their hash); --changed-ratio of them carry changed facts
(alternately a failure, which must turn the seat NOT READY, and the fix); --resend-ratio of the
rest send the full facts again. The load generator is --clients processes, each releasing
reports at their due time to --connections threads with a keep-alive http.client connection
each, so a request costs it little (about 0.2 ms of CPU).

Per step: seats, check-ins per second, p95 answer (the report's scheduled time to its
answer, so time spent waiting for a free server counts), p95 flag (scheduled time of a
failing report to the NOT READY event written by the worker), and CPU per process in cores
(web, worker + beat, the PostgreSQL backends of the benchmark database, Redis, the load
generator, and everything else on the machine). A step breaks when p95 answer exceeds
--answer-p95, p95 flag exceeds --flag-p95, or more than --max-failed of its reports fail;
the series for that interval stops there and the last step that held is its capacity.

Goals (--goal INTERVAL=SEATS, default 60=50000 and 300=100000): PASS when the capacity
at that interval reaches the seats. Exit 0 when every goal passes, 1 when one is missed,
2 when the stack could not be set up.

Examples:
  python bench/capacity                                  # both goals, 60 s steps
  python bench/capacity --interval 60 --seats 1000,2000 --step-duration 20
  python bench/capacity --goal 60=20000 --start 10000 --growth 1.25 --json capacity.json
  make bench-capacity

See bench/README.md for how to read the table, and deploy/README.md for the sizing built on it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import importlib.machinery
import importlib.util
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "agent"))


def _load_ingest():
    """bench/ingest's stack (fresh database, gunicorn, worker, CPU by process group) is reused,
    not copied: both benches must measure the same server the same way."""
    path = REPO / "bench" / "ingest"
    loader = importlib.machinery.SourceFileLoader("bench_ingest", str(path))
    spec = importlib.util.spec_from_loader("bench_ingest", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ingest"] = module  # its dataclasses look their module up there
    loader.exec_module(module)
    return module


ingest = _load_ingest()
say = ingest.say
percentile = ingest.percentile
SetupFailed = ingest.SetupFailed

CHECKIN_PATH = ingest.CHECKIN_PATH
CTI_ORIGIN = ingest.CTI_ORIGIN
GZIP_THRESHOLD = ingest.GZIP_THRESHOLD
OS_CYCLE = ingest.OS_CYCLE
# Scenarios that make a seat NOT READY on every OS (a critical check fails): a changed report
# alternates between one of these and the fix, so every failing report is a READY -> NOT READY
# transition whose delay can be measured.
FAILING = ("site_blocked", "no_headset", "chrome_mic_blocked")
# The facts every seat is laid out with: one snapshot per OS, shared (see lay_out_seats).
TEMPLATE_LABEL = "capacity-template"
SEATS_PER_FLOOR = 1000
DEFAULT_GOALS = "60=50000,300=100000"


def parse_args(argv: list[str]) -> argparse.Namespace:
    def ratio(text: str) -> float:
        value = float(text)
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
        return value

    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
        return value

    def goals(text: str) -> dict[int, int]:
        try:
            pairs = [item.split("=") for item in text.split(",") if item]
            return {int(interval): int(seats) for interval, seats in pairs}
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: write INTERVAL=SEATS[,INTERVAL=SEATS], e.g. 60=50000,300=100000"
            ) from None

    def seat_list(text: str) -> list[int]:
        try:
            values = sorted({int(item) for item in text.split(",") if item})
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: write seat counts, e.g. 1000,2000,5000") from None
        if not values or values[0] < 1:
            raise argparse.ArgumentTypeError("seat counts must be positive")
        return values

    parser = argparse.ArgumentParser(
        prog="bench/capacity",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    series = parser.add_argument_group("steps")
    series.add_argument("--goal", type=goals, default=goals(DEFAULT_GOALS), metavar="I=S[,I=S]",
                        help="seats S the machine must hold when agents report every I seconds; one "
                             f"series of steps per interval (default: {DEFAULT_GOALS})")
    series.add_argument("--interval", type=positive, metavar="S",
                        help="run only this interval (its goal, if --goal names it, still applies)")
    series.add_argument("--seats", type=seat_list, metavar="LIST",
                        help="exact seat counts to step through, instead of --start/--growth")
    series.add_argument("--start", type=float, default=0.1, metavar="F",
                        help="first step: F times the interval's goal, or F seats when F >= 1 "
                             "(default: %(default)s)")
    series.add_argument("--growth", type=float, default=1.5, metavar="G",
                        help="each step has G times the seats of the one before (default: %(default)s)")
    series.add_argument("--max-seats", type=float, default=2.0, metavar="F",
                        help="stop after F times the goal even if nothing broke (default: %(default)s)")
    series.add_argument("--step-duration", type=float, default=60.0, metavar="S",
                        help="measured seconds per step (default: %(default)s)")
    series.add_argument("--warmup", type=float, default=5.0, metavar="S",
                        help="seconds at the step's rate before measuring, not counted "
                             "(default: %(default)s)")
    series.add_argument("--flag-wait", type=float, default=30.0, metavar="S",
                        help="after a step, how long failing reports may still take to show NOT READY "
                             "(later ones count as never flagged) (default: %(default)s)")
    limits = parser.add_argument_group("what breaks a step")
    limits.add_argument("--answer-p95", type=float, default=1.0, metavar="S",
                        help="p95 answer time, seconds (default: %(default)s)")
    limits.add_argument("--flag-p95", type=float, default=5.0, metavar="S",
                        help="p95 time from a failing report to its seat showing NOT READY, seconds "
                             "(default: %(default)s)")
    limits.add_argument("--max-failed", type=ratio, default=0.001, metavar="R",
                        help="share of reports that may fail (not 2xx, timed out) (default: %(default)s)")
    floor = parser.add_argument_group("floor")
    floor.add_argument("--changed-ratio", type=ratio, default=0.02, metavar="R",
                       help="share of reports with changed facts (default: %(default)s, see bench/README.md)")
    floor.add_argument("--resend-ratio", type=ratio, default=0.01, metavar="R",
                       help="share of unchanged reports sending the full facts again (default: %(default)s)")
    floor.add_argument("--seed", type=int, default=1, help="seed of the workload (default: %(default)s)")
    stack = parser.add_argument_group("stack")
    stack.add_argument("--workers", type=positive, default=3, metavar="N",
                       help="gunicorn sync workers (default: %(default)s)")
    stack.add_argument("--worker-concurrency", type=positive, default=1, metavar="N",
                       help="Celery worker processes (default: %(default)s)")
    stack.add_argument("--worker-pool", choices=("prefork", "solo", "threads"), default="prefork",
                       help="Celery execution pool (default: %(default)s)")
    stack.add_argument("--clients", type=positive, default=1, metavar="P",
                       help="load-generator processes (default: %(default)s)")
    stack.add_argument("--connections", type=positive, default=32, metavar="C",
                       help="keep-alive connections per load-generator process, i.e. reports in flight "
                            "at most (default: %(default)s)")
    stack.add_argument("--keep-db", action="store_true", help="keep the benchmark database for inspection")
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="PATH",
                        help="also write the results as JSON to PATH; '-' prints JSON instead of the table")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.interval:
        args.goal = {args.interval: args.goal.get(args.interval, 0)}
    if args.growth <= 1.0:
        parser.error("--growth must be above 1")
    return args


def nice(value: float) -> int:
    """Round a seat count to two significant digits: 7,594 -> 7,600."""
    if value < 100:
        return max(1, round(value))
    digits = 10 ** (int(math.log10(value)) - 1)
    return int(round(value / digits) * digits)


def steps_for(args: argparse.Namespace, interval: int) -> list[int]:
    if args.seats:
        return list(args.seats)
    goal = args.goal.get(interval) or 10_000
    seats = args.start if args.start >= 1 else args.start * goal
    last = args.max_seats * goal
    steps = []
    while seats <= last * 1.0001:
        steps.append(nice(seats))
        seats *= args.growth
    if not steps or steps[-1] < last:
        steps.append(nice(last))
    return sorted(set(steps))


# -- the seats, as the load generator sees them ---------------------------------------------------


def os_of(index: int) -> str:
    return OS_CYCLE[index % len(OS_CYCLE)]


def label_of(index: int) -> str:
    return f"C-{index:06d}"


def node_key_of(index: int) -> str:
    return f"capacity-seat-{index:06d}-key"


class FactsBook:
    """Facts of (seat, scenario) serialised and hashed once per process; the template facts
    (what every seat was laid out with) once per OS."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], tuple[str, str]] = {}

    def get(self, os_name: str, label: str, scenario: str) -> tuple[str, str]:
        key = (os_name, label, scenario)
        if key not in self._cache:
            from readyfloor_agent.report import facts_hash
            from readyfloor_agent.simulate import scenario_facts

            facts = scenario_facts(scenario, os=os_name, seat_label=label, cti_origin=CTI_ORIGIN)
            if len(self._cache) > 20_000:
                self._cache.clear()
            self._cache[key] = (json.dumps(facts, separators=(",", ":")), facts_hash(facts))
        return self._cache[key]

    def template(self, os_name: str) -> tuple[str, str]:
        return self.get(os_name, TEMPLATE_LABEL, "healthy")


@dataclass
class SeatState:
    """A seat that left its laid-out facts: what it reports now, and whether the server has
    acknowledged those facts (else it must send them in full, as the agent does)."""

    scenario: str
    acked: bool


def report_body(report_id: str, facts_json: str | None, digest: str) -> tuple[bytes, dict[str, str]]:
    from readyfloor_agent import __version__

    collected_at = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    head = (f'{{"report_id":"{report_id}","collected_at":"{collected_at}",'
            f'"schema_version":1,"agent_version":"{__version__}",')
    tail = f'"facts":{facts_json}}}' if facts_json is not None else f'"facts_hash":"{digest}"}}'
    body = (head + tail).encode()
    headers = {"Content-Type": "application/json"}
    if len(body) > GZIP_THRESHOLD:
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return body, headers


# -- the load generator (a process of its own) ----------------------------------------------------


@dataclass
class StepLoad:
    sent: int = 0
    measured: int = 0
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    # (report_id, wall-clock time it was due) of every acknowledged failing report
    failing: list[tuple[str, float]] = field(default_factory=list)
    lag_p95_s: float = 0.0
    cpu_s: float = 0.0
    seconds: float = 0.0
    states: dict[str, list[Any]] = field(default_factory=dict)


def run_step_load(spec: dict[str, Any]) -> StepLoad:
    """One process of the floor: a dispatcher releases each report at its due time to
    `connections` sender threads, each with its own keep-alive http.client connection
    (bench/ingest's Connection). Threads of the standard library's client cost about 0.2 ms
    of CPU per request here, against about 0.45 ms for aiohttp on an event loop (measured
    against the same trivial WSGI app), and the load generator must not decide the answer."""
    rng = random.Random(spec["seed"])
    states = {int(index): SeatState(*value) for index, value in spec["states"].items()}
    interval, warmup, duration = spec["interval"], spec["warmup"], spec["duration"]
    # Open loop: each seat is due at its own phase, then every interval, whatever the server does.
    schedule: list[tuple[float, int]] = []
    for index in spec["seats"]:
        due = rng.uniform(0, interval)
        while due < warmup + duration:
            schedule.append((due, index))
            due += interval
    schedule.sort()
    result = StepLoad()
    cpu0 = time.process_time()
    start = time.monotonic() + 0.2
    wall_start = time.time() + 0.2
    queue: SimpleQueue[tuple[float, int] | None] = SimpleQueue()
    parts: list[StepLoad] = []
    parts_lock = threading.Lock()

    def sender(number: int) -> None:
        book = FactsBook()
        own = random.Random(spec["seed"] * 7919 + number)
        part = StepLoad()
        statuses: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        conn = ingest.Connection(spec["port"], timeout=30)
        while (item := queue.get()) is not None:
            due, index = item
            os_name, label = os_of(index), label_of(index)
            state = states.get(index)
            if own.random() < spec["changed_ratio"]:
                current = state.scenario if state else "healthy"
                scenario = own.choice(FAILING) if current == "healthy" else "healthy"
                state = states[index] = SeatState(scenario, False)
                kind = "failing" if scenario != "healthy" else "fixed"
            else:
                kind = "resent" if own.random() < spec["resend_ratio"] else "heartbeat"
            facts_json, digest = book.get(os_name, label, state.scenario) if state else book.template(os_name)
            full = kind != "heartbeat" or (state is not None and not state.acked)
            report_id = str(uuid.uuid4())
            body, headers = report_body(report_id, facts_json if full else None, digest)
            headers["Authorization"] = f"NodeKey {node_key_of(index)}"
            status, _ = conn.send("POST", CHECKIN_PATH, body, headers)
            if status == 409:  # facts_required: resend the same report in full, as the agent does
                body, extra = report_body(report_id, facts_json, digest)
                status, _ = conn.send("POST", CHECKIN_PATH, body, {**headers, **extra})
            answered = time.monotonic()
            ok = 200 <= status < 300
            if ok and state is not None:
                state.acked = True
            part.sent += 1
            if due >= warmup:
                part.measured += 1
                statuses[str(status)] += 1
                kinds[kind] += 1
                part.latencies_s.append(answered - (start + due))
                if ok and kind == "failing":
                    part.failing.append((report_id, wall_start + due))
        conn.close()
        part.statuses, part.kinds = dict(statuses), dict(kinds)
        with parts_lock:
            parts.append(part)

    threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(spec["connections"])]
    for thread in threads:
        thread.start()
    lags: list[float] = []
    for due, index in schedule:
        delay = start + due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if due >= warmup:
            lags.append(max(0.0, time.monotonic() - (start + due)))
        queue.put((due, index))
    for _ in threads:
        queue.put(None)
    for thread in threads:
        thread.join(timeout=90)
    for part in parts:
        result.sent += part.sent
        result.measured += part.measured
        result.latencies_s += part.latencies_s
        result.failing += part.failing
        result.statuses = dict(Counter(result.statuses) + Counter(part.statuses))
        result.kinds = dict(Counter(result.kinds) + Counter(part.kinds))
    result.seconds = duration
    lags.sort()
    result.lag_p95_s = percentile(lags, 0.95) if lags else 0.0
    result.cpu_s = time.process_time() - cpu0
    result.states = {str(index): [state.scenario, state.acked] for index, state in states.items()}
    return result


def loadgen_main() -> int:
    """`bench/capacity --loadgen`: a spec on stdin, the StepLoad as JSON on stdout."""
    spec = json.load(sys.stdin)
    result = run_step_load(spec)
    json.dump(asdict(result), sys.stdout)
    return 0


# -- the stack and the floor ---------------------------------------------------------------------


def lay_out_site(max_interval: int) -> dict[str, Any]:
    """Migrate, then the site, its policy and the facts snapshots every seat starts from."""
    from django.core.management import call_command
    from readyfloor_agent.report import facts_hash
    from readyfloor_agent.simulate import scenario_facts

    from server.compliance import policy_versions
    from server.compliance.models import Policy
    from server.fleet.models import FactSnapshot, Site

    call_command("migrate", verbosity=0, interactive=False)
    site = Site.objects.create(name="Capacity contact centre", timezone="Europe/Paris")
    # The freshness window outlasts any step: a seat of the floor that a step leaves silent must
    # not turn OFFLINE and load the worker with evaluations the step did not ask for.
    policy = Policy(name="Capacity softphone policy", site=site, cti_origins=[CTI_ORIGIN],
                    freshness_s=max(3600, 4 * max_interval), checkin_interval_s=max_interval)
    policy_versions.save(policy, comment="bench/capacity")
    snapshots = {}
    for os_name in sorted(set(OS_CYCLE)):
        facts = scenario_facts("healthy", os=os_name, seat_label=TEMPLATE_LABEL, cti_origin=CTI_ORIGIN)
        digest = facts_hash(facts)
        snapshots[os_name] = (FactSnapshot.objects.create(sha256=digest, facts=facts).pk, digest)
    return {"site": site.pk, "snapshots": snapshots, "seats": 0}


def lay_out_seats(floor_plan: dict[str, Any], target: int) -> float:
    """Add seats (and floors of SEATS_PER_FLOOR) until there are `target`, each with a device
    enrolled under node_key_of(index), seated, READY and holding its OS's template facts.

    Straight SQL with generate_series: the ORM would take minutes for 100,000 seats. The
    template snapshot is shared by the seats of an OS (real seats differ by serial numbers and
    device ids, so each has its own); the cost that matters, storing a seat's own new facts,
    is paid by every changed report of the load, which carries the seat's own facts."""
    from django.db import connection

    from server.fleet.models import Device, Floor, Seat

    first = floor_plan["seats"]
    if target <= first:
        return 0.0
    began = time.monotonic()
    snapshots = floor_plan["snapshots"]
    cases_id = " ".join(f"WHEN {n} THEN {snapshots[name][0]}" for n, name in enumerate(OS_CYCLE))
    cases_hash = " ".join(f"WHEN {n} THEN '{snapshots[name][1]}'" for n, name in enumerate(OS_CYCLE))
    cases_os = " ".join(f"WHEN {position} THEN '{os_name}'" for position, os_name in enumerate(OS_CYCLE))
    cycle = len(OS_CYCLE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Floor._meta.db_table} (site_id, name)"
            " SELECT %(site)s, 'Floor ' || lpad(f::text, 3, '0')"
            " FROM generate_series(%(first_floor)s, %(last_floor)s) AS f"
            " ON CONFLICT DO NOTHING",
            {"site": floor_plan["site"], "first_floor": first // SEATS_PER_FLOOR,
             "last_floor": (target - 1) // SEATS_PER_FLOOR},
        )
        cursor.execute(
            f'INSERT INTO {Seat._meta.db_table} (floor_id, label, "row", "column", team, readiness,'
            " readiness_since, evaluated_at, failing)"
            " SELECT fl.id, 'C-' || lpad(i::text, 6, '0'), (i %% %(per)s) / 40, i %% 40, '', 'ready',"
            " now(), now(), '[]'::jsonb"
            " FROM generate_series(%(first)s, %(last)s - 1) AS i"
            f" JOIN {Floor._meta.db_table} fl ON fl.site_id = %(site)s"
            " AND fl.name = 'Floor ' || lpad((i / %(per)s)::text, 3, '0')",
            {"site": floor_plan["site"], "first": first, "last": target, "per": SEATS_PER_FLOOR},
        )
        cursor.execute(
            f"INSERT INTO {Device._meta.db_table} (site_id, host_identifier, hostname, os, os_version,"
            " agent_version, node_key_hash, seat_id, enrolled_at, last_seen_at, current_facts_id, facts_hash,"
            " facts_collected_at, dropped_reports)"
            " SELECT %(site)s, 'capacity-' || s.label, lower('capacity-' || s.label),"
            f" CASE i %% {cycle} {cases_os} END, '', '0.1.0',"
            " encode(sha256(convert_to('capacity-seat-' || lpad(i::text, 6, '0') || '-key', 'UTF8')), 'hex'),"
            f" s.id, now(), now(), CASE i %% {cycle} {cases_id} END, CASE i %% {cycle} {cases_hash} END,"
            " now() - interval '1 hour', 0"
            " FROM generate_series(%(first)s, %(last)s - 1) AS i"
            f" JOIN {Floor._meta.db_table} fl ON fl.site_id = %(site)s"
            " AND fl.name = 'Floor ' || lpad((i / %(per)s)::text, 3, '0')"
            f" JOIN {Seat._meta.db_table} s ON s.floor_id = fl.id"
            " AND s.label = 'C-' || lpad(i::text, 6, '0')",
            {"site": floor_plan["site"], "first": first, "last": target, "per": SEATS_PER_FLOOR},
        )
        cursor.execute("ANALYZE")
    floor_plan["seats"] = target
    judge_new_seats()
    return time.monotonic() - began


def judge_new_seats(timeout: float = 600.0) -> None:
    """Judge the seats just laid out, as a floor in its steady state has been: results and a
    verdict under the policy version in force. Otherwise the worker's sweep would re-judge
    every new seat during the step, and the step would measure a policy change instead.

    Whoever holds the bulk lock does it (this process, or the worker's sweep if it got there
    first); this waits until no seat is left to judge."""
    from server.compliance import evaluation

    deadline = time.monotonic() + timeout
    while True:
        evaluation.reevaluate_stale()
        if not evaluation.stale_devices():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"laid-out seats still unjudged after {timeout:.0f} s")
        time.sleep(0.5)


class Meter:
    """CPU seconds by process: web (gunicorn and its workers), worker (Celery worker and beat),
    db (PostgreSQL backends connected to the benchmark database), redis (the broker's process,
    when it runs on this host: shared with anything else using it), and the whole machine."""

    def __init__(self, stack: Any) -> None:
        import psutil

        self.psutil = psutil
        self.stack = stack
        self.redis_pid = self._redis_pid()

    def _redis_pid(self) -> int | None:
        from django.conf import settings

        if not settings.CELERY_BROKER_URL.startswith("redis"):
            return None
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
            pid = int(client.info("server")["process_id"])
            self.psutil.Process(pid)  # on this host?
            return pid
        return None

    def _tree(self, pid: int) -> float:
        total = 0.0
        with contextlib.suppress(self.psutil.Error):
            root = self.psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(self.psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        return total

    def read(self) -> dict[str, float]:
        from django.db import connection

        web = self._tree(self.stack.processes["web"].pid)
        worker = sum(self._tree(self.stack.processes[name].pid) for name in ("worker", "beat")
                     if name in self.stack.processes)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid()")
            backends = [row[0] for row in cursor.fetchall()]
        db = 0.0
        for pid in backends:
            with contextlib.suppress(self.psutil.Error):
                times = self.psutil.Process(pid).cpu_times()
                db += times.user + times.system
        redis_cpu = self._tree(self.redis_pid) if self.redis_pid else float("nan")
        machine = self.psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + getattr(machine, "irq", 0) + \
            getattr(machine, "softirq", 0) + getattr(machine, "steal", 0)
        return {"web": web, "worker": worker, "db": db, "redis": redis_cpu, "machine": busy,
                "wall": time.monotonic()}


def cores_used(before: dict[str, float], after: dict[str, float], loadgen_cpu: float) -> dict[str, float]:
    wall = max(1e-6, after["wall"] - before["wall"])
    cores = {name: max(0.0, (after[name] - before[name]) / wall) for name in ("web", "worker", "db", "redis")
             if not math.isnan(after[name])}
    cores["loadgen"] = loadgen_cpu / wall
    machine = (after["machine"] - before["machine"]) / wall
    cores["machine"] = machine
    # Everything else: other people's work on a shared machine, PostgreSQL's own background
    # processes (WAL writer, checkpointer), the benchmark's own bookkeeping.
    cores["others"] = max(0.0, machine - sum(v for k, v in cores.items() if k != "machine"))
    return cores


# -- one step -------------------------------------------------------------------------------------


@dataclass
class Step:
    interval: int
    seats: int
    target_per_s: float
    checkins_per_s: float = 0.0
    measured: int = 0
    p50_answer_s: float = float("nan")
    p95_answer_s: float = float("nan")
    p95_flag_s: float = float("nan")
    flags: int = 0
    unflagged: int = 0
    failed: int = 0
    loadgen_lag_p95_s: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    ms_per_checkin: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    layout_s: float = 0.0
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    broke: str = ""

    @property
    def held(self) -> bool:
        return not self.broke


def run_loadgen(args: argparse.Namespace, port: int, interval: int, seats: int,
                states: dict[str, list[Any]], number: int) -> StepLoad:
    clients = min(args.clients, seats)
    procs = []
    for index in range(clients):
        share = list(range(index, seats, clients))
        spec = {
            "port": port, "interval": interval, "warmup": args.warmup, "duration": args.step_duration,
            "changed_ratio": args.changed_ratio, "resend_ratio": args.resend_ratio,
            "seed": (args.seed * 1000 + number) * 100 + index, "connections": args.connections,
            "seats": share,
            "states": {key: value for key, value in states.items() if int(key) % clients == index},
        }
        process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--loadgen"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, text=True)
        procs.append((process, json.dumps(spec)))
    for process, text in procs:
        assert process.stdin is not None
        process.stdin.write(text)
        process.stdin.close()
    merged = StepLoad()
    lags = []
    limit = args.warmup + args.step_duration + 180
    for process, _ in procs:
        assert process.stdout is not None
        try:
            text = process.stdout.read()
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            raise SetupFailed(f"the load generator did not stop within {limit:.0f} s") from None
        if process.returncode != 0:
            raise SetupFailed(f"the load generator failed with code {process.returncode}")
        part = StepLoad(**json.loads(text))
        merged.sent += part.sent
        merged.measured += part.measured
        merged.latencies_s += part.latencies_s
        merged.failing += [tuple(item) for item in part.failing]
        merged.cpu_s += part.cpu_s
        merged.seconds = max(merged.seconds, part.seconds)
        merged.statuses = dict(Counter(merged.statuses) + Counter(part.statuses))
        merged.kinds = dict(Counter(merged.kinds) + Counter(part.kinds))
        merged.states.update(part.states)
        lags.append(part.lag_p95_s)
    merged.lag_p95_s = max(lags) if lags else 0.0
    return merged


def flag_delays(failing: list[tuple[str, float]], wait: float) -> tuple[list[float], int]:
    """Seconds from each failing report's due time to the NOT READY event of its seat written
    after the report arrived; waits up to `wait` for the worker to catch up. Returns the
    delays found and how many reports were never flagged."""
    from django.db import connection

    from server.compliance.models import SeatEvent
    from server.fleet.models import CheckIn, Device

    if not failing:
        return [], 0
    due = {report_id: at for report_id, at in failing}
    sql = (
        "SELECT c.report_id::text, (SELECT min(e.at) FROM"
        f" {SeatEvent._meta.db_table} e WHERE e.seat_id = d.seat_id AND e.to_readiness = 'not_ready'"
        " AND e.at >= c.received_at)"
        f" FROM {CheckIn._meta.db_table} c JOIN {Device._meta.db_table} d ON d.id = c.device_id"
        " WHERE c.report_id = ANY(%s::uuid[])"
    )
    deadline = time.monotonic() + wait
    found: dict[str, float] = {}
    while True:
        pending = [report_id for report_id in due if report_id not in found]
        with connection.cursor() as cursor:
            cursor.execute(sql, [pending])
            for report_id, at in cursor.fetchall():
                if at is not None:
                    found[report_id] = at.timestamp() - due[report_id]
        if len(found) == len(due) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return list(found.values()), len(due) - len(found)


def run_step(args: argparse.Namespace, stack: Any, meter: Meter, floor_plan: dict[str, Any],
             interval: int, seats: int, states: dict[str, list[Any]], number: int) -> Step:
    step = Step(interval=interval, seats=seats, target_per_s=seats / interval)
    step.layout_s = lay_out_seats(floor_plan, seats)
    stack.check_alive()
    before = meter.read()
    load = run_loadgen(args, stack.port, interval, seats, states, number)
    delays, step.unflagged = flag_delays(load.failing, args.flag_wait)
    after = meter.read()
    states.update(load.states)
    step.load_average = os.getloadavg()
    step.measured = load.measured
    step.checkins_per_s = load.measured / args.step_duration
    latencies = sorted(load.latencies_s)
    step.p50_answer_s = percentile(latencies, 0.50)
    step.p95_answer_s = percentile(latencies, 0.95)
    step.flags = len(delays)
    # A failing report never flagged within --flag-wait counts as infinitely late.
    flag_values = sorted(delays + [math.inf] * step.unflagged)
    step.p95_flag_s = percentile(flag_values, 0.95) if flag_values else float("nan")
    step.failed = sum(n for status, n in load.statuses.items() if not status.startswith("2"))
    step.statuses, step.kinds = load.statuses, load.kinds
    step.loadgen_lag_p95_s = load.lag_p95_s
    step.cores = cores_used(before, after, load.cpu_s)
    wall = after["wall"] - before["wall"]
    if load.sent:
        step.ms_per_checkin = {name: round(value * wall * 1000 / load.sent, 3)
                               for name, value in step.cores.items() if name not in {"machine", "others"}}
    step.broke = why_broke(args, step)
    return step


def why_broke(args: argparse.Namespace, step: Step) -> str:
    reasons = []
    if step.measured == 0:
        reasons.append("no report was measured (lengthen --step-duration)")
    if step.p95_answer_s > args.answer_p95:
        reasons.append(f"p95 answer {step.p95_answer_s:.2f} s > {args.answer_p95:g} s")
    if step.p95_flag_s > args.flag_p95:
        never = f" ({step.unflagged} never flagged within {args.flag_wait:g} s)" if step.unflagged else ""
        reasons.append(f"p95 flag {fmt_s(step.p95_flag_s)} s > {args.flag_p95:g} s{never}")
    if step.measured and step.failed / step.measured > args.max_failed:
        reasons.append(f"{step.failed} of {step.measured} reports failed ({step.statuses})")
    if not reasons:
        return ""
    return "; ".join(reasons) + "; " + bottleneck(step)


def bottleneck(step: Step) -> str:
    """Where the time went: the processes by cores used, and whether the machine was full."""
    cores = step.cores
    cpu_count = os.cpu_count() or 1
    parts = sorted(((v, k) for k, v in cores.items() if k != "machine"), reverse=True)
    named = ", ".join(f"{k} {v:.2f}" for v, k in parts if v >= 0.05)
    text = f"cores busy {cores.get('machine', 0):.2f} of {cpu_count} ({named})"
    if step.loadgen_lag_p95_s > 0.25:
        text += f"; the load generator itself ran {step.loadgen_lag_p95_s:.2f} s late (p95)"
    if cores.get("machine", 0) >= 0.9 * cpu_count:
        text += "; the machine's cores are full"
    return text


# -- output ---------------------------------------------------------------------------------------


CORE_PARTS = ("web", "worker", "db", "redis", "loadgen", "others")


def fmt_s(value: float) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never"
    return f"{value:.2f}"


def table(steps: list[Step]) -> str:
    header = ("interval", "seats", "ckin/s", "p95 answer s", "p95 flag s", "flags", "failed",
              *(f"{part}" for part in CORE_PARTS), "load avg", "step")
    lines = []
    for step in steps:
        lines.append([
            f"{step.interval} s", f"{step.seats:,}", f"{step.checkins_per_s:.0f}", fmt_s(step.p95_answer_s),
            fmt_s(step.p95_flag_s), str(step.flags), str(step.failed),
            *(f"{step.cores[part]:.2f}" if part in step.cores else "-" for part in CORE_PARTS),
            f"{step.load_average[0]:.1f}", "held" if step.held else "BROKE",
        ])
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    rule = fmt.format(*("-" * w for w in widths))
    return "\n".join([fmt.format(*header), rule] + [fmt.format(*line) for line in lines])


@dataclass
class Capacity:
    interval: int
    goal: int
    held: int
    broke_at: int | None
    reason: str

    @property
    def passed(self) -> bool:
        return self.held >= self.goal

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        text = f"goal {self.goal:,} seats at {self.interval} s: holds {self.held:,}"
        if self.broke_at:
            text += f"; {self.broke_at:,} broke: {self.reason}"
        elif not self.passed:
            text += " (no larger step was run)"
        return f"{text}  {verdict}"


# -- main -----------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if "--loadgen" in argv:
        return loadgen_main()
    args = parse_args(argv)
    stack = ingest.Stack(args)
    status = 2
    try:
        status = benchmark(args, stack)
        return status
    except SetupFailed as error:
        say(f"bench/capacity: could not set up the stack: {error}\n{stack.log_tail()}")
        return status
    finally:
        stack.stop()
        stack.delete_queue()
        stack.drop_database()
        if status == 0:
            shutil.rmtree(stack.log_dir, ignore_errors=True)
        else:
            say(f"server logs kept in {stack.log_dir}")


def benchmark(args: argparse.Namespace, stack: Any) -> int:
    stack.create_database()
    ingest.setup_django()
    say(f"database {stack.db_name}: migrating and laying out the site")
    floor_plan = lay_out_site(max(args.goal))
    say(f"starting gunicorn ({args.workers} sync workers, port {stack.port}), a Celery worker "
        f"(concurrency {args.worker_concurrency}) and beat; logs in {stack.log_dir}")
    stack.start_services()
    stack.start("beat", [sys.executable, "-m", "celery", "-A", "server", "beat", "--loglevel=WARNING",
                         "-s", str(stack.log_dir / "beat-schedule")])
    meter = Meter(stack)
    load_at_start = os.getloadavg()
    say(f"load average at start: {load_at_start[0]:.2f} {load_at_start[1]:.2f} {load_at_start[2]:.2f} "
        f"on {os.cpu_count()} cores")
    steps: list[Step] = []
    capacities: list[Capacity] = []
    states: dict[str, list[Any]] = {}
    number = 0
    for interval in sorted(args.goal):
        held, broke_at, reason = 0, None, ""
        for seats in steps_for(args, interval):
            number += 1
            say(f"step {number}: {seats:,} seats every {interval} s ({seats / interval:.0f} check-ins/s) "
                f"for {args.warmup:g}+{args.step_duration:g} s")
            step = run_step(args, stack, meter, floor_plan, interval, seats, states, number)
            steps.append(step)
            say(f"  {step.checkins_per_s:.0f}/s, p95 answer {fmt_s(step.p95_answer_s)} s, "
                f"p95 flag {fmt_s(step.p95_flag_s)} s: {'held' if step.held else 'BROKE: ' + step.broke}")
            if not step.held:
                broke_at, reason = seats, step.broke
                break
            held = seats
        capacities.append(Capacity(interval, args.goal[interval], held, broke_at, reason))
    stack.check_alive()
    load_at_end = os.getloadavg()
    if args.json != "-":
        print(table(steps))
        for capacity in capacities:
            print(capacity.line())
        print(f"load average {load_at_start[0]:.2f} at start, {load_at_end[0]:.2f} at end, "
              f"on {os.cpu_count()} cores ('others' is CPU this benchmark did not use)")
    if args.json:
        document = {
            "settings": {key: value for key, value in vars(args).items() if key not in {"json", "loadgen"}},
            "cpu_count": os.cpu_count(),
            "load_average": {"start": load_at_start, "end": load_at_end},
            "steps": [{**asdict(step), "held": step.held} for step in steps],
            "capacity": [{**asdict(capacity), "passed": capacity.passed} for capacity in capacities],
        }
        text = json.dumps(document, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0 if all(capacity.passed for capacity in capacities) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
