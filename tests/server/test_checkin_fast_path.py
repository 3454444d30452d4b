"""The check-in fast paths answer and store exactly what the plain ORM path would: the same
governing policy, a config version that follows every policy edit at once, and facts that
never move back, even when reports race. A heartbeat on a judged seat is one statement
(authenticate, store, touch the device, find the policy); a full report is two."""

from __future__ import annotations

import datetime as dt

import pytest
from readyfloor_agent.report import facts_hash

from server.compliance.governing import policy_for
from server.compliance.models import Policy
from server.fleet import ingest
from server.fleet.models import CheckIn, Device, FactSnapshot, Floor, Readiness, Seat
from tests.server.reports import checkin_body, enroll_body, healthy_facts, heartbeat_body, site_blocked
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db


def enrolled(client, secret: str, seat: tuple[str, str] | None) -> str:
    response = post(client, ENROLL, enroll_body(secret, seat=seat))
    assert response.status_code == 201, response.content
    return response.json()["node_key"]


def checkin_answer(client, key: str, form: str = "full") -> dict:
    """The answer to a full report, or (form="heartbeat") to a heartbeat on a judged seat."""
    if form == "heartbeat":
        post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
        judged()
        response = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=key)
    else:
        response = post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
    assert response.status_code == 202, response.content
    return response.json()


def judged(readiness: str = Readiness.READY) -> None:
    """Every seat as the worker leaves it after a verdict (no worker runs in these tests)."""
    Seat.objects.update(readiness=readiness)


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
@pytest.mark.parametrize("form", ["full", "heartbeat"])
def test_a_checkin_is_answered_with_the_policy_that_governs_the_seat(
    client, site, floor, seats, enroll_secret, scopes, seated, governing, form
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

    answer = checkin_answer(client, key, form)

    expected = policies[governing] if governing else Policy(name="built-in default")
    assert policy_for(device.seat, device.site).pk == expected.pk
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


@pytest.fixture
def heartbeating(client, seats, enroll_secret, policy) -> str:
    """A seated device whose facts the server holds and whose seat has its verdict."""
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    assert post(client, CHECKIN, checkin_body(healthy_facts()), key=key).status_code == 202
    judged()
    return key


def test_a_heartbeat_on_a_judged_seat_is_one_statement(client, heartbeating, django_assert_num_queries):
    before = Device.objects.get()

    with django_assert_num_queries(1):
        response = post(client, CHECKIN, heartbeat_body(healthy_facts(), dropped_reports=1), key=heartbeating)

    assert response.status_code == 202
    assert response.json()["duplicate"] is False
    device = Device.objects.get()
    assert device.last_seen_at > before.last_seen_at
    assert device.facts_collected_at > before.facts_collected_at
    assert device.dropped_reports == before.dropped_reports + 1
    stored = CheckIn.objects.latest("id")
    assert stored.facts_hash == facts_hash(healthy_facts())
    assert stored.evaluated_at is not None  # nothing for the worker to do


def test_replaying_a_heartbeat_stores_nothing_new(client, heartbeating):
    body = heartbeat_body(healthy_facts())
    first = post(client, CHECKIN, body, key=heartbeating)
    seen = Device.objects.get().last_seen_at

    replay = post(client, CHECKIN, body, key=heartbeating)

    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.json()["duplicate"] is True
    assert CheckIn.objects.count() == 2
    assert Device.objects.get().last_seen_at == seen


def test_an_older_heartbeat_never_moves_the_collection_time_back(client, heartbeating):
    newest = Device.objects.get().facts_collected_at
    old = heartbeat_body(healthy_facts(), collected_at="2020-01-01T00:00:00Z")

    response = post(client, CHECKIN, old, key=heartbeating)

    assert response.status_code == 202
    assert Device.objects.get().facts_collected_at == newest


@pytest.mark.parametrize("readiness", [Readiness.OFFLINE, Readiness.UNKNOWN])
def test_a_heartbeat_on_a_seat_waiting_for_a_verdict_is_left_for_the_worker(client, heartbeating, readiness):
    judged(readiness)

    response = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=heartbeating)

    assert response.status_code == 202
    assert CheckIn.objects.latest("id").evaluated_at is None


@pytest.mark.parametrize("key", ["not-a-key", ""], ids=["unknown", "missing"])
def test_a_heartbeat_with_an_unknown_key_is_told_to_enroll_and_stores_nothing(client, heartbeating, key):
    response = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=key)

    assert response.status_code == 401
    assert response.json()["error"] == "node_invalid"
    assert CheckIn.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"report_id": "nope"}, "report_id"),
        ({"facts_hash": "XYZ"}, "facts_hash"),
        ({"collected_at": "2026-02-30T07:00:00Z"}, "collected_at"),
        ({"dropped_reports": -1}, "dropped_reports"),
        ({"extra": True}, "extra"),
    ],
)
@pytest.mark.parametrize("key", ["valid", "unknown"])
def test_an_invalid_heartbeat_is_refused_naming_the_field_whoever_sends_it(
    client, heartbeating, change, field, key
):
    body = heartbeat_body(healthy_facts(), **change)

    response = post(client, CHECKIN, body, key=heartbeating if key == "valid" else "not-a-key")

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert CheckIn.objects.count() == 1


def test_a_seat_going_back_to_facts_it_had_before_reuses_their_snapshot(client, seats, enroll_secret, policy):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    healthy, blocked = healthy_facts(), site_blocked(healthy_facts())
    post(client, CHECKIN, checkin_body(healthy), key=key)
    post(client, CHECKIN, checkin_body(blocked), key=key)

    back = post(client, CHECKIN, checkin_body(healthy), key=key)

    assert back.status_code == 202
    assert FactSnapshot.objects.count() == 2
    device = Device.objects.get()
    assert device.current_facts.facts == healthy
    assert device.facts_hash == facts_hash(healthy)
    assert CheckIn.objects.latest("id").evaluated_at is None  # the seat changed: the worker judges it


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(report_id="not-a-uuid"), "report_id"),
        (lambda b: b.update(surprise=1), "surprise"),
        (lambda b: b.update(collected_at="yesterday"), "collected_at"),
    ],
    ids=["bad-uuid", "extra-field", "bad-time"],
)
def test_a_report_of_earlier_facts_still_has_its_report_checked(
    client, seats, enroll_secret, policy, mutate, field
):
    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
    post(client, CHECKIN, checkin_body(site_blocked(healthy_facts())), key=key)
    body = checkin_body(healthy_facts())
    mutate(body)

    response = post(client, CHECKIN, body, key=key)

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert CheckIn.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_on_a_connection_postgresql_dropped_is_stored_on_a_new_one(
    client, seats, enroll_secret, policy
):
    import psycopg
    from django.db import connection

    key = enrolled(client, enroll_secret, ("Floor 1", "A-01"))
    post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
    judged()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (kept,) = cursor.fetchone()
    # As a PostgreSQL restart does to every kept connection.
    params = connection.get_connection_params()
    with psycopg.connect(
        dbname=params["dbname"], user=params.get("user"), host=params.get("host"), port=params.get("port")
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [kept])
    # What Django does when a request starts (the test client leaves it out): the kept
    # connection stays, to be checked at its first use.
    connection.close_if_unusable_or_obsolete()

    response = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=key)

    assert response.status_code == 202, response.content
    assert CheckIn.objects.count() == 2
