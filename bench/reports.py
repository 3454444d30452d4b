#!/usr/bin/env python3
"""How long does a 10k-seat floor's report take, CSV and PDF, through the real code path?

One command: a fresh database on the PostgreSQL named by DATABASE_URL (or the embedded one),
migrated, with a floor laid out as a busy one looks — seats in every readiness with their failing
checks, a workstation at each, per-check history, a week of hourly rollups, shift snapshots,
acknowledgements and spare devices at no seat. It then makes the report the way a schedule does
(server.reports.running.create_run + generate: content, CSV, PDF, stored with its checksum) and
times each part. The same report of a small floor (--baseline-seats) is made first in the same
run: its time is the baseline of the ratio, so a loaded machine shows in both.

Goal (issue 9, item 6): the report of a 10k-seat floor, CSV and PDF, within 20 s on this machine.

Exit status: 0 the goal met, 1 missed, 2 the benchmark could not run.

Examples:
  python bench/reports
  python bench/reports --seats 20000 --goal-s 40
  python bench/reports --json results.json --keep-db
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

PARTS = ["seats", "snapshots and trend", "checks and devices", "csv", "pdf", "stored"]
PART_NAMES = {
    "seats": "content: seats, history, acks",
    "snapshots and trend": "content: snapshot, trend",
    "checks and devices": "content: ranking, devices",
    "csv": "render CSV",
    "pdf": "render PDF (WeasyPrint)",
    "stored": "store files, sha256",
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/reports", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seats", type=int, default=10_000, help="seats on the floor (default 10000)")
    parser.add_argument("--baseline-seats", type=int, default=100, help="the baseline floor (default 100)")
    parser.add_argument("--goal-s", type=float, default=20.0, help="goal for CSV + PDF, seconds (default 20)")
    parser.add_argument(
        "--days", type=int, default=7, help="trend period and hourly history laid out (default 7)"
    )
    parser.add_argument("--json", help="also write the figures as JSON to this file ('-' for stdout only)")
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database afterwards")
    return parser.parse_args(argv)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class Database:
    """A database of the benchmark's own, dropped afterwards."""

    def __init__(self, keep: bool) -> None:
        base = os.getenv("DATABASE_URL", "")
        if not base:
            from server import embedded

            data_dir = embedded.data_dir_from_env(REPO)
            base = embedded.postgres_url(data_dir)
            os.environ.setdefault("REDIS_URL", embedded.redis_url(data_dir))
        self.keep = keep
        base_name = urlsplit(base).path.lstrip("/") or "readyfloor"
        self.name = f"{base_name}_bench_reports_{uuid.uuid4().hex[:6]}"[:63]
        self.url = with_database(base, self.name)
        self.admin_url = with_database(base, "postgres")

    def create(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        os.environ["DATABASE_URL"] = self.url

    def drop(self) -> None:
        if self.keep:
            say(f"kept database {self.name} ({self.url})")
            return
        import psycopg
        from django.db import connections

        connections.close_all()
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as error:  # cleanup must not hide the result
            say(f"could not drop {self.name}: {error}")


MIX = [("ready", 0.80), ("at_risk", 0.07), ("not_ready", 0.08), ("offline", 0.04), ("unknown", 0.01)]
FAILURES = {
    "not_ready": [
        ("chrome.mic.site", "fail", "critical", "Microphone set to Block for https://acme.my.salesforce.com"),
        ("audio.headset.present", "fail", "critical", "No headset among the capture devices"),
        ("os.mic.chrome", "fail", "critical", "Windows denies Chrome the microphone"),
    ],
    "at_risk": [("chrome.notifications.site", "warn", "warning", "Notifications are set to Ask")],
    "unknown": [("chrome.mic.global", "unknown", "critical", "Chrome's Local State could not be read")],
}


def lay_out_floor(name: str, seats: int, days: int, rng: random.Random) -> Any:
    """A floor as evaluation leaves it: seats, devices, results, transitions, rollups, snapshots."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from server.acknowledgements.models import Acknowledgement
    from server.compliance.evaluation import hour_of
    from server.compliance.models import CheckResult, CheckTransition, FloorReadinessHour
    from server.fleet.models import Device, Floor, Seat, Site
    from server.shifts.models import Shift, ShiftSnapshot, ShiftSnapshotSeat

    now = timezone.now()
    site, _ = Site.objects.get_or_create(name="Bench contact centre", defaults={"timezone": "Europe/Paris"})
    floor = Floor.objects.create(site=site, name=name)
    states = rng.choices([state for state, _ in MIX], weights=[weight for _, weight in MIX], k=seats)
    per_row = 50
    seat_rows = []
    for index, state in enumerate(states):
        failing = []
        if state in FAILURES:
            check_id, check_state, severity, reason = rng.choice(FAILURES[state])
            failing = [{"check_id": check_id, "state": check_state, "severity": severity, "reason": reason}]
        seat_rows.append(
            Seat(
                floor=floor,
                label=f"S-{index + 1:05d}",
                row=index // per_row,
                column=index % per_row,
                team=f"Team {index % 20 + 1}",
                readiness=state,
                readiness_since=now - dt.timedelta(minutes=rng.randint(1, 60 * 24 * 3)),
                evaluated_at=now,
                failing=failing,
            )
        )
    made = Seat.objects.bulk_create(seat_rows, batch_size=2000)
    devices = Device.objects.bulk_create(
        [
            Device(
                site=site,
                host_identifier=f"{name}-{seat.label}",
                hostname=f"ws-{name.lower().replace(' ', '')}-{seat.label.lower()}",
                os=rng.choice(["windows", "macos"]),
                agent_version="1.4.0",
                seat=seat,
                last_seen_at=now
                - dt.timedelta(seconds=rng.randint(5, 3600 if seat.readiness == "offline" else 60)),
            )
            for seat in made
        ],
        batch_size=2000,
    )
    Device.objects.bulk_create(
        [
            Device(
                site=site, host_identifier=f"{name}-spare-{n}", hostname=f"spare-{name[:3]}-{n}", os="windows"
            )
            for n in range(max(seats // 500, 1))
        ]
    )
    results, transitions = [], []
    for seat, device in zip(made, devices, strict=True):
        for item in seat.failing:
            since = seat.readiness_since
            results.append(
                CheckResult(
                    device=device,
                    check_id=item["check_id"],
                    state=item["state"],
                    severity=item["severity"],
                    reason=item["reason"],
                    since=since,
                    evaluated_at=now,
                )
            )
            transitions.append(
                CheckTransition(
                    device=device,
                    seat=seat,
                    floor=floor,
                    check_id=item["check_id"],
                    from_state="pass",
                    to_state=item["state"],
                    from_since=since - dt.timedelta(days=3),
                    severity=item["severity"],
                    reason=item["reason"],
                    at=since,
                )
            )
        if rng.random() < 0.05:  # a failure fixed in the period
            fixed_at = now - dt.timedelta(hours=rng.randint(1, days * 24))
            transitions.append(
                CheckTransition(
                    device=device,
                    seat=seat,
                    floor=floor,
                    check_id="audio.headset.present",
                    from_state="fail",
                    to_state="pass",
                    from_since=fixed_at - dt.timedelta(minutes=rng.randint(2, 300)),
                    severity="critical",
                    reason="A headset is connected",
                    at=fixed_at,
                )
            )
    CheckResult.objects.bulk_create(results, batch_size=5000)
    CheckTransition.objects.bulk_create(transitions, batch_size=5000)
    counts = {state: states.count(state) for state, _ in MIX}
    FloorReadinessHour.objects.bulk_create(
        [
            FloorReadinessHour(
                floor=floor,
                hour=hour_of(now - dt.timedelta(hours=hours)),
                readiness=state,
                seats=max(number + rng.randint(-number // 10 - 1, number // 10 + 1), 0),
            )
            for hours in range(days * 24, -1, -1)
            for state, number in counts.items()
        ],
        batch_size=5000,
    )
    shift = Shift.objects.create(
        floor=floor, name="Morning", starts_at=dt.time(8), ends_at=dt.time(16), weekdays=list(range(7))
    )
    for day in range(days, 0, -1):
        snapshot = ShiftSnapshot.objects.create(
            shift=shift,
            floor=floor,
            shift_name="Morning",
            starts_at=now - dt.timedelta(days=day),
            seats_total=seats,
        )
        ShiftSnapshotSeat.objects.bulk_create(
            [
                ShiftSnapshotSeat(
                    snapshot=snapshot,
                    seat=seat,
                    seat_label=seat.label,
                    team=seat.team,
                    readiness=seat.readiness,
                    readiness_since=seat.readiness_since,
                    failing=seat.failing,
                )
                for seat in made
            ],
            batch_size=5000,
        )
    admin, _ = User.objects.get_or_create(username="bench-admin")
    not_ready = [seat for seat in made if seat.readiness == "not_ready"]
    Acknowledgement.objects.bulk_create(
        [
            Acknowledgement(
                check_id=seat.failing[0]["check_id"],
                seat=seat,
                reason="INC-1 vendor fix",
                created_by=admin,
                created_at=now - dt.timedelta(hours=1),
                expires_at=now + dt.timedelta(days=2),
            )
            for seat in not_ready[: len(not_ready) // 5]
        ]
    )
    return floor


def make_report(floor: Any, days: int) -> dict[str, Any]:
    """The report through the scheduled path; seconds per part, and the files' sizes."""
    from server.reports import running
    from server.reports.models import ReportFile, Trigger
    from server.reports.scoping import Scope

    times: dict[str, float] = {}
    clock = [time.perf_counter()]

    def progress(name: str) -> None:
        now = time.perf_counter()
        times[name] = now - clock[0]
        clock[0] = now

    started, cpu = time.perf_counter(), time.process_time()
    run = running.create_run(
        Scope(kind="floor", site=floor.site, floor=floor),
        formats=["csv", "pdf"],
        trigger=Trigger.COMMAND,
        period_days=days,
    )
    clock[0] = time.perf_counter()
    running.generate(run.pk, progress, deliver=False)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    sizes = {file.format: file.size for file in ReportFile.objects.filter(run=run).defer("content")}
    return {"total_s": total, "cpu_s": cpu, "parts_s": times, "sizes": sizes, "run_id": run.pk}


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(args: argparse.Namespace, big: dict[str, Any], small: dict[str, Any]) -> tuple[str, bool]:
    rows = [
        ("part", f"{args.seats:,} seats", f"{args.baseline_seats:,} seats", "x baseline", "goal", "result")
    ]
    for part in PARTS:
        b, s = big["parts_s"].get(part, 0.0), small["parts_s"].get(part, 0.0)
        rows.append((PART_NAMES[part], fmt_s(b), fmt_s(s), f"{b / s:.1f}x" if s else "-", "", ""))
    passed = big["total_s"] <= args.goal_s
    rows.append(
        (
            "report, CSV + PDF",
            fmt_s(big["total_s"]),
            fmt_s(small["total_s"]),
            f"{big['total_s'] / small['total_s']:.1f}x" if small["total_s"] else "-",
            f"<= {args.goal_s:g} s",
            "PASS" if passed else "FAIL",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines), passed


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    database = Database(args.keep_db)
    try:
        database.create()
    except Exception as error:
        say(f"bench/reports: could not create a database: {error}")
        return 2
    try:
        import django

        django.setup()
        from django.core.management import call_command

        say(f"database {database.name}: migrating")
        call_command("migrate", verbosity=0, interactive=False)
        rng = random.Random(9)
        say(
            f"laying out floors of {args.seats:,} and {args.baseline_seats:,} seats, "
            f"{args.days} days of history"
        )
        big_floor = lay_out_floor("Big floor", args.seats, args.days, rng)
        small_floor = lay_out_floor("Small floor", args.baseline_seats, args.days, rng)
        load_start = os.getloadavg()
        say("making the reports")
        # A first report pays for one-off costs (WeasyPrint loading fonts, template compiling),
        # as a worker's first report does; it is not counted.
        make_report(small_floor, args.days)
        small = make_report(small_floor, args.days)
        big = make_report(big_floor, args.days)
        load_end = os.getloadavg()
        text, passed = table(args, big, small)
        if args.json != "-":
            print(text)
            csv_kb, pdf_kb = big["sizes"].get("csv", 0) / 1024, big["sizes"].get("pdf", 0) / 1024
            print(
                f"files: CSV {csv_kb:.0f} KB, PDF {pdf_kb:.0f} KB; CPU of this process for the "
                f"{args.seats:,}-seat report {big['cpu_s']:.1f} s (PostgreSQL's not counted); load average "
                f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end, on {os.cpu_count()} cores"
            )
        if args.json:
            document = {
                "settings": vars(args),
                "big": big,
                "baseline": small,
                "passed": passed,
                "load_average": {"start": load_start, "end": load_end},
                "cpu_count": os.cpu_count(),
            }
            body = json.dumps(document, indent=2, default=str)
            if args.json == "-":
                print(body)
            else:
                Path(args.json).write_text(body + "\n")
        return 0 if passed else 1
    except Exception as error:
        say(f"bench/reports: {type(error).__name__}: {error}")
        return 2
    finally:
        database.drop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
