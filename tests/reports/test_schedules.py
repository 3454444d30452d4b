"""Schedules: their beat entries in the database (so an edit needs no restart), "N minutes before
each shift" worked out from the floor's shifts, and each due time run exactly once — by a real
beat and a real worker, across a beat restart, with the email arriving at a real SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from server.reports import scheduling
from server.reports.models import Cadence, ReportRun, ReportSchedule, RunStatus
from server.shifts.models import Shift
from tests.conftest import REPO, service_env, wait_until

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def floor_schedule(on_floor, **fields) -> ReportSchedule:
    values = {
        "name": "Floor 1 report",
        "scope_kind": "floor",
        "site": on_floor.site,
        "floor": on_floor,
        "cadence": Cadence.DAILY,
        "at_time": dt.time(7, 30),
        "recipients": "it@example.com",
        **fields,
    }
    schedule = ReportSchedule(**values)
    schedule.full_clean()
    schedule.save()
    scheduling.sync_periodic_task(schedule)
    return schedule


def shift_starting(floor, start: dt.datetime) -> Shift:
    local = start.astimezone(PARIS)
    return Shift.objects.create(
        floor=floor,
        name=f"Shift {local:%H%M}",
        starts_at=local.time().replace(second=0, microsecond=0),
        ends_at=(local + dt.timedelta(hours=8)).time().replace(second=0, microsecond=0),
        weekdays=list(range(7)),
    )


@pytest.mark.django_db
class TestBeatEntries:
    def test_a_daily_schedule_is_a_crontab_in_the_sites_time_zone(self, floor) -> None:
        schedule = floor_schedule(floor)
        task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
        assert task.task == "server.reports.tasks.run_schedule" and json.loads(task.args) == [schedule.pk]
        assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "7", "*")
        assert str(task.crontab.timezone) == "Europe/Paris"
        assert schedule.cadence_text == "daily at 07:30 (Europe/Paris)"

    def test_editing_rewrites_the_entry_and_pausing_disables_it(self, floor) -> None:
        schedule = floor_schedule(floor)
        schedule.cadence, schedule.weekday, schedule.at_time = Cadence.WEEKLY, 0, dt.time(6, 5)
        schedule.save()
        scheduling.sync_periodic_task(schedule)
        task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
        assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("5", "6", "1")  # Monday
        schedule.cadence, schedule.cron = Cadence.CRON, "*/15 7-18 * * 1-5"
        schedule.enabled = False
        schedule.save()
        scheduling.sync_periodic_task(schedule)
        task.refresh_from_db()
        assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*/15", "7-18", "1-5")
        assert task.enabled is False
        # A shift-relative schedule needs no entry of its own: the tick handles it.
        schedule.cadence, schedule.minutes_before = Cadence.BEFORE_SHIFT, 30
        schedule.save()
        scheduling.sync_periodic_task(schedule)
        assert schedule.periodic_task is None and not PeriodicTask.objects.filter(pk=task.pk).exists()

    def test_bad_cadences_are_refused_naming_the_field(self, floor) -> None:
        for fields, field in [
            ({"cadence": Cadence.CRON, "cron": "61 * * * *"}, "cron"),
            ({"cadence": Cadence.CRON, "cron": "every morning"}, "cron"),
            ({"cadence": Cadence.WEEKLY, "weekday": None}, "weekday"),
            ({"cadence": Cadence.DAILY, "at_time": None}, "at_time"),
            ({"cadence": Cadence.BEFORE_SHIFT, "minutes_before": None}, "minutes_before"),
            ({"recipients": "it@example.com, not-an-address"}, "recipients"),
            ({"formats": ["docx"]}, "formats"),
        ]:
            with pytest.raises(ValidationError) as refused:
                floor_schedule(floor, **fields)
            assert field in refused.value.message_dict, fields
        assert not ReportSchedule.objects.exists()

    def test_the_page_saves_a_schedule_and_its_entry(self, client, admin_user, floor) -> None:
        client.force_login(admin_user)
        answer = client.post(
            "/reports/schedules/new",
            {
                "name": "Lyon daily",
                "scope_kind": "site",
                "site": floor.site.pk,
                "cadence": "daily",
                "at_time": "07:30",
                "period_days": 7,
                "formats": ["csv", "pdf"],
                "recipients": "it@example.com",
                "enabled": "on",
            },
        )
        assert answer.status_code == 303, answer.content.decode()[:2000]
        schedule = ReportSchedule.objects.get(name="Lyon daily")
        assert schedule.created_by == admin_user and schedule.periodic_task.crontab.hour == "7"

    def test_the_admin_saves_a_schedule_and_its_entry(self, client, admin_user, floor) -> None:
        client.force_login(admin_user)
        answer = client.post(
            "/admin/reports/reportschedule/add/",
            {
                "name": "Floor 1 every 15 min",
                "scope_kind": "floor",
                "site": floor.site.pk,
                "floor": floor.pk,
                "cadence": "cron",
                "cron": "*/15 7-18 * * 1-5",
                "period_days": 7,
                "formats": ["pdf"],
                "recipients": "it@example.com",
                "enabled": "on",
                "subscriptions-TOTAL_FORMS": "0",
                "subscriptions-INITIAL_FORMS": "0",
            },
        )
        assert answer.status_code == 302, answer.content.decode()[:3000]
        schedule = ReportSchedule.objects.get()
        assert schedule.formats == ["pdf"] and schedule.periodic_task.crontab.minute == "*/15"


@pytest.mark.django_db
class TestBeforeEachShift:
    def test_the_due_time_is_the_shift_start_minus_the_lead(self, floor) -> None:
        now = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(seconds=20)
        shift_starting(floor, now + dt.timedelta(minutes=30))
        schedule = floor_schedule(floor, cadence=Cadence.BEFORE_SHIFT, minutes_before=30, at_time=None)
        assert scheduling.due_before_shift(schedule, now) == now.replace(second=0)
        assert scheduling.due_before_shift(schedule, now - dt.timedelta(minutes=1)) is None  # not yet
        # Beat was down for longer than the grace period: skipped, not sent late.
        assert scheduling.due_before_shift(schedule, now + dt.timedelta(minutes=16)) is None

    def test_each_due_time_makes_one_run_however_often_the_tick_runs(
        self, floor, django_capture_on_commit_callbacks
    ) -> None:
        now = timezone.now()
        shift_starting(floor, now + dt.timedelta(minutes=30))
        floor_schedule(floor, cadence=Cadence.BEFORE_SHIFT, minutes_before=30, at_time=None)
        with django_capture_on_commit_callbacks(execute=False):
            assert len(scheduling.tick(now)) == 1
            assert scheduling.tick(now) == []
            assert scheduling.tick(now + dt.timedelta(minutes=2)) == []
        (run,) = ReportRun.objects.all()
        assert run.due_at == now.replace(second=0, microsecond=0) and run.status == RunStatus.PENDING

    def test_a_site_report_cannot_follow_shifts(self, floor) -> None:
        with pytest.raises(ValidationError, match="shifts belong to a floor"):
            floor_schedule(
                floor, scope_kind="site", floor=None, cadence=Cadence.BEFORE_SHIFT, minutes_before=30
            )


def beat(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "server", "beat", "--loglevel=WARNING"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def mail_worker(mailbox, monkeypatch, request):
    """The real worker, sending its email to the test's SMTP server."""
    monkeypatch.setenv("EMAIL_HOST", mailbox.host)
    monkeypatch.setenv("EMAIL_PORT", str(mailbox.port))
    return request.getfixturevalue("celery_worker")


@pytest.mark.worker
@pytest.mark.slow
def test_beat_runs_a_due_schedule_once_across_a_restart_and_picks_up_an_edit(
    transactional_db, known_floor, mail_worker, mailbox
) -> None:
    floor = known_floor.floor
    now = timezone.now()
    shift_starting(floor, now + dt.timedelta(minutes=30))
    before_shift = floor_schedule(floor, cadence=Cadence.BEFORE_SHIFT, minutes_before=30, at_time=None)
    env = service_env(READYFLOOR_REPORT_TICK_S="1", EMAIL_HOST=mailbox.host, EMAIL_PORT=str(mailbox.port))

    first = beat(env)
    try:
        run = wait_until(
            lambda: ReportRun.objects.filter(schedule=before_shift, status=RunStatus.DONE).first(), timeout=90
        )
        wait_until(lambda: mailbox.messages, timeout=60)
    finally:
        first.kill()
        first.wait()
    assert sorted(file.format for file in run.files.all()) == ["csv", "pdf"]
    ((recipients, message),) = mailbox.messages
    assert recipients == ["it@example.com"]
    assert sorted(part.get_filename().rsplit(".", 1)[1] for part in message.iter_attachments()) == [
        "csv",
        "pdf",
    ]

    second = beat(env)
    try:
        # A schedule that is not due, then edited while this beat runs: a cron of every minute.
        edited = floor_schedule(floor, name="Edited", at_time=dt.time(3, 0))
        time.sleep(3)
        edited.cadence, edited.cron = Cadence.CRON, "* * * * *"
        edited.save()
        scheduling.sync_periodic_task(edited)
        edited_run = wait_until(
            lambda: ReportRun.objects.filter(schedule=edited, status=RunStatus.DONE).first(), timeout=100
        )
    finally:
        second.kill()
        second.wait()
    # The restarted beat ticked many times; the shift's due time still made one run.
    assert ReportRun.objects.filter(schedule=before_shift).count() == 1
    assert edited_run.due_at.second == 0
    assert ReportRun.objects.filter(schedule=edited, due_at=edited_run.due_at).count() == 1


@pytest.mark.django_db
class TestCronDueTimes:
    def test_a_late_or_repeated_message_names_the_same_due_minute(self, floor) -> None:
        schedule = floor_schedule(floor, cadence=Cadence.DAILY, at_time=dt.time(7, 30))
        # 07:30 in Paris on a winter day is 06:30 UTC.
        due = dt.datetime(2026, 11, 30, 6, 30, tzinfo=dt.UTC)
        assert scheduling.due_cron(schedule, due + dt.timedelta(seconds=2)) == due
        assert (
            scheduling.due_cron(schedule, due + dt.timedelta(minutes=9, seconds=40)) == due
        )  # behind a queue
        assert scheduling.due_cron(schedule, due + dt.timedelta(minutes=16)) is None  # too late: skipped
        assert scheduling.due_cron(schedule, due - dt.timedelta(minutes=1)) is None
        first = scheduling.run_scheduled(schedule.pk, due + dt.timedelta(seconds=1))
        again = scheduling.run_scheduled(schedule.pk, due + dt.timedelta(minutes=3))
        assert first is not None and first.due_at == due and again is None
        assert ReportRun.objects.filter(schedule=schedule).count() == 1

    def test_weekly_and_cron_days_follow_the_sites_wall_clock(self, floor) -> None:
        # Monday 30 Nov 2026, 00:15 in Paris is still Sunday 23:15 UTC.
        schedule = floor_schedule(floor, cadence=Cadence.WEEKLY, weekday=0, at_time=dt.time(0, 15))
        assert scheduling.due_cron(schedule, dt.datetime(2026, 11, 29, 23, 15, 5, tzinfo=dt.UTC)) is not None
        schedule.cadence, schedule.cron = Cadence.CRON, "0 9 * * 6,0"  # weekends at 09:00
        assert (
            scheduling.due_cron(schedule, dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)) is not None
        )  # Sunday
        assert scheduling.due_cron(schedule, dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)) is None  # Monday
