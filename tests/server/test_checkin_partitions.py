"""The check-in table is partitioned by day of the agent's collection time: reports land in
their day's partition, the hourly job makes the coming days and drops the days past
retention whole, and a replay is refused whichever day it arrives on."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from server.compliance.tasks import purge_old_checkins
from server.fleet import ingest, partitions
from server.fleet.models import CheckIn
from tests.server.reports import checkin_body, enroll_body, healthy_facts, heartbeat_body, no_headset
from tests.server.test_agent_api import ENROLL, post

UTC = dt.timezone.utc


@pytest.fixture
def node_key(client, enroll_secret, seats, policy) -> str:
    body = enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))
    return post(client, ENROLL, body).json()["node_key"]


def today() -> dt.date:
    return timezone.now().astimezone(UTC).date()


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC)


def partition_of(report_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM fleet_checkin WHERE report_id = %s", [report_id])
        rows = cursor.fetchall()
    assert len(rows) == 1, rows
    return rows[0][0]


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [name])
        return cursor.fetchone()[0] is not None


def test_the_migration_leaves_today_and_three_days_ahead_partitioned_with_a_default(db) -> None:
    days = partitions.daily_partitions()

    for offset in range(4):
        assert today() + dt.timedelta(days=offset) in days
    assert table_exists(partitions.DEFAULT_PARTITION)


def test_reports_either_side_of_midnight_land_in_their_own_days_partitions(node_key) -> None:
    tomorrow = today() + dt.timedelta(days=1)
    last_second = midnight(tomorrow) - dt.timedelta(seconds=1)
    first_second = midnight(tomorrow) + dt.timedelta(seconds=1)
    before = checkin_body(healthy_facts(), collected_at=last_second)
    after = checkin_body(no_headset(healthy_facts()), collected_at=first_second)

    ingest.checkin(node_key, before, received_at=last_second)
    ingest.checkin(node_key, after, received_at=first_second)

    assert partition_of(before["report_id"]) == partitions.partition_name(today())
    assert partition_of(after["report_id"]) == partitions.partition_name(tomorrow)
    # One table to every reader: both rows, in order, through the model.
    assert [str(r) for r in CheckIn.objects.order_by("received_at").values_list("report_id", flat=True)] == [
        before["report_id"], after["report_id"]]


def test_a_replay_is_refused_even_when_it_arrives_on_another_day(node_key) -> None:
    yesterday = today() - dt.timedelta(days=1)
    partitions.create_partition(yesterday)
    late_evening = midnight(today()) - dt.timedelta(minutes=1)
    report = checkin_body(no_headset(healthy_facts()), collected_at=late_evening)

    first = ingest.checkin(node_key, report, received_at=late_evening)
    # The agent never heard the answer; its spool resends the same body the next morning.
    replay = ingest.checkin(node_key, report, received_at=late_evening + dt.timedelta(hours=9))

    assert (first.duplicate, replay.duplicate) == (False, True)
    assert CheckIn.objects.count() == 1
    assert partition_of(report["report_id"]) == partitions.partition_name(yesterday)


def test_a_replayed_heartbeat_is_refused_across_midnight_too(node_key) -> None:
    facts = healthy_facts()
    ingest.checkin(node_key, checkin_body(facts), received_at=timezone.now())
    tomorrow = midnight(today() + dt.timedelta(days=1))
    heartbeat = heartbeat_body(facts, collected_at=(tomorrow - dt.timedelta(seconds=2)).isoformat())

    first = ingest.checkin(node_key, heartbeat, received_at=tomorrow - dt.timedelta(seconds=1))
    replay = ingest.checkin(node_key, heartbeat, received_at=tomorrow + dt.timedelta(seconds=30))

    assert (first.duplicate, replay.duplicate) == (False, True)
    assert CheckIn.objects.filter(report_id=heartbeat["report_id"]).count() == 1


def test_a_report_from_a_clock_far_off_goes_to_the_default_partition_and_moves_when_its_day_is_made(
    node_key,
) -> None:
    far = today() + dt.timedelta(days=10)
    report = checkin_body(healthy_facts(), collected_at=midnight(far) + dt.timedelta(hours=8))

    ingest.checkin(node_key, report, received_at=timezone.now())
    assert partition_of(report["report_id"]) == partitions.DEFAULT_PARTITION

    assert partitions.create_partition(far) is True
    assert partition_of(report["report_id"]) == partitions.partition_name(far)
    assert partitions.create_partition(far) is False


def test_the_hourly_purge_drops_whole_days_past_retention_and_keeps_the_current_ones(
    node_key, settings
) -> None:
    settings.READYFLOOR_CHECKIN_RETENTION_DAYS = 14
    old_days = [today() - dt.timedelta(days=20), today() - dt.timedelta(days=15)]
    edge = today() - dt.timedelta(days=14)  # its last hours are still inside retention
    for day in [*old_days, edge]:
        partitions.create_partition(day)
    old_reports = []
    for day in [*old_days, edge]:
        at = midnight(day) + dt.timedelta(hours=23)
        body = checkin_body(healthy_facts(), collected_at=at)
        ingest.checkin(node_key, body, received_at=at)
        old_reports.append(body["report_id"])
    current = checkin_body(no_headset(healthy_facts()))
    ingest.checkin(node_key, current, received_at=timezone.now())
    # A report from a clock 100 days behind sits in the default partition: purged by row.
    stray = checkin_body(healthy_facts(), collected_at=timezone.now() - dt.timedelta(days=100))
    ingest.checkin(node_key, stray, received_at=timezone.now() - dt.timedelta(days=30))
    CheckIn.objects.filter(report_id=stray["report_id"]).update(evaluated_at=timezone.now())
    for offset in range(4):  # the coming days, as if the hourly job had not run since
        name = partitions.partition_name(today() + dt.timedelta(days=offset + 1))
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')

    # The test's inserts and the purge share one transaction (they never do in production):
    # the deferred foreign-key checks of those inserts must run before a partition can go.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    done = purge_old_checkins()

    assert sorted(done["dropped"]) == sorted(partitions.partition_name(day) for day in old_days)
    for day in old_days:
        assert not table_exists(partitions.partition_name(day))
    assert table_exists(partitions.partition_name(edge)) and table_exists(partitions.partition_name(today()))
    assert done["created"] == [partitions.partition_name(today() + dt.timedelta(days=n)) for n in (1, 2, 3)]
    assert done["default_rows_purged"] == 1
    remaining = {str(value) for value in CheckIn.objects.values_list("report_id", flat=True)}
    assert remaining == {old_reports[-1], current["report_id"]}
    # Nothing else to do an hour later.
    assert purge_old_checkins() == {"created": [], "dropped": [], "default_rows_purged": 0}
