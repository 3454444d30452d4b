"""Liveness and readiness: the web tier stays in service while Redis is down, and leaves it
only when PostgreSQL is unreachable (issue 11, item 6)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.server.test_evaluation import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_down():
    """Point the broker at a port where nothing listens, as if Redis had stopped. The same
    helper as the evaluation tests': it resets Celery's pools both ways, so later tests in
    this process publish on fresh ones (closing them in place left "Acquire on closed pool")."""
    with broker_unreachable():
        yield


@pytest.fixture
def postgres_unreachable():
    """The database connection goes to a port where nothing listens."""
    connection.close()
    original = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original


def test_live_answers_whatever_the_dependencies(client, redis_down, postgres_unreachable) -> None:
    response = client.get("/healthz/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_ok_when_postgresql_and_redis_answer(client) -> None:
    response = client.get("/healthz/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_ready_stays_ready_with_redis_down_and_says_so(client, redis_down) -> None:
    response = client.get("/healthz/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["broker"].startswith("error: ")


def test_ready_is_503_when_postgresql_is_unreachable(client, postgres_unreachable) -> None:
    response = client.get("/healthz/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"].startswith("error: ")


def test_the_combined_healthz_still_wants_both(client, redis_down) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"].startswith("error: ")
