"""The heartbeat shortcut: the server skips jsonschema for a heartbeat only when the
schema would certainly accept it. It may decline a valid document (the full validation
then runs), but it must never accept an invalid one."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent import report
from readyfloor_agent.report import SchemaError, is_plainly_valid_heartbeat, validate


def heartbeat(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "report_id": str(uuid.uuid4()),
        "collected_at": "2026-11-21T07:00:00.123456Z",
        "schema_version": 1,
        "agent_version": "0.3.0",
        "facts_hash": "ab" * 32,
    }
    body.update(changes)
    return body


def schema_accepts(document: object) -> bool:
    try:
        validate("checkin", document)
    except SchemaError:
        return False
    return True


def test_a_heartbeat_as_the_agent_builds_it_takes_the_shortcut() -> None:
    body = report.build_checkin(
        {"x": 1}, last_acknowledged_hash=report.facts_hash({"x": 1}), dropped_reports=2
    )

    assert "facts_hash" in body
    assert is_plainly_valid_heartbeat(body)
    assert schema_accepts(body)


@pytest.mark.parametrize(
    "body",
    [
        heartbeat(report_id="not-a-uuid"),
        heartbeat(collected_at="2026-11-21 07:00:00"),
        heartbeat(collected_at="2026-02-30T07:00:00Z"),
        heartbeat(collected_at="2026-11-21T07:00:00"),
        heartbeat(schema_version=2),
        heartbeat(schema_version=True),
        heartbeat(schema_version=1.0),
        heartbeat(agent_version=""),
        heartbeat(agent_version="x" * 51),
        heartbeat(facts_hash="AB" * 32),
        heartbeat(dropped_reports=-1),
        heartbeat(dropped_reports=True),
        heartbeat(surprise=1),
        heartbeat(facts={}),
        {key: value for key, value in heartbeat().items() if key != "agent_version"},
        {key: value for key, value in heartbeat().items() if key != "facts_hash"},
        [heartbeat()],
    ],
    ids=lambda body: str(body)[:60],
)
def test_anything_off_the_schema_is_left_to_the_full_validation(body: object) -> None:
    assert not is_plainly_valid_heartbeat(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=6,
)
field_values = json_values | st.sampled_from(
    ["2026-11-21T07:00:00Z", "2026-11-21T07:00:00+02:00", "2026-13-01T00:00:00Z", "cd" * 32, "0.1", 0, 1, -3]
)
field_names = st.sampled_from(
    [
        "report_id",
        "collected_at",
        "schema_version",
        "agent_version",
        "facts_hash",
        "dropped_reports",
        "facts",
        "x",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(field_names, field_values, max_size=3), dropped=st.sets(field_names, max_size=2)
)
def test_the_shortcut_never_accepts_what_the_schema_refuses(
    changes: dict[str, object], dropped: set[str]
) -> None:
    body = {key: value for key, value in heartbeat(**changes).items() if key not in dropped}

    if is_plainly_valid_heartbeat(body):
        assert schema_accepts(body), body
