"""RabbitMQ as the broker: the worker tests pass with CELERY_BROKER_URL naming RabbitMQ.

The suite honours CELERY_BROKER_URL like the server does, so
`CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// pytest -m worker` runs every worker
test on RabbitMQ. This test does exactly that for the evaluation worker tests (a failing
report flags the seat through the worker; a check-in accepted while the broker is down is
evaluated by the sweep), in a pytest of its own with a database and a queue of its own, so
the default run proves both brokers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
RABBITMQ_URL = os.getenv("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def rabbitmq_answers() -> bool:
    parts = urlsplit(RABBITMQ_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2):
            return True
    except OSError:
        return False


def test_the_server_settings_take_rabbitmq_with_durable_persistent_confirmed_publishing() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL, s.BROKER_IS_AMQP, s.CELERY_BROKER_TRANSPORT_OPTIONS['confirm_publish'], "
        "s.CELERY_TASK_DEFAULT_DELIVERY_MODE)"
    )
    env = dict(os.environ, CELERY_BROKER_URL=RABBITMQ_URL, DJANGO_SETTINGS_MODULE="server.settings")
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [RABBITMQ_URL, "True", "True", "persistent"]


@pytest.mark.skipif(
    not rabbitmq_answers(), reason=f"no RabbitMQ answers at {RABBITMQ_URL} (set TEST_RABBITMQ_URL)"
)
def test_the_worker_tests_pass_with_rabbitmq_as_the_broker() -> None:
    from django.conf import settings

    env = dict(
        os.environ,
        CELERY_BROKER_URL=RABBITMQ_URL,
        CELERY_QUEUE=f"readyfloor-test-amqp-{uuid.uuid4().hex[:8]}",
        # The outer run holds its own test database; this one gets another.
        TEST_DATABASE_NAME=f"test_{settings.DATABASES['default']['NAME']}_amqp",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-m", "worker",
         "tests/server/test_evaluation.py", "--create-db"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for scenario in (
        "test_a_failing_report_flags_the_seat_and_a_fixed_one_clears_it",
        "test_a_checkin_accepted_while_redis_was_down_is_evaluated_by_the_sweep",
    ):
        assert f"{scenario} PASSED" in done.stdout, done.stdout[-4000:]
