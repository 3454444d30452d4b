"""Hand-written SQL for the paths every check-in and every evaluation take.

Django binds parameters on the client, so PostgreSQL parses and plans every ORM statement
anew, and building the statement costs the worker or web process more CPU than running it.
The few statements here run on every report, so they are written once, prepared once per
connection, and turned back into model instances with the ORM's own converters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any, Union

import psycopg
from django.db import InterfaceError, OperationalError, connection, models

Params = Union[Mapping[str, Any], Sequence[Any]]


def fetch_one_prepared(sql: str, params: Params) -> tuple[Any, ...] | None:
    """Run one statement as a prepared statement of this connection; its first row.

    Django binds parameters on the client, so PostgreSQL parses and plans every statement
    anew; for the check-in statements, joins and CTEs, planning cost several times what
    executing does. A psycopg server-side cursor with prepare=True plans each once per
    connection. Driver errors still become django.db errors.

    When this is the request's first query on a kept connection, it is also its health
    check: Django's own (CONN_HEALTH_CHECKS) would cost one more round trip, a fifth of a
    heartbeat's time. If the kept connection turns out dead (PostgreSQL restarted), it is
    closed and the statement runs once more on a new one, as Django's check would have.
    Every statement run here is idempotent (report ids and content hashes are unique), so
    running it again is safe even if the first try did reach the server."""
    first_use = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    )
    if first_use:
        connection.health_check_done = True
    try:
        return _fetch_one_prepared(sql, params)
    except (OperationalError, InterfaceError):
        if not first_use or connection.is_usable():
            raise
        connection.close()
        return _fetch_one_prepared(sql, params)


def fetch_all_prepared(sql: str, params: Params) -> list[tuple[Any, ...]]:
    """Every row of one statement run as a prepared statement of this connection (for the
    set-based statements of bulk evaluation, whose text does not vary with the set's size)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        started = time.monotonic()
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall() if cursor.description is not None else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def _fetch_one_prepared(sql: str, params: Params) -> tuple[Any, ...] | None:
    # What connection.cursor() would do before handing out a cursor, without building
    # Django's client-side cursor and its wrapper, which this statement does not use.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        started = time.monotonic()
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if connection.queries_logged:
        # As Django's debug cursor does, so query counts in tests and debug tools include it.
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return row


def instance_from_row(model: type[models.Model], values: list[Any] | tuple[Any, ...]) -> Any:
    """A model instance from its concrete columns' values in field order, converted as the
    ORM would (JSON text to objects, and so on)."""
    converted = list(values)
    for index, (column, functions) in enumerate(_converters(model)):
        for function in functions:
            converted[index] = function(converted[index], column, connection)
    return model.from_db(connection.alias, None, converted)


@functools.cache
def _converters(model: type[models.Model]) -> list[tuple[Any, list[Any]]]:
    return [
        (field.get_col(model._meta.db_table), field.get_db_converters(connection))
        for field in model._meta.concrete_fields
    ]


def columns_of(model: type[models.Model], alias: str) -> str:
    """`alias."col", ...` for every concrete field of `model`, in field order."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)
