"""The operator API: seats with readiness and failing checks, for IT admins and their scripts."""

from __future__ import annotations

import csv
import io

import pytest

from server.accounts.models import ApiToken
from server.fleet.models import Readiness, Seat

pytestmark = pytest.mark.django_db

SEATS = "/api/v1/seats"


@pytest.fixture
def judged_seats(seats) -> list[Seat]:
    """Four seats as the evaluation job would have left them."""
    blocked = {
        "check_id": "chrome.mic.site",
        "state": "fail",
        "severity": "critical",
        "reason": "https://acme.my.salesforce.com is blocked in Chrome profile 'Default'",
    }
    states = [Readiness.READY, Readiness.NOT_READY, Readiness.AT_RISK, Readiness.OFFLINE]
    for seat, state in zip(seats, states):
        seat.readiness = state
        seat.failing = [blocked] if state == Readiness.NOT_READY else []
        seat.save()
    return seats


@pytest.fixture
def token(admin_user) -> str:
    return ApiToken.issue(admin_user, "scripts")[1]


def get(client, url: str, token: str | None = None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(url, params, **headers)


def test_anonymous_callers_are_refused(client, judged_seats):
    response = get(client, SEATS)

    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_a_wrong_token_is_refused(client, judged_seats):
    assert get(client, SEATS, token="rf_not-a-token").status_code == 401


def test_a_revoked_token_is_refused(client, judged_seats, admin_user):
    token, plain = ApiToken.issue(admin_user, "old")
    token.revoked_at = token.created_at
    token.save()

    assert get(client, SEATS, token=plain).status_code == 401


def test_a_logged_in_non_staff_user_sees_nothing(client, judged_seats, outsider):
    client.force_login(outsider)

    assert get(client, SEATS).status_code == 403


def test_an_admin_session_lists_every_seat_with_its_status(client, judged_seats, admin_user):
    client.force_login(admin_user)

    body = get(client, SEATS).json()

    assert body["count"] == 4
    assert [(s["label"], s["status"]) for s in body["results"]] == [
        ("A-01", "ready"),
        ("A-02", "not_ready"),
        ("A-03", "at_risk"),
        ("A-04", "offline"),
    ]
    assert body["results"][1]["failing_checks"][0]["check_id"] == "chrome.mic.site"


def test_a_token_can_filter_by_status_and_check(client, judged_seats, token):
    not_ready = get(client, SEATS, token, status="not_ready,offline").json()
    blocked = get(client, SEATS, token, check="chrome.mic.site").json()

    assert [s["label"] for s in not_ready["results"]] == ["A-02", "A-04"]
    assert [s["label"] for s in blocked["results"]] == ["A-02"]


def test_an_unknown_status_filter_names_the_field(client, judged_seats, token):
    response = get(client, SEATS, token, status="broken")

    assert response.status_code == 400
    assert response.json()["field"] == "status"


def test_filters_by_site_and_floor(client, judged_seats, token):
    assert get(client, SEATS, token, site="Lyon contact centre", floor="Floor 1").json()["count"] == 4
    # Issue 8: a floor that does not exist is refused naming it (it used to be an empty list).
    unknown = get(client, SEATS, token, floor="Floor 2")
    assert unknown.status_code == 400
    assert unknown.json()["field"] == "floor" and "Floor 2" in unknown.json()["detail"]


def test_results_are_paginated_with_links(client, judged_seats, token):
    first = get(client, SEATS, token, page_size=3).json()
    second = get(client, first["next"], token).json()

    assert (first["count"], first["pages"], len(first["results"])) == (4, 2, 3)
    assert [s["label"] for s in second["results"]] == ["A-04"]
    assert second["next"] is None
    assert get(client, SEATS, token, page=9).status_code == 404
    assert get(client, SEATS, token, page="zero").json()["field"] == "page"


def test_the_list_exports_as_csv(client, judged_seats, token):
    response = get(client, SEATS, token, format="csv", status="not_ready")

    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["site", "floor", "seat", "team", "status"]
    assert rows[1][2] == "A-02"
    assert "blocked in Chrome profile" in rows[1][8]


def test_a_seat_detail_has_every_check(client, judged_seats, token):
    response = get(client, f"{SEATS}/{judged_seats[1].pk}", token)

    assert response.status_code == 200
    assert response.json()["label"] == "A-02"
    assert response.json()["checks"] == []  # no workstation has reported from it yet
    assert get(client, f"{SEATS}/999999", token).status_code == 404


def test_the_openapi_schema_describes_both_apis(client):
    schema = client.get("/api/schema.json").json()

    assert schema["openapi"].startswith("3.1")
    assert {"/api/agent/v1/checkin", "/api/agent/v1/enroll", "/api/v1/seats"} <= set(schema["paths"])
    checkin = schema["components"]["schemas"]["checkin"]
    assert checkin["properties"]["facts"] == {"$ref": "#/components/schemas/facts"}


def test_health_reports_database_and_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_a_page_size_above_the_maximum_is_refused_naming_it(client, judged_seats, token):
    response = get(client, SEATS, token, page_size=501)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert response.json()["field"] == "page_size"
    assert "500" in response.json()["detail"]


def test_a_malformed_parameter_gets_the_projects_error_shape_not_ninjas(client, judged_seats, token):
    response = get(client, SEATS, token, format="xml")

    assert response.status_code == 400
    assert set(response.json()) == {"error", "field", "detail"}
    assert response.json()["field"] == "format"


def test_the_openapi_schema_is_generated_from_the_operator_endpoints(client):
    schema = client.get("/api/schema.json").json()

    seats = schema["paths"]["/api/v1/seats"]["get"]
    parameters = {parameter["name"]: parameter for parameter in seats["parameters"]}
    assert {"site", "floor", "team", "status", "check", "page", "page_size", "format"} <= set(parameters)
    assert parameters["page_size"]["schema"]["maximum"] == 500
    page = seats["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    results = schema["components"]["schemas"][page]["properties"]["results"]
    assert results["items"]["$ref"].endswith("/SeatOut")
    assert "/api/v1/seats/{seat_id}" in schema["paths"]
    # The agent part keeps the report schema as its request bodies.
    body = schema["paths"]["/api/agent/v1/checkin"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/checkin"}


def test_the_floor_filter_takes_the_floors_id_or_its_name(client, judged_seats, token, floor):
    by_id = get(client, SEATS, token, floor=str(floor.pk)).json()
    by_name = get(client, SEATS, token, floor="Floor 1").json()

    assert by_id["count"] == by_name["count"] == 4


def test_a_floor_name_shared_by_two_sites_asks_for_the_id(client, judged_seats, token):
    from server.fleet.models import Floor, Site

    Floor.objects.create(site=Site.objects.create(name="Paris office"), name="Floor 1")

    response = get(client, SEATS, token, floor="Floor 1")
    narrowed = get(client, SEATS, token, site="Lyon contact centre", floor="Floor 1")

    assert response.status_code == 400 and response.json()["field"] == "floor"
    assert "id" in response.json()["detail"]
    assert narrowed.json()["count"] == 4


def test_an_unknown_site_is_refused_naming_it(client, judged_seats, token):
    response = get(client, SEATS, token, site="Atlantis")

    assert response.status_code == 400
    assert response.json()["field"] == "site" and "Atlantis" in response.json()["detail"]


def test_the_team_filter_narrows_the_list_and_an_unknown_team_is_refused(client, judged_seats, token):
    Seat.objects.filter(label__in=["A-02", "A-03"]).update(team="Support")

    support = get(client, SEATS, token, team="Support").json()
    unknown = get(client, SEATS, token, team="Nobody")

    assert [s["label"] for s in support["results"]] == ["A-02", "A-03"]
    assert unknown.status_code == 400 and unknown.json()["field"] == "team"


def test_the_csv_lists_the_worst_seats_first_with_their_os_and_first_fix(client, judged_seats, token, site):
    from readyfloor_agent.checks import fix_for

    from server.fleet.models import Device

    Device.objects.create(
        site=site, host_identifier="h2", hostname="lyon-a02", os="macos", seat=judged_seats[1]
    )
    response = get(client, SEATS, token, format="csv")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["seat"] for row in rows] == [
        "A-02",
        "A-04",
        "A-03",
        "A-01",
    ]  # not ready, offline, at risk, ready
    assert rows[0]["os"] == "macos"
    assert rows[0]["top_fix"] == fix_for("chrome.mic.site", "macos").steps[0]
    assert rows[1]["os"] == rows[1]["top_fix"] == ""


def test_a_supervisor_lists_only_their_floor_and_is_refused_another(client, judged_seats, supervisor, site):
    from server.fleet.models import Floor

    other = Floor.objects.create(site=site, name="Floor 2")
    Seat.objects.create(floor=other, label="Z-01", row=0, column=0)
    client.force_login(supervisor)

    listed = get(client, SEATS).json()
    refused = get(client, SEATS, floor=str(other.pk))

    assert listed["count"] == 4 and "Z-01" not in {s["label"] for s in listed["results"]}
    assert refused.status_code == 403 and refused.json()["field"] == "floor"


def test_a_supervisors_token_is_scoped_like_their_session(client, judged_seats, supervisor, site):
    from server.fleet.models import Floor

    other = Seat.objects.create(
        floor=Floor.objects.create(site=site, name="Floor 2"), label="Z-01", row=0, column=0
    )
    plain = ApiToken.issue(supervisor, "sam's script")[1]

    assert get(client, SEATS, plain).json()["count"] == 4
    assert get(client, f"{SEATS}/{other.pk}", plain).status_code == 404


def test_a_nul_character_in_a_filter_is_refused_naming_the_field(client, judged_seats, token):
    response = get(client, SEATS, token, floor="Floor\x001")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid",
        "field": "floor",
        "detail": "must not contain a NUL character",
    }
