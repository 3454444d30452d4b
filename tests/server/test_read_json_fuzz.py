"""The server's body reader (read_json) against any bytes, encodings and content types: a
4xx JSON naming what is wrong, or an accepted report, never a 5xx (issue 11, item 7)."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.fleet.models import CheckIn, FactSnapshot
from tests.agent.json_documents import json_values
from tests.server.reports import checkin_body, enroll_body, healthy_facts
from tests.server.test_agent_api import CHECKIN, ENROLL, post

pytestmark = pytest.mark.django_db

VALID = json.dumps(checkin_body(healthy_facts()))
literals = st.sampled_from(
    ["NaN", "-Infinity", "1e999", "9" * 4400, "-0", "1.5e-400", '"\\u0000"', '"\\ud800"', "[" * 2000, "{}"]
)
raw_bodies = st.one_of(
    st.binary(max_size=400),
    json_values.map(lambda value: json.dumps(value).encode()),
    literals.map(
        lambda literal: VALID.replace('"agent_version": "', f'"x": {literal}, "agent_version": "').encode()
    ),
    st.integers(min_value=0, max_value=len(VALID)).map(lambda cut: VALID[:cut].encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=raw_bodies,
    compress=st.sampled_from(["no", "yes", "truncated", "lie"]),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
    url=st.sampled_from([CHECKIN, ENROLL]),
)
def test_any_body_is_a_4xx_json_or_accepted_never_a_5xx(
    client, node_key, raw, compress, content_type, url
) -> None:
    headers = {}
    if compress != "no":
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
        if compress in ("yes", "truncated"):
            raw = gzip.compress(raw)
        if compress == "truncated":
            raw = raw[: len(raw) // 2]
    before = (CheckIn.objects.count(), FactSnapshot.objects.count())

    response = client.post(
        url, data=raw, content_type=content_type, HTTP_AUTHORIZATION=f"NodeKey {node_key}", **headers
    )

    assert response.status_code < 500, (raw[:200], response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]
        assert (CheckIn.objects.count(), FactSnapshot.objects.count()) == before


@pytest.fixture
def node_key(client, enroll_secret, seats, policy) -> str:
    return post(client, ENROLL, enroll_body(enroll_secret, "fuzz-host", seat=("Floor 1", "A-01"))).json()[
        "node_key"
    ]
