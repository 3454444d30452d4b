"""Operator API, acknowledgements: an IT admin or a floor's supervisor acknowledges a failing
check on a seat or across a floor, revokes it, reads its audit trail; auditors read only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from server.acknowledgements.acknowledging import acknowledge
from server.acknowledgements.models import Acknowledgement, AcknowledgementAudit
from server.fleet.models import Floor

pytestmark = pytest.mark.django_db

ACKS = "/api/v1/acknowledgements"


def later(days: int = 7) -> str:
    return (timezone.now() + dt.timedelta(days=days)).isoformat()


def post(client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


@pytest.fixture
def floor_b(site) -> Floor:
    return Floor.objects.create(site=site, name="Floor 2")


def test_an_it_admin_acknowledges_a_check_on_a_seat_and_it_is_audited(client, admin_user, seats):
    client.force_login(admin_user)

    response = post(
        client,
        ACKS,
        {
            "check_id": "chrome.mic.site",
            "reason": "INC-42 vendor fix",
            "expires_at": later(),
            "seat": seats[1].pk,
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["seat_label"], body["floor_name"], body["status"], body["created_by"]) == (
        "A-02",
        "Floor 1",
        "active",
        "ines",
    )
    history = client.get(f"{ACKS}/{body['id']}/history").json()
    assert [(step["action"], step["actor"], step["detail"]) for step in history] == [
        ("created", "ines", "INC-42 vendor fix")
    ]


def test_a_floors_supervisor_acknowledges_across_their_floor_but_not_another(
    client, supervisor, floor, floor_b
):
    client.force_login(supervisor)

    mine = post(
        client,
        ACKS,
        {"check_id": "os.mic.chrome", "reason": "rollout", "expires_at": later(), "floor": floor.pk},
    )
    other = post(
        client,
        ACKS,
        {"check_id": "os.mic.chrome", "reason": "rollout", "expires_at": later(), "floor": floor_b.pk},
    )

    assert mine.status_code == 201, mine.json()
    assert (other.status_code, other.json()["field"]) == (404, "floor")
    assert Acknowledgement.objects.filter(floor=floor_b).count() == 0


def test_an_auditor_reads_acknowledgements_but_may_not_make_or_revoke_one(client, auditor, admin_user, seats):
    ack = acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="INC-42",
        expires_at=timezone.now() + dt.timedelta(days=1),
        seat=seats[0],
    )
    client.force_login(auditor)

    made = post(
        client,
        ACKS,
        {"check_id": "chrome.mic.site", "reason": "x", "expires_at": later(), "seat": seats[1].pk},
    )
    revoked = post(client, f"{ACKS}/{ack.pk}/revoke", {"reason": "no"})

    assert client.get(ACKS).json()["count"] == 1
    assert (made.status_code, revoked.status_code) == (403, 403)
    assert Acknowledgement.objects.count() == 1
    assert Acknowledgement.objects.get().revoked_at is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"check_id": "no.such.check"}, "check_id"),
        ({"reason": "   "}, "reason"),
        ({"expires_at": "2020-01-01T00:00:00+00:00"}, "expires_at"),
        ({"expires_at": "2026-13-01"}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00"}, "expires_at"),
        ({"seat": None}, "seat"),
        ({"colour": "blue"}, "colour"),
        ({"reason": "a\x00b"}, "reason"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client, admin_user, seats, change, field
):
    client.force_login(admin_user)
    body = {"check_id": "chrome.mic.site", "reason": "INC-42", "expires_at": later(), "seat": seats[0].pk}
    body.update(change)

    response = post(client, ACKS, body)

    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert Acknowledgement.objects.count() == 0
    assert AcknowledgementAudit.objects.count() == 0


def test_a_seat_and_a_floor_at_once_is_refused(client, admin_user, floor, seats):
    client.force_login(admin_user)

    response = post(
        client,
        ACKS,
        {
            "check_id": "chrome.mic.site",
            "reason": "x",
            "expires_at": later(),
            "seat": seats[0].pk,
            "floor": floor.pk,
        },
    )

    assert (response.status_code, response.json()["field"]) == (400, "seat")


def test_revoking_ends_it_once_and_the_trail_says_who_and_why(client, supervisor, admin_user, seats):
    ack = acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="INC-42",
        expires_at=timezone.now() + dt.timedelta(days=1),
        seat=seats[0],
    )
    client.force_login(supervisor)

    first = post(client, f"{ACKS}/{ack.pk}/revoke", {"reason": "fixed on site"})
    again = post(client, f"{ACKS}/{ack.pk}/revoke", {})

    assert (first.status_code, first.json()["status"], first.json()["revoked_by"]) == (200, "revoked", "sam")
    assert (again.status_code, again.json()["error"]) == (409, "already_ended")
    trail = client.get(f"{ACKS}/{ack.pk}/history").json()
    assert [(s["action"], s["actor"], s["detail"]) for s in trail] == [
        ("created", "ines", "INC-42"),
        ("revoked", "sam", "fixed on site"),
    ]


def test_the_list_filters_by_status_seat_floor_and_check_and_is_paginated(client, admin_user, floor, seats):
    now = timezone.now()
    for seat in seats:
        acknowledge(
            actor=admin_user,
            check_id="chrome.mic.site",
            reason="r",
            expires_at=now + dt.timedelta(days=1),
            seat=seat,
        )
    acknowledge(
        actor=admin_user,
        check_id="os.mic.chrome",
        reason="r",
        expires_at=now + dt.timedelta(days=1),
        floor=floor,
    )
    ended = Acknowledgement.objects.filter(seat=seats[0]).get()
    ended.revoked_at = now
    ended.save()
    client.force_login(admin_user)

    def count(**params) -> int:
        return client.get(ACKS, params).json()["count"]

    assert count() == 5
    assert count(status="active") == 4
    assert count(status="revoked") == 1
    assert count(seat=seats[1].pk) == 1
    assert count(floor=floor.pk) == 5
    assert count(check="os.mic.chrome") == 1
    page = client.get(ACKS, {"page_size": 2, "page": 3}).json()
    assert (page["pages"], len(page["results"]), page["next"]) == (3, 1, None)
    assert client.get(ACKS, {"status": "forgotten"}).json()["field"] == "status"
    assert client.get(ACKS, {"seat": 999999}).json()["field"] == "seat"


def test_the_acknowledgement_endpoints_are_in_the_served_openapi_document(client):
    paths = client.get("/api/schema.json").json()["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/acknowledgements"])
    assert "post" in paths["/api/v1/acknowledgements/{ack_id}/revoke"]
    assert "get" in paths["/api/v1/acknowledgements/{ack_id}/history"]
