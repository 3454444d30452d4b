#!/usr/bin/env python3
"""How fast ReadyFloor judges seats: a full re-evaluation after a policy change at 10k and
100k stored seats, one check-in's evaluation at each size, and how soon a failing report
shows as NOT READY while check-ins arrive at a steady rate.

One command: it creates a fresh benchmark database (on the PostgreSQL named by DATABASE_URL,
or the embedded one when unset), migrates it, and lays out seats with workstations whose
facts come from the simulator's scenarios (every seat has its own host name, so its own
facts snapshot), all in SQL so that laying out 100k seats takes seconds.

For each size (--seats, default 10000,100000; the layout grows from one to the next):

  first judgement   every seat judged for the first time (no verdict yet)
  policy change     the floor's policy saved with a changed CTI origin, then every seat
                    re-judged, in process and in chunks, exactly as the bulk worker does
                    (compliance.evaluation.reevaluate_stale)
  one check-in      evaluate_device on --sample seats one by one: the per-check-in path

Then (unless --no-flags) it starts gunicorn and a Celery worker and sends heartbeats at
--rate check-ins/s for --duration s; --flips-per-s of them are full reports that break a
healthy seat (the CTI site blocked). It measures, for each, the time from the 2xx to the
seat reading NOT READY in PostgreSQL (polled every 20 ms), p50/p95.

Goals (PASS/FAIL, exit 1 when one is missed): the policy change at the largest size within
--goal-full-s (60) seconds; its time at the largest size over its time at the smallest, per
seat, within --goal-linear (1.25) of linear; the flag p95 within --goal-flag-s (5) at the
offered rate, which must be reached (95 %).

Examples:
  python bench/evaluate                                  # 10k and 100k seats, 10 s of flags
  python bench/evaluate --seats 2000,20000 --duration 5  # quicker, on a busy machine
  python bench/evaluate --no-flags --json results.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.machinery
import importlib.util
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "agent"))

SEATS_PER_FLOOR = 1000
CTI_ORIGIN = "https://acme.my.salesforce.com"
CHANGED_ORIGINS = ["https://acme.my.salesforce.com", "https://acme.lightning.force.com"]
# Kinds of seats on the floor (simulator scenarios, each on the OSes it exists on).
KINDS = (
    "healthy", "healthy", "healthy", "site_blocked", "no_headset", "headset_not_default", "one_time_allow",
)


def _ingest_bench() -> Any:
    """bench/ingest as a module: its Stack (database, gunicorn, worker) and HTTP connection."""
    path = REPO / "bench" / "ingest"
    loader = importlib.machinery.SourceFileLoader("bench_ingest", str(path))
    spec = importlib.util.spec_from_loader("bench_ingest", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ingest"] = module
    loader.exec_module(module)
    return module


def parse_args(argv: list[str]) -> argparse.Namespace:
    def sizes(text: str) -> list[int]:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
        if not values or values[0] < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: positive seat counts, comma-separated")
        return values

    parser = argparse.ArgumentParser(
        prog="bench/evaluate",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seats", type=sizes, default=[10_000, 100_000], metavar="N,N",
                        help="stored seat counts to measure at (default: 10000,100000)")
    parser.add_argument("--sample", type=int, default=300, help="seats judged one by one per size")
    parser.add_argument("--chunk", type=int, default=None, help="devices per bulk chunk (default: settings)")
    parser.add_argument("--no-flags", action="store_true", help="skip the flag-latency scenario")
    parser.add_argument("--rate", type=float, default=500.0, help="check-ins per second offered")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of steady check-ins")
    parser.add_argument("--flips-per-s", type=float, default=5.0, help="failing reports per second")
    parser.add_argument("--live-devices", type=int, default=2000, help="workstations sending check-ins")
    parser.add_argument("--clients", type=int, default=32, help="load-generator threads")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--goal-full-s", type=float, default=60.0)
    parser.add_argument("--goal-linear", type=float, default=1.25)
    parser.add_argument("--goal-flag-s", type=float, default=5.0)
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- laying out seats, in SQL ---------------------------------------------------------------------


def templates() -> list[dict[str, Any]]:
    from readyfloor_agent.simulate import scenario, scenario_facts

    found = []
    for kind in KINDS:
        for os_name in ("windows", "macos", "linux"):
            if os_name in scenario(kind).platforms:
                found.append(scenario_facts(kind, os=os_name, seat_label="A-01", cti_origin=CTI_ORIGIN))
    return found


def lay_out(site_id: int, start: int, end: int) -> None:
    """Seats start..end-1 (floors of SEATS_PER_FLOOR), each with a workstation whose facts are
    one of the templates with its own host name, hence its own snapshot."""
    from django.db import connection
    from psycopg.types.json import Jsonb

    from server.fleet.models import Device, FactSnapshot, Floor, Seat

    kinds = templates()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Floor._meta.db_table} (site_id, name)
                SELECT %s, 'Floor ' || f FROM generate_series(%s, %s) f
                ON CONFLICT DO NOTHING""",
            [site_id, start // SEATS_PER_FLOOR, (end - 1) // SEATS_PER_FLOOR],
        )
        cursor.execute(
            f"""INSERT INTO {Seat._meta.db_table}
                    (floor_id, label, "row", "column", team, readiness, readiness_since, failing)
                SELECT floor.id, 'S' || n, (n %% {SEATS_PER_FLOOR}) / 25, n %% 25, '', 'unknown', now(), '[]'
                FROM generate_series(%s, %s) n
                JOIN {Floor._meta.db_table} floor
                  ON floor.site_id = %s AND floor.name = 'Floor ' || (n / {SEATS_PER_FLOOR})""",
            [start, end - 1, site_id],
        )
        cursor.execute(
            f"""INSERT INTO {FactSnapshot._meta.db_table} (sha256, facts, created_at)
                SELECT encode(sha256(convert_to(facts::text, 'UTF8')), 'hex'), facts, now()
                FROM (SELECT jsonb_set((%s::jsonb[])[1 + n %% %s], '{{host,hostname}}',
                                       to_jsonb('bench-' || n)) AS facts
                      FROM generate_series(%s, %s) n) made""",
            [[Jsonb(facts) for facts in kinds], len(kinds), start, end - 1],
        )
        cursor.execute(
            f"""INSERT INTO {Device._meta.db_table}
                    (site_id, host_identifier, hostname, os, os_version, agent_version, seat_id,
                     enrolled_at, last_seen_at, current_facts_id, facts_hash, facts_collected_at,
                     dropped_reports)
                SELECT %s, 'bench-' || n, 'bench-' || n, snapshot.facts #>> '{{host,os}}', '', 'bench',
                       seat.id, now(), now(), snapshot.id, snapshot.sha256, now(), 0
                FROM generate_series(%s, %s) n
                JOIN {Seat._meta.db_table} seat ON seat.label = 'S' || n
                JOIN {FactSnapshot._meta.db_table} snapshot
                  ON snapshot.facts #>> '{{host,hostname}}' = 'bench-' || n""",
            [site_id, start, end - 1],
        )
        cursor.execute("ANALYZE")


def touch_all_devices() -> None:
    """Every workstation reported just now: the bench measures judging, not OFFLINE seats."""
    from django.db import connection

    from server.fleet.models import Device

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Device._meta.db_table} SET last_seen_at = now()")


# -- measurements ----------------------------------------------------------------------------------


@dataclass
class SizeResult:
    seats: int
    first_s: float = 0.0
    change_s: float = 0.0
    judged: int = 0
    one_p50_ms: float = 0.0
    one_p95_ms: float = 0.0

    @property
    def change_per_s(self) -> float:
        return self.seats / self.change_s if self.change_s else 0.0


@dataclass
class FlagResult:
    offered_rate: float
    achieved_rate: float = 0.0
    requests: int = 0
    failed: int = 0
    flips: int = 0
    seen: int = 0
    latencies_s: list[float] = field(default_factory=list)
    unturned: list[int] = field(default_factory=list)

    def p(self, fraction: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[max(0, min(len(ordered) - 1, int(fraction * len(ordered) + 0.999999) - 1))]


def measure_size(policy: Any, size: int, args: argparse.Namespace) -> SizeResult:
    from django.db import transaction

    from server.compliance import evaluation, policy_versions
    from server.fleet.models import Device

    result = SizeResult(size)
    touch_all_devices()
    started = time.perf_counter()
    evaluation.reevaluate_stale(chunk_size=args.chunk)
    result.first_s = time.perf_counter() - started

    touch_all_devices()
    # A second softphone origin, then back to one: either way most seats change readiness.
    policy.cti_origins = CHANGED_ORIGINS if len(policy.cti_origins) == 1 else [CTI_ORIGIN]
    policy_versions.save(policy, comment=f"bench/evaluate at {size} seats")
    started = time.perf_counter()
    result.judged = evaluation.reevaluate_stale(chunk_size=args.chunk)
    result.change_s = time.perf_counter() - started
    assert evaluation.stale_devices() == [], "seats left on an old version"

    ids = list(Device.objects.values_list("pk", flat=True))
    sample = random.Random(size).sample(ids, min(args.sample, len(ids)))
    timings = []
    for device_id in sample:
        started = time.perf_counter()
        with transaction.atomic():
            evaluation.judge([device_id], dt.datetime.now(dt.timezone.utc))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    result.one_p50_ms = statistics.median(timings)
    result.one_p95_ms = timings[int(0.95 * (len(timings) - 1))]
    return result


@dataclass
class Live:
    device_id: int
    seat_id: int
    node_key: str
    healthy_hash: str
    broken_json: str
    flipped: bool = False


def make_live_devices(site_id: int, count: int) -> list[Live]:
    """Workstations that really check in: node keys, and facts whose hash the server holds."""
    from django.db import transaction
    from readyfloor_agent.report import facts_hash
    from readyfloor_agent.simulate import scenario_facts

    from server.compliance import evaluation
    from server.fleet.models import Device, FactSnapshot, Floor, Seat, Site

    site = Site.objects.get(pk=site_id)
    floor = Floor.objects.create(site=site, name="Live floor")
    live = []
    now = dt.datetime.now(dt.timezone.utc)
    for n in range(count):
        label = f"L-{n:05d}"
        healthy = scenario_facts("healthy", os="windows", seat_label=label, cti_origin=CTI_ORIGIN)
        broken = scenario_facts("site_blocked", os="windows", seat_label=label, cti_origin=CTI_ORIGIN)
        digest = facts_hash(healthy)
        snapshot = FactSnapshot.objects.create(sha256=digest, facts=healthy)
        seat = Seat.objects.create(floor=floor, label=label, row=n // 40, column=n % 40)
        node_key, key_hash = Device.new_node_key()
        device = Device.objects.create(
            site=site, host_identifier=f"live-{n}", hostname=f"live-{n}", os="windows", seat=seat,
            node_key_hash=key_hash, current_facts=snapshot, facts_hash=digest, facts_collected_at=now,
            last_seen_at=now,
        )
        live.append(Live(device.pk, seat.pk, node_key, digest, json.dumps(broken, separators=(",", ":"))))
    for chunk in evaluation.chunks([d.device_id for d in live], 500):
        with transaction.atomic():
            evaluation.judge(chunk, dt.datetime.now(dt.timezone.utc))
    return live


def measure_flags(stack: Any, ingest_bench: Any, live: list[Live], args: argparse.Namespace) -> FlagResult:
    """Steady check-ins at --rate; --flips-per-s of them break a healthy seat. Latency from the
    2xx of a breaking report to the seat reading NOT READY."""
    import psycopg

    result = FlagResult(args.rate)
    lock = threading.Lock()
    pending: dict[int, float] = {}
    stop = threading.Event()
    rng = random.Random(7)
    started = time.perf_counter()
    flip_every = 1.0 / args.flips_per_s if args.flips_per_s else float("inf")
    interval = args.clients / args.rate

    def body(device: Live, full: bool) -> tuple[bytes, dict[str, str]]:
        collected = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        head = (f'{{"report_id":"{uuid.uuid4()}","collected_at":"{collected}",'
                f'"schema_version":1,"agent_version":"bench",')
        tail = f'"facts":{device.broken_json}}}' if full else f'"facts_hash":"{device.healthy_hash}"}}'
        headers = {"Content-Type": "application/json", "Authorization": f"NodeKey {device.node_key}"}
        return (head + tail).encode(), headers

    def client(number: int) -> None:
        # Each thread reports for its own workstations, as one agent per workstation does:
        # two reports of one device in flight at once could land out of order.
        mine = live[number :: args.clients]
        conn = ingest_bench.Connection(stack.port)
        next_at = started + interval * number / args.clients
        flip_interval = flip_every * args.clients
        next_flip = started + flip_interval * (number + 1) / args.clients
        while not stop.is_set():
            now = time.perf_counter()
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
            flip = time.perf_counter() >= next_flip
            candidates = [d for d in mine if not d.flipped]
            if not candidates:
                break
            device = rng.choice(candidates)
            device.flipped = flip
            payload, headers = body(device, full=flip)
            status, _ = conn.send("POST", "/api/agent/v1/checkin", payload, headers)
            acked = time.perf_counter()
            with lock:
                result.requests += 1
                if not 200 <= status < 300:
                    result.failed += 1
                elif flip:
                    pending[device.seat_id] = acked
                    result.flips += 1
            if flip:
                next_flip += flip_interval
        conn.close()

    def poller() -> None:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            # Until every client has stopped (a flip may be acknowledged after `stop`), then
            # until every flip turned or 30 s passed.
            while not clients_done.is_set() or pending:
                with lock:
                    waiting = dict(pending)
                if waiting:
                    rows = conn.execute(
                        "SELECT id FROM fleet_seat WHERE id = ANY(%s) AND readiness = 'not_ready'",
                        [list(waiting)],
                    ).fetchall()
                    seen_at = time.perf_counter()
                    with lock:
                        for (seat_id,) in rows:
                            result.latencies_s.append(seen_at - pending.pop(seat_id))
                if clients_done.is_set() and time.perf_counter() - stopped_at[0] > 30:
                    break  # what has not turned by now never will in this run
                time.sleep(0.02)

    stopped_at = [float("inf")]
    clients_done = threading.Event()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    watcher = threading.Thread(target=poller, daemon=True)
    watcher.start()
    for thread in threads:
        thread.start()
    time.sleep(args.duration)
    stop.set()
    stopped_at[0] = time.perf_counter()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.perf_counter() - started
    clients_done.set()
    watcher.join(timeout=40)
    result.achieved_rate = result.requests / elapsed
    result.seen = len(result.latencies_s)
    result.unturned = sorted(pending)
    return result


# -- the table -------------------------------------------------------------------------------------


def table(
    sizes: list[SizeResult], flags: FlagResult | None, args: argparse.Namespace
) -> tuple[str, list[dict]]:
    lines = [
        f"{'seats':>8}  {'first judgement s':>17}  {'policy change s':>15}  {'seats/s':>8}  "
        f"{'per seat vs smallest':>20}  {'one check-in p50 ms':>19}  {'p95 ms':>7}",
        "-" * 106,
    ]
    base = sizes[0]
    for row in sizes:
        base_per_seat = base.change_s / base.seats
        per_seat = (row.change_s / row.seats) / base_per_seat if base_per_seat else float("nan")
        lines.append(
            f"{row.seats:>8}  {row.first_s:>17.1f}  {row.change_s:>15.1f}  {row.change_per_s:>8.0f}  "
            f"{per_seat:>19.2f}x  {row.one_p50_ms:>19.1f}  {row.one_p95_ms:>7.1f}"
        )
    goals = []
    largest = sizes[-1]
    goals.append({
        "goal": f"policy change at {largest.seats} seats within {args.goal_full_s:.0f} s",
        "value": f"{largest.change_s:.1f} s",
        "ok": largest.change_s <= args.goal_full_s,
    })
    if len(sizes) > 1:
        ratio = largest.change_s / base.change_s if base.change_s else float("nan")
        per_seat = ratio / (largest.seats / base.seats)
        goals.append({
            "goal": f"linear in seats: {largest.seats}/{base.seats} time ratio within "
                    f"{args.goal_linear:.2f}x of {largest.seats / base.seats:.0f}",
            "value": f"{ratio:.1f} ({per_seat:.2f}x linear)",
            "ok": per_seat <= args.goal_linear,
        })
    if flags is not None:
        lines += [
            "",
            f"{'offered/s':>9}  {'achieved/s':>10}  {'requests':>8}  {'failed':>6}  {'flips':>5}  "
            f"{'turned':>6}  {'flag p50 s':>10}  {'flag p95 s':>10}",
            "-" * 84,
            f"{flags.offered_rate:>9.0f}  {flags.achieved_rate:>10.0f}  {flags.requests:>8}  "
            f"{flags.failed:>6}  {flags.flips:>5}  {flags.seen:>6}  "
            f"{flags.p(0.5):>10.2f}  {flags.p(0.95):>10.2f}",
        ]
        goals.append({
            "goal": f"failing report to NOT READY, p95 within {args.goal_flag_s:.0f} s at "
                    f"{flags.offered_rate:.0f} check-ins/s",
            "value": f"p95 {flags.p(0.95):.2f} s at {flags.achieved_rate:.0f}/s, "
                     f"{flags.seen}/{flags.flips} turned, {flags.failed} failed",
            "ok": flags.seen == flags.flips > 0 and flags.failed == 0
            and flags.p(0.95) <= args.goal_flag_s and flags.achieved_rate >= 0.95 * flags.offered_rate,
        })
    lines += ["", "goals:"]
    lines += [f"  {'PASS' if g['ok'] else 'FAIL'}  {g['goal']}: {g['value']}" for g in goals]
    return "\n".join(lines), goals


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    ingest_bench = _ingest_bench()
    stack_args = argparse.Namespace(
        keep_db=args.keep_db, workers=args.workers, worker_pool="prefork",
        worker_concurrency=args.worker_concurrency,
    )
    stack = ingest_bench.Stack(stack_args)
    sizes: list[SizeResult] = []
    flags: FlagResult | None = None
    try:
        stack.create_database()
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
        os.environ["LOG_LEVEL"] = "WARNING"
        if args.chunk:
            os.environ["READYFLOOR_BULK_CHUNK"] = str(args.chunk)
        import django

        django.setup()
        from django.core.management import call_command

        from server.compliance import policy_versions
        from server.compliance.models import Policy
        from server.fleet.models import Site

        call_command("migrate", verbosity=0)
        site = Site.objects.create(name="Bench site")
        policy = Policy(name="Bench", site=site, cti_origins=[CTI_ORIGIN])
        policy_versions.save(policy, comment="bench/evaluate")
        laid = 0
        for size in args.seats:
            say(f"bench/evaluate: laying out seats {laid}..{size - 1}")
            lay_out(site.pk, laid, size)
            laid = size
            say(f"bench/evaluate: judging {size} seats")
            sizes.append(measure_size(policy, size, args))
        if not args.no_flags:
            say(f"bench/evaluate: {args.live_devices} live workstations, gunicorn and a worker")
            live = make_live_devices(site.pk, args.live_devices)
            from django.db import connections

            connections.close_all()
            stack.start_services()
            say(f"bench/evaluate: {args.rate:.0f} check-ins/s for {args.duration:.0f} s")
            flags = measure_flags(stack, ingest_bench, live, args)
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()
        with contextlib.suppress(Exception):
            stack.delete_queue()
        stack.drop_database()
    text, goals = table(sizes, flags, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({
            "sizes": [{**asdict(row), "change_per_s": row.change_per_s} for row in sizes],
            "flags": None if flags is None else {
                **{k: v for k, v in asdict(flags).items() if k != "latencies_s"},
                "p50_s": flags.p(0.5), "p95_s": flags.p(0.95),
            },
            "goals": goals,
        }, indent=2))
    return 0 if all(goal["ok"] for goal in goals) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
