"""The dashboards in a real Chromium: sign in through the form, read the floor map and the
table, click through to a seat. Screenshot of the floor: /tmp/readyfloor-floor.png."""

from __future__ import annotations

import os

import pytest
from readyfloor_agent.checks import fix_for

from tests.dashboards.conftest import MIC_BLOCKED, NO_HEADSET

# Playwright's sync API keeps an asyncio loop in this thread; the ORM calls the tests make
# between page actions are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/readyfloor-floor.png"
SEAT_SCREENSHOT = "/tmp/readyfloor-seat.png"
LOGIN_SCREENSHOT = "/tmp/readyfloor-login.png"
SEAT_MARKERS = "#floor-map .scatterlayer .point"


def sign_in(page, live_server, screenshot: str | None = None, username: str = "ines") -> None:
    # The floor page itself: "/" is each role's home (tests/dashboards/test_fleet_browser.py).
    page.goto(live_server.url + "/floor/")
    assert "/login/" in page.url
    if screenshot:
        page.screenshot(path=screenshot)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#floor-map .main-svg")


def test_an_admin_signs_in_reads_the_floor_and_opens_a_seat_that_cannot_take_calls(
    page, live_server, admin_user, floorplan
):
    sign_in(page, live_server, screenshot=LOGIN_SCREENSHOT)

    assert page.locator(SEAT_MARKERS).count() == 8
    assert page.get_by_role("heading", name="Floor 1").is_visible()
    table = page.locator("table.seats")
    assert table.get_by_text(MIC_BLOCKED["reason"]).is_visible()
    assert table.get_by_text(NO_HEADSET["reason"]).is_visible()
    assert page.locator("#floor-map .legendtext", has_text="Not ready (1)").count() == 1
    page.screenshot(path=SCREENSHOT, full_page=True)

    table.get_by_role("link", name="B-01").click()

    page.wait_for_url(f"**/seats/{floorplan.not_ready.pk}/")
    assert page.get_by_role("heading", name="Seat B-01").is_visible()
    fix = fix_for("chrome.mic.site", "windows")
    steps = page.locator("li.check", has_text="CTI sites may use the microphone").locator(".fix-steps li")
    assert steps.all_inner_texts() == list(fix.steps)
    assert page.get_by_text(fix.it_note).is_visible()
    page.screenshot(path=SEAT_SCREENSHOT, full_page=True)


def test_hovering_a_seat_on_the_map_shows_why_and_clicking_it_opens_the_seat(
    page, live_server, admin_user, floorplan
):
    sign_in(page, live_server)
    marker = (
        page.locator("#floor-map .scatterlayer .trace")
        .filter(has=page.locator(".textpoint", has_text="B-01"))
        .locator(".point")
    )
    box = marker.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.mouse.move(x, y)
    hover = page.locator("#floor-map .hoverlayer")
    hover.get_by_text("Support").wait_for()
    assert "Workstation: lyon-b01" in hover.text_content()
    assert MIC_BLOCKED["reason"] in hover.text_content()

    page.mouse.click(x, y)
    page.wait_for_url(f"**/seats/{floorplan.not_ready.pk}/")


def test_a_seat_that_gets_fixed_turns_ready_on_the_open_page_without_a_reload(
    page, live_server, admin_user, floorplan, monkeypatch
):
    from django.utils import timezone

    from dashboards import views
    from server.fleet.models import Seat

    monkeypatch.setattr(views, "REFRESH_SECONDS", 1)
    sign_in(page, live_server)
    page.evaluate("window.stillTheSamePage = true")
    ready_tile = page.locator(".tile-ready .tile-count")
    assert ready_tile.inner_text() == "4"

    Seat.objects.filter(pk=floorplan.not_ready.pk).update(
        readiness="ready", failing=[], readiness_since=timezone.now()
    )

    page.wait_for_function("document.querySelector('.tile-ready .tile-count').textContent.trim() === '5'")
    assert page.locator("table.seats").get_by_text(MIC_BLOCKED["reason"]).count() == 0
    page.locator("#floor-map .legendtext", has_text="Ready (5)").wait_for()
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_page_says_when_it_cannot_refresh_instead_of_showing_a_frozen_floor(
    page, live_server, admin_user, floorplan, monkeypatch
):
    from dashboards import views

    monkeypatch.setattr(views, "REFRESH_SECONDS", 1)
    sign_in(page, live_server)
    problem = page.locator("#refresh-problem")
    assert problem.is_hidden()

    page.route(live_server.url + "/floor/?**", lambda route: route.abort())
    page.route(live_server.url + "/floor/", lambda route: route.abort())
    problem.wait_for(state="visible")
    page.unroute(live_server.url + "/floor/?**")
    page.unroute(live_server.url + "/floor/")

    problem.wait_for(state="hidden")
    page.js_errors[:] = [error for error in page.js_errors if "net::ERR_FAILED" not in error]


def test_a_supervisor_signs_in_and_sees_their_floor_and_nothing_of_another(
    page, live_server, supervisor, floorplan, site
):
    from server.fleet.models import Floor
    from tests.dashboards.conftest import add_seat

    other = add_seat(
        Floor.objects.create(site=site, name="Floor 9"), "Z-01", 0, 0, "not_ready", hostname="z01"
    )
    sign_in(page, live_server, username="sam")

    assert page.locator(SEAT_MARKERS).count() == 8
    assert page.locator("#floor-select option").all_inner_texts() == ["Floor 1"]
    assert page.get_by_role("link", name="Download CSV").is_visible()
    assert page.get_by_role("link", name="Admin").count() == 0
    page.screenshot(path="/tmp/readyfloor-supervisor.png", full_page=True)

    # The browser logs the 404 this test asks for, at a moment of its own: wait for that message
    # before taking it out of the page's errors (nothing else may be there).
    with page.expect_console_message(lambda message: "status of 404" in message.text):
        response = page.goto(f"{live_server.url}/seats/{other.pk}/")
    assert response.status == 404
    assert "Z-01" not in page.content()
    page.js_errors[:] = [error for error in page.js_errors if "status of 404" not in error]
