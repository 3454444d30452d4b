"""The fix link in a real Chromium, as the person at the seat opens it: a private window with no
login shows the seat's steps, and "Check again" says the computer will check.
Screenshot: /tmp/readyfloor-fix-link.png."""

from __future__ import annotations

import os

import pytest

from server.compliance.models import Policy
from server.fleet import fixlinks
from tests.dashboards.conftest import MIC_BLOCKED, Floorplan

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/readyfloor-fix-link.png"


def test_the_person_at_the_seat_opens_the_link_without_a_login_and_asks_for_a_check(
    chromium, live_server, floorplan: Floorplan
) -> None:
    Policy.objects.create(
        name="Lyon", site=floorplan.floor.site, cti_origins=["https://acme.my.salesforce.com"]
    )
    private = chromium.new_context(viewport={"width": 420, "height": 900}, locale="en-GB")
    page = private.new_page()
    try:
        page.goto(f"{live_server.url}/fix/{fixlinks.token_for(floorplan.not_ready)}/")
        assert page.get_by_role("heading", name="Seat B-01").is_visible()
        assert page.get_by_text(MIC_BLOCKED["reason"]).is_visible()
        assert page.get_by_text("acme.my.salesforce.com").first.is_visible()
        page.screenshot(path=SCREENSHOT, full_page=True)

        page.get_by_role("button", name="Check again").click()
        assert "Your computer checks within a minute" in page.locator("#recheck-status").inner_text()
    finally:
        private.close()
