"""Every bad input found by the hardening probe (issue 11) is a 4xx JSON naming the field,
with nothing stored, on the heartbeat path and on the general path alike."""

from __future__ import annotations

import json

import pytest

from server.accounts.models import ApiToken
from server.fleet.models import CheckIn, Device, FactSnapshot
from tests.server.reports import checkin_body, healthy_facts, heartbeat_body
from tests.server.test_agent_api import CHECKIN, ENROLL, node_key, post  # noqa: F401

pytestmark = pytest.mark.django_db

INT32_MAX = 2_147_483_647


@pytest.fixture(params=["full", "heartbeat"])
def report(request, client, node_key):  # noqa: F811
    """A valid report on each path: full facts (general path) or a heartbeat of facts the
    server holds (one-statement path). Returns (body, key, what was stored before)."""
    facts = healthy_facts()
    first = post(client, CHECKIN, checkin_body(facts), key=node_key)
    assert first.status_code == 202, first.content
    body = checkin_body(facts) if request.param == "full" else heartbeat_body(facts)
    return body, node_key


def stored() -> tuple[int, int, int, int]:
    device = Device.objects.get()
    return (
        CheckIn.objects.count(),
        FactSnapshot.objects.count(),
        device.dropped_reports,
        device.dead_lettered_reports,
    )


def refused(client, key, body, *, field: str, status: int = 400, error: str = "invalid"):
    before = stored()
    data = body if isinstance(body, str) else json.dumps(body)
    response = post(client, CHECKIN, data, key=key)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["error"] == error and answer["field"] == field and answer["detail"]
    assert stored() == before, "nothing is stored"
    return answer


def test_a_report_id_of_36_dashes_is_refused_naming_it(client, report) -> None:
    body, key = report
    refused(client, key, {**body, "report_id": "-" * 36}, field="report_id")


def test_a_report_id_of_33_hex_digits_is_refused_naming_it(client, report) -> None:
    body, key = report
    refused(client, key, {**body, "report_id": "a" * 33}, field="report_id")


def test_an_integer_literal_of_5000_digits_is_malformed_json(client, report) -> None:
    body, key = report
    text = json.dumps({**body, "dropped_reports": 0}).replace(
        '"dropped_reports": 0', '"dropped_reports": ' + "9" * 5000
    )

    answer = refused(client, key, text, field="(body)", error="malformed_json")

    assert "digits" in answer["detail"] or "integer" in answer["detail"]


def test_dropped_reports_of_2_to_the_31_is_refused_naming_it(client, report) -> None:
    body, key = report
    refused(client, key, {**body, "dropped_reports": 2**31}, field="dropped_reports")


def test_dead_lettered_reports_beyond_the_schema_maximum_is_refused_naming_it(client, report) -> None:
    body, key = report
    refused(client, key, {**body, "dead_lettered_reports": 10**7}, field="dead_lettered_reports")


def test_a_running_total_at_the_column_maximum_stays_there_and_reports_go_on(client, report) -> None:
    body, key = report
    Device.objects.update(dropped_reports=INT32_MAX - 1, dead_lettered_reports=INT32_MAX)

    response = post(client, CHECKIN, {**body, "dropped_reports": 5, "dead_lettered_reports": 1}, key=key)
    again = post(client, CHECKIN, {**checkin_body(healthy_facts()), "dropped_reports": 1}, key=key)

    assert response.status_code == 202, response.content
    assert again.status_code == 202, again.content
    device = Device.objects.get()
    assert (device.dropped_reports, device.dead_lettered_reports) == (INT32_MAX, INT32_MAX)


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00"]
)
def test_a_collected_at_outside_the_years_2000_to_2999_is_refused_naming_it(client, report, moment) -> None:
    body, key = report
    refused(client, key, {**body, "collected_at": moment}, field="collected_at")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_postgresql_cannot_store_are_malformed_json(client, report, literal) -> None:
    body, key = report
    text = json.dumps({**body, "agent_version": "0.1"}).replace(
        '"agent_version": "0.1"', '"agent_version": "0.1", "x": ' + literal
    )

    refused(client, key, text, field="(body)", error="malformed_json")


def test_a_known_report_id_with_bad_input_is_still_refused_first(client, report) -> None:
    body, key = report
    refused(
        client,
        key,
        {**body, "report_id": "a" * 33, "collected_at": "0001-01-01T00:00:00Z"},
        field="report_id",
    )


# --- the operator API and API paths ------------------------------------------------------


@pytest.fixture
def token(admin_user) -> str:
    return ApiToken.issue(admin_user, "scripts")[1]


@pytest.mark.parametrize("output", ["json", "csv"])
@pytest.mark.parametrize("parameter", ["site", "floor", "status", "check", "page", "format"])
def test_a_nul_in_an_operator_query_parameter_is_a_400_naming_it(
    client, seats, token, parameter, output
) -> None:
    params = {"format": output, parameter: "a\x00b"}

    response = client.get("/api/v1/seats", params, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 400, response.content
    assert response.json()["field"] == parameter
    assert response.json()["error"] == "invalid"


def test_a_nul_in_a_dashboard_query_parameter_is_a_plain_400(admin_client, seats) -> None:
    response = admin_client.get("/", {"status": "\x00"})

    assert response.status_code == 400
    assert b"status" in response.content


def test_an_unknown_api_path_is_a_json_404(client) -> None:
    for path in ("/api/nope", "/api/agent/v1/nope", "/api/v1/seats/999999999/nope"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path


def test_a_wrong_method_on_an_agent_endpoint_is_a_json_405_with_allow(client) -> None:
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(CHECKIN)
        assert response.status_code == 405
        assert response.json()["error"] == "method_not_allowed"
        assert response["Allow"] == "POST"


def test_an_unsupported_content_type_is_a_json_415_naming_it(client, node_key) -> None:  # noqa: F811
    response = client.post(
        CHECKIN,
        data="report_id=1",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"NodeKey {node_key}",
    )

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_a_body_over_the_limit_is_a_json_413_on_enrolment_too(client, settings) -> None:
    settings.READYFLOOR_MAX_REPORT_BYTES = 1000

    response = post(client, ENROLL, {"enroll_secret": "x" * 2000})

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_an_api_error_made_json_keeps_the_cookies_set_on_the_way(client) -> None:
    from django.http import HttpResponseNotAllowed

    from server.request_guard import as_json

    original = HttpResponseNotAllowed(["GET"])
    original.set_cookie("sticky", "1")

    answer = as_json(original)

    assert answer.status_code == 405 and answer["Allow"] == "GET"
    assert answer.cookies["sticky"].value == "1"
