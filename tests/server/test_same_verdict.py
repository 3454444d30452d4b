"""The seat and the server agree: the facts of every fixture bundle, judged by the agent's
self-check with the policy it fetched from /config, and judged by the server after a real
check-in, give the same state and reason for every check."""

from __future__ import annotations

from pathlib import Path

import pytest
from readyfloor_agent import checks
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.collectors import collect
from readyfloor_agent.report import build_checkin

from server.compliance import evaluation
from server.compliance.models import CheckResult
from server.fleet.models import Device
from tests.server.reports import enroll_body
from tests.server.test_agent_api import CHECKIN, CONFIG, ENROLL, post

pytestmark = pytest.mark.django_db

BUNDLES = sorted(
    p for p in (Path(__file__).resolve().parent.parent / "fixtures" / "bundles").iterdir() if p.is_dir()
)


@pytest.mark.parametrize("bundle", BUNDLES, ids=[p.name for p in BUNDLES])
def test_the_seat_and_the_server_give_the_same_verdict(client, enroll_secret, seats, policy, bundle):
    facts = collect(open_bundle(bundle))
    key = post(client, ENROLL, enroll_body(enroll_secret, bundle.name, seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
    seat_policy = checks.Policy.from_dict(
        client.get(CONFIG, HTTP_AUTHORIZATION=f"NodeKey {key}").json()["policy"]
    )

    on_the_seat = {r.check_id: (r.state.value, r.reason) for r in checks.evaluate(facts, seat_policy)}
    assert post(client, CHECKIN, build_checkin(facts), key=key).status_code == 202
    evaluation.evaluate_device(Device.objects.get(host_identifier=bundle.name).pk)
    on_the_server = {
        r.check_id: (r.state, r.reason)
        for r in CheckResult.objects.filter(device__host_identifier=bundle.name)
    }

    # Freshness is the one thing only the server can know (when it last heard from the seat).
    del on_the_seat["agent.fresh"], on_the_server["agent.fresh"]
    assert on_the_server == on_the_seat
