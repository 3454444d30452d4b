"""Two validators, one verdict. Where jsonschema-rs is installed (the server), it accepts
valid reports in microseconds and jsonschema runs only to name what is wrong. So it must
never accept a document jsonschema refuses; refusing more is fine (jsonschema then decides)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from readyfloor_agent import report
from readyfloor_agent.report import SchemaError
from readyfloor_agent.simulate import scenario_facts

from .json_documents import json_values, paths

jsonschema_rs = pytest.importorskip("jsonschema_rs")


def python_accepts(kind: str, document: object) -> bool:
    """jsonschema alone: the authority."""
    import jsonschema

    return jsonschema.exceptions.best_match(report._validator(kind).iter_errors(document)) is None


def fast_accepts(kind: str, document: object) -> bool:
    return bool(report._fast_validator(kind).is_valid(document))


FACTS = [
    scenario_facts(name, os=os_name, seat_label="B-07")
    for name, os_name in [
        ("healthy", "windows"),
        ("site_blocked", "linux"),
        ("tcc_denied", "macos"),
        ("no_headset", "windows"),
    ]
]


def heartbeat(**changes: object) -> dict[str, object]:
    body = report.build_checkin({"x": 1}, last_acknowledged_hash=report.facts_hash({"x": 1}))
    body.update(changes)
    return body


def test_reports_as_the_agent_builds_them_pass_both() -> None:
    for facts in FACTS:
        for body in (report.build_checkin(facts), heartbeat(), heartbeat(dropped_reports=3)):
            assert fast_accepts("checkin", body) and python_accepts("checkin", body)
            report.validate("checkin", body)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"report_id": "not-a-uuid"}, "report_id"),
        ({"collected_at": "2026-11-21 07:00:00"}, "collected_at"),
        ({"schema_version": True}, "schema_version"),
        ({"facts_hash": "AB" * 32}, "facts_hash"),
        ({"dropped_reports": -1}, "dropped_reports"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_an_invalid_report_is_still_named_by_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(SchemaError) as raised:
        report.validate("checkin", heartbeat(**change))

    assert raised.value.field == field


likely_strings = st.sampled_from(
    [
        "ok",
        "unknown",
        "denied",
        "allowed",
        "windows",
        "2026-11-21T07:00:00Z",
        "ab" * 32,
        "",
        "x\n",
        str(uuid.uuid4()),
    ]
)


@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_the_fast_validator_never_accepts_what_jsonschema_refuses(data: st.DataObject) -> None:
    body: Any = copy.deepcopy(report.build_checkin(data.draw(st.sampled_from(FACTS))))
    if data.draw(st.booleans()):
        body = heartbeat()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(body)))
        if not path:
            continue
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(json_values | likely_strings)
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(json_values)

    accepted = fast_accepts("checkin", body)
    event(f"jsonschema-rs accepts: {accepted}")
    if accepted:
        assert python_accepts("checkin", body), body
