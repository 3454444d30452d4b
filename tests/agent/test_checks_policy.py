"""Policy and CheckResult: what the server serves and stores, and what the agent rebuilds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from readyfloor_agent.checks import CATALOG, CheckResult, Policy, State

CHECK_IDS = [check.id for check in CATALOG]


def test_default_policy_needs_no_arguments() -> None:
    policy = Policy()
    assert policy.cti_origins == ()
    assert policy.notifications_required is True
    assert policy.min_chrome_major is None
    assert policy.freshness_s == 900
    assert dict(policy.severities) == {}


def test_policy_round_trips_through_json() -> None:
    policy = Policy(
        cti_origins=("https://acme.my.salesforce.com", "https://app.hubspot.com"),
        notifications_required=False,
        min_chrome_major=120,
        approved_headsets=("0b0e:24a1", "*Jabra*"),
        freshness_s=600,
        disabled_checks=("os.mic.in_use",),
        severities={"chrome.notifications.site": "critical"},
    )
    served = json.dumps(policy.to_dict())
    assert Policy.from_dict(json.loads(served)) == policy


@given(
    origins=st.lists(st.sampled_from(["https://a.example.com", "https://app.hubspot.com", "b.example.org"])),
    required=st.booleans(),
    major=st.none() | st.integers(min_value=1, max_value=500),
    headsets=st.lists(st.sampled_from(["0b0e:24a1", "*Jabra*", "Poly*"])),
    freshness=st.integers(min_value=1, max_value=86400),
    disabled=st.lists(st.sampled_from(CHECK_IDS)),
    severities=st.dictionaries(st.sampled_from(CHECK_IDS), st.sampled_from(["critical", "warning"])),
)
def test_any_valid_policy_round_trips(
    origins: list[str],
    required: bool,
    major: int | None,
    headsets: list[str],
    freshness: int,
    disabled: list[str],
    severities: dict[str, str],
) -> None:
    policy = Policy(
        cti_origins=tuple(origins),
        notifications_required=required,
        min_chrome_major=major,
        approved_headsets=tuple(headsets),
        freshness_s=freshness,
        disabled_checks=tuple(disabled),
        severities=severities,
    )
    assert Policy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


def test_policy_is_hashable_and_immutable() -> None:
    policy = Policy(severities={"os.mic.in_use": "critical"})
    assert hash(policy) == hash(Policy(severities={"os.mic.in_use": "critical"}))
    with pytest.raises(AttributeError):
        policy.freshness_s = 5  # type: ignore[misc]


def test_lists_are_stored_as_tuples() -> None:
    policy = Policy(cti_origins=["https://app.hubspot.com"])  # type: ignore[arg-type]
    assert policy.cti_origins == ("https://app.hubspot.com",)


def test_from_dict_fills_missing_keys_and_ignores_unknown_ones() -> None:
    policy = Policy.from_dict({"cti_origins": ["https://app.hubspot.com"], "shift_start": "08:00"})
    assert policy == Policy(cti_origins=("https://app.hubspot.com",))
    assert Policy.from_dict({}) == Policy()
    assert Policy.from_dict(None) == Policy()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"cti_origins": "https://app.hubspot.com"}, "cti_origins"),
        ({"cti_origins": [1]}, "cti_origins"),
        ({"cti_origins": ["not an origin"]}, "cti_origins"),
        ({"cti_origins": ["ftp://files.acme.com"]}, "cti_origins"),
        ({"notifications_required": "yes"}, "notifications_required"),
        ({"min_chrome_major": "120"}, "min_chrome_major"),
        ({"min_chrome_major": True}, "min_chrome_major"),
        ({"min_chrome_major": 0}, "min_chrome_major"),
        ({"approved_headsets": [None]}, "approved_headsets"),
        ({"approved_headsets": [" "]}, "approved_headsets"),
        ({"freshness_s": 15.5}, "freshness_s"),
        ({"freshness_s": -1}, "freshness_s"),
        ({"freshness_s": False}, "freshness_s"),
        ({"disabled_checks": "os.mic.in_use"}, "disabled_checks"),
        ({"severities": ["chrome.mic.site"]}, "severities"),
        ({"severities": {"chrome.mic.site": "high"}}, "severities"),
    ],
)
def test_from_dict_rejects_wrong_types_naming_the_key(data: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        Policy.from_dict(data)


def test_from_dict_rejects_a_non_object() -> None:
    with pytest.raises(ValueError, match="policy"):
        Policy.from_dict(["cti_origins"])  # type: ignore[arg-type]


def test_severity_override_applies_to_its_check_only() -> None:
    policy = Policy(severities={"os.mic.in_use": "critical"})
    by_id = {check.id: check for check in CATALOG}
    assert policy.severity_of(by_id["os.mic.in_use"]) == "critical"
    assert policy.severity_of(by_id["audio.headset.default"]) == "warning"


def test_check_result_round_trips_through_json() -> None:
    result = CheckResult(
        "chrome.mic.site",
        State.FAIL,
        "https://acme.my.salesforce.com is blocked in Chrome profile 'Default' (set 2026-10-02)",
        "critical",
        {"profile": "Default", "origins": {"https://acme.my.salesforce.com": {"state": "fail"}}},
    )
    assert CheckResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize(
    "data",
    [
        {"check_id": "x", "state": "broken", "reason": "", "severity": "critical"},
        {"check_id": "x", "state": "pass", "reason": None, "severity": "critical"},
        {"check_id": "x", "state": "pass", "reason": "", "severity": "critical", "evidence": []},
        "pass",
    ],
)
def test_check_result_from_dict_rejects_malformed_input(data: object) -> None:
    with pytest.raises(ValueError):
        CheckResult.from_dict(data)  # type: ignore[arg-type]
