"""Enrolment a leaked secret cannot abuse (issue 11, item 3): scoped, expiring, counted
secrets; an occupied seat is never taken silently; an enrolled host's key survives an
unproven re-enrolment."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from server.alerts.delivering import attempt_delivery
from server.alerts.models import AlertRule, Channel, ChannelKind, Delivery
from server.fleet.models import ClaimKind, ClaimStatus, Device, EnrollSecret, EnrolmentClaim, Floor
from tests.alerts.conftest import Receiver, receiver  # noqa: F401
from tests.server.reports import checkin_body, enroll_body, healthy_facts
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db

A01 = ("Floor 1", "A-01")


@pytest.fixture
def watched(floor, receiver: Receiver):  # noqa: F811
    """An alert rule on the floor, sending to a real local webhook receiver."""
    channel = Channel.objects.create(name="IT on call", kind=ChannelKind.WEBHOOK, url=receiver.url)
    rule = AlertRule.objects.create(name="Floor 1", floor=floor)
    rule.channels.add(channel)
    return receiver


def enrol(client, secret: str, host: str, seat=A01, **extra):
    return post(client, ENROLL, {**enroll_body(secret, host, seat=seat), **extra})


def checkin_status(client, key: str) -> int:
    return post(client, CHECKIN, checkin_body(healthy_facts()), key=key).status_code


def send_alerts() -> list[dict]:
    for delivery in Delivery.objects.all():
        attempt_delivery(delivery.pk)
    return [json.loads(delivery.body) for delivery in Delivery.objects.order_by("pk")]


# --- an occupied seat -------------------------------------------------------------------


def test_a_second_host_claiming_an_occupied_seat_waits_for_approval_and_an_alert_fires(
    client, enroll_secret, seats, policy, watched
) -> None:
    first = enrol(client, enroll_secret, "real-pc").json()["node_key"]
    assert checkin_status(client, first) == 202

    response = enrol(client, enroll_secret, "intruder")

    assert response.status_code == 201
    assert "until an admin approves" in response.json()["warning"]
    assert response.json()["seat"] is None
    assert Device.objects.get(host_identifier="real-pc").seat == seats[0], "the real device keeps its seat"
    claim = EnrolmentClaim.objects.get()
    assert (claim.kind, claim.status, claim.seat, claim.previous_device.host_identifier) == (
        ClaimKind.SEAT,
        ClaimStatus.PENDING,
        seats[0],
        "real-pc",
    )
    [alert] = send_alerts()
    assert alert["enrolment_claims"] == [claim.summary]
    assert "claims seat Floor 1 A-01 from lyon-a01" in alert["enrolment_claims"][0]
    assert watched.accepted and json.loads(watched.accepted[0].body)["enrolment_claims"] == [claim.summary]


def test_an_admin_approving_the_claim_seats_the_new_device(
    client, admin_client, enroll_secret, seats, policy
):
    enrol(client, enroll_secret, "old-pc")
    Device.objects.filter(host_identifier="old-pc").update(last_seen_at=timezone.now())
    enrol(client, enroll_secret, "new-pc")
    claim = EnrolmentClaim.objects.get()

    response = admin_client.post(
        "/admin/fleet/enrolmentclaim/", {"action": "approve", "_selected_action": [claim.pk]}
    )

    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.status, claim.decided_by) == (ClaimStatus.APPROVED, "ines")
    assert Device.objects.get(host_identifier="new-pc").seat == seats[0]
    assert Device.objects.get(host_identifier="old-pc").seat is None


def test_a_refused_claim_changes_nothing(client, admin_client, enroll_secret, seats, policy):
    enrol(client, enroll_secret, "old-pc")
    Device.objects.filter(host_identifier="old-pc").update(last_seen_at=timezone.now())
    enrol(client, enroll_secret, "new-pc")
    claim = EnrolmentClaim.objects.get()

    admin_client.post("/admin/fleet/enrolmentclaim/", {"action": "refuse", "_selected_action": [claim.pk]})

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REFUSED
    assert Device.objects.get(host_identifier="old-pc").seat == seats[0]


def test_a_seat_silent_past_the_policy_time_is_taken_recorded_and_announced(
    client, enroll_secret, seats, policy, watched
) -> None:
    policy.seat_takeover_after_s = 3600
    policy.save()
    enrol(client, enroll_secret, "dead-pc")
    Device.objects.filter(host_identifier="dead-pc").update(
        last_seen_at=timezone.now() - dt.timedelta(hours=2)
    )

    response = enrol(client, enroll_secret, "replacement")

    assert response.json()["seat"] == "Floor 1 A-01"
    assert Device.objects.get(host_identifier="dead-pc").seat is None
    claim = EnrolmentClaim.objects.get()
    assert claim.status == ClaimStatus.AUTOMATIC and claim.previous_device.host_identifier == "dead-pc"
    [alert] = send_alerts()
    assert "took seat Floor 1 A-01" in alert["enrolment_claims"][0]


def test_a_policy_without_a_takeover_time_always_asks(client, enroll_secret, seats, policy) -> None:
    policy.seat_takeover_after_s = None
    policy.save()
    enrol(client, enroll_secret, "dead-pc")
    Device.objects.filter(host_identifier="dead-pc").update(
        last_seen_at=timezone.now() - dt.timedelta(days=300)
    )

    enrol(client, enroll_secret, "replacement")

    assert EnrolmentClaim.objects.get().status == ClaimStatus.PENDING
    assert Device.objects.get(host_identifier="dead-pc").seat == seats[0]


# --- a known host identifier --------------------------------------------------------------


def test_re_enrolling_a_known_host_without_proof_keeps_the_enrolled_key_working(
    client, enroll_secret, seats, policy, watched
) -> None:
    real_key = enrol(client, enroll_secret, "host-1").json()["node_key"]

    response = enrol(client, enroll_secret, "host-1", claim_token="t" * 24)

    assert response.status_code == 409
    assert response.json()["error"] == "approval_required"
    assert response.json()["field"] == "host_identifier"
    assert checkin_status(client, real_key) == 202, "the enrolled agent keeps reporting"
    claim = EnrolmentClaim.objects.get()
    assert (claim.kind, claim.status) == (ClaimKind.HOST, ClaimStatus.PENDING)
    [alert] = send_alerts()
    assert "without proof" in alert["enrolment_claims"][0]
    again = enrol(client, enroll_secret, "host-1", claim_token="t" * 24)
    assert again.status_code == 409 and EnrolmentClaim.objects.count() == 1, "a retry joins its claim"


def test_after_approval_only_the_claimant_holding_its_token_gets_a_key(
    client, admin_client, enroll_secret, seats, policy
) -> None:
    real_key = enrol(client, enroll_secret, "host-1").json()["node_key"]
    enrol(client, enroll_secret, "host-1", claim_token="claimant-token-123456")
    claim = EnrolmentClaim.objects.get()
    admin_client.post("/admin/fleet/enrolmentclaim/", {"action": "approve", "_selected_action": [claim.pk]})

    stranger = enrol(client, enroll_secret, "host-1", claim_token="somebody-else-987654")
    picked_up = enrol(client, enroll_secret, "host-1", claim_token="claimant-token-123456")

    assert stranger.status_code == 409
    assert picked_up.status_code == 201
    assert checkin_status(client, picked_up.json()["node_key"]) == 202
    assert checkin_status(client, real_key) == 401
    claim.refresh_from_db()
    assert claim.completed_at is not None


def test_a_host_whose_key_was_revoked_enrols_again_without_proof(
    client, enroll_secret, seats, policy
) -> None:
    enrol(client, enroll_secret, "host-1")
    Device.objects.get().revoke_node_key()

    response = enrol(client, enroll_secret, "host-1")

    assert response.status_code == 201
    assert not EnrolmentClaim.objects.exists()


# --- secrets ----------------------------------------------------------------------------------


def test_an_expired_secret_is_refused(client, site, seats) -> None:
    _, plain = EnrollSecret.issue(site, "last week", expires_at=timezone.now() - dt.timedelta(minutes=1))

    response = enrol(client, plain, "host-1")

    assert response.status_code == 403
    assert response.json()["field"] == "enroll_secret"
    assert "expired" in response.json()["detail"]
    assert not Device.objects.exists()


def test_a_used_up_secret_is_refused(client, site, seats) -> None:
    secret, plain = EnrollSecret.issue(site, "two seats", max_uses=2)
    assert enrol(client, plain, "host-1", seat=None).status_code == 201
    assert enrol(client, plain, "host-2", seat=None).status_code == 201

    response = enrol(client, plain, "host-3", seat=None)

    assert response.status_code == 403
    assert "used up" in response.json()["detail"]
    secret.refresh_from_db()
    assert secret.uses == 2 and Device.objects.count() == 2


def test_a_floor_scoped_secret_cannot_seat_a_device_on_another_floor(client, site, seats) -> None:
    other = Floor.objects.create(site=site, name="Floor 2")
    _, plain = EnrollSecret.issue(site, "floor 2 rollout", floor=other)

    response = enrol(client, plain, "host-1", seat=A01)

    assert response.status_code == 201
    assert "floor 'Floor 2' only" in response.json()["warning"]
    assert Device.objects.get().seat is None


def test_create_enroll_secret_scopes_expires_and_caps(site, floor, capsys) -> None:
    from django.core.management import call_command

    call_command(
        "create_enroll_secret",
        site=site.name,
        floor=floor.name,
        expires_in_days=7,
        max_uses=40,
        name="rollout",
    )

    secret = EnrollSecret.objects.get()
    assert (secret.floor, secret.max_uses) == (floor, 40)
    assert dt.timedelta(days=6.9) < secret.expires_at - timezone.now() <= dt.timedelta(days=7)
    assert EnrollSecret.find(capsys.readouterr().out.strip()) == secret


@pytest.mark.django_db(transaction=True)
def test_a_simulated_floor_run_again_proves_its_seats_with_the_keys_it_kept(
    live_server, enroll_secret, seats, tmp_path
):
    from readyfloor_agent import simulate

    keys = tmp_path / "keys.json"
    runs = [
        simulate.run_simulation(live_server.url, enroll_secret, seats=4, once=True, keys_file=keys)
        for _ in range(2)
    ]

    assert [(run.enrolled, run.unavailable, run.rejected) for run in runs] == [(4, 0, 0), (4, 0, 0)]
    assert not EnrolmentClaim.objects.exists()
    forgetful = simulate.run_simulation(live_server.url, enroll_secret, seats=4, once=True)
    assert forgetful.enrolled == 0 and EnrolmentClaim.objects.filter(kind=ClaimKind.HOST).count() == 4


def test_an_agent_whose_enrolment_answer_was_lost_asks_again_with_its_claim_token(
    client, enroll_secret, seats, policy
) -> None:
    lost = enrol(client, enroll_secret, "host-1", claim_token="the-agents-own-token-1")
    assert lost.status_code == 201  # the answer never reached the agent

    retried = enrol(client, enroll_secret, "host-1", claim_token="the-agents-own-token-1")
    stranger = enrol(client, enroll_secret, "host-1", claim_token="somebody-elses-token-22")

    assert retried.status_code == 201
    assert checkin_status(client, retried.json()["node_key"]) == 202
    assert stranger.status_code == 409
