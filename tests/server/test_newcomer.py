"""What a newcomer tripped over: rows and columns from 1 in the admin, the API and the CSV (stored
from 0, as the map's grid); every time named with its site's zone; a device list with readiness
and an "unassigned" filter and a searchable seat picker; an age in a reason that does not freeze;
`make run` installing only what runs the product."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone
from readyfloor_agent.checks.catalog import reason_now

from server.fleet.models import Device, Seat

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def it_admin(client, admin_user):
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    return client


def test_the_admin_takes_and_shows_rows_and_columns_from_1_and_stores_them_from_0(it_admin, floor):
    response = it_admin.post(
        "/admin/fleet/seat/add/", {"floor": floor.pk, "label": "C-03", "row": 3, "column": 3, "team": "Sales"}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    seat = Seat.objects.get(label="C-03")
    assert (seat.row, seat.column) == (2, 2)
    page = it_admin.get(f"/admin/fleet/seat/{seat.pk}/change/").content.decode()
    assert 'name="row" value="3"' in page and "from 1" in page and "from 0" not in page
    listing = it_admin.get("/admin/fleet/seat/").content.decode()
    assert '<td class="field-row_number">3</td>' in listing


def test_a_site_s_time_zone_must_be_a_real_iana_zone(it_admin):
    from server.fleet.admin import SiteForm
    from server.fleet.models import Site

    refused = it_admin.post("/admin/fleet/site/add/", {"name": "Lyon", "timezone": "Europe/Lyon"})
    typo = SiteForm(data={"name": "Lyon", "timezone": "Europe/Lyon", "created_at": "2026-11-30 10:00"})
    right = SiteForm(data={"name": "Paris", "timezone": " Europe/Paris ", "created_at": "2026-11-30 10:00"})

    assert refused.status_code == 200 and "is not an IANA time zone" in refused.content.decode()
    assert "is not an IANA time zone" in typo.errors["timezone"][0]
    assert right.is_valid(), right.errors
    assert right.save().timezone == "Europe/Paris"
    assert list(Site.objects.values_list("name", flat=True)) == ["Paris"]


def test_the_admin_refuses_row_0(it_admin, floor):
    response = it_admin.post(
        "/admin/fleet/seat/add/", {"floor": floor.pk, "label": "Z", "row": 0, "column": 1}
    )

    assert response.status_code == 200
    assert not Seat.objects.filter(label="Z").exists()


def test_the_device_list_shows_readiness_filters_the_unassigned_and_names_the_zone(it_admin, seats, site):
    Seat.objects.filter(pk=seats[0].pk).update(readiness="not_ready")
    seen = timezone.now()
    Device.objects.create(
        site=site, host_identifier="a", hostname="pc-seated", os="windows", seat=seats[0], last_seen_at=seen
    )
    Device.objects.create(site=site, host_identifier="b", hostname="pc-spare", os="windows")

    everything = it_admin.get("/admin/fleet/device/").content.decode()
    unassigned = it_admin.get("/admin/fleet/device/?assigned=no").content.decode()

    assert "Not ready" in everything and "unassigned" in everything
    assert "Europe/Paris" in everything  # the site's zone, named beside its time
    assert "pc-spare" in unassigned and "pc-seated" not in unassigned


def test_the_seat_picker_is_a_search_not_an_id_box(it_admin, seats, site):
    device = Device.objects.create(site=site, host_identifier="a", hostname="pc", os="windows")

    page = it_admin.get(f"/admin/fleet/device/{device.pk}/change/").content.decode()
    found = it_admin.get(
        "/admin/autocomplete/",
        {"app_label": "fleet", "model_name": "device", "field_name": "seat", "term": "A-03"},
    ).json()

    assert "admin-autocomplete" in page and "vRawIdAdminField" not in page
    assert [row["id"] for row in found["results"]] == [str(seats[2].pk)]


def test_the_api_numbers_rows_from_1_and_names_the_site_s_zone(client, admin_user, seats):
    client.force_login(admin_user)

    body = client.get(f"/api/v1/seats/{seats[2].pk}").json()

    assert (body["row"], body["column"], body["timezone"]) == (1, 3, "Europe/Paris")


def test_the_csv_gives_times_in_the_site_s_zone_and_names_it(client, admin_user, seats):
    since = dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.timezone.utc)
    Seat.objects.filter(pk=seats[1].pk).update(readiness_since=since)
    client.force_login(admin_user)

    response = client.get("/api/v1/seats", {"format": "csv"})
    rows = {
        row["seat"]: row for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    }

    assert rows["A-02"]["status_since"] == "2026-07-01T12:00:00+02:00"
    assert (rows["A-02"]["row"], rows["A-02"]["column"], rows["A-02"]["timezone"]) == (
        "1",
        "2",
        "Europe/Paris",
    )


def test_a_last_report_age_is_told_as_of_now_not_as_of_the_verdict():
    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
    stored = "last report 0 s ago (window 2 min)"

    assert reason_now("agent.fresh", stored, now - dt.timedelta(minutes=7), now) == (
        "last report 7 min ago (window 2 min)"
    )
    assert reason_now("agent.fresh", "last report just now (window 2 min)", now, now) == (
        "last report 0 s ago (window 2 min)"
    )
    assert reason_now("agent.fresh", stored, None, now) == stored
    assert (
        reason_now("chrome.mic.site", "blocked 0 s ago", now - dt.timedelta(hours=1), now)
        == "blocked 0 s ago"
    )


def test_the_seat_page_tells_a_silent_seat_s_age_as_of_the_request(client, admin_user, seats, site):
    from server.compliance.models import CheckResult

    device = Device.objects.create(
        site=site,
        host_identifier="a",
        hostname="pc",
        os="windows",
        seat=seats[0],
        last_seen_at=timezone.now() - dt.timedelta(minutes=42),
    )
    CheckResult.objects.create(
        device=device,
        check_id="agent.fresh",
        state="fail",
        severity="critical",
        reason="last report 0 s ago (window 2 min)",
    )
    Seat.objects.filter(pk=seats[0].pk).update(
        readiness="offline",
        failing=[
            {
                "check_id": "agent.fresh",
                "state": "fail",
                "severity": "critical",
                "reason": "last report 0 s ago (window 2 min)",
            }
        ],
    )
    client.force_login(admin_user)

    seat_page = client.get(f"/seats/{seats[0].pk}/").content.decode()
    floor_page = client.get("/floor/").content.decode()

    for page in (seat_page, floor_page):
        assert "last report 42 min ago" in page and "0 s ago" not in page


def test_make_run_installs_only_the_runtime_requirements_and_make_test_the_dev_ones():
    run = subprocess.run(["make", "-n", "-B", "run"], cwd=REPO, capture_output=True, text=True, timeout=30)
    test = subprocess.run(["make", "-n", "-B", "test"], cwd=REPO, capture_output=True, text=True, timeout=30)

    assert "-r requirements.txt" in run.stdout and "requirements-dev.txt" not in run.stdout
    assert "-r requirements-dev.txt" in test.stdout and "pytest" in test.stdout
