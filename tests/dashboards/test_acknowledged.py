"""Acknowledged failures on the dashboards: still shown as failing, marked as known (until when,
by whom, why) and counted apart; the pages cost no extra query for them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from server.acknowledgements.acknowledging import acknowledge, revoke
from tests.dashboards.test_views import FLOOR_URL, table_of, text_of

pytestmark = pytest.mark.django_db


def acknowledged(actor, **scope):
    return acknowledge(
        actor=actor,
        check_id=scope.pop("check_id", "chrome.mic.site"),
        reason=scope.pop("reason", "Chrome 142 rollout, INC-4711"),
        expires_at=timezone.now() + dt.timedelta(days=3),
        **scope,
    )


def test_the_seat_page_shows_the_acknowledgement_beside_the_failing_check(
    staff_client, floorplan, admin_user
):
    acknowledged(admin_user, seat=floorplan.not_ready)

    page = text_of(staff_client.get(reverse("dashboards:seat", args=[floorplan.not_ready.pk])))

    assert "Not ready" in page  # the verdict is unchanged
    assert "Microphone set to Block" in page  # and the failure is still there
    assert "Acknowledged until" in page
    assert "by ines: Chrome 142 rollout, INC-4711" in page
    # Only beside the acknowledged check: the missing headset is not acknowledged.
    assert page.count("Acknowledged until") == 1


def test_a_floor_wide_acknowledgement_says_so_and_a_revoked_one_disappears(
    staff_client, floorplan, admin_user
):
    made = acknowledged(
        admin_user, floor=floorplan.floor, check_id="audio.headset.present", reason="headsets ordered"
    )
    url = reverse("dashboards:seat", args=[floorplan.not_ready.pk])

    assert "(whole floor): headsets ordered" in text_of(staff_client.get(url))
    revoke(made, actor=admin_user)
    assert "Acknowledged" not in text_of(staff_client.get(url))


def test_the_floor_page_marks_acknowledged_failures_and_counts_those_seats_apart(
    staff_client, floorplan, admin_user
):
    acknowledged(admin_user, seat=floorplan.not_ready)
    acknowledged(admin_user, seat=floorplan.not_ready, check_id="audio.headset.present")
    acknowledged(admin_user, seat=floorplan.offline, check_id="chrome.mic.site")  # not why it is down

    response = staff_client.get(FLOOR_URL)

    assert "Seats that need attention (4, of which 1 acknowledged)" in text_of(response)
    table = table_of(response)
    assert table.count("acknowledged") == 2  # both failing checks of B-01, nothing on B-03
    assert "B-01" in table  # still listed: never hidden from IT


def test_the_pages_cost_no_extra_query_for_acknowledgements(
    staff_client, floorplan, admin_user, django_assert_max_num_queries
):
    acknowledged(admin_user, seat=floorplan.not_ready)
    acknowledged(admin_user, floor=floorplan.floor, check_id="audio.headset.present")

    with django_assert_max_num_queries(4):
        assert staff_client.get(FLOOR_URL, {"status": "all"}).status_code == 200
    # The badges beside the checks still cost nothing; the seat page's own sections (timeline, the
    # seat's and the floor's acknowledgements, moves, policy version) are five bounded queries more,
    # as in test_views.test_the_seat_page_costs_the_same_few_queries_however_long_its_history.
    with django_assert_max_num_queries(10):
        assert staff_client.get(reverse("dashboards:seat", args=[floorplan.not_ready.pk])).status_code == 200
