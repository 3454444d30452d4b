"""No input produces a 5xx: arbitrary JSON, and valid reports with one part replaced by junk,
sent to every agent endpoint. Whatever is refused leaves nothing stored."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.fleet.models import CheckIn, FactSnapshot
from tests.agent.json_documents import json_values, paths
from tests.server.reports import checkin_body, enroll_body, healthy_facts
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db


def replaced(document: Any, path: tuple, junk: Any) -> Any:
    if not path:
        return junk
    document = copy.deepcopy(document)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = junk
    return document


VALID_CHECKIN = checkin_body(healthy_facts())
CHECKIN_PATHS = paths(VALID_CHECKIN)

fuzz = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@fuzz
@given(body=json_values)
def test_arbitrary_json_never_causes_a_server_error(client, node_key, body):
    for url in (ENROLL, CHECKIN):
        response = post(client, url, json.dumps(body), key=node_key)
        assert response.status_code < 500, (url, body, response.content)


@fuzz
@given(path=st.sampled_from(CHECKIN_PATHS), junk=json_values)
def test_a_report_with_any_part_replaced_by_junk_never_causes_a_server_error(client, node_key, path, junk):
    before = (CheckIn.objects.count(), FactSnapshot.objects.count())
    # A fresh report_id each time, so an accepted example is never a replay of an earlier one.
    valid = {**VALID_CHECKIN, "report_id": checkin_body(healthy_facts())["report_id"]}
    body = replaced(valid, path, junk)

    response = post(client, CHECKIN, body, key=node_key)

    assert response.status_code < 500, (path, junk, response.content)
    if response.status_code >= 400:
        assert (CheckIn.objects.count(), FactSnapshot.objects.count()) == before
        assert "error" in response.json()


@fuzz
@given(path=st.sampled_from(paths(enroll_body("x" * 10))), junk=json_values)
def test_an_enrolment_with_junk_never_causes_a_server_error(client, enroll_secret, path, junk):
    body = replaced(enroll_body(enroll_secret), path, junk)

    response = post(client, ENROLL, body)

    assert response.status_code < 500, (path, junk, response.content)


@pytest.fixture
def node_key(client, enroll_secret, seats, policy) -> str:
    return post(client, ENROLL, enroll_body(enroll_secret, "fuzz-host", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]


OPERATOR_PARAMS = ["site", "floor", "team", "status", "check", "page", "page_size", "format"]


@fuzz
@given(
    params=st.dictionaries(
        st.sampled_from(OPERATOR_PARAMS),
        st.one_of(st.text(max_size=30), st.integers().map(str), st.sampled_from(["1", "0", "-1", "csv", ""])),
        max_size=4,
    )
)
def test_any_operator_query_never_causes_a_server_error(client, seats, admin_user, params):
    client.force_login(admin_user)

    response = client.get("/api/v1/seats", params)

    assert response.status_code < 500, (params, response.content)
    if response.status_code >= 400:
        assert {"error", "detail"} <= set(response.json())
