"""Reads that may be a second behind go to a PostgreSQL replica; every write, and every read
that must see the latest state, goes to the primary.

With DATABASE_REPLICA_URL set (settings add the `replica` database, this router and the
middleware), the pages people look at (the dashboards) and the operator API's GETs read from
the replica: on a large fleet they are the heavy reads (a floor of seats, their failing
checks, CSV exports) and they can tolerate streaming replication's lag. The agent API, the
evaluation worker, the admin and anything inside `reads_from_primary()` read the primary:
judging a seat on stale facts, or checking a node key against a stale device row, would be
wrong, not just late. Scheduled reports wrap their queries in `reads_from_replica()`.

A person who just changed something (any POST, PUT, PATCH or DELETE) reads from the primary
for READYFLOOR_REPLICA_STICKY_S seconds, so they see their own change on the next page."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

REPLICA = "replica"
PRIMARY = "default"
# Authentication, sessions and API tokens are read on every request right after being
# written (a login, a new token): they always come from the primary.
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "contenttypes", "admin", "accounts", "django_celery_beat"})
STICKY_COOKIE = "readyfloor_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_replica_reads: ContextVar[bool] = ContextVar("readyfloor_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextlib.contextmanager
def reads_from_replica() -> Iterator[None]:
    """ORM reads inside this block go to the replica (when there is one)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


@contextlib.contextmanager
def reads_from_primary() -> Iterator[None]:
    """ORM reads inside this block go to the primary, even within reads_from_replica()."""
    token = _replica_reads.set(False)
    try:
        yield
    finally:
        _replica_reads.reset(token)


class ReplicaRouter:
    """Django database router: reads to the replica only inside reads_from_replica()."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        if _replica_reads.get() and model._meta.app_label not in PRIMARY_ONLY_APPS and replica_configured():
            return REPLICA
        return PRIMARY

    def db_for_write(self, model: type, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica holds the same rows as the primary: objects read from either relate.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # A hot standby is read-only; it receives the schema by replication.
        return db == PRIMARY


class ReplicaReadsMiddleware:
    """Serves safe requests to the URL namespaces in READYFLOOR_REPLICA_NAMESPACES (the
    dashboards and the operator API by default) with reads from the replica."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.namespaces = frozenset(settings.READYFLOOR_REPLICA_NAMESPACES)
        self.sticky_s = settings.READYFLOOR_REPLICA_STICKY_S

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            response = self.get_response(request)
            if self.sticky_s > 0:
                response.set_cookie(STICKY_COOKIE, "1", max_age=self.sticky_s, httponly=True, samesite="Lax",
                                    secure=settings.SESSION_COOKIE_SECURE)
            return response
        if STICKY_COOKIE in request.COOKIES or not self._wants_replica(request):
            return self.get_response(request)
        with reads_from_replica():
            return self.get_response(request)

    def _wants_replica(self, request: HttpRequest) -> bool:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return bool(set(match.namespaces) & self.namespaces)
