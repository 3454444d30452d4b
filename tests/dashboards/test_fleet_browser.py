"""The fleet overview in a real Chromium: an IT admin signs in at `/`, lands on the overview with
the trend drawn, and downloads a table as CSV. Screenshot: /tmp/readyfloor-fleet.png."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from tests.dashboards.test_fleet import fleet  # noqa: F401  (the fixture: two floors with 91 days of rollups)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/readyfloor-fleet.png"


def test_an_it_admin_lands_on_the_fleet_overview_sees_the_trend_and_downloads_a_csv(
    page,
    live_server,
    admin_user,
    fleet,  # noqa: F811
):
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("ines")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/fleet/")
    page.wait_for_selector("#fleet-trend .main-svg")
    assert page.get_by_role("heading", name="Fleet overview").is_visible()
    # One band per readiness the fleet had: ready, at risk, offline, not ready.
    assert page.locator("#fleet-trend .scatterlayer .trace").count() == 4
    assert page.locator("#fleet-trend .legendtext", has_text="Ready").count() >= 1
    assert page.locator("#failing-checks .bars .point").count() == 2
    assert page.get_by_role("link", name="Fleet").get_attribute("aria-current") == "page"
    page.screenshot(path=SCREENSHOT, full_page=True)

    floors = page.locator("section[aria-labelledby=floors-heading]")
    with page.expect_download() as download:
        floors.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("readyfloor-fleet-floors-")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(row["floor"], row["ready_percent"]) for row in rows] == [
        ("Floor 1", "57.1"),
        ("Floor 2", "90.0"),
    ]

    page.get_by_role("link", name="90 days").click()
    page.wait_for_url("**/fleet/?days=90")
    page.wait_for_selector("#fleet-trend .main-svg")
    assert page.get_by_role("heading", name="Readiness over the last 90 days").is_visible()
