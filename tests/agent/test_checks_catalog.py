"""The catalog as a whole: its declared contract, evaluate's gates, a seat's readiness,
determinism, and robustness against any report."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readyfloor_agent import report
from readyfloor_agent.checks import (
    CATALOG,
    CheckResult,
    Policy,
    Readiness,
    State,
    catalog,
    evaluate,
    fix_for,
    get_check,
    readiness_of,
)
from readyfloor_agent.checks.catalog import with_report_time

from .factsbuilder import CTI, NOW, POLICY, SEATS, changed, exception

CHECKS_MD_ORDER = [
    "agent.fresh",
    "chrome.installed",
    "os.mic.device_access",
    "os.mic.chrome",
    "chrome.mic.global",
    "chrome.mic.site",
    "chrome.notifications.site",
    "audio.headset.present",
    "audio.headset.default",
    "chrome.mic.device",
    "os.mic.exclusive",
    "os.mic.in_use",
]
OSES = ["windows", "macos", "linux"]


# --- the declared contract -------------------------------------------------------------------


def test_catalog_holds_the_twelve_checks_in_checks_md_order() -> None:
    assert [check.id for check in CATALOG] == CHECKS_MD_ORDER


def test_every_check_declares_valid_metadata() -> None:
    for check in CATALOG:
        assert check.severity in ("critical", "warning"), check.id
        assert check.platforms and set(check.platforms) <= set(OSES), check.id
        assert check.area == check.id.split(".")[0], check.id
        assert check.title and check.description, check.id
        assert json.loads(json.dumps(check.to_dict()))["id"] == check.id


def test_platforms_follow_checks_md() -> None:
    assert get_check("os.mic.device_access").platforms == ("windows",)
    assert get_check("os.mic.chrome").platforms == ("windows", "macos")
    assert get_check("os.mic.exclusive").platforms == ("windows",)


def _schema_has_path(path: str) -> bool:
    """True when a catalog fact path such as ``chrome.profiles[].mic_exceptions`` exists in
    report.schema.json's ``$defs/facts``."""
    defs = report.schema()["$defs"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        return node

    node = resolve(defs["facts"])
    for part in path.split("."):
        is_list = part.endswith("[]")
        name = part[:-2] if is_list else part
        properties = node.get("properties", {})
        if name not in properties:
            return False
        node = resolve(properties[name])
        if is_list:
            node = resolve(node["items"])
    return True


@pytest.mark.parametrize("check", CATALOG, ids=lambda check: check.id)
def test_every_fact_a_check_reads_exists_in_the_schema(check: Any) -> None:
    missing = [path for path in check.reads if not _schema_has_path(path)]
    assert not missing


@pytest.mark.parametrize("os_name", OSES)
@pytest.mark.parametrize("check", CATALOG, ids=lambda check: check.id)
def test_every_check_has_short_plain_fix_steps_for_every_os(check: Any, os_name: str) -> None:
    fix = fix_for(check.id, os_name)
    assert 1 <= len(fix.steps) <= 6
    assert all(10 <= len(step) <= 200 for step in fix.steps)
    assert len(fix.it_note) >= 20


def test_fix_for_rejects_unknown_checks_and_systems() -> None:
    with pytest.raises(KeyError):
        fix_for("chrome.mic.camera", "windows")
    with pytest.raises(ValueError, match="os"):
        fix_for("chrome.mic.site", "android")
    with pytest.raises(KeyError):
        get_check("nope")


def test_windows_fleet_notes_name_the_fleet_wide_levers() -> None:
    assert "AudioCaptureAllowedUrls" in fix_for("chrome.mic.site", "windows").it_note
    assert "LetAppsAccessMicrophone" in fix_for("os.mic.chrome", "windows").it_note
    assert "can never grant" in fix_for("os.mic.chrome", "macos").it_note


# --- evaluate's gates ------------------------------------------------------------------------


@pytest.mark.parametrize("os_name", OSES)
def test_a_ready_seat_is_ready(os_name: str) -> None:
    facts = SEATS[os_name]()
    report.validate("facts", facts)
    results = evaluate(facts, POLICY, now=NOW)
    assert [r.check_id for r in results] == CHECKS_MD_ORDER
    assert {r.state for r in results} <= {State.PASS, State.NA}, [(r.check_id, r.reason) for r in results]
    assert readiness_of(results) is Readiness.READY


def test_a_seat_that_never_reported_is_unknown_everywhere() -> None:
    results = evaluate(None, POLICY, now=NOW)
    assert all(r.state is State.UNKNOWN and r.reason == "no report from this seat yet" for r in results)
    assert readiness_of(results) is Readiness.UNKNOWN


def test_disabled_checks_are_not_applicable() -> None:
    policy = Policy(cti_origins=(CTI,), disabled_checks=("os.mic.in_use", "chrome.mic.site"))
    facts = changed(SEATS["windows"](), {"audio.holders": [{"app": "Teams.exe", "since": None}]})
    results = {r.check_id: r for r in evaluate(facts, policy, now=NOW)}
    for check_id in policy.disabled_checks:
        assert (results[check_id].state, results[check_id].reason) == (State.NA, "disabled by policy")
    assert readiness_of(results.values()) is Readiness.READY


def test_unknown_os_leaves_platform_specific_checks_unknown() -> None:
    facts = changed(SEATS["windows"](), {"host.os": "beos"})
    results = {r.check_id: r for r in evaluate(facts, POLICY, now=NOW)}
    assert results["os.mic.device_access"].state is State.UNKNOWN
    assert "which operating system" in results["os.mic.device_access"].reason
    assert results["chrome.mic.site"].state is State.PASS


GROUPS_READ = {
    "os_mic": ["os.mic.device_access", "os.mic.chrome"],
    "chrome": ["chrome.installed", "chrome.mic.global", "chrome.mic.site", "chrome.notifications.site"],
    "audio": ["audio.headset.present", "audio.headset.default", "os.mic.exclusive", "os.mic.in_use"],
}


@pytest.mark.parametrize("group", list(GROUPS_READ))
def test_an_unreadable_group_makes_its_checks_unknown_with_its_reason_never_failed(group: str) -> None:
    facts = SEATS["windows"]()
    facts[group] = {
        "status": "unknown",
        "source": "osquery:registry",
        "reason": "osquery timed out after 10 s",
    }
    if group == "chrome":
        facts[group]["installed"] = None
    report.validate("facts", facts)
    results = {r.check_id: r for r in evaluate(facts, POLICY, now=NOW)}
    for check_id in GROUPS_READ[group]:
        assert results[check_id].state is State.UNKNOWN, check_id
        assert "osquery timed out after 10 s" in results[check_id].reason
    assert not [r for r in results.values() if r.state is State.FAIL]


def test_a_group_missing_from_the_report_is_unknown() -> None:
    facts = SEATS["linux"]()
    del facts["audio"]
    _, result = judged_facts(facts, "audio.headset.present")
    assert result.state is State.UNKNOWN
    assert "no facts about the audio devices" in result.reason


def judged_facts(facts: dict[str, Any], check_id: str) -> tuple[list[CheckResult], CheckResult]:
    results = evaluate(facts, POLICY, now=NOW)
    return results, next(r for r in results if r.check_id == check_id)


# --- agent.fresh -----------------------------------------------------------------------------

FRESHNESS = [
    # (minutes since the last report, window seconds, state, reason)
    (42, 900, State.FAIL, "last report 42 min ago (window 15 min)"),
    (3, 900, State.PASS, "last report 3 min ago (window 15 min)"),
    (15, 900, State.PASS, "last report 15 min ago (window 15 min)"),
    (16, 900, State.FAIL, "last report 16 min ago (window 15 min)"),
    (60 * 26, 3600, State.FAIL, "last report 26 h ago (window 60 min)"),
    (60 * 24 * 3, 900, State.FAIL, "last report 3 days ago (window 15 min)"),
    (-2, 900, State.PASS, "last report just now (window 15 min)"),
]


@pytest.mark.parametrize(("minutes", "window", "state", "reason"), FRESHNESS)
def test_agent_fresh(minutes: int, window: int, state: State, reason: str) -> None:
    policy = Policy(cti_origins=(CTI,), freshness_s=window)
    last_seen = NOW - dt.timedelta(minutes=minutes)
    results = evaluate(SEATS["windows"](), policy, last_seen=last_seen, now=NOW)
    fresh = results[0]
    assert (fresh.check_id, fresh.state, fresh.reason) == ("agent.fresh", state, reason)
    assert readiness_of(results) is (Readiness.OFFLINE if state is State.FAIL else Readiness.READY)


def test_agent_fresh_is_judged_even_when_the_report_is_garbage() -> None:
    results = evaluate(["not", "facts"], POLICY, last_seen=NOW - dt.timedelta(hours=2), now=NOW)
    assert results[0].state is State.FAIL
    assert all(x.state is State.UNKNOWN for x in results[1:] if x.state is not State.NA)
    assert readiness_of(results) is Readiness.OFFLINE


def test_agent_fresh_on_the_seat_itself_is_not_applicable() -> None:
    fresh = evaluate(SEATS["macos"](), POLICY, now=NOW)[0]
    assert (fresh.state, fresh.reason) == (State.NA, "checked on the seat itself")


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    fresh = evaluate(
        SEATS["windows"](), POLICY, last_seen=naive_now - dt.timedelta(minutes=5), now=naive_now
    )[0]
    assert fresh.reason == "last report 5 min ago (window 15 min)"


def test_naive_now_is_compared_with_expirations_as_utc() -> None:
    expiring = exception("https://acme.my.salesforce.com:443,*", 1, expiration="2026-11-03T09:00:00Z")
    facts = changed(SEATS["windows"](), {"chrome.profiles[0].mic_exceptions": [expiring]})
    site = {x.check_id: x for x in evaluate(facts, POLICY, now=NOW.replace(tzinfo=None))}["chrome.mic.site"]
    assert site.state is State.PASS
    later = {x.check_id: x for x in evaluate(facts, POLICY, now=NOW + dt.timedelta(hours=1))}[
        "chrome.mic.site"
    ]
    assert later.state is State.WARN


def test_evaluate_without_now_uses_the_current_time() -> None:
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
    assert evaluate(SEATS["windows"](), POLICY, last_seen=recent)[0].state is State.PASS


# --- readiness -------------------------------------------------------------------------------


def r(check_id: str, state: State, severity: str = "critical", **evidence: Any) -> CheckResult:
    return CheckResult(check_id, state, f"{check_id} is {state.value}", severity, evidence)


READINESS = [
    (
        "everything passes",
        [r("chrome.mic.site", State.PASS), r("os.mic.in_use", State.NA, "warning")],
        Readiness.READY,
    ),
    (
        "a warning",
        [r("chrome.mic.site", State.WARN), r("os.mic.in_use", State.PASS, "warning")],
        Readiness.AT_RISK,
    ),
    (
        "a failed warning-level check",
        [r("chrome.notifications.site", State.FAIL, "warning")],
        Readiness.AT_RISK,
    ),
    ("an unreadable warning-level check", [r("os.mic.in_use", State.UNKNOWN, "warning")], Readiness.AT_RISK),
    (
        "an unreadable critical check",
        [r("os.mic.chrome", State.UNKNOWN), r("chrome.mic.site", State.WARN)],
        Readiness.UNKNOWN,
    ),
    (
        "a critical failure beats an unreadable check",
        [r("os.mic.chrome", State.UNKNOWN), r("chrome.mic.site", State.FAIL)],
        Readiness.NOT_READY,
    ),
    (
        "a stale seat is offline whatever else",
        [r("agent.fresh", State.FAIL), r("chrome.mic.site", State.FAIL)],
        Readiness.OFFLINE,
    ),
    (
        "never reported",
        [
            r("agent.fresh", State.UNKNOWN, no_report=True),
            r("chrome.mic.site", State.UNKNOWN, no_report=True),
        ],
        Readiness.UNKNOWN,
    ),
    ("nothing judged", [], Readiness.UNKNOWN),
    ("only not-applicable checks", [r("os.mic.in_use", State.NA)], Readiness.UNKNOWN),
]


@pytest.mark.parametrize(("case", "results", "expected"), READINESS, ids=[row[0] for row in READINESS])
def test_readiness_of(case: str, results: list[CheckResult], expected: Readiness) -> None:
    assert readiness_of(results) is expected


def test_policy_severity_decides_whether_a_failure_makes_a_seat_not_ready() -> None:
    contention = {
        "audio.inputs[0].exclusive_mode": True,
        "audio.holders": [{"app": "Teams.exe", "since": None}],
    }
    facts = changed(SEATS["windows"](), contention)
    assert readiness_of(evaluate(facts, POLICY, now=NOW)) is Readiness.AT_RISK
    strict = Policy(cti_origins=(CTI,), severities={"os.mic.exclusive": "critical"})
    assert readiness_of(evaluate(facts, strict, now=NOW)) is Readiness.NOT_READY


def test_readiness_rank_orders_worse_seats_higher() -> None:
    ranked = sorted(Readiness, key=lambda readiness: readiness.rank)
    assert ranked == [
        Readiness.READY,
        Readiness.AT_RISK,
        Readiness.UNKNOWN,
        Readiness.NOT_READY,
        Readiness.OFFLINE,
    ]


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("os_name", OSES)
def test_same_inputs_give_the_same_results(os_name: str) -> None:
    facts = changed(
        SEATS[os_name](),
        {
            "chrome.profiles[0].mic_exceptions": [
                exception("https://app.hubspot.com:443,*", 2),
                exception("https://acme.lightning.force.com:443,*", 1),
            ]
        },
    )
    policy = Policy(cti_origins=(CTI, "https://app.hubspot.com"))
    last_seen = NOW - dt.timedelta(minutes=7)
    first = evaluate(facts, policy, last_seen=last_seen, now=NOW)
    second = evaluate(
        json.loads(json.dumps(facts)), Policy.from_dict(policy.to_dict()), last_seen=last_seen, now=NOW
    )
    assert first == second
    assert json.dumps([x.to_dict() for x in first]) == json.dumps([x.to_dict() for x in second])


def test_evaluate_does_not_modify_the_facts() -> None:
    facts = SEATS["windows"]()
    before = json.dumps(facts, sort_keys=True)
    evaluate(facts, POLICY, now=NOW)
    assert json.dumps(facts, sort_keys=True) == before


# --- robustness ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
FACT_KEYS = [
    "status",
    "source",
    "reason",
    "os",
    "installed",
    "version",
    "profiles",
    "policy",
    "inputs",
    "holders",
    "dir",
    "last_used_profile",
    "mic_exceptions",
    "pattern",
    "setting",
    "model",
    "AudioCaptureAllowed",
    "AudioCaptureAllowedUrls",
    "state",
    "name",
    "id",
    "is_default",
    "exclusive_mode",
    "chrome_tcc",
    "desktop_apps",
    "audio_input_ranking",
    "mic_default",
    "vendor_id",
    "product_id",
    "transport",
    "form_factor",
    "last_modified",
    "expiration",
    "notification_exceptions",
    "notifications_default",
    "default_audio_capture_device",
    "is_default_communications",
    "app",
    "since",
    "tcc_db",
    "device_access",
    "user_access",
    "group_policy",
    "DefaultMediaStreamSetting",
    "DefaultNotificationsSetting",
    "NotificationsBlockedForUrls",
    "NotificationsAllowedForUrls",
    "last_used",
]
fact_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 4)
    | st.sampled_from(
        [
            "ok",
            "unknown",
            "n/a",
            "missing",
            "active",
            "windows",
            "macos",
            "linux",
            "allow",
            "deny",
            "*",
            "https://acme.my.salesforce.com:443,*",
            "[*.]",
            "default",
            "headset",
            "usb",
            "2026-10-02T09:14:31Z",
            "0b0e",
            "bluetooth",
            "not-a-date",
            "Teams.exe",
        ]
    ),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(FACT_KEYS), children, max_size=5),
    max_leaves=30,
)
PATHS = [
    "host",
    "host.os",
    "os_mic",
    "os_mic.status",
    "chrome",
    "chrome.profiles",
    "chrome.profiles[0]",
    "chrome.profiles[0].mic_exceptions",
    "chrome.profiles[0].mic_exceptions[0]",
    "chrome.profiles[0].mic_exceptions[0].pattern",
    "chrome.profiles[0].mic_exceptions[0].setting",
    "chrome.profiles[0].audio_input_ranking",
    "chrome.policy",
    "chrome.policy.AudioCaptureAllowedUrls",
    "chrome.last_used_profile",
    "chrome.version",
    "audio",
    "audio.inputs",
    "audio.inputs[0]",
    "audio.inputs[0].name",
    "audio.inputs[0].state",
    "audio.holders",
    "audio.holders[0]",
]


def _assert_well_formed(results: list[CheckResult]) -> None:
    assert [x.check_id for x in results] == CHECKS_MD_ORDER
    for result in results:
        assert isinstance(result.state, State)
        assert isinstance(result.reason, str) and result.reason and "\n" not in result.reason
        json.dumps(result.to_dict())
    assert isinstance(readiness_of(results), Readiness)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(facts=json_values)
def test_evaluate_never_raises_on_arbitrary_json(facts: Any) -> None:
    _assert_well_formed(evaluate(facts, POLICY, now=NOW))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(os_name=st.sampled_from(OSES), path=st.sampled_from(PATHS), junk=fact_like)
def test_evaluate_never_raises_on_a_report_with_one_garbled_part(os_name: str, path: str, junk: Any) -> None:
    seat = changed(SEATS[os_name](), {"audio.holders": [{"app": "Teams.exe", "since": None}]})
    facts = changed(seat, {path: junk})
    results = evaluate(facts, Policy(cti_origins=(CTI,), approved_headsets=("*Jabra*",)), now=NOW)
    _assert_well_formed(results)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(groups=st.dictionaries(st.sampled_from(["host", "os_mic", "chrome", "audio"]), fact_like, max_size=4))
def test_evaluate_never_raises_on_garbled_groups(groups: dict[str, Any]) -> None:
    _assert_well_formed(evaluate(groups, POLICY, last_seen=NOW, now=NOW))


def test_garbage_in_a_group_gives_unknown_not_a_verdict() -> None:
    facts = changed(SEATS["windows"](), {"audio": "pactl exploded"})
    results = {x.check_id: x for x in evaluate(facts, POLICY, now=NOW)}
    assert results["audio.headset.present"].state is State.UNKNOWN


def test_schema_valid_reports_are_judged_without_the_safety_net() -> None:
    # The catch-all in evaluate is for reports no schema checked; valid ones never reach it.
    cases = [SEATS[name]() for name in OSES]
    cases.append(
        changed(SEATS["windows"](), {"chrome.profiles": [], "audio.inputs": [], "audio.holders": None})
    )
    for facts in cases:
        report.validate("facts", facts)
        for result in evaluate(facts, POLICY, now=NOW):
            assert "error" not in result.evidence, (result.check_id, result.evidence)


# --- no Django -------------------------------------------------------------------------------


def test_catalog_imports_no_django() -> None:
    code = "import readyfloor_agent.checks, sys; assert not any(m.startswith('django') for m in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr


def test_catalog_source_is_python_39_compatible() -> None:
    # The agent runs on Python 3.9: no match statements and no PEP 604 unions evaluated at run time.
    import pathlib

    import readyfloor_agent.checks as package

    for path in pathlib.Path(package.__file__).parent.glob("*.py"):
        source = path.read_text("utf-8")
        assert "from __future__ import annotations" in source, path.name
        assert not re.search(r"^\s*match\s+\S.*:\s*$", source, re.MULTILINE), path.name


@pytest.mark.parametrize("name", sorted(SEATS))
@pytest.mark.parametrize("minutes_ago", [None, 0, 5, 60 * 24])
def test_results_shared_between_seats_with_the_same_facts_equal_their_own_evaluation(name, minutes_ago):
    facts = SEATS[name]()
    last_seen = None if minutes_ago is None else NOW - dt.timedelta(minutes=minutes_ago)
    shared = evaluate(facts, POLICY, last_seen=NOW, now=NOW)

    assert with_report_time(shared, facts, POLICY, last_seen=last_seen, now=NOW) == evaluate(
        facts, POLICY, last_seen=last_seen, now=NOW
    )


def test_no_check_reads_host_facts_beyond_the_os() -> None:
    for check in CATALOG:
        assert not any(path.startswith("host.") for path in check.reads), check.id


@pytest.mark.parametrize("name", sorted(SEATS))
@given(
    hostname=st.text(max_size=20), serial=st.one_of(st.none(), st.text(max_size=12)), user=st.text(max_size=8)
)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_seats_that_differ_only_in_host_identity_get_the_same_verdict(name, hostname, serial, user):
    facts = SEATS[name]()
    other = changed(facts, {"host.hostname": hostname, "host.serial": serial, "host.console_user": user})

    assert evaluate(other, POLICY, now=NOW) == evaluate(facts, POLICY, now=NOW)
    assert catalog.judged_facts(other) == catalog.judged_facts(facts)
