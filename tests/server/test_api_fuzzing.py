"""Schemathesis over the whole OpenAPI document as served (/api/schema.json: the agent API and
the operator API, whatever the document becomes), with credentials that really work, so the
generated requests reach the code behind authentication. Zero 5xx (issue 11, item 7).

A CI-sized budget: a fixed number of examples per operation (READYFLOOR_FUZZ_EXAMPLES,
default 25), derandomised so a CI run is reproducible; raise it locally for a deeper search.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from server.accounts.models import ApiToken
from tests.server.reports import enroll_body
from tests.server.test_agent_api import ENROLL, post

EXAMPLES = int(os.getenv("READYFLOOR_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def served_schema(transactional_db, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    # The requests go through the real WSGI handler, which closes the database connection at
    # the end of each request; the test's transaction lives on it, so keep it open, as
    # Django's own test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/schema.json", get_wsgi_application(), headers={"Host": "localhost"}
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("served_schema")


@pytest.fixture
def credentials(client, admin_user, enroll_secret, seats, policy) -> dict[str, str]:
    node_key = post(client, ENROLL, enroll_body(enroll_secret, "fuzz-host", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    return {"agent": f"NodeKey {node_key}", "operator": f"Bearer {ApiToken.issue(admin_user, 'fuzz')[1]}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_the_schema_describes_gets_a_server_error(case, credentials) -> None:
    agent = case.path.startswith("/api/agent/")
    headers = {"Host": "localhost", "Authorization": credentials["agent" if agent else "operator"]}

    response = case.call(headers=headers)

    assert response.status_code < 500, (case.as_curl_command(), response.status_code, response.text[:300])
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or response.headers.get("Content-Type") or [""]
        assert content_type[0].startswith("application/json"), response.text[:200]
