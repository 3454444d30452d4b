#!/usr/bin/env python3
"""Do the dashboards answer in time on a large fleet?

Goals (issue 8): the floor map and the shift board of a 500-seat floor in at most 200 ms of
server time each, and the IT admin's fleet overview over 100,000 seats with 90 days of history
in at most 1 s.

One command does everything: a fresh database on the PostgreSQL named by DATABASE_URL (the
embedded one when unset), migrated; a site of --seats seats in floors of --floor-seats, each
seat with a workstation on one of three OSes and four Chrome majors, most READY and a few NOT
READY, AT RISK or OFFLINE with their failing checks; --days days of hourly rollups per floor
(readiness and failing-check counts that change every working hour, 07:00-19:00 UTC) and two
fixed failures per seat over that time; a shift on the first floor starting in 10 minutes, so
its board is in its lead time. All laid out directly in the database with generate_series: the
ORM would take minutes for 100,000 seats, and the pages only read what evaluation leaves.

What is measured: server time, i.e. the wall time of a request handled in this process by
Django's test client (middleware, session, scope, queries, template, figure JSON), signed in
as an IT admin; no network, no browser. Each page is asked once to warm up, then --runs times;
the table gives the median and the slowest. Two trivial pages measured in the same run are the
baselines: the liveness check (/healthz/live: URL routing and middleware only) and the sign-in
form (/login/: session, CSRF and a template, as every page has). The ratio to the sign-in form
says what a page costs beyond the framework on this machine, which stays meaningful when the
machine is shared and loaded.

  floor map      /floor/?floor=<first floor>          500 seats: map, table, counts
  shift board    /board/?floor=<first floor>          500 seats, shift in its lead time
  fleet 30 d     /fleet/                              every floor, trend over 30 days
  fleet 90 d     /fleet/?days=90                      every floor, trend over 90 days

Exit status: 0 every goal met, 1 a goal missed, 2 something could not be measured.

Examples:
  bench/dashboards                                  # 100,000 seats, 90 days (a few minutes)
  bench/dashboards --seats 5000 --days 10 --runs 3  # a quick look
  bench/dashboards --json results.json              # the table, and JSON in results.json
  bench/dashboards --goal fleet=0.5                 # is there headroom?
  bench/dashboards --keep-db                        # keep the database to look at the pages

See bench/README.md for how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "agent"))

# Seconds of server time, per page (issue 8, item 7).
GOALS: dict[str, float] = {"floor": 0.2, "board": 0.2, "fleet": 1.0}
OS_CYCLE = ("windows", "windows", "macos", "linux")
CHROME_VERSIONS = ("131.0.6778.86", "130.0.6723.117", "129.0.6668.101", "124.0.6367.208")
FAILING = [
    {"check_id": "chrome.mic.site", "state": "fail", "severity": "critical",
     "reason": "Microphone set to Block for https://acme.my.salesforce.com in Chrome profile Default"},
    {"check_id": "audio.headset.present", "state": "fail", "severity": "critical",
     "reason": "No headset among the capture devices; only the built-in microphone is present"},
]
AT_RISK = [{"check_id": "chrome.notifications.site", "state": "warn", "severity": "warning",
            "reason": "Notifications for https://acme.my.salesforce.com will be asked for, not shown"}]
SILENT = [{"check_id": "agent.fresh", "state": "fail", "severity": "critical",
           "reason": "No report for 3 h 12 min (limit 15 min)"}]
EXIT_OK, EXIT_MISSED, EXIT_BROKEN = 0, 1, 2


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError("must be at least 1")
        return value

    def goal(text: str) -> tuple[str, float]:
        name, _, seconds = text.partition("=")
        if name not in GOALS or not seconds:
            raise argparse.ArgumentTypeError(f"expected NAME=SECONDS with NAME one of {', '.join(GOALS)}")
        return name, float(seconds)

    parser = argparse.ArgumentParser(
        prog="bench/dashboards",
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seats", type=positive, default=100_000, help="seats in the fleet (default 100000)")
    parser.add_argument("--floor-seats", type=positive, default=500,
                        help="seats per floor; the floor map and board are measured on one (default 500)")
    parser.add_argument("--days", type=positive, default=90, help="days of hourly history (default 90)")
    parser.add_argument("--runs", type=positive, default=5, help="measured requests per page (default 5)")
    parser.add_argument("--goal", type=goal, action="append", default=[],
                        help="override a goal, e.g. --goal fleet=0.5 (seconds; floor, board or fleet)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-': stdout)")
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark database for inspection")
    return parser.parse_args(argv)


# -- the database ------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


class Database:
    """A database of our own on the PostgreSQL of DATABASE_URL, dropped at the end."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.name = ""
        self.admin_url = ""
        self.url = ""

    def create(self) -> None:
        import psycopg

        base_url = os.getenv("DATABASE_URL", "")
        if not base_url:
            from server import embedded

            base_url = embedded.postgres_url(embedded.data_dir_from_env(REPO))
        base_name = urlsplit(base_url).path.lstrip("/") or "readyfloor"
        self.name = f"{base_name}_bench_dash_{os.getpid()}"[:63]
        self.admin_url = with_database(base_url, "postgres")
        self.url = with_database(base_url, self.name)
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        os.environ["DATABASE_URL"] = self.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
        os.environ.setdefault("LOG_LEVEL", "WARNING")

    def drop(self) -> None:
        if not self.name:
            return
        if self.keep:
            say(f"kept database {self.name} ({self.url})")
            return
        import psycopg

        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not have started
            pass
        try:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as error:  # cleanup must not hide the result
            say(f"could not drop the benchmark database {self.name}: {error}")


# -- the fleet ---------------------------------------------------------------------------------


@dataclass
class Fleet:
    first_floor: int = 0
    floors: int = 0
    seats: int = 0
    readiness_rows: int = 0
    check_rows: int = 0
    transitions: int = 0
    seconds: float = 0.0


def lay_out(seats: int, floor_seats: int, days: int) -> Fleet:
    """Migrate, then the site, its floors, seats, devices, facts, rollups, history and a shift."""
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from server.compliance.models import CheckTransition, FloorCheckHour, FloorReadinessHour
    from server.fleet.models import Device, FactSnapshot, Floor, Seat, Site
    from server.shifts.models import Shift

    began = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    site = Site.objects.create(name="Benchmark contact centre", timezone="UTC")
    snapshots = [
        FactSnapshot.objects.create(
            sha256=f"bench-{index}",
            facts={"host": {"console_user": "agent"}, "chrome": {"installed": True, "version": version}},
        ).pk
        for index, version in enumerate(CHROME_VERSIONS)
    ]
    floors = (seats + floor_seats - 1) // floor_seats
    params = {"site": site.pk, "seats": seats, "per": floor_seats, "floors": floors, "days": days,
              "failing": json.dumps(FAILING), "at_risk": json.dumps(AT_RISK), "silent": json.dumps(SILENT),
              "snapshots": snapshots, "chrome": list(CHROME_VERSIONS), "os": list(OS_CYCLE)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Floor._meta.db_table} (site_id, name)"
            " SELECT %(site)s, 'Floor ' || lpad(f::text, 4, '0') FROM generate_series(0, %(floors)s - 1) f",
            params,
        )
        # 1 seat in 20 NOT READY, 1 in 50 AT RISK, 1 in 100 OFFLINE; the rest READY. Rows and
        # columns of 25 seats.
        cursor.execute(
            f'INSERT INTO {Seat._meta.db_table} (floor_id, label, "row", "column", team, readiness,'
            " readiness_since, evaluated_at, failing)"
            " SELECT fl.id, 'S-' || lpad((i %% %(per)s)::text, 4, '0'), (i %% %(per)s) / 25 + 1,"
            " (i %% %(per)s) %% 25 + 1, 'Team ' || ((i %% %(per)s) / 100 + 1),"
            " CASE WHEN i %% 20 = 7 THEN 'not_ready' WHEN i %% 50 = 3 THEN 'at_risk'"
            "      WHEN i %% 100 = 1 THEN 'offline' ELSE 'ready' END,"
            " now() - (i %% 997) * interval '7 minutes', now(),"
            " CASE WHEN i %% 20 = 7 THEN %(failing)s::jsonb WHEN i %% 50 = 3 THEN %(at_risk)s::jsonb"
            "      WHEN i %% 100 = 1 THEN %(silent)s::jsonb ELSE '[]'::jsonb END"
            " FROM generate_series(0, %(seats)s - 1) i"
            f" JOIN {Floor._meta.db_table} fl ON fl.site_id = %(site)s"
            " AND fl.name = 'Floor ' || lpad((i / %(per)s)::text, 4, '0')",
            params,
        )
        cursor.execute(
            f"INSERT INTO {Device._meta.db_table} (site_id, host_identifier, hostname, os, os_version,"
            " agent_version, seat_id, enrolled_at, last_seen_at, current_facts_id, facts_hash,"
            " chrome_version, dropped_reports)"
            " SELECT %(site)s, 'bench-' || s.id, 'ws-' || s.id, (%(os)s::text[])[1 + s.id %% 4], '',"
            " CASE WHEN s.id %% 10 = 0 THEN '0.1.0' ELSE '0.2.0' END, s.id, now(),"
            " now() - interval '40 seconds',"
            # The Chrome version ingest keeps on the row, from the same snapshot's facts.
            " (%(snapshots)s::bigint[])[1 + s.id %% 4], 'bench', (%(chrome)s::text[])[1 + s.id %% 4], 0"
            f" FROM {Seat._meta.db_table} s",
            params,
        )
        # Hourly rollups, as evaluation leaves them: a row for every readiness of every floor in
        # every working hour (counts move all day on a busy floor), and three failing checks.
        end = timezone.now().replace(minute=0, second=0, microsecond=0)
        params.update(start=end - dt.timedelta(days=days), end=end)
        cursor.execute(
            f"INSERT INTO {FloorReadinessHour._meta.db_table} (floor_id, hour, readiness, seats)"
            " SELECT fl.id, h, r.readiness, greatest(0, round(%(per)s * r.share"
            "        * (1 + 0.3 * sin(extract(epoch FROM h) / 7200 + fl.id))))::int"
            f" FROM {Floor._meta.db_table} fl"
            " CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s, interval '1 hour') h"
            " CROSS JOIN (VALUES ('ready', 0.88), ('not_ready', 0.05), ('at_risk', 0.02),"
            "                    ('offline', 0.04), ('unknown', 0.01)) r(readiness, share)"
            " WHERE fl.site_id = %(site)s AND (extract(hour FROM h) BETWEEN 7 AND 18 OR h = %(end)s)",
            params,
        )
        readiness_rows = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {FloorCheckHour._meta.db_table} (floor_id, hour, check_id, failing_seats)"
            " SELECT fl.id, h, c.check_id, greatest(0, round(%(per)s * c.share"
            "        * (1 + 0.5 * cos(extract(epoch FROM h) / 5400 + fl.id))))::int"
            f" FROM {Floor._meta.db_table} fl"
            " CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s, interval '1 hour') h"
            " CROSS JOIN (VALUES ('chrome.mic.site', 0.03), ('audio.headset.present', 0.02),"
            "                    ('agent.fresh', 0.01)) c(check_id, share)"
            " WHERE fl.site_id = %(site)s AND (extract(hour FROM h) BETWEEN 7 AND 18 OR h = %(end)s)",
            params,
        )
        check_rows = cursor.rowcount
        # Two fixed failures per seat over the history: what time to fix reads.
        cursor.execute(
            f"INSERT INTO {CheckTransition._meta.db_table} (device_id, seat_id, floor_id, check_id,"
            " from_state, to_state, from_since, severity, reason, at)"
            " SELECT d.id, s.id, s.floor_id, (ARRAY['chrome.mic.site', 'audio.headset.present'])[1 + n],"
            " 'fail', 'pass', t - (5 + (s.id * 7 + n) %% 240) * interval '1 minute', 'critical', 'fixed', t"
            f" FROM {Seat._meta.db_table} s JOIN {Device._meta.db_table} d ON d.seat_id = s.id"
            " CROSS JOIN generate_series(0, 1) n"
            " CROSS JOIN LATERAL (SELECT %(end)s::timestamptz"
            "     - ((s.id * 13 + n * 5077) %% (%(days)s * 1440)) * interval '1 minute' AS t) at_",
            params,
        )
        transitions = cursor.rowcount
        cursor.execute("ANALYZE")
    first_floor = Floor.objects.filter(site=site).order_by("name").first()
    now = timezone.now()
    Shift.objects.create(
        floor=first_floor, name="Benchmark shift", starts_at=(now + dt.timedelta(minutes=10)).time(),
        ends_at=(now + dt.timedelta(hours=8)).time(), weekdays=list(range(7)), lead_minutes=30,
    )
    return Fleet(first_floor.pk, floors, seats, readiness_rows, check_rows, transitions,
                 time.monotonic() - began)


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    url: str
    goal: str  # the GOALS key it is judged by, or "" for the baseline
    seats: int
    times_s: list[float] = field(default_factory=list)
    status: int = 0
    goal_s: float | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def slowest_s(self) -> float:
        return max(self.times_s)

    @property
    def passed(self) -> bool | None:
        return None if self.goal_s is None else self.status == 200 and self.median_s <= self.goal_s


def measure(pages: list[Page], runs: int) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from server.roles.groups import assign_role
    from server.roles.models import Role

    admin = User.objects.create_user("bench-admin", "bench@example.com", "bench")
    assign_role(admin, Role.IT_ADMIN)
    # A host the settings allow, as a browser would send it (the test client's "testserver" is not).
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    for page in pages:
        page.status = client.get(page.url).status_code  # warm: templates, sessions, plans
        for _ in range(runs):
            began = time.perf_counter()
            response = client.get(page.url)
            page.times_s.append(time.perf_counter() - began)
            page.status = response.status_code if page.status == 200 else page.status


def table(pages: list[Page], baseline: Page) -> str:
    lines = [f"{'page':<14}{'seats':>9}{'median':>10}{'slowest':>10}{'x sign-in':>11}{'goal':>9}  result",
             "-" * 70]
    for page in pages:
        verdict = "" if page.passed is None else ("PASS" if page.passed else "FAIL")
        if page.status != 200:
            verdict = f"FAIL (HTTP {page.status})"
        lines.append(
            f"{page.name:<14}{page.seats:>9,}{page.median_s * 1000:>8.1f}ms{page.slowest_s * 1000:>8.1f}ms"
            f"{page.median_s / baseline.median_s:>10.0f}x"
            f"{'' if page.goal_s is None else f'{page.goal_s * 1000:.0f}ms':>9}  {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    goals = {**GOALS, **dict(args.goal)}
    database = Database(args.keep_db)
    try:
        database.create()
        import django

        django.setup()
        say(f"database {database.name}: laying out {args.seats:,} seats in floors of {args.floor_seats}"
            f" with {args.days} days of history")
        fleet = lay_out(args.seats, args.floor_seats, args.days)
        say(f"laid out {fleet.floors} floors, {fleet.readiness_rows + fleet.check_rows:,} rollup rows and"
            f" {fleet.transitions:,} fixes in {fleet.seconds:.0f} s; measuring {args.runs} runs per page")
        floor_seats = min(args.floor_seats, args.seats)
        baseline = Page("sign-in form", "/login/", "", 0)
        pages = [
            Page("liveness", "/healthz/live", "", 0),
            baseline,
            Page("floor map", f"/floor/?floor={fleet.first_floor}", "floor", floor_seats),
            Page("shift board", f"/board/?floor={fleet.first_floor}", "board", floor_seats),
            Page("fleet 30 d", "/fleet/", "fleet", fleet.seats),
            Page("fleet 90 d", "/fleet/?days=90", "fleet", fleet.seats),
        ]
        for page in pages:
            page.goal_s = goals.get(page.goal)
        measure(pages, args.runs)
    except Exception as error:
        say(f"could not measure: {error!r}")
        return EXIT_BROKEN
    finally:
        database.drop()

    print(table(pages, baseline))
    load = os.getloadavg()
    cores = os.cpu_count() or 1
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {cores} cores"
          f"{' (a loaded machine: read the x sign-in column)' if load[0] > cores else ''}")
    missed = [page for page in pages if page.passed is False]
    if args.json:
        document = {
            "fleet": asdict(fleet),
            "pages": [{**asdict(page), "median_s": page.median_s, "slowest_s": page.slowest_s,
                       "passed": page.passed} for page in pages],
            "load_average": load,
            "passed": not missed,
        }
        text = json.dumps(document, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    return EXIT_MISSED if missed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
