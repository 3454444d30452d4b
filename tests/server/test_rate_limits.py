"""Rate limits on enrolment and check-ins (issue 11, item 4): per node key, per address (for
check-ins, only those refused for their node key) and per secret, counted in the real Redis;
429 with Retry-After, which the real agent honours."""

from __future__ import annotations

import random
import uuid

import pytest
from readyfloor_agent.client import AgentClient, Unavailable
from readyfloor_agent.config import AgentSettings, Seat
from readyfloor_agent.service import AgentService

from server.agent_api import throttle
from server.fleet.models import CheckIn, Device
from tests.server.reports import checkin_body, enroll_body, healthy_facts
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Rate limits on, counted under a prefix of this test's own in the shared Redis."""
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CACHE_PREFIX = f"rl-test-{uuid.uuid4().hex}:"
    throttle._redis_failed_at = 0.0
    return settings


def enrolled_key(client, secret: str, host: str = "host-1") -> str:
    return post(client, ENROLL, enroll_body(secret, host)).json()["node_key"]


def assert_limited(response, field: str) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"] == "rate_limited"
    assert response.json()["field"] == field
    assert 1 <= int(response["Retry-After"]) <= 60


def test_check_ins_per_node_key_are_limited_with_retry_after(
    client, enroll_secret, seats, policy, limits
) -> None:
    limits.READYFLOOR_RATE_CHECKIN_PER_NODE_KEY = "5/m"
    key = enrolled_key(client, enroll_secret)
    statuses = [post(client, CHECKIN, checkin_body(healthy_facts()), key=key).status_code for _ in range(5)]

    response = post(client, CHECKIN, checkin_body(healthy_facts()), key=key)

    assert statuses == [202] * 5
    assert_limited(response, "(node key)")
    assert CheckIn.objects.count() == 5, "the limited report is not stored"
    other = enrolled_key(client, enroll_secret, "host-2")
    assert post(client, CHECKIN, checkin_body(healthy_facts()), key=other).status_code == 202


def test_check_ins_refused_for_their_node_key_are_limited_per_address(
    client, enroll_secret, seats, policy, limits
) -> None:
    limits.READYFLOOR_RATE_CHECKIN_PER_ADDRESS = "3/m"
    guesses = [
        post(client, CHECKIN, checkin_body(healthy_facts()), key=f"guessed-key-{n}").status_code
        for n in range(3)
    ]

    response = post(client, CHECKIN, checkin_body(healthy_facts()), key="guessed-key-again")

    assert guesses == [401] * 3
    assert_limited(response, "(address)")
    elsewhere = post(client, CHECKIN, checkin_body(healthy_facts()), key="guessed", REMOTE_ADDR="192.0.2.7")
    assert elsewhere.status_code == 401
    assert CheckIn.objects.count() == 0


def test_a_site_behind_one_nat_address_is_not_limited_per_address(
    client, enroll_secret, seats, policy, limits
) -> None:
    limits.READYFLOOR_RATE_CHECKIN_PER_ADDRESS = "3/m"
    keys = [enrolled_key(client, enroll_secret, f"host-{n}") for n in range(6)]

    statuses = [post(client, CHECKIN, checkin_body(healthy_facts()), key=key).status_code for key in keys]

    assert statuses == [202] * 6
    assert CheckIn.objects.count() == 6


def test_enrolments_per_address_are_limited_even_with_wrong_secrets(client, seats, limits) -> None:
    limits.READYFLOOR_RATE_ENROLL_PER_ADDRESS = "10/m"
    wrong = [post(client, ENROLL, enroll_body("wrong-secret-" + str(n))).status_code for n in range(10)]

    response = post(client, ENROLL, enroll_body("wrong-secret-again"))

    assert wrong == [403] * 10
    assert_limited(response, "(address)")


def test_enrolments_per_secret_are_limited(client, enroll_secret, seats, limits) -> None:
    limits.READYFLOOR_RATE_ENROLL_PER_SECRET = "2/m"
    for n in range(2):
        assert post(client, ENROLL, enroll_body(enroll_secret, f"host-{n}")).status_code == 201

    response = post(client, ENROLL, enroll_body(enroll_secret, "host-3"), REMOTE_ADDR="192.0.2.9")

    assert_limited(response, "enroll_secret")
    assert Device.objects.count() == 2


def test_without_redis_the_limits_step_aside_and_check_ins_flow(
    client, enroll_secret, seats, policy, limits
) -> None:
    from django.core.cache import caches

    limits.READYFLOOR_RATE_CHECKIN_PER_NODE_KEY = "1/m"
    limits.CACHES = {
        **limits.CACHES,
        "ratelimit": {**limits.CACHES["ratelimit"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    caches["ratelimit"].close()
    del caches["ratelimit"]
    key = enrolled_key(client, enroll_secret)

    statuses = [post(client, CHECKIN, checkin_body(healthy_facts()), key=key).status_code for _ in range(3)]

    assert statuses == [202, 202, 202]
    del caches["ratelimit"]


@pytest.mark.django_db(transaction=True)
def test_the_agent_honours_the_servers_429_retry_after(
    live_server, enroll_secret, seats, policy, limits, tmp_path
):
    limits.READYFLOOR_RATE_CHECKIN_PER_NODE_KEY = "1/m"
    now = [1000.0]
    service = AgentService(
        AgentSettings(
            server=live_server.url,
            enroll_secret=enroll_secret,
            state_dir=tmp_path,
            seat=Seat("Floor 1", "A-01"),
        ),
        collect_facts=healthy_facts,
        clock=lambda: now[0],
        wait=lambda _seconds: None,
        rng=random.Random(3),
    )
    service.step()  # enrols, and its first report is the one the minute allows
    assert CheckIn.objects.count() == 1

    now[0] = service._next_collect_at
    service.step()

    assert CheckIn.objects.count() == 1
    assert "429" in (service.last_error or "")
    waited = service._next_send_at - now[0]
    assert waited >= 1, "not before the server's Retry-After"
    with pytest.raises(Unavailable) as refused:
        AgentClient(live_server.url).checkin(service.state.node_key(), checkin_body(healthy_facts()))
    assert refused.value.status == 429 and refused.value.retry_after is not None
    assert service._not_before >= now[0] + refused.value.retry_after - 1
