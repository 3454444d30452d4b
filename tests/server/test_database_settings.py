"""DATABASE_URL becomes Django's settings, and the agent API's hot statements really are
prepared once per connection (Django alone would have PostgreSQL plan them every time)."""

from __future__ import annotations

import pytest
from django.db import connection

from server.fleet import rawsql
from server.settings import database_from_url


def test_a_url_gives_the_connection_and_keeps_libpq_options():
    db = database_from_url("postgresql://ops:s%40cret@db.internal:6432/floor?sslmode=require")

    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "ops",
        "s@cret",
        "db.internal",
        "6432",
        "floor",
    )
    assert db["OPTIONS"]["sslmode"] == "require"
    assert db["OPTIONS"]["prepare_threshold"] == 5


@pytest.mark.parametrize(("given", "expected"), [("none", None), ("None", None), ("0", 0), ("20", 20)])
def test_prepared_statements_can_be_tuned_or_turned_off_for_a_pooler(given, expected):
    db = database_from_url(f"postgresql://localhost/floor?prepare_threshold={given}")

    assert db["OPTIONS"]["prepare_threshold"] == expected


def test_a_socket_directory_is_taken_from_the_host_parameter():
    assert database_from_url("postgresql:///floor?host=/run/postgresql")["HOST"] == "/run/postgresql"


@pytest.mark.django_db
def test_the_check_in_statements_are_prepared_once_per_connection():
    sql = "SELECT %(value)s::int + 1"

    first = rawsql.fetch_one_prepared(sql, {"value": 1})
    second = rawsql.fetch_one_prepared(sql, {"value": 2})

    assert (first, second) == ((2,), (3,))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%::int + 1%"])
        assert cursor.fetchone() == (1,)
