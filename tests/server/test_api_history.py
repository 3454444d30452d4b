"""Operator API, history: a seat's per-check transitions and since when its checks fail,
time-to-fix per check, and a floor's hourly readiness and failing counts — within scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from server.compliance import policy_versions
from server.compliance.models import Policy
from server.fleet.models import Floor
from tests.server.floors import seated_devices
from tests.server.reports import checkin_body, healthy_facts, site_blocked
from tests.server.test_history import deliver

pytestmark = pytest.mark.django_db

HISTORY = "/api/v1/history"


@pytest.fixture
def story(floor):
    """One seat of Floor 1: healthy, then its CTI site blocked for 30 minutes, then fixed, then
    blocked again (failing now). Recent, so the default periods hold it."""
    policy_versions.save(Policy(name="Floor 1", floor=floor, cti_origins=["https://acme.my.salesforce.com"]))
    start = (timezone.now() - dt.timedelta(hours=3)).replace(microsecond=0)
    (device,) = seated_devices(floor, 1, seen=start)
    steps = [(0, healthy_facts()), (10, site_blocked(healthy_facts())), (40, healthy_facts())]
    steps.append((70, site_blocked(healthy_facts())))
    for minutes, facts in steps:
        at = start + dt.timedelta(minutes=minutes)
        deliver(device.pk, checkin_body(facts, collected_at=at), at)
    return device, start


def test_a_seats_transitions_are_listed_newest_first_filtered_by_check_and_paginated(
    client, admin_user, story
):
    device, start = story
    client.force_login(admin_user)
    url = f"{HISTORY}/seats/{device.seat_id}/transitions"

    site = client.get(url, {"check": "chrome.mic.site"}).json()
    page = client.get(url, {"page_size": 2}).json()

    assert [(t["from_state"], t["to_state"]) for t in site["results"]] == [
        ("pass", "fail"),
        ("fail", "pass"),
        ("pass", "fail"),
        ("", "pass"),
    ]
    assert site["results"][0]["at"].startswith((start + dt.timedelta(minutes=70)).strftime("%Y-%m-%dT%H:%M"))
    assert site["results"][0]["policy_version"] == 1
    assert page["count"] > 4 and len(page["results"]) == 2 and page["next"]


def test_failing_since_names_each_failing_check_with_its_start(client, admin_user, story):
    device, start = story
    client.force_login(admin_user)

    body = client.get(f"{HISTORY}/seats/{device.seat_id}/failing-since").json()

    assert [row["check_id"] for row in body] == ["chrome.mic.site"]
    assert body[0]["since"].startswith((start + dt.timedelta(minutes=70)).strftime("%Y-%m-%dT%H:%M"))


def test_time_to_fix_per_check_for_a_floor(client, admin_user, floor, story):
    client.force_login(admin_user)

    body = client.get(f"{HISTORY}/time-to-fix", {"floor": floor.pk, "days": 1}).json()

    assert [(row["check_id"], row["fixes"], row["median_s"]) for row in body] == [
        ("chrome.mic.site", 1, 1800.0)
    ]
    assert client.get(f"{HISTORY}/time-to-fix", {"days": 0}).json()["field"] == "days"


def test_hourly_readiness_of_a_floor_over_a_period(client, admin_user, floor, story):
    _, start = story
    client.force_login(admin_user)
    end = timezone.now()

    body = client.get(
        f"{HISTORY}/floors/{floor.pk}/readiness", {"start": start.isoformat(), "end": end.isoformat()}
    ).json()
    failing = client.get(f"{HISTORY}/floors/{floor.pk}/failing", {"check": "chrome.mic.site"}).json()

    assert len(body["hours"]) in (4, 5)
    assert body["hours"][-1]["counts"]["not_ready"] == 1
    assert sum(body["hours"][-1]["counts"].values()) == 1
    assert failing["hours"][-1]["counts"] == {"chrome.mic.site": 1}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-11-30T10:00:00+00:00", "end": "2026-11-30T09:00:00+00:00"}, "start"),
        ({"start": "2024-01-01T00:00:00+00:00", "end": "2026-11-30T09:00:00+00:00"}, "start"),
        ({"start": "2026-11-30T10:00:00"}, "start"),
        ({"end": "yesterday"}, "end"),
    ],
)
def test_a_bad_period_is_refused_naming_the_field(client, admin_user, floor, params, field):
    client.force_login(admin_user)

    response = client.get(f"{HISTORY}/floors/{floor.pk}/readiness", params)

    assert (response.status_code, response.json()["field"]) == (400, field)


def test_a_supervisor_gets_nothing_of_another_floor(client, supervisor, site, story):
    device, _ = story
    other = Floor.objects.create(site=site, name="Floor 2")
    (stranger,) = seated_devices(other, 1)
    client.force_login(supervisor)

    assert client.get(f"{HISTORY}/seats/{device.seat_id}/transitions").status_code == 200
    assert client.get(f"{HISTORY}/seats/{stranger.seat_id}/transitions").status_code == 404
    assert client.get(f"{HISTORY}/seats/{stranger.seat_id}/failing-since").status_code == 404
    assert client.get(f"{HISTORY}/floors/{other.pk}/readiness").status_code == 404
    assert client.get(f"{HISTORY}/time-to-fix", {"floor": other.pk}).status_code == 404
    # The whole fleet's figures are for those who see every floor.
    assert client.get(f"{HISTORY}/time-to-fix").json()["field"] == "floor"


def test_an_auditor_reads_every_floors_history(client, auditor, floor, story):
    device, _ = story
    client.force_login(auditor)

    assert client.get(f"{HISTORY}/seats/{device.seat_id}/transitions").json()["count"] > 0
    assert client.get(f"{HISTORY}/time-to-fix").status_code == 200


def test_the_history_endpoints_are_in_the_served_openapi_document(client):
    paths = client.get("/api/schema.json").json()["paths"]

    for path in (
        "/api/v1/history/seats/{seat_id}/transitions",
        "/api/v1/history/seats/{seat_id}/failing-since",
        "/api/v1/history/time-to-fix",
        "/api/v1/history/floors/{floor_id}/readiness",
        "/api/v1/history/floors/{floor_id}/failing",
    ):
        assert "get" in paths[path], path
