"""The agent API: enrolment, check-ins and config — and every way a request can be wrong.

Every bad request gets a 4xx JSON error naming the field, and stores nothing."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone
from readyfloor_agent.report import facts_hash

from server.fleet.models import CheckIn, Device, EnrollSecret, FactSnapshot, sha256_hex
from tests.server.reports import (
    checkin_body,
    enroll_body,
    gzipped,
    healthy_facts,
    heartbeat_body,
    site_blocked,
)

pytestmark = pytest.mark.django_db

ENROLL = "/api/agent/v1/enroll"
CHECKIN = "/api/agent/v1/checkin"
CONFIG = "/api/agent/v1/config"


def post(client: Client, url: str, body, *, key: str | None = None, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = f"NodeKey {key}"
    return client.post(url, data=data, content_type="application/json", **headers)


@pytest.fixture
def node_key(client, enroll_secret, seats, policy) -> str:
    response = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01")))
    assert response.status_code == 201, response.content
    return response.json()["node_key"]


def nothing_stored() -> bool:
    return CheckIn.objects.count() == 0 and FactSnapshot.objects.count() == 0


# --- enrolment -------------------------------------------------------------------------


def test_it_enrolls_a_workstation_at_its_seat_and_stores_only_a_hash_of_the_key(client, enroll_secret, seats):
    response = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-02")))

    assert response.status_code == 201
    body = response.json()
    device = Device.objects.get(host_identifier="host-1")
    assert device.seat == seats[1]
    assert body["seat"] == "Floor 1 A-02"
    assert device.node_key_hash == sha256_hex(body["node_key"])
    assert body["node_key"] not in json.dumps(list(Device.objects.values()), default=str)


def test_it_refuses_an_unknown_enroll_secret(client, seats):
    response = post(client, ENROLL, enroll_body("not-a-real-secret"))

    assert response.status_code == 403
    assert response.json()["field"] == "enroll_secret"
    assert Device.objects.count() == 0


def test_it_refuses_a_revoked_enroll_secret_while_another_stays_valid(client, site, seats):
    old, old_plain = EnrollSecret.issue(site, "old")
    _, new_plain = EnrollSecret.issue(site, "new")
    old.revoke()

    assert post(client, ENROLL, enroll_body(old_plain)).status_code == 403
    assert post(client, ENROLL, enroll_body(new_plain)).status_code == 201


def test_re_enrolling_replaces_the_node_key(client, enroll_secret, node_key):
    # With proof that it is the same machine (its previous key): issue 11 refuses a silent
    # re-enrolment of an enrolled host (tests/server/test_enrolment.py).
    response = post(client, ENROLL, {**enroll_body(enroll_secret, "host-1"), "previous_node_key": node_key})
    new_key = response.json()["node_key"]

    assert (
        post(client, CHECKIN, checkin_body(healthy_facts()), key=node_key).json()["error"] == "node_invalid"
    )
    assert post(client, CHECKIN, checkin_body(healthy_facts()), key=new_key).status_code == 202
    assert Device.objects.count() == 1


def test_an_unknown_seat_enrolls_unseated_with_a_warning(client, enroll_secret, seats):
    response = post(client, ENROLL, enroll_body(enroll_secret, seat=("Floor 9", "Z-99")))

    assert response.status_code == 201
    assert "no floor 'Floor 9'" in response.json()["warning"]
    assert Device.objects.get().seat is None


def test_a_device_moving_to_an_occupied_seat_unseats_the_previous_one(client, enroll_secret, seats):
    post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01")))
    # Once the seat's device has been silent for the policy's seat_takeover_after_s (a day by
    # default); before that the claim waits for approval (tests/server/test_enrolment.py).
    Device.objects.filter(host_identifier="host-1").update(last_seen_at=timezone.now() - dt.timedelta(days=2))
    post(client, ENROLL, enroll_body(enroll_secret, "host-2", seat=("Floor 1", "A-01")))

    assert Device.objects.get(host_identifier="host-2").seat == seats[0]
    assert Device.objects.get(host_identifier="host-1").seat is None


# --- check-in: the good path -------------------------------------------------------------


def test_a_checkin_is_stored_with_its_facts(client, node_key):
    facts = healthy_facts()
    response = post(client, CHECKIN, checkin_body(facts), key=node_key)

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    assert response.json()["next_checkin_s"] == 60
    device = Device.objects.get()
    assert device.facts_hash == facts_hash(facts)
    assert device.current_facts.facts == facts
    assert device.last_seen_at is not None


def test_a_gzipped_checkin_is_accepted(client, node_key):
    response = post(
        client, CHECKIN, gzipped(checkin_body(healthy_facts())), key=node_key, HTTP_CONTENT_ENCODING="gzip"
    )

    assert response.status_code == 202
    assert CheckIn.objects.count() == 1


def test_a_heartbeat_with_known_facts_stores_no_new_snapshot(client, node_key):
    facts = healthy_facts()
    post(client, CHECKIN, checkin_body(facts), key=node_key)

    response = post(client, CHECKIN, heartbeat_body(facts), key=node_key)

    assert response.status_code == 202
    assert CheckIn.objects.count() == 2
    assert FactSnapshot.objects.count() == 1


def test_a_heartbeat_naming_facts_the_server_lacks_asks_for_full_facts(client, node_key):
    response = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=node_key)

    assert response.status_code == 409
    assert response.json() == {
        "error": "facts_required",
        "field": "facts_hash",
        "detail": "the server does not hold facts with this hash; send full facts",
    }
    assert nothing_stored()


def test_replaying_a_report_id_stores_nothing_new(client, node_key):
    body = checkin_body(healthy_facts())
    first = post(client, CHECKIN, body, key=node_key)
    replay = post(client, CHECKIN, body, key=node_key)

    assert first.status_code == 202
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert CheckIn.objects.count() == 1


def test_an_older_report_never_overwrites_newer_facts(client, node_key):
    now = dt.datetime.now(dt.timezone.utc)
    newer, older = healthy_facts(), site_blocked(healthy_facts())
    post(client, CHECKIN, checkin_body(newer, collected_at=now), key=node_key)

    response = post(
        client, CHECKIN, checkin_body(older, collected_at=now - dt.timedelta(minutes=5)), key=node_key
    )

    assert response.status_code == 202
    device = Device.objects.get()
    assert device.facts_hash == facts_hash(newer)
    assert device.facts_collected_at == now.replace(microsecond=now.microsecond)
    assert CheckIn.objects.count() == 2


def test_a_report_from_a_clock_in_the_future_is_capped_at_receive_time(client, node_key):
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365)
    post(client, CHECKIN, checkin_body(healthy_facts(), collected_at=future), key=node_key)

    device = Device.objects.get()
    assert device.facts_collected_at <= dt.datetime.now(dt.timezone.utc)
    # ...so the next real report still moves the facts forward.
    post(client, CHECKIN, checkin_body(site_blocked(healthy_facts())), key=node_key)
    assert Device.objects.get().facts_hash == facts_hash(site_blocked(healthy_facts()))


def test_dropped_reports_are_counted_on_the_device(client, node_key):
    post(client, CHECKIN, checkin_body(healthy_facts(), dropped_reports=3), key=node_key)

    assert Device.objects.get().dropped_reports == 3


# --- check-in: bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("report_id"), "report_id"),
        (lambda b: b.pop("collected_at"), "collected_at"),
        (lambda b: b.update(surprise=1), "surprise"),
        (lambda b: b.update(schema_version="1"), "schema_version"),
        (lambda b: b.update(report_id="not-a-uuid"), "report_id"),
        (lambda b: b.update(collected_at="yesterday"), "collected_at"),
        (lambda b: b.update(collected_at="2026-13-45T25:61:00Z"), "collected_at"),
        (lambda b: b["facts"]["chrome"].update(installed="yes"), "facts.chrome.installed"),
        (
            lambda b: b["facts"]["chrome"]["profiles"][0].update(mic_default=9),
            "facts.chrome.profiles[0].mic_default",
        ),
        (lambda b: b["facts"]["audio"]["inputs"][0].pop("state"), "facts.audio.inputs[0].state"),
        (lambda b: b["facts"].pop("audio"), "facts.audio"),
        (lambda b: b["facts"]["host"].update(os="beos"), "facts.host.os"),
        (lambda b: b["facts"]["host"].update(hostname="a\x00b"), "facts.host.hostname"),
        (lambda b: b.update(facts_hash="0" * 64), "(body)"),
    ],
    ids=[
        "missing-report_id",
        "missing-collected_at",
        "extra-field",
        "mistyped-schema_version",
        "bad-uuid",
        "bad-date",
        "impossible-date",
        "mistyped-fact",
        "out-of-range-setting",
        "missing-nested",
        "missing-group",
        "unknown-os",
        "nul-character",
        "facts-and-hash",
    ],
)
def test_an_invalid_checkin_names_the_field_and_stores_nothing(client, node_key, mutate, field):
    body = checkin_body(healthy_facts())
    mutate(body)

    response = post(client, CHECKIN, body, key=node_key)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid"
    assert response.json()["field"] == field
    assert response.json()["detail"]
    assert nothing_stored()


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"\xff\xfe garbage", b"[" * 100_000, b'"just a string"', b"null"],
    ids=["broken", "empty", "not-utf8", "deeply-nested", "string", "null"],
)
def test_malformed_json_is_refused(client, node_key, raw):
    response = post(client, CHECKIN, raw, key=node_key)

    assert 400 <= response.status_code < 500
    assert response.json()["error"] in {"malformed_json", "invalid"}
    assert nothing_stored()


def test_an_oversized_body_is_refused(client, node_key, settings):
    settings.READYFLOOR_MAX_REPORT_BYTES = 10_000
    body = checkin_body(healthy_facts())
    body["facts"]["chrome"]["user_data_dir"] = "x" * 1000
    body["facts"]["chrome"]["profiles"] *= 20

    response = post(client, CHECKIN, body, key=node_key)

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert nothing_stored()


def test_a_gzip_bomb_is_refused(client, node_key, settings):
    settings.READYFLOOR_MAX_REPORT_BYTES = 100_000
    bomb = gzip.compress(b'{"a": "' + b"0" * 5_000_000 + b'"}')

    response = post(client, CHECKIN, bomb, key=node_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert nothing_stored()


@pytest.mark.parametrize(
    "payload", [b"this is not gzip", gzip.compress(b"{}")[:-8]], ids=["garbage", "truncated"]
)
def test_bad_gzip_is_refused(client, node_key, payload):
    response = post(client, CHECKIN, payload, key=node_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["error"] == "bad_gzip"
    assert nothing_stored()


def test_an_unsupported_encoding_or_type_is_refused(client, node_key):
    body = json.dumps(checkin_body(healthy_facts()))
    assert post(client, CHECKIN, body, key=node_key, HTTP_CONTENT_ENCODING="br").status_code == 415
    response = client.post(
        CHECKIN, data=body, content_type="text/plain", HTTP_AUTHORIZATION=f"NodeKey {node_key}"
    )
    assert response.status_code == 415
    assert nothing_stored()


@pytest.mark.parametrize(
    "key", [None, "", "wrong-key", "NodeKey"], ids=["absent", "empty", "wrong", "scheme-only"]
)
def test_a_checkin_without_a_valid_node_key_is_told_to_enroll(client, node_key, key):
    headers = {} if key is None else {"HTTP_AUTHORIZATION": f"NodeKey {key}"}

    response = post(client, CHECKIN, checkin_body(healthy_facts()), **headers)

    assert response.status_code == 401
    assert response.json()["error"] == "node_invalid"
    assert nothing_stored()


def test_a_revoked_node_key_is_told_to_enroll(client, node_key):
    Device.objects.get().revoke_node_key()

    response = post(client, CHECKIN, checkin_body(healthy_facts()), key=node_key)

    assert response.status_code == 401
    assert response.json()["error"] == "node_invalid"
    assert nothing_stored()


def test_other_methods_are_refused_without_a_server_error(client, node_key):
    assert client.get(CHECKIN).status_code == 405
    assert client.put(CHECKIN, data="{}", content_type="application/json").status_code == 405


# --- config ---------------------------------------------------------------------------------


def test_config_gives_the_seat_its_policy(client, node_key, policy):
    response = client.get(CONFIG, HTTP_AUTHORIZATION=f"NodeKey {node_key}")

    assert response.status_code == 200
    body = response.json()
    assert body["policy"]["cti_origins"] == ["https://acme.my.salesforce.com"]
    assert body["next_checkin_s"] == 60
    assert body["seat"] == {"floor": "Floor 1", "label": "A-01"}
    assert (
        body["config_version"]
        == post(client, CHECKIN, checkin_body(healthy_facts()), key=node_key).json()["config_version"]
    )


def test_config_changes_version_when_the_policy_changes(client, node_key, policy):
    before = client.get(CONFIG, HTTP_AUTHORIZATION=f"NodeKey {node_key}").json()["config_version"]
    policy.cti_origins = ["https://app.hubspot.com"]
    policy.save()

    after = client.get(CONFIG, HTTP_AUTHORIZATION=f"NodeKey {node_key}").json()["config_version"]

    assert before != after


def test_config_without_a_key_is_told_to_enroll(client):
    response = client.get(CONFIG)

    assert response.status_code == 401
    assert response.json()["error"] == "node_invalid"


def test_a_report_id_is_unique_across_devices(client, node_key, enroll_secret):
    other_key = post(client, ENROLL, enroll_body(enroll_secret, "host-2")).json()["node_key"]
    body = checkin_body(healthy_facts(), report_id=str(uuid.uuid4()))
    post(client, CHECKIN, body, key=node_key)

    replay = post(client, CHECKIN, body, key=other_key)

    assert replay.json()["duplicate"] is True
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_checkin_while_the_database_is_unreachable_gets_a_json_503(client, node_key):
    from django.db import connection

    real = dict(connection.settings_dict)
    connection.close()
    # A real connection failure: nothing listens on port 9.
    connection.settings_dict.update(HOST="127.0.0.1", PORT="9")
    try:
        response = post(client, CHECKIN, checkin_body(healthy_facts()), key=node_key)
    finally:
        connection.close()
        connection.settings_dict.update(real)

    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert CheckIn.objects.count() == 0


def test_an_enroll_secret_never_starts_with_a_dash_so_it_pastes_after_an_option(site) -> None:
    from server.fleet.models import EnrollSecret

    assert not any(EnrollSecret.issue(site, f"rollout {n}")[1].startswith("-") for n in range(300))
