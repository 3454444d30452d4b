"""Acknowledgements: a known, accepted failure of a check on a seat or across a floor, with a
reason and an expiry; every step audited; it never changes a verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from server.acknowledgements import acknowledging
from server.acknowledgements.models import Acknowledgement, AcknowledgementAudit
from server.acknowledgements.tasks import record_expiries
from server.fleet.models import Seat

pytestmark = pytest.mark.django_db

NOW = timezone.now()
MIC_BLOCKED = {"check_id": "chrome.mic.site", "state": "fail", "severity": "critical", "reason": "Blocked"}
NO_HEADSET = {"check_id": "audio.headset.present", "state": "fail", "severity": "critical", "reason": "None"}
ASKS = {"check_id": "chrome.notifications.site", "state": "warn", "severity": "warning", "reason": "Asks"}


def ack(actor, *, seat=None, floor=None, check_id="chrome.mic.site", days=7, now=NOW, reason="INC-4711"):
    return acknowledging.acknowledge(
        actor=actor,
        check_id=check_id,
        seat=seat,
        floor=floor,
        reason=reason,
        expires_at=now + dt.timedelta(days=days),
        now=now,
    )


def steps(acknowledgement) -> list[tuple[str, str]]:
    return [(row.action, row.actor_name) for row in acknowledging.acknowledgement_history(acknowledgement)]


def test_it_records_who_acknowledged_what_why_and_until_when(admin_user, seats):
    made = ack(admin_user, seat=seats[0], reason="  Chrome 142 rollout, INC-4711  ")

    assert made.created_by == admin_user
    assert made.reason == "Chrome 142 rollout, INC-4711"
    assert made.status == "active"
    assert steps(made) == [("created", "ines")]


def test_a_floor_supervisor_account_can_be_the_actor(outsider, seats):
    """The actor is a user, not a staff flag: supervisors will be allowed without changes here."""
    assert ack(outsider, seat=seats[0]).created_by == outsider


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"check_id": "chrome.mic.everything"}, "check_id"),
        ({"reason": "   "}, "reason"),
        ({"days": -1}, "expires_at"),
        ({"days": 400}, "expires_at"),
        ({"seat": None}, "seat"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(admin_user, seats, changes, field):
    arguments = {"seat": seats[0], **changes}
    with pytest.raises(ValidationError) as refused:
        ack(admin_user, **arguments)

    assert field in refused.value.message_dict
    assert Acknowledgement.objects.count() == 0
    assert AcknowledgementAudit.objects.count() == 0


def test_seat_and_floor_together_are_refused(admin_user, seats, floor):
    with pytest.raises(ValidationError, match="not both or neither"):
        ack(admin_user, seat=seats[0], floor=floor)


def test_it_is_active_until_it_expires_by_itself(admin_user, seats):
    made = ack(admin_user, seat=seats[0], days=1)

    assert list(acknowledging.active_acknowledgements(seat=seats[0], at=NOW + dt.timedelta(hours=23))) == [
        made
    ]
    assert list(acknowledging.active_acknowledgements(seat=seats[0], at=NOW + dt.timedelta(hours=25))) == []
    assert list(acknowledging.active_acknowledgements(seat=seats[0], at=NOW - dt.timedelta(hours=1))) == []
    assert made.status_at(NOW + dt.timedelta(days=2)) == "expired"


def test_its_expiry_is_audited_once(admin_user, seats):
    made = ack(admin_user, seat=seats[0], days=1, now=NOW - dt.timedelta(days=2))
    still_active = ack(admin_user, seat=seats[1], days=1)

    assert record_expiries() == 1  # the Celery task beat runs every minute, called in process
    assert acknowledging.record_expiries() == 0

    assert steps(made) == [("created", "ines"), ("expired", "")]
    expired = made.audit.get(action="expired")
    assert expired.at == made.expires_at
    assert steps(still_active) == [("created", "ines")]


def test_it_can_be_revoked_once_and_the_revocation_is_audited(admin_user, outsider, seats):
    made = ack(admin_user, seat=seats[0])

    assert acknowledging.revoke(made, actor=outsider, reason="fixed by the Chrome 143 rollout") is True
    assert acknowledging.revoke(made, actor=admin_user) is False

    assert made.status == "revoked"
    assert made.revoked_by == outsider
    assert list(acknowledging.active_acknowledgements(seat=seats[0])) == []
    assert steps(made) == [("created", "ines"), ("revoked", "olaf")]
    assert made.audit.get(action="revoked").detail == "fixed by the Chrome 143 rollout"
    # A revoked acknowledgement does not also "expire" later.
    assert acknowledging.record_expiries(now=NOW + dt.timedelta(days=30)) == 0


def test_an_expired_one_cannot_be_revoked(admin_user, seats):
    made = ack(admin_user, seat=seats[0], days=1, now=NOW - dt.timedelta(days=2))

    assert acknowledging.revoke(made, actor=admin_user) is False
    assert made.revoked_at is None


def test_active_ones_are_found_by_seat_floor_and_check(admin_user, seats, floor):
    on_seat = ack(admin_user, seat=seats[0])
    on_floor = ack(admin_user, floor=floor, check_id="audio.headset.present")
    ack(admin_user, seat=seats[1], check_id="os.mic.chrome")

    assert set(acknowledging.active_acknowledgements(seat=seats[0])) == {on_seat, on_floor}
    assert len(acknowledging.active_acknowledgements(floor=floor)) == 3
    assert list(acknowledging.active_acknowledgements(floor=floor, check_id="chrome.mic.site")) == [on_seat]


def test_they_are_listed_by_status_and_scope(admin_user, outsider, seats, floor):
    past = NOW - dt.timedelta(days=3)
    expired = ack(admin_user, seat=seats[0], days=1, now=past)
    revoked = ack(admin_user, seat=seats[1])
    acknowledging.revoke(revoked, actor=outsider)
    active = ack(admin_user, floor=floor)

    def listed(**filters) -> list:
        return list(acknowledging.list_acknowledgements(**filters))

    assert listed(status="active") == [active]
    assert listed(status="expired") == [expired]
    assert listed(status="revoked") == [revoked]
    assert set(listed(floor=floor)) == {expired, revoked, active}
    assert listed(seat=seats[1]) == [revoked]
    assert listed(status="active", at=past + dt.timedelta(hours=1)) == [expired]
    with pytest.raises(ValidationError, match="status"):
        listed(status="snoozed")


def test_is_this_failing_check_acknowledged_is_one_query_for_a_whole_floor(
    admin_user, seats, floor, django_assert_num_queries
):
    ack(admin_user, seat=seats[0])
    ack(admin_user, floor=floor, check_id="audio.headset.present")

    with django_assert_num_queries(1):
        acknowledged = acknowledging.acknowledged_failures(floor.pk)
        answers = {
            (seat.label, check): acknowledged.for_check(seat.pk, check) is not None
            for seat in seats
            for check in ("chrome.mic.site", "audio.headset.present", "os.mic.chrome")
        }

    assert answers[("A-01", "chrome.mic.site")] is True
    assert answers[("A-02", "chrome.mic.site")] is False
    assert all(answers[(seat.label, "audio.headset.present")] for seat in seats)
    assert not any(answers[(seat.label, "os.mic.chrome")] for seat in seats)
    # A seat is quiet only when every failing check is acknowledged; warnings do not count.
    assert acknowledged.covers(seats[0].pk, [MIC_BLOCKED, NO_HEADSET, ASKS]) is True
    assert acknowledged.covers(seats[1].pk, [MIC_BLOCKED, NO_HEADSET]) is False
    assert acknowledged.covers(seats[1].pk, [ASKS]) is False


def test_seats_read_with_their_acknowledgements_give_the_same_answers(admin_user, seats, floor):
    ack(admin_user, seat=seats[0], reason="seat's own")
    ack(admin_user, floor=floor, reason="whole floor")
    ack(admin_user, floor=floor, check_id="audio.headset.present")

    annotated = acknowledging.AcknowledgedFailures.from_seats(
        acknowledging.annotate_acknowledgements(Seat.objects.filter(floor=floor))
    )
    direct = acknowledging.acknowledged_failures(floor.pk)

    for seat in seats:
        for check in ("chrome.mic.site", "audio.headset.present", "os.mic.chrome"):
            left, right = annotated.for_check(seat.pk, check), direct.for_check(seat.pk, check)
            assert (left and left.pk) == (right and right.pk)
    assert annotated.for_check(seats[0].pk, "chrome.mic.site").reason == "seat's own"
    assert annotated.for_check(seats[0].pk, "chrome.mic.site").created_by.get_username() == "ines"


def test_acknowledging_never_changes_a_verdict(admin_user, client, enroll_secret, seats, policy):
    from server.compliance import evaluation
    from server.compliance.models import CheckResult
    from server.fleet import ingest
    from server.fleet.models import Device
    from tests.server.reports import checkin_body, enroll_body, healthy_facts, site_blocked
    from tests.server.test_agent_api import ENROLL, post

    post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01")))
    device = Device.objects.get()
    ingest.record_checkin(device, checkin_body(site_blocked(healthy_facts())))
    evaluation.evaluate_device(device.pk)
    ack(admin_user, seat=Seat.objects.get(label="A-01"))

    evaluation.evaluate_device(device.pk)

    seat = Seat.objects.get(label="A-01")
    assert seat.readiness == "not_ready"
    assert seat.failing[0]["check_id"] == "chrome.mic.site"
    assert CheckResult.objects.get(device=device, check_id="chrome.mic.site").state == "fail"


# --- the admin -----------------------------------------------------------------------------


@pytest.fixture
def it_admin_client(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "correct horse battery")
    client.force_login(root)
    return client


def test_an_admin_acknowledges_a_check_across_a_floor_in_the_admin(it_admin_client, floor):
    expires = (timezone.localtime() + dt.timedelta(days=3)).replace(microsecond=0)
    response = it_admin_client.post(
        reverse("admin:acknowledgements_acknowledgement_add"),
        {
            "check_id": "chrome.mic.site",
            "floor": floor.pk,
            "reason": "Chrome 142 rollout",
            "expires_at_0": expires.strftime("%Y-%m-%d"),
            "expires_at_1": expires.strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    made = Acknowledgement.objects.get()
    assert (made.floor, made.seat, made.created_by.username) == (floor, None, "root")
    assert steps(made) == [("created", "root")]
    page = it_admin_client.get(reverse("admin:acknowledgements_acknowledgement_change", args=[made.pk]))
    assert page.status_code == 200
    assert "Chrome 142 rollout" in page.content.decode()


def test_the_admin_form_names_the_wrong_field(it_admin_client, floor):
    response = it_admin_client.post(
        reverse("admin:acknowledgements_acknowledgement_add"),
        {
            "check_id": "chrome.mic.site",
            "reason": "x",
            "expires_at_0": "2001-01-01",
            "expires_at_1": "00:00:00",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"seat", "expires_at"}
    assert Acknowledgement.objects.count() == 0


def test_the_admin_revokes_selected_acknowledgements_and_lists_the_audit(it_admin_client, admin_user, seats):
    made = ack(admin_user, seat=seats[0])

    response = it_admin_client.post(
        reverse("admin:acknowledgements_acknowledgement_changelist"),
        {"action": "revoke_selected", "_selected_action": [made.pk]},
        follow=True,
    )

    assert "Revoked 1 acknowledgement(s)." in response.content.decode()
    assert steps(made) == [("created", "ines"), ("revoked", "root")]
    listed = it_admin_client.get(
        reverse("admin:acknowledgements_acknowledgement_changelist"), {"status": "revoked"}
    )
    assert list(listed.context["cl"].result_list) == [made]
    listed = it_admin_client.get(
        reverse("admin:acknowledgements_acknowledgement_changelist"), {"status": "active"}
    )
    assert list(listed.context["cl"].result_list) == []
    audit = it_admin_client.get(reverse("admin:acknowledgements_acknowledgementaudit_changelist"))
    assert audit.status_code == 200
    assert "revoked" in audit.content.decode().lower()
