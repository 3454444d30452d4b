"""Shifts: when they run in their site's time zone, the lead time before them, and the snapshot
of the floor taken once as each one starts."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import zoneinfo

import pytest
from django.utils import timezone

from server.fleet.models import Floor, Readiness, Seat
from server.shifts import schedule, snapshots
from server.shifts.models import Shift, ShiftSnapshot
from tests.conftest import REPO, service_env, wait_until

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt.timezone.utc
LEAD = dt.timedelta(minutes=30)


def at(text: str, zone: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


def occurrence(now: dt.datetime, starts: str = "08:00", ends: str = "16:00", weekdays=(0, 1, 2, 3, 4)):
    return schedule.current_or_next(
        starts=dt.time.fromisoformat(starts),
        ends=dt.time.fromisoformat(ends),
        weekdays=weekdays,
        zone=PARIS,
        lead=LEAD,
        now=now,
    )


class TestSchedule:
    def test_the_next_run_is_today_before_the_start(self) -> None:
        # Monday 2026-11-30, 06:40 UTC = 07:40 in Paris (winter, UTC+1).
        run = occurrence(at("2026-11-30 06:40"))
        assert run.start == at("2026-11-30 08:00", PARIS)
        assert run.end == at("2026-11-30 16:00", PARIS)
        assert run.in_lead_time(at("2026-11-30 06:40"))
        assert run.countdown(at("2026-11-30 06:40")) == dt.timedelta(minutes=20)

    def test_a_running_shift_is_the_current_one(self) -> None:
        run = occurrence(at("2026-11-30 10:00"))
        assert run.is_running(at("2026-11-30 10:00"))
        assert not run.in_lead_time(at("2026-11-30 10:00"))

    def test_after_friday_s_shift_the_next_is_monday(self) -> None:
        run = occurrence(at("2026-12-04 17:00"))  # Friday evening
        assert run.start == at("2026-12-07 08:00", PARIS)

    def test_an_overnight_shift_runs_past_midnight(self) -> None:
        # Friday 22:00 to Saturday 06:00; at 02:00 on Saturday it is still on.
        run = occurrence(at("2026-12-05 01:00"), starts="22:00", ends="06:00")
        assert run.start == at("2026-12-04 22:00", PARIS)
        assert run.end == at("2026-12-05 06:00", PARIS)
        assert run.is_running(at("2026-12-05 01:00"))

    def test_the_start_follows_the_site_s_wall_clock_across_daylight_saving(self) -> None:
        winter = occurrence(at("2026-11-30 00:00")).start
        summer = occurrence(at("2026-06-01 00:00")).start
        assert winter.astimezone(UTC).hour == 7
        assert summer.astimezone(UTC).hour == 6

    def test_a_shift_without_days_never_runs(self) -> None:
        assert occurrence(at("2026-11-30 06:40"), weekdays=[]) is None

    def test_days_read_as_people_say_them(self) -> None:
        assert schedule.weekdays_text(range(5)) == "Mon-Fri"
        assert schedule.weekdays_text([5, 6]) == "Sat, Sun"


@pytest.fixture
def paris_floor(db) -> Floor:
    from server.fleet.models import Site

    site = Site.objects.create(name="Paris", timezone="Europe/Paris")
    floor = Floor.objects.create(site=site, name="Floor 2")
    states = [Readiness.READY] * 5 + [Readiness.NOT_READY, Readiness.OFFLINE, Readiness.AT_RISK]
    for column, readiness in enumerate(states):
        Seat.objects.create(
            floor=floor,
            label=f"B-{column + 1:02d}",
            column=column,
            team="Sales" if column < 6 else "Support",
            readiness=readiness,
            failing=[
                {"check_id": "chrome.mic.site", "state": "fail", "severity": "critical", "reason": "blocked"}
            ]
            if readiness == Readiness.NOT_READY
            else [],
        )
    return floor


def shift_starting(floor: Floor, start: dt.datetime, **extra) -> Shift:
    local = start.astimezone(PARIS)
    return Shift.objects.create(
        floor=floor,
        name=extra.pop("name", "Morning"),
        starts_at=local.time().replace(second=0, microsecond=0),
        ends_at=(local + dt.timedelta(hours=8)).time().replace(second=0, microsecond=0),
        weekdays=[local.weekday()],
        **extra,
    )


class TestSnapshots:
    def test_a_start_is_recorded_once_with_the_floor_s_counts(self, paris_floor: Floor) -> None:
        start = at("2026-11-30 07:00")  # 08:00 in Paris
        shift = shift_starting(paris_floor, start)
        first = snapshots.take_due_snapshots(now=start + dt.timedelta(minutes=1))
        again = snapshots.take_due_snapshots(now=start + dt.timedelta(minutes=2))
        assert len(first) == 1 and again == []
        snapshot = ShiftSnapshot.objects.get(shift=shift)
        assert snapshot.starts_at == start
        assert (
            snapshot.seats_total,
            snapshot.ready,
            snapshot.not_ready,
            snapshot.offline,
            snapshot.at_risk,
        ) == (
            8,
            5,
            1,
            1,
            1,
        )
        not_ready = snapshot.seats.get(readiness=Readiness.NOT_READY)
        assert not_ready.seat_label == "B-06"
        assert not_ready.failing[0]["check_id"] == "chrome.mic.site"

    def test_a_shift_of_teams_counts_only_their_seats(self, paris_floor: Floor) -> None:
        start = at("2026-11-30 07:00")
        shift_starting(paris_floor, start, teams=["Support"])
        (snapshot,) = snapshots.take_due_snapshots(now=start)
        assert snapshot.seats_total == 2
        assert {row.seat_label for row in snapshot.seats.all()} == {"B-07", "B-08"}

    def test_a_start_missed_for_longer_than_the_catch_up_window_is_not_recorded_late(
        self, paris_floor: Floor
    ) -> None:
        start = at("2026-11-30 07:00")
        shift_starting(paris_floor, start)
        assert snapshots.take_due_snapshots(now=start + snapshots.CATCH_UP + dt.timedelta(minutes=1)) == []

    def test_the_record_outlives_the_shift(self, paris_floor: Floor) -> None:
        start = at("2026-11-30 07:00")
        shift = shift_starting(paris_floor, start)
        snapshots.take_due_snapshots(now=start)
        shift.delete()
        snapshot = ShiftSnapshot.objects.get(floor=paris_floor)
        assert snapshot.shift_name == "Morning" and snapshot.ready == 5


class TestLeadTime:
    def test_only_the_floor_in_its_lead_time_reports_faster(self, paris_floor: Floor) -> None:
        other = Floor.objects.create(site=paris_floor.site, name="Floor 3")
        start = at("2026-11-30 07:00")
        shift_starting(paris_floor, start, lead_interval_s=10)
        shift_starting(other, start + dt.timedelta(hours=3), lead_interval_s=10)
        during = snapshots.lead_time_intervals(now=start - dt.timedelta(minutes=10))
        assert during == {paris_floor.pk: 10}
        assert snapshots.lead_time_intervals(now=start - dt.timedelta(minutes=31)) == {}
        assert snapshots.lead_time_intervals(now=start + dt.timedelta(minutes=1)) == {}

    def test_the_cache_never_makes_a_floor_report_slower_than_its_policy(self, paris_floor: Floor) -> None:
        now = timezone.now()
        shift_starting(paris_floor, now + dt.timedelta(minutes=10), lead_interval_s=90)
        cache = snapshots.LeadTimeCache()
        assert cache.interval_for(paris_floor.pk, 60) == 60
        assert cache.interval_for(paris_floor.pk, 300) == 90
        assert cache.interval_for(None, 300) == 300


@pytest.mark.worker
@pytest.mark.slow
def test_beat_records_a_start_once_across_a_restart(paris_floor: Floor, celery_worker, tmp_path) -> None:
    """A real beat and worker: the start is recorded by the first run, and a beat that
    restarts (forgetting its schedule state) does not record it again."""
    shift = shift_starting(paris_floor, timezone.now() - dt.timedelta(minutes=1))

    def beat() -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "server",
                "beat",
                "--loglevel=WARNING",
                "-s",
                str(tmp_path / "beat"),
            ],
            cwd=REPO,
            env=service_env(READYFLOOR_SHIFT_SNAPSHOT_INTERVAL_S="1"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = beat()
    try:
        wait_until(lambda: ShiftSnapshot.objects.filter(shift=shift).exists(), timeout=30)
    finally:
        first.kill()
        first.wait()
    (tmp_path / "beat").unlink(missing_ok=True)
    second = beat()
    try:
        # The restarted beat runs the job every second: give it several runs through the worker.
        time.sleep(5)
    finally:
        second.kill()
        second.wait()
    assert ShiftSnapshot.objects.filter(shift=shift).count() == 1


class TestCheckinAnswer:
    """In a shift's lead time the check-in answer asks that floor's agents to report more
    often (like osquery's `accelerate`); other floors, and the same floor at other times,
    keep their policy's interval."""

    @pytest.fixture
    def two_floors(self, client, site, floor, seats, enroll_secret, policy):
        from tests.server.test_checkin_fast_path import enrolled

        other = Floor.objects.create(site=site, name="Floor 2")
        Seat.objects.create(floor=other, label="Z-01")
        snapshots.lead_time.clear()
        yield enrolled(client, enroll_secret, ("Floor 1", "A-01")), enrolled(
            client, enroll_secret, ("Floor 2", "Z-01")
        )
        snapshots.lead_time.clear()

    def answer(self, client, key: str, form: str) -> int:
        from tests.server.test_checkin_fast_path import checkin_answer

        snapshots.lead_time.clear()
        return checkin_answer(client, key, form)["next_checkin_s"]

    @pytest.mark.parametrize("form", ["full", "heartbeat"])
    def test_only_the_floor_in_its_lead_time_reports_faster(self, client, floor, two_floors, form) -> None:
        on_shift, elsewhere = two_floors
        shift_starting(floor, timezone.now() + dt.timedelta(minutes=10), lead_interval_s=10)
        assert self.answer(client, on_shift, form) == 10
        assert self.answer(client, elsewhere, form) == 60

    def test_before_the_lead_time_and_once_the_shift_runs_the_policy_s_interval_holds(
        self, client, floor, two_floors
    ) -> None:
        on_shift, _ = two_floors
        shift = shift_starting(floor, timezone.now() + dt.timedelta(minutes=45), lead_interval_s=10)
        assert self.answer(client, on_shift, "full") == 60
        shift.delete()
        shift_starting(floor, timezone.now() - dt.timedelta(minutes=5), lead_interval_s=10)
        assert self.answer(client, on_shift, "full") == 60


def test_the_demo_floor_has_a_shift_on_at_any_hour(db, tmp_path) -> None:
    from server.demo.floor import load_demo
    from server.shifts.board import board_for

    demo = load_demo(tmp_path)
    for hour in range(24):
        now = dt.datetime(2026, 11, 30, hour, 30, tzinfo=PARIS)
        assert board_for(demo.floor, now).phase in {"running", "lead"}, hour
