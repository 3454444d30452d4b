"""A supervisor reads, downloads and subscribes to their own floors' reports, and gets nothing of
another floor's: not on the pages, not through the API, not from the archive."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from server.reports import running, scheduling
from server.reports.models import Cadence, ReportRun, ReportSchedule, ReportSubscription, Trigger
from server.reports.scoping import Scope
from server.roles.groups import assign_role
from server.roles.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(known_floor):
    mine = running.run_now(
        Scope.parse(f"floor:{known_floor.floor.pk}"), formats=["csv"], trigger=Trigger.COMMAND
    )
    theirs = running.run_now(
        Scope.parse(f"floor:{known_floor.other_floor.pk}"), formats=["csv"], trigger=Trigger.COMMAND
    )
    site = running.run_now(Scope.parse("site:Lyon contact centre"), formats=["csv"], trigger=Trigger.COMMAND)
    return mine, theirs, site


@pytest.fixture
def schedules(known_floor):
    def schedule(name: str, floor) -> ReportSchedule:
        made = ReportSchedule.objects.create(
            name=name,
            scope_kind="floor",
            site=floor.site,
            floor=floor,
            cadence=Cadence.DAILY,
            at_time=dt.time(7, 30),
            recipients="it@example.com",
        )
        scheduling.sync_periodic_task(made)
        return made

    return schedule("Floor 1 morning", known_floor.floor), schedule(
        "Floor 9 morning", known_floor.other_floor
    )


def test_a_supervisor_reads_and_downloads_their_floors_report_only(client, supervisor, runs) -> None:
    mine, theirs, site = runs
    client.force_login(supervisor)
    archive = client.get("/reports/")
    assert archive.status_code == 200
    listed = {run.pk for run in archive.context["page"].object_list}
    assert listed == {mine.pk}
    assert client.get(f"/reports/runs/{mine.pk}/").status_code == 200
    download = client.get(f"/reports/runs/{mine.pk}/csv")
    assert download.status_code == 200 and b"A-03" in download.content
    for other in (theirs, site):  # another floor, and a site report that would show one
        assert client.get(f"/reports/runs/{other.pk}/").status_code == 404
        assert client.get(f"/reports/runs/{other.pk}/csv").status_code == 404


def test_the_api_keeps_a_supervisor_to_their_floors(client, supervisor, runs, known_floor) -> None:
    mine, theirs, site = runs
    client.force_login(supervisor)
    listed = client.get("/api/v1/reports/runs").json()
    assert [run["id"] for run in listed["results"]] == [mine.pk]
    assert client.get(f"/api/v1/reports/runs/{mine.pk}").json()["files"][0]["format"] == "csv"
    assert client.get(f"/api/v1/reports/runs/{mine.pk}/files/csv").status_code == 200
    for other in (theirs, site):
        assert client.get(f"/api/v1/reports/runs/{other.pk}").status_code == 404
        assert client.get(f"/api/v1/reports/runs/{other.pk}/files/csv").status_code == 404
    refused = client.post(
        "/api/v1/reports/runs",
        {"scope": f"floor:{known_floor.other_floor.pk}"},
        content_type="application/json",
    )
    assert refused.status_code == 403 and refused.json()["field"] == "scope"
    made = client.post(
        "/api/v1/reports/runs",
        {"scope": "floor:Floor 1", "formats": ["pdf"]},
        content_type="application/json",
    )
    assert made.status_code == 202 and made.json()["status"] == "pending"
    assert ReportRun.objects.get(pk=made.json()["id"]).requested_by == supervisor


def test_bad_api_input_is_a_400_naming_the_field(client, admin_user, known_floor) -> None:
    client.force_login(admin_user)
    for body, field in [
        ({"scope": "floor:Nope"}, "scope"),
        ({"scope": "floor:Floor 1", "formats": ["docx"]}, "formats.0"),
        ({"scope": "floor:Floor 1", "period_days": 0}, "period_days"),
    ]:
        answer = client.post("/api/v1/reports/runs", body, content_type="application/json")
        assert answer.status_code == 400, body
        assert answer.json()["field"] == field
    assert not ReportRun.objects.exists()


def test_a_supervisor_subscribes_to_their_floors_schedule_only(client, supervisor, schedules) -> None:
    mine, theirs = schedules
    client.force_login(supervisor)
    listed = client.get("/api/v1/reports/schedules").json()
    assert [schedule["id"] for schedule in listed] == [mine.pk]
    assert client.post(f"/api/v1/reports/schedules/{mine.pk}/subscription").status_code == 201
    assert client.post(f"/api/v1/reports/schedules/{theirs.pk}/subscription").status_code == 404
    assert client.post(f"/reports/schedules/{theirs.pk}/subscription").status_code == 404
    assert list(ReportSubscription.objects.values_list("schedule_id", flat=True)) == [mine.pk]
    # Nor do they edit schedules: that is the IT admins'.
    assert client.get(f"/reports/schedules/{mine.pk}/").status_code == 404
    assert client.get("/reports/schedules/new").status_code == 404


def test_a_supervisor_moved_off_a_floor_stops_receiving_its_reports(
    supervisor, schedules, known_floor
) -> None:
    from server.reports.delivering import recipients_of

    mine, _ = schedules
    ReportSubscription.objects.create(schedule=mine, user=supervisor)
    run = running.create_run(Scope.of(mine), formats=["csv"], trigger=Trigger.SCHEDULE, schedule=mine)
    assert recipients_of(run) == ["it@example.com", "sam@example.com"]
    assign_role(supervisor, Role.SUPERVISOR)
    supervisor.supervisions.all().delete()
    fresh = User.objects.get(pk=supervisor.pk)
    assert fresh.email == "sam@example.com"
    assert recipients_of(run) == ["it@example.com"]


def test_an_it_admin_and_an_auditor_see_every_report(client, admin_user, auditor, outsider, runs) -> None:
    for user in (admin_user, auditor):
        client.force_login(user)
        assert client.get("/api/v1/reports/runs").json()["count"] == 3
        for run in runs:
            assert client.get(f"/reports/runs/{run.pk}/pdf").status_code == 404  # csv only was made
            assert client.get(f"/reports/runs/{run.pk}/csv").status_code == 200
    client.force_login(outsider)
    assert client.get("/reports/").status_code == 403
    assert client.get(f"/api/v1/reports/runs/{runs[0].pk}").status_code == 403
