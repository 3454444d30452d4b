"""The Reports page in a real Chromium: an IT admin makes a floor's report now, the run page
refreshes itself until the worker has made it, and the PDF downloads with the checksum the page
shows. Screenshot: /tmp/readyfloor-report-run.png."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.dashboards.conftest import Floorplan
from tests.dashboards.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RUN_SCREENSHOT = "/tmp/readyfloor-report-run.png"


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "the page logged JavaScript errors"


def test_an_it_admin_makes_a_report_now_and_downloads_the_pdf(
    page, live_server, admin_user, floorplan: Floorplan, celery_worker
) -> None:
    from server.reports.models import ReportFile, ReportRun

    sign_in(page, live_server)
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("Scope").select_option(f"floor:{floorplan.floor.pk}")
    page.get_by_role("button", name="Make report").click()
    # The run page refreshes itself every 5 s while the worker makes the report.
    page.wait_for_selector("#run-status:has-text('Done')", timeout=90_000)
    page.screenshot(path=RUN_SCREENSHOT, full_page=True)
    run = ReportRun.objects.get()
    pdf = ReportFile.objects.get(run=run, format="pdf")
    assert pdf.sha256 in page.content()
    with page.expect_download() as download:
        page.get_by_role("link", name=pdf.filename).click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == pdf.sha256
    page.get_by_role("link", name="Reports").first.click()
    assert page.get_by_role("link", name=str(run.pk), exact=True).is_visible()
