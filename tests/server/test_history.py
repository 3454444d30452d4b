"""History: per-check transitions written only on real changes, never duplicated or moved
backwards by replayed or out-of-order reports; hourly rollups that always equal a recount
from the transitions; 'failing since' and time-to-fix read from them; a seat that moves to
another floor keeps its history."""

from __future__ import annotations

import datetime as dt
import random
import uuid
import zoneinfo
from collections import defaultdict

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from server.compliance import evaluation, history, policy_versions
from server.compliance.evaluation import hour_of
from server.compliance.models import CheckResult, CheckTransition, Policy, SeatEvent
from server.fleet import ingest
from server.fleet.models import Device, Floor, Seat
from tests.server.floors import seated_devices
from tests.server.reports import checkin_body, healthy_facts, no_headset, site_blocked

pytestmark = pytest.mark.django_db

VARIANTS = [healthy_facts, lambda: site_blocked(healthy_facts()), lambda: no_headset(healthy_facts())]
START = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def floor_policy(floor):
    policy = Policy(name="Floor 1", floor=floor, cti_origins=["https://acme.my.salesforce.com"])
    policy_versions.save(policy)
    return policy


def deliver(device_id: int, report: dict, at: dt.datetime) -> None:
    """What the agent API and the worker do with one report, at server time `at`."""
    device = Device.objects.select_related("seat").get(pk=device_id)
    ingest.record_checkin(device, report, received_at=at)
    evaluation.evaluate_device(device_id, now=at)


def reports_in_random_order(rng: random.Random, count: int, start: dt.datetime) -> list[tuple[int, dict]]:
    """`count` reports collected a minute apart, delivered shuffled, a third of them twice."""
    reports = [
        (n, checkin_body(rng.choice(VARIANTS)(), collected_at=start + dt.timedelta(minutes=n)))
        for n in range(count)
    ]
    for report in reports:
        report[1]["report_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    delivered = reports + rng.sample(reports, count // 3)
    rng.shuffle(delivered)
    return delivered


def assert_transitions_form_one_forward_chain(device_ids: list[int]) -> None:
    chains: dict[tuple[int, str], list[CheckTransition]] = defaultdict(list)
    for transition in CheckTransition.objects.filter(device_id__in=device_ids).order_by("id"):
        chains[(transition.device_id, transition.check_id)].append(transition)
    assert chains
    for key, chain in chains.items():
        assert chain[0].from_state == "", key
        for before, after in zip(chain, chain[1:]):
            assert after.from_state == before.to_state, key  # nothing skipped, nothing repeated
            assert after.to_state != after.from_state, key  # a real change
            assert after.at > before.at, key  # forward only
            assert after.from_since == before.at, key
        current = CheckResult.objects.get(device_id=key[0], check_id=key[1])
        assert (chain[-1].to_state, chain[-1].at) == (current.state, current.since), key


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_replayed_and_out_of_order_reports_never_create_duplicate_or_backward_transitions(
    floor, floor_policy, seed
):
    rng = random.Random(seed)
    (device,) = seated_devices(floor, 1, facts=healthy_facts(), seen=START)
    clock = START + dt.timedelta(hours=1)
    newest: dict | None = None
    for n, report in reports_in_random_order(rng, 12, START):
        clock += dt.timedelta(minutes=1)
        deliver(device.pk, report, clock)
        if newest is None or n >= newest[0]:
            newest = (n, report)

    assert_transitions_form_one_forward_chain([device.pk])
    # What the seat shows is the verdict on the newest report, whatever order they came in.
    device.refresh_from_db()
    assert device.current_facts.sha256 == ingest.facts_hash(newest[1]["facts"])
    # Evaluating again (a task run twice) adds nothing.
    count = CheckTransition.objects.count()
    evaluation.evaluate_device(device.pk, now=clock + dt.timedelta(minutes=1))
    assert CheckTransition.objects.count() == count


def recount_failing(floor: Floor, until: dt.datetime) -> dict[str, int]:
    """Failing seats per check at `until`, from the transitions alone."""
    latest: dict[tuple[int, str], str] = {}
    for transition in CheckTransition.objects.filter(floor=floor, at__lt=until).order_by("at", "id"):
        latest[(transition.seat_id, transition.check_id)] = transition.to_state
    counts: dict[str, int] = defaultdict(int)
    for (_, check_id), state in latest.items():
        counts[check_id] += state == "fail"
    return dict(counts)


def recount_readiness(floor: Floor, until: dt.datetime) -> dict[str, int]:
    """Seats per readiness at `until`, from the seat events alone."""
    latest: dict[int, str] = {}
    for event in SeatEvent.objects.filter(seat__floor=floor, at__lt=until).order_by("at", "id"):
        latest[event.seat_id] = event.to_readiness
    counts: dict[str, int] = defaultdict(int)
    for readiness in latest.values():
        counts[readiness] += 1
    return dict(counts)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_the_hourly_rollups_equal_a_recount_from_the_transitions(floor, floor_policy, seed):
    rng = random.Random(seed)
    devices = seated_devices(floor, 5, facts=site_blocked(healthy_facts()), seen=START)
    clock = START
    for device in devices:
        deliver(device.pk, checkin_body(healthy_facts(), collected_at=clock), clock)
    deliveries = [
        (device.pk, report) for device in devices for report in reports_in_random_order(rng, 6, START)
    ]
    rng.shuffle(deliveries)
    for device_id, (_, report) in deliveries:
        clock += dt.timedelta(minutes=rng.choice([3, 11, 29]))  # several hours in all
        deliver(device_id, report, clock)

    assert clock - START > dt.timedelta(hours=3)
    series_failing = history.failing_by_hour(floor.pk, START, clock)
    series_readiness = history.readiness_by_hour(floor.pk, START, clock)
    for (hour, failing), (_, readiness) in zip(series_failing, series_readiness):
        end = hour + dt.timedelta(hours=1)
        assert {k: v for k, v in failing.items() if v} == {
            k: v for k, v in recount_failing(floor, end).items() if v
        }
        assert {k: v for k, v in readiness.items() if v} == recount_readiness(floor, end)
    assert sum(series_readiness[-1][1].values()) == 5


def test_failing_since_and_time_to_fix_come_from_the_history(floor, floor_policy):
    (device,) = seated_devices(floor, 1, seen=START)
    deliver(device.pk, checkin_body(healthy_facts(), collected_at=START), START)
    broke = START + dt.timedelta(minutes=10)
    deliver(device.pk, checkin_body(site_blocked(healthy_facts()), collected_at=broke), broke)

    assert history.failing_since(device.seat_id) == {"chrome.mic.site": broke}

    fixed = broke + dt.timedelta(minutes=30)
    deliver(device.pk, checkin_body(healthy_facts(), collected_at=fixed), fixed)
    assert history.failing_since(device.seat_id) == {}
    (fix,) = history.time_to_fix(since=START, until=fixed + dt.timedelta(seconds=1))
    assert (fix.check_id, fix.fixes, fix.median_s, fix.longest_s) == ("chrome.mic.site", 1, 1800.0, 1800.0)


def test_a_seat_moved_to_another_floor_keeps_its_history_and_moves_its_counts(site, floor, floor_policy):
    (device,) = seated_devices(floor, 1, seen=START)
    broke = START + dt.timedelta(minutes=10)
    deliver(device.pk, checkin_body(site_blocked(healthy_facts()), collected_at=broke), broke)
    other = Floor.objects.create(site=site, name="Floor 2")
    policy_versions.save(Policy(name="Floor 2", floor=other, cti_origins=["https://acme.my.salesforce.com"]))

    Seat.objects.filter(pk=device.seat_id).update(floor=other)
    later = broke + dt.timedelta(minutes=10)
    with transaction.atomic():
        evaluation.judge(evaluation.stale_devices(), later)

    assert history.failing_since(device.seat_id) == {"chrome.mic.site": broke}
    assert history.failing_by_hour(floor.pk, later, later)[0][1] == {"chrome.mic.site": 0}
    assert history.failing_by_hour(other.pk, later, later)[0][1] == {"chrome.mic.site": 1}
    assert history.readiness_by_hour(other.pk, later, later)[0][1]["not_ready"] == 1
    assert history.readiness_by_hour(floor.pk, later, later)[0][1]["not_ready"] == 0


def test_the_seat_page_says_since_when_each_check_fails(client, admin_user, floor, floor_policy):
    (device,) = seated_devices(floor, 1, seen=START)
    broke = timezone.now() - dt.timedelta(days=2)
    deliver(device.pk, checkin_body(site_blocked(healthy_facts()), collected_at=broke), broke)
    # Its result row forgets (say, restored from a backup): the page still reads the history.
    CheckResult.objects.filter(check_id="chrome.mic.site").update(since=timezone.now())
    client.force_login(admin_user)

    page = client.get(reverse("dashboards:seat", args=[device.seat_id])).content.decode()

    shown = timezone.localtime(broke, zoneinfo.ZoneInfo(floor.site.timezone))
    assert f'failing since <time datetime="{shown.isoformat()}">' in page


def test_rollup_hours_are_utc_hours():
    assert hour_of(dt.datetime(2026, 11, 2, 7, 59, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == dt.datetime(
        2026, 11, 2, 6, 0, tzinfo=dt.timezone.utc
    )
