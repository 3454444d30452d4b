"""The check-in fast path (one query to authenticate, one statement to store) answers and
stores exactly what the plain ORM path would: the same governing policy, a config version that
follows every policy edit at once, and facts that never move back, even when reports race."""

from __future__ import annotations

import datetime as dt

import pytest
from readyfloor_agent.report import facts_hash

from server.compliance.models import Policy
from server.fleet import ingest
from server.fleet.models import CheckIn, Device, FactSnapshot, Floor
from tests.server.reports import checkin_body, enroll_body, healthy_facts, heartbeat_body, site_blocked
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db


def enrolled(client, secret: str, seat: tuple[str, str] | None) -> str:
    response = post(client, ENROLL, enroll_body(secret, seat=seat))
    assert response.status_code == 201, response.content
    return response.json()["node_key"]


def checkin_answer(client, key: str) -> dict:
    response = post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
    assert response.status_code == 202, response.content
    return response.json()


@pytest.mark.parametrize(
    ("scopes", "seated", "governing"),
    [
        (["default", "site", "floor"], True, "floor"),
        (["default", "site", "other floor"], True, "site"),
        (["default", "other site"], True, "default"),
        ([], True, None),
        (["default", "site", "floor"], False, "site"),
        (["default", "floor"], False, "default"),
    ],
    ids=["floor-wins", "site-over-default", "default", "built-in", "unseated-site", "unseated-default"],
)
def test_a_checkin_is_answered_with_the_policy_that_governs_the_seat(
    client, site, floor, seats, enroll_secret, scopes, seated, governing
):
    from server.fleet.models import Site

    other_floor = Floor.objects.create(site=site, name="Floor 2")
    other_site = Site.objects.create(name="Elsewhere")
    where = {
        "default": {},
        "site": {"site": site},
        "floor": {"floor": floor},
        "other floor": {"floor": other_floor},
        "other site": {"site": other_site},
    }
    policies = {
        scope: Policy.objects.create(name=scope, checkin_interval_s=100 + index, **where[scope])
        for index, scope in enumerate(scopes)
    }
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01") if seated else None)
    device = Device.objects.get()

    answer = checkin_answer(client, key)

    expected = policies[governing] if governing else Policy(name="built-in default")
    assert Policy.for_seat(device.seat, device.site).pk == expected.pk
    assert answer["next_checkin_s"] == expected.checkin_interval_s
    assert answer["config_version"] == expected.config_version()


def test_a_policy_edit_changes_the_config_version_at_once_even_without_save(
    client, seats, enroll_secret, policy
):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    before = checkin_answer(client, key)

    # An update() that bypasses save() (and updated_at) must not leave a stale answer.
    Policy.objects.filter(pk=policy.pk).update(cti_origins=["https://app.hubspot.com"], checkin_interval_s=30)
    after = checkin_answer(client, key)

    policy.refresh_from_db()
    assert after["config_version"] == policy.config_version() != before["config_version"]
    assert after["next_checkin_s"] == 30


def test_full_facts_repeated_are_stored_as_a_checkin_without_a_new_snapshot(
    client, seats, enroll_secret, policy
):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    facts = healthy_facts()
    post(client, CHECKIN, checkin_body(facts), key=key)

    again = post(client, CHECKIN, checkin_body(facts), key=key)

    assert again.status_code == 202
    assert CheckIn.objects.count() == 2
    assert FactSnapshot.objects.count() == 1
    assert Device.objects.get().current_facts.facts == facts


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(report_id="not-a-uuid"), "report_id"),
        (lambda b: b.update(surprise=1), "surprise"),
        (lambda b: b.update(facts_hash="0" * 64), "(body)"),
    ],
    ids=["bad-uuid", "extra-field", "facts-and-hash"],
)
def test_repeated_facts_still_have_their_report_checked(client, seats, enroll_secret, policy, mutate, field):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    facts = healthy_facts()
    post(client, CHECKIN, checkin_body(facts), key=key)
    body = checkin_body(facts)
    mutate(body)

    response = post(client, CHECKIN, body, key=key)

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert CheckIn.objects.count() == 1


def test_an_invalid_report_is_refused_as_invalid_even_with_an_unknown_key(client, seats, enroll_secret):
    body = checkin_body(healthy_facts())
    body["report_id"] = "not-a-uuid"

    response = post(client, CHECKIN, body, key="not-a-key")

    assert response.status_code == 400
    assert response.json()["field"] == "report_id"


def test_an_older_report_racing_a_newer_one_never_moves_the_facts_back(client, seats, enroll_secret, policy):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    now = dt.datetime.now(dt.timezone.utc)
    post(client, CHECKIN, checkin_body(healthy_facts(), collected_at=now - dt.timedelta(minutes=10)), key=key)
    # Both requests read the device before either wrote: the older one still believes it is newest.
    stale = Device.objects.get()
    newer, older = site_blocked(healthy_facts()), healthy_facts("lyon-a02")
    ingest.record_checkin(Device.objects.get(), checkin_body(newer, collected_at=now))

    ingest.record_checkin(stale, checkin_body(older, collected_at=now - dt.timedelta(minutes=5)))

    device = Device.objects.get()
    assert device.facts_hash == facts_hash(newer)
    assert device.current_facts.facts == newer
    assert device.facts_collected_at == now
    assert CheckIn.objects.count() == 3


def test_a_heartbeat_moves_last_seen_and_counts_dropped_reports(client, seats, enroll_secret, policy):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    facts = healthy_facts()
    post(client, CHECKIN, checkin_body(facts, dropped_reports=2), key=key)
    first_seen = Device.objects.get().last_seen_at

    response = post(client, CHECKIN, heartbeat_body(facts, dropped_reports=3, agent_version="0.2.0"), key=key)

    device = Device.objects.get()
    assert response.status_code == 202
    assert device.last_seen_at > first_seen
    assert device.dropped_reports == 5
    assert device.agent_version == "0.2.0"
    assert device.facts_hash == facts_hash(facts)
