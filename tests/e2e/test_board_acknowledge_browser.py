"""A supervisor acknowledges a failing check from the shift board in a real Chromium: signs in,
opens the board, opens a row's Acknowledge form (the seat's top failing check proposed), gives
a reason and an expiry, and sees the check shown as acknowledged, by whom and until when.
Screenshot: /tmp/readyfloor-board-acknowledge.png."""

from __future__ import annotations

import os

import pytest

from server.acknowledgements.models import Acknowledgement
from tests.dashboards.conftest import Floorplan
from tests.dashboards.test_board import shift_in
from tests.dashboards.test_browser import sign_in

# Playwright's sync API keeps an asyncio loop in this thread; the ORM calls between page actions
# are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/readyfloor-board-acknowledge.png"


def test_a_supervisor_acknowledges_a_failing_check_from_the_board_and_sees_it_acknowledged(
    page, live_server, supervisor, floorplan: Floorplan
) -> None:
    shift_in(floorplan.floor, 10)
    sign_in(page, live_server, username="sam")
    page.goto(f"{live_server.url}/board/?floor={floorplan.floor.pk}")
    row = page.locator("table.board-seats tbody tr", has_text="B-01")

    row.locator("summary", has_text="Acknowledge").click()
    assert row.get_by_label("Check").input_value() == "chrome.mic.site"  # the top failing check
    row.get_by_label("Reason").fill("INC-4211: vendor pushes the site policy tonight")
    row.get_by_label("Until", exact=True).select_option(label="1 day")
    row.get_by_role("button", name="Acknowledge").click()

    page.wait_for_url(f"{live_server.url}/board/?floor={floorplan.floor.pk}")
    assert page.get_by_role("status").filter(has_text="on seat B-01").is_visible()
    row = page.locator("table.board-seats tbody tr", has_text="B-01")
    badge = row.locator(".ack-badge[data-check='chrome.mic.site']")
    assert "acknowledged until" in badge.inner_text()
    assert "by sam" in badge.inner_text()
    page.screenshot(path=SCREENSHOT, full_page=True)

    ack = Acknowledgement.objects.get()
    assert (ack.seat_id, ack.check_id) == (floorplan.not_ready.pk, "chrome.mic.site")
    assert ack.created_by.username == "sam"
