"""Shared fixtures: real PostgreSQL and Redis (DATABASE_URL/REDIS_URL, or the embedded ones),
a real Celery worker process where behaviour crosses it, and the people who use ReadyFloor."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Tasks from a test run go to a queue of their own, so a ReadyFloor running on the same Redis
# (or another test run) never takes them. pytest-django reads the settings before this file,
# so this names the queue of the processes a parallel run starts (pytest-xdist's, which add
# their own suffix in settings.py) and `make test` names it for the whole run.
os.environ.setdefault("CELERY_QUEUE", f"readyfloor-test-{uuid.uuid4().hex[:8]}")
# Rate limits count per address in a Redis every test shares: hundreds of requests from
# 127.0.0.1 would trip them. Their own tests switch them on (tests/server/test_rate_limits.py).
# The variable reaches servers started as processes; pytest_configure below, this process.
os.environ.setdefault("READYFLOOR_RATE_LIMITS", "0")


def pytest_configure(config: pytest.Config) -> None:
    # pytest-django has read the settings before this file: switch the limits off here too.
    # Agent-only runs (-p no:django) never load Django, and this does not make them.
    django_conf = sys.modules.get("django.conf")
    if django_conf is not None and django_conf.settings.configured:
        django_conf.settings.RATELIMIT_ENABLE = False


REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Agent tests must not need Django: they are listed first so a Django failure can't hide them.
    items.sort(key=lambda item: 0 if "/tests/agent/" in str(item.fspath) else 1)


@pytest.fixture
def site(db):
    from server.fleet.models import Site

    return Site.objects.create(name="Lyon contact centre", timezone="Europe/Paris")


@pytest.fixture
def floor(site):
    from server.fleet.models import Floor

    return Floor.objects.create(site=site, name="Floor 1")


@pytest.fixture
def seats(floor) -> list[Any]:
    from server.fleet.models import Seat

    return [
        Seat.objects.create(floor=floor, label=f"A-{column + 1:02d}", row=0, column=column, team="Sales")
        for column in range(4)
    ]


@pytest.fixture
def policy(site):
    from server.compliance.models import Policy

    return Policy.objects.create(
        name="Lyon", site=site, cti_origins=["https://acme.my.salesforce.com"], freshness_s=900
    )


@pytest.fixture
def enroll_secret(site) -> str:
    from server.fleet.models import EnrollSecret

    _, plain = EnrollSecret.issue(site, "tests")
    return plain


@pytest.fixture
def admin_user(db):
    """An IT admin: sees everything, edits policy, the only role with the admin."""
    from django.contrib.auth.models import User

    from server.roles.groups import assign_role
    from server.roles.models import Role

    user = User.objects.create_user("ines", "ines@example.com", "correct horse battery")
    assign_role(user, Role.IT_ADMIN)
    return user


@pytest.fixture
def supervisor(floor):
    """A supervisor of Floor 1 (the `floor` fixture): sees and acts on that floor only."""
    from django.contrib.auth.models import User

    from server.roles.groups import assign_role
    from server.roles.models import Role

    user = User.objects.create_user("sam", "sam@example.com", "correct horse battery")
    assign_role(user, Role.SUPERVISOR, floors=[floor])
    return user


@pytest.fixture
def auditor(db):
    """An auditor: reads every floor, history and reports; changes nothing."""
    from django.contrib.auth.models import User

    from server.roles.groups import assign_role
    from server.roles.models import Role

    user = User.objects.create_user("aude", "aude@example.com", "correct horse battery")
    assign_role(user, Role.AUDITOR)
    return user


@pytest.fixture
def outsider(db):
    """Logged in, but without a role: sees nothing of the fleet."""
    from django.contrib.auth.models import User

    return User.objects.create_user("olaf", "olaf@example.com", "correct horse battery")


def database_url_for_subprocess() -> str:
    """The URL of the database this test run uses (pytest-django's test database)."""
    from django.db import connection

    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgresql://{db['USER']}@/{db['NAME']}?host={host}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgresql://{db['USER']}{password}@{host}{port}/{db['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_subprocess(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
        PYTHONPATH=str(REPO),
        DJANGO_SETTINGS_MODULE="server.settings",
    )
    env.update(extra)
    return env


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process on the test database and the real broker, consuming
    every ReadyFloor queue (evaluate, bulk, alerts)."""
    purge_queues()
    process = start_celery_worker()
    try:
        yield process
    finally:
        stop(process)
        drop_queues_on_rabbitmq()


def start_celery_worker(**env: str) -> subprocess.Popen:
    """Start a worker on every ReadyFloor queue and wait until it answers."""
    from django.conf import settings

    from server.celery import app

    queues = ",".join(settings.READYFLOOR_QUEUES.values())
    # A name of its own, and a ping to that name only: another worker on the same broker (a
    # second pytest-xdist worker's) must not answer for this one.
    name = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    # The worker's own log, for when a test times out waiting for it.
    log = open(REPO / "var" / "test-worker.log", "ab") if (REPO / "var").is_dir() else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "server",
            "worker",
            "--pool=solo",
            f"--queues={queues}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}",
        ],
        cwd=REPO,
        env=service_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_worker(app, name)
    except RuntimeError:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def purge_queues() -> None:
    """Tasks left from an earlier test must not run against this test's rows. Each queue is
    declared first: RabbitMQ refuses to purge a queue that does not exist yet."""
    from django.conf import settings

    from server.celery import app

    with app.connection_for_write() as conn:
        for name in settings.READYFLOOR_QUEUES.values():
            queue = app.amqp.queues[name](conn.default_channel)
            queue.declare()
            queue.purge()


def drop_queues_on_rabbitmq() -> None:
    """RabbitMQ keeps a durable queue after its consumer goes: drop this run's."""
    from django.conf import settings

    from server.celery import app

    if app.conf.broker_url.startswith("amqp"):
        with app.connection_for_write() as conn:
            for name in settings.READYFLOOR_QUEUES.values():
                conn.default_channel.queue_delete(name)


def wait_for_worker(app, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(destination=[name], timeout=0.5)
        if replies:
            return
    raise RuntimeError(f"the Celery worker {name} did not start within {timeout:.0f} s")


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll until `predicate()` is truthy; return its value, or fail the test naming it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {getattr(predicate, '__name__', predicate)}")


# Debian's Chromium, driven by Playwright without a browser download (tests marked `browser`).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """One browser for the session, for the dashboards' and the end-to-end browser tests."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator:
    """A page of its own, failing the test on any JavaScript error or console error it logged."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.js_errors = errors  # a test that breaks the network on purpose clears what it caused
    yield page
    context.close()
    assert errors == [], "the page logged JavaScript errors"
