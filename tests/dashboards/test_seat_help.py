"""Help at the seat: a fix link opens one seat's steps without a login, naming the softphone site
of the seat's policy; "check again" and "recheck now" ask the workstation to collect and report at
once through its next check-in answer; only roles that may act on the seat see the buttons."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from readyfloor_agent.checks import fix_for

from server.compliance.models import Policy
from server.fleet import fixlinks
from server.fleet.models import Device, Floor, Seat
from tests.dashboards.conftest import MIC_BLOCKED, NO_HEADSET, Floorplan
from tests.server.reports import checkin_body, enroll_body, healthy_facts, heartbeat_body
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db

CTI = "https://acme.my.salesforce.com"


def links_to(page: str) -> list[Seat]:
    """The seats the page's fix links open (a token carries the second it was made, so the
    page's own token is read back rather than made again here)."""
    return [fixlinks.seat_for(token) for token in re.findall(r"/fix/([^/\s\"]+)/", page)]


@pytest.fixture
def link(floorplan: Floorplan) -> str:
    Policy.objects.create(name="Lyon", site=floorplan.floor.site, cti_origins=[CTI])
    return f"/fix/{fixlinks.token_for(floorplan.not_ready)}/"


def test_a_fix_link_opens_the_seat_s_steps_without_a_login_naming_the_softphone_site(
    client: Client, link: str
) -> None:
    response = client.get(link)
    page = response.content.decode()

    assert response.status_code == 200
    assert "Seat B-01" in page
    assert MIC_BLOCKED["reason"] in page and NO_HEADSET["reason"] in page
    named = fix_for("chrome.mic.site", "windows").naming([CTI])
    assert all(step.replace("'", "&#x27;") in page for step in named.steps)
    assert "the softphone page (acme.my.salesforce.com)" in page
    # The person at the seat gets their steps, not IT's notes or the floor.
    assert fix_for("chrome.mic.site", "windows").it_note not in page
    assert "B-02" not in page and 'class="topbar"' not in page


def test_a_tampered_link_is_a_404_and_an_expired_one_says_so(client: Client, link: str, settings) -> None:
    assert client.get(link[:-3] + "x/").status_code == 404
    settings.READYFLOOR_FIX_LINK_HOURS = -1
    expired = client.get(link)
    assert expired.status_code == 410
    assert "expired" in expired.content.decode()


def test_check_again_reaches_the_workstation_in_its_next_answer_once(
    client: Client, enroll_secret, seats, policy
) -> None:
    enrolled = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))).json()
    key = enrolled["node_key"]
    post(client, CHECKIN, checkin_body(healthy_facts()), key=key)
    Seat.objects.update(readiness="not_ready")
    token = fixlinks.token_for(seats[0])

    assert client.post(f"/fix/{token}/recheck").status_code == 303
    assert "within a minute" in client.get(f"/fix/{token}/").content.decode()

    asked = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=key).json()
    assert asked["recheck"] is True and asked["next_checkin_s"] == 5
    assert "checking now" in client.get(f"/fix/{token}/").content.decode()
    again = post(client, CHECKIN, heartbeat_body(healthy_facts()), key=key).json()
    assert "recheck" not in again and again["next_checkin_s"] == policy.checkin_interval_s
    assert "Checked at" in client.get(f"/fix/{token}/").content.decode()


def test_a_full_report_carries_the_recheck_too(client: Client, enroll_secret, seats, policy) -> None:
    key = post(client, ENROLL, enroll_body(enroll_secret, "host-1", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    Device.objects.get().request_recheck()
    answer = post(client, CHECKIN, checkin_body(healthy_facts()), key=key).json()
    assert answer["recheck"] is True


def test_a_supervisor_sees_recheck_and_the_fix_link_and_rechecks_from_the_seat_page(
    client: Client, supervisor, floorplan: Floorplan
) -> None:
    client.force_login(supervisor)
    seat_url = f"/seats/{floorplan.not_ready.pk}/"
    page = client.get(seat_url).content.decode()
    assert "Recheck now" in page
    assert links_to(page) == [floorplan.not_ready]

    response = client.post(f"{seat_url}recheck")
    assert response.status_code == 303 and response["Location"] == seat_url
    assert Device.objects.get(seat=floorplan.not_ready).recheck_pending


def test_an_auditor_reads_the_seat_but_cannot_recheck_or_hand_out_links(
    client: Client, auditor, floorplan: Floorplan
) -> None:
    client.force_login(auditor)
    seat_url = f"/seats/{floorplan.not_ready.pk}/"
    page = client.get(seat_url).content.decode()
    assert "Recheck now" not in page and "/fix/" not in page
    assert client.post(f"{seat_url}recheck").status_code == 403
    assert not Device.objects.get(seat=floorplan.not_ready).recheck_pending


def test_a_supervisor_of_another_floor_cannot_recheck_a_seat_here(
    client: Client, floorplan: Floorplan
) -> None:
    from django.contrib.auth.models import User

    from server.roles.groups import assign_role
    from server.roles.models import Role

    elsewhere = Floor.objects.create(site=floorplan.floor.site, name="Floor 7")
    stranger = User.objects.create_user("zoe", "zoe@example.com", "correct horse battery")
    assign_role(stranger, Role.SUPERVISOR, floors=[elsewhere])
    client.force_login(stranger)
    assert client.post(f"/seats/{floorplan.not_ready.pk}/recheck").status_code == 404


def test_the_shift_board_offers_a_fix_link_per_seat_to_fix(
    client: Client, supervisor, floorplan: Floorplan
) -> None:
    from tests.dashboards.test_board import shift_in

    shift_in(floorplan.floor, 5)
    client.force_login(supervisor)
    page = client.get("/board/", {"floor": floorplan.floor.pk}).content.decode()
    assert floorplan.not_ready in links_to(page)
    kiosk = client.get("/board/", {"floor": floorplan.floor.pk, "kiosk": "1"}).content.decode()
    assert "/fix/" not in kiosk
