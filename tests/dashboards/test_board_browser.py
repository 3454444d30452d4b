"""The shift board in a real Chromium: the wall-screen form fills a 1920x1080 screen, counts
down to the start, and refreshes itself. Screenshot: /tmp/readyfloor-board-kiosk.png."""

from __future__ import annotations

import re

import pytest

from tests.dashboards.conftest import Floorplan
from tests.dashboards.test_board import shift_in
from tests.dashboards.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KIOSK_SCREENSHOT = "/tmp/readyfloor-board-kiosk.png"


@pytest.fixture
def wall_screen(chromium):
    context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "the page logged JavaScript errors"


def test_the_wall_screen_counts_down_and_lists_the_seats_to_fix_full_width(
    wall_screen, live_server, admin_user, floorplan: Floorplan
) -> None:
    shift_in(floorplan.floor, 10)
    sign_in(wall_screen, live_server)
    wall_screen.goto(f"{live_server.url}/board/?floor={floorplan.floor.pk}&kiosk=1")

    countdown = wall_screen.locator("[data-countdown-to]")
    first = countdown.inner_text()
    assert re.match(r"Starts in \d+ min \d+ s", first), first
    wall_screen.wait_for_function(
        "text => document.querySelector('[data-countdown-to]').textContent !== text", arg=first
    )
    assert wall_screen.locator(".topbar").count() == 0
    table = wall_screen.locator("table.board-seats")
    assert table.get_by_text("B-01").is_visible()
    width = wall_screen.evaluate("document.querySelector('main').getBoundingClientRect().width")
    assert width >= 1900, "the wall screen uses the full width"
    wall_screen.screenshot(path=KIOSK_SCREENSHOT, full_page=True)
