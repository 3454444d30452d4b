"""A seat's page tells its story: each check's transitions (newest first, a "more" link past the
first page), the acknowledgements made on it (added and revoked by IT admins and the seat's
supervisors, never by auditors, every step audited), the workstations that moved to or from it,
and the policy version it was judged under."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.test import Client
from django.utils import timezone

from dashboards.seat_history import TIMELINE_ROWS
from server.acknowledgements.models import Acknowledgement, AcknowledgementAudit
from server.compliance import policy_versions
from server.compliance.models import CheckTransition, Policy, SeatVerdict
from server.fleet import ingest
from server.fleet.models import Device, DeviceMove
from tests.dashboards.conftest import Floorplan
from tests.server.reports import enroll_body
from tests.server.test_agent_api import ENROLL, post

pytestmark = pytest.mark.django_db


def seat_url(seat) -> str:
    return f"/seats/{seat.pk}/"


def add_transitions(seat, count: int) -> None:
    start = timezone.now() - dt.timedelta(hours=count)
    states = ["pass", "fail"]
    CheckTransition.objects.bulk_create(
        CheckTransition(
            device=seat.device,
            seat=seat,
            floor=seat.floor,
            check_id="chrome.mic.site" if n % 2 else "audio.headset.present",
            from_state=states[n % 2],
            to_state=states[(n + 1) % 2],
            severity="critical",
            reason=f"transition number {n:03d}",
            at=start + dt.timedelta(hours=n),
        )
        for n in range(count)
    )


# Timeline


@pytest.mark.parametrize("role", ["admin_user", "supervisor", "auditor"])
def test_every_role_that_sees_the_seat_reads_its_timeline_newest_first_capped_with_more(
    client: Client, floorplan: Floorplan, request, role: str
) -> None:
    seat = floorplan.not_ready
    add_transitions(seat, TIMELINE_ROWS + 5)
    client.force_login(request.getfixturevalue(role))

    page = client.get(seat_url(seat)).content.decode()
    shown = [n for n in range(TIMELINE_ROWS + 5) if f"transition number {n:03d}" in page]

    assert shown == list(range(5, TIMELINE_ROWS + 5))
    assert page.index("transition number 024") < page.index("transition number 023")
    assert 'id="timeline-more"' in page

    everything = client.get(seat_url(seat) + "?timeline=all").content.decode()
    assert all(f"transition number {n:03d}" in everything for n in range(TIMELINE_ROWS + 5))
    assert 'id="timeline-more"' not in everything


def test_the_timeline_narrows_to_one_check(staff_client: Client, floorplan: Floorplan) -> None:
    seat = floorplan.not_ready
    add_transitions(seat, 6)

    page = staff_client.get(seat_url(seat) + "?check=chrome.mic.site").content.decode()

    assert all(f"transition number {n:03d}" in page for n in (1, 3, 5))
    assert not any(f"transition number {n:03d}" in page for n in (0, 2, 4))


def test_a_seat_without_history_says_so(staff_client: Client, floorplan: Floorplan) -> None:
    page = staff_client.get(seat_url(floorplan.offline)).content.decode()

    assert "No check has changed state on this seat yet" in page
    assert "No workstation has moved to or from this seat" in page
    assert "Nothing acknowledged on this seat" in page
    assert "not judged yet" in page


# Acknowledgements


def until(days: int = 3) -> str:
    """The form's box, in the site's time zone (the fixtures' site is in Paris)."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    return (timezone.localtime(timezone.now(), paris) + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("role", ["admin_user", "supervisor"])
def test_it_admins_and_the_seat_s_supervisor_acknowledge_a_failure_and_it_is_audited(
    client: Client, floorplan: Floorplan, request, role: str
) -> None:
    seat = floorplan.not_ready
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert f'action="/seats/{seat.pk}/acknowledge"' in client.get(seat_url(seat)).content.decode()

    response = client.post(
        f"/seats/{seat.pk}/acknowledge",
        {"check_id": "chrome.mic.site", "reason": "TICKET-4411 vendor fix", "expires_at": until()},
    )

    assert response.status_code == 303
    ack = Acknowledgement.objects.get()
    assert (ack.seat, ack.check_id, ack.created_by) == (seat, "chrome.mic.site", user)
    # The box is the site's local time (Europe/Paris in the fixtures): stored as that moment.
    assert abs(ack.expires_at - (timezone.now() + dt.timedelta(days=3))) < dt.timedelta(minutes=2)
    assert list(AcknowledgementAudit.objects.values_list("action", "actor")) == [("created", user.pk)]
    page = client.get(seat_url(seat)).content.decode()
    assert "TICKET-4411 vendor fix" in page and "Revoke" in page


def test_the_seat_s_supervisor_revokes_an_acknowledgement_with_a_reason(
    client: Client, floorplan: Floorplan, supervisor, admin_user
) -> None:
    from server.acknowledgements.acknowledging import acknowledge

    seat = floorplan.not_ready
    ack = acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="TICKET-1",
        expires_at=timezone.now() + dt.timedelta(days=2),
        seat=seat,
    )
    client.force_login(supervisor)

    response = client.post(f"/seats/{seat.pk}/acknowledgements/{ack.pk}/revoke", {"reason": "fixed by IT"})

    assert response.status_code == 303
    ack.refresh_from_db()
    assert ack.revoked_by == supervisor and ack.revoke_reason == "fixed by IT"
    assert AcknowledgementAudit.objects.filter(action="revoked", actor=supervisor).count() == 1
    page = client.get(seat_url(seat)).content.decode()
    assert "revoked by sam" in page and "fixed by IT" in page


def test_an_auditor_sees_acknowledgements_but_may_neither_add_nor_revoke(
    client: Client, floorplan: Floorplan, auditor, admin_user
) -> None:
    from server.acknowledgements.acknowledging import acknowledge

    seat = floorplan.not_ready
    ack = acknowledge(
        actor=admin_user,
        check_id="audio.headset.present",
        reason="HEADSET-ON-ORDER",
        expires_at=timezone.now() + dt.timedelta(days=2),
        seat=seat,
    )
    client.force_login(auditor)

    page = client.get(seat_url(seat)).content.decode()
    added = client.post(
        f"/seats/{seat.pk}/acknowledge", {"check_id": "chrome.mic.site", "reason": "x", "expires_at": until()}
    )
    revoked = client.post(f"/seats/{seat.pk}/acknowledgements/{ack.pk}/revoke")

    assert "HEADSET-ON-ORDER" in page
    assert "/acknowledge" not in page and "Revoke" not in page
    assert (added.status_code, revoked.status_code) == (403, 403)
    assert Acknowledgement.objects.count() == 1 and Acknowledgement.objects.get().revoked_at is None


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"check_id": "chrome.mic.site", "reason": "  ", "expires_at": until()}, "reason"),
        ({"check_id": "no.such.check", "reason": "x", "expires_at": until()}, "check_id"),
        ({"check_id": "chrome.mic.site", "reason": "x", "expires_at": "tomorrow"}, "expires_at"),
        ({"check_id": "chrome.mic.site", "reason": "x", "expires_at": until(-1)}, "expires_at"),
        ({"check_id": "chrome.mic.site", "reason": "x"}, "expires_at"),
    ],
)
def test_a_bad_acknowledgement_is_a_400_naming_the_field_and_stores_nothing(
    staff_client: Client, floorplan: Floorplan, form: dict, field: str
) -> None:
    response = staff_client.post(f"/seats/{floorplan.not_ready.pk}/acknowledge", form)

    assert response.status_code == 400
    assert f"<strong>{field}</strong>" in response.content.decode()
    assert not Acknowledgement.objects.exists() and not AcknowledgementAudit.objects.exists()


def test_a_floor_wide_acknowledgement_is_shown_but_not_revoked_from_a_seat(
    staff_client: Client, floorplan: Floorplan, admin_user
) -> None:
    from server.acknowledgements.acknowledging import acknowledge

    ack = acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="FLOOR-WIDE-OUTAGE",
        expires_at=timezone.now() + dt.timedelta(days=1),
        floor=floorplan.floor,
    )
    seat = floorplan.not_ready

    page = staff_client.get(seat_url(seat)).content.decode()

    assert "FLOOR-WIDE-OUTAGE" in page
    assert staff_client.post(f"/seats/{seat.pk}/acknowledgements/{ack.pk}/revoke").status_code == 404


# Device history


def test_moves_by_enrolment_and_the_admin_are_recorded_and_shown(
    client: Client, enroll_secret, seats, policy, admin_user
) -> None:
    enrolled = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01")))
    assert enrolled.status_code == 201
    device = Device.objects.get(host_identifier="host-1")
    client.force_login(admin_user)

    response = client.post(
        f"/admin/fleet/device/{device.pk}/change/",
        {
            "site": device.site_id,
            "hostname": device.hostname,
            "os": device.os,
            "os_version": device.os_version,
            "agent_version": device.agent_version,
            "seat": seats[1].pk,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    device.refresh_from_db()
    assert device.seat == seats[1]
    assert list(DeviceMove.objects.order_by("at", "id").values_list("from_label", "to_label", "by")) == [
        ("", "A-01", "enrolment"),
        ("A-01", "A-02", "ines"),
    ]
    first = client.get(seat_url(seats[0])).content.decode()
    second = client.get(seat_url(seats[1])).content.decode()
    assert "arrived (it had no seat)" in first and "left for seat A-02 (Floor 1)" in first
    assert "arrived from seat A-01 (Floor 1)" in second and "(ines)" in second


def test_a_device_displaced_by_another_is_recorded_leaving(seats, site) -> None:
    first = Device.objects.create(site=site, host_identifier="one", hostname="pc-one", os="windows")
    second = Device.objects.create(site=site, host_identifier="two", hostname="pc-two", os="windows")
    ingest.move_to_seat(first, seats[0], by="test")
    first.save()

    ingest.move_to_seat(second, seats[0], by="test")
    second.save()

    first.refresh_from_db()
    assert first.seat is None
    left = DeviceMove.objects.get(hostname="pc-one", to_seat=None)
    assert left.from_seat == seats[0] and left.by == "pc-two took the seat"


def test_a_supervisor_is_not_told_which_seat_outside_their_floors_a_device_went_to(
    client: Client, seats, site, supervisor
) -> None:
    from server.fleet.models import Floor, Seat, Site

    other_floor = Floor.objects.create(site=Site.objects.create(name="Paris"), name="Mezzanine")
    elsewhere = Seat.objects.create(floor=other_floor, label="MZ-07", row=0, column=0)
    device = Device.objects.create(site=site, host_identifier="one", hostname="pc-one", os="windows")
    ingest.move_to_seat(device, seats[0])
    device.save()
    ingest.move_to_seat(device, elsewhere)
    device.save()
    client.force_login(supervisor)

    page = client.get(seat_url(seats[0])).content.decode()

    assert "left for a seat outside your floors" in page
    assert "MZ-07" not in page and "Mezzanine" not in page


# The policy version


def test_the_policy_version_is_linked_to_the_admin_for_it_admins_only(
    client: Client, floorplan: Floorplan, admin_user, supervisor
) -> None:
    policy = Policy.objects.create(name="Lyon", site=floorplan.floor.site, cti_origins=["https://a.example"])
    version = policy_versions.save(policy, by=admin_user, comment="first")
    SeatVerdict.objects.create(
        seat=floorplan.not_ready, policy=policy, policy_version=version, judged_at=timezone.now()
    )
    link = f"/admin/compliance/policyversion/{version.pk}/change/"

    client.force_login(admin_user)
    as_admin = client.get(seat_url(floorplan.not_ready)).content.decode()
    client.force_login(supervisor)
    as_supervisor = client.get(seat_url(floorplan.not_ready)).content.decode()

    assert f'href="{link}"' in as_admin and f"Lyon v{version.number}" in as_admin
    assert f"Lyon v{version.number}" in as_supervisor and link not in as_supervisor
    assert client.get(link).status_code == 302  # and the admin itself is refused to a supervisor
