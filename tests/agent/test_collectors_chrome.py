"""Chrome on every OS: profiles, site exceptions, preferred input, managed policy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent.collectors.chrome import PolicyReading, merge_policies, policy_facts, preference_facts
from readyfloor_agent.collectors.reading import from_1601_microseconds, from_filetime

from .bundle_facts import at, facts_of, last_used_profile
from .fixture_bundles import CTI, preferences

CTI_PATTERN = f"{CTI}:443,*"


def _exception(facts: dict[str, Any], kind: str, pattern: str = CTI_PATTERN) -> dict[str, Any] | None:
    entries = last_used_profile(facts)[kind]
    return next((entry for entry in entries if entry["pattern"] == pattern), None)


@pytest.mark.parametrize(
    ("bundle", "kind", "setting"),
    [
        ("windows-healthy", "mic_exceptions", 1),
        ("windows-healthy", "notification_exceptions", 1),
        ("any-chrome-site-blocked", "mic_exceptions", 2),
        ("any-chrome-notifications-blocked", "notification_exceptions", 2),
        ("any-chrome-several-profiles", "mic_exceptions", 2),
        ("any-chrome-one-time-allow", "mic_exceptions", 1),
        ("macos-healthy", "mic_exceptions", 1),
        ("linux-healthy-pactl", "mic_exceptions", 1),
    ],
)
def test_the_cti_sites_exception_in_the_last_used_profile(bundle: str, kind: str, setting: int) -> None:
    entry = _exception(facts_of(bundle), kind)

    assert entry is not None and entry["setting"] == setting


@pytest.mark.parametrize(
    ("bundle", "path", "expected"),
    [
        ("any-chrome-global-mic-blocked", "mic_default", 2),
        ("any-chrome-global-mic-blocked", "mic_exceptions", []),
        ("any-chrome-notifications-blocked", "notifications_default", 2),
        ("windows-healthy", "mic_default", None),
        ("windows-healthy", "audio_input_ranking", ["default"]),
        (
            "any-chrome-ranking-other-device",
            "audio_input_ranking",
            ["MacBook Pro Microphone (Built-in)", "Jabra Evolve2 40 (0b0e:0305)"],
        ),
        ("windows-healthy", "default_audio_capture_device", None),
        ("any-chrome-preferences-missing", "status", "missing"),
        ("any-chrome-preferences-corrupt", "status", "unknown"),
    ],
)
def test_last_used_profile_facts(bundle: str, path: str, expected: Any) -> None:
    assert at(last_used_profile(facts_of(bundle)), path) == expected


def test_a_one_time_grant_keeps_its_model_and_expiry() -> None:
    entry = _exception(facts_of("any-chrome-one-time-allow"), "mic_exceptions")

    assert entry == {
        "pattern": CTI_PATTERN,
        "setting": 1,
        "model": 3,
        "last_modified": "2024-05-13T15:40:03.904117Z",
        "expiration": "2024-05-13T16:40:03.904117Z",
    }


def test_exceptions_on_other_origins_are_reported_as_chrome_stores_them() -> None:
    patterns = [
        entry["pattern"] for entry in last_used_profile(facts_of("any-chrome-wrong-origin"))["mic_exceptions"]
    ]

    assert sorted(patterns) == [
        "http://acme.my.salesforce.com:80,*",
        "https://acme.lightning.force.com:443,*",
    ]


def test_every_profile_is_reported_and_the_last_used_one_is_marked() -> None:
    chrome = facts_of("any-chrome-several-profiles")["chrome"]

    assert chrome["last_used_profile"] == "Profile 1"
    assert [(p["dir"], p["name"], p["last_used"], p["status"]) for p in chrome["profiles"]] == [
        ("Default", "Acme", False, "ok"),
        ("Profile 1", "Personal", True, "ok"),
        ("Profile 3", "Training", False, "missing"),
    ]


def test_a_corrupt_preferences_file_is_unknown_with_a_reason_and_the_rest_still_reads() -> None:
    facts = facts_of("any-chrome-preferences-corrupt")
    profile = last_used_profile(facts)

    assert "not valid JSON" in profile["reason"]
    assert facts["chrome"]["status"] == "ok"
    assert facts["os_mic"]["status"] == "ok"


def test_a_profile_chrome_never_started_is_missing_not_unknown() -> None:
    profile = last_used_profile(facts_of("any-chrome-preferences-missing"))

    assert profile["reason"].startswith("no Preferences file")


@pytest.mark.parametrize(
    ("document", "reason"),
    [([], "not a JSON object"), ("Preferences", "not a JSON object"), (None, "not a JSON object")],
)
def test_a_document_that_is_not_preferences_is_a_value_error(document: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        preference_facts(document)


@pytest.mark.parametrize(
    ("value", "setting"),
    [(1, 1), (2, 2), (3, 3), (0, 0), (4, None), (-1, None), (True, None), ("1", None), (1.0, None)],
)
def test_only_real_content_settings_are_kept(value: Any, setting: int | None) -> None:
    prefs = json.loads(preferences(defaults={"media_stream_mic": value}))

    assert preference_facts(prefs)["mic_default"] == setting


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        # 11644473600 s separate 1601-01-01 from the Unix epoch.
        ("11644473600000000", "1970-01-01T00:00:00Z"),
        ("13354000000000000", "2024-03-04T04:26:40Z"),
        (13354000000123456, "2024-03-04T04:26:40.123456Z"),
        ("0", None),
        ("", None),
        ("soon", None),
        ("9" * 40, None),
        (None, None),
    ],
)
def test_chrome_timestamps_become_iso_utc(value: Any, iso: str | None) -> None:
    assert from_1601_microseconds(value) == iso


def test_filetimes_become_iso_utc() -> None:
    # FILETIME counts 100 ns steps from 1601: the Unix epoch is 116444736000000000.
    assert from_filetime(116_444_736_000_000_000) == "1970-01-01T00:00:00Z"
    assert from_filetime(133_600_000_000_000_000) == "2024-05-12T15:06:40Z"
    assert from_filetime(0) is None


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=40,
)


def _nest(path: list[str], leaf: Any) -> Any:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(
        [
            [],
            ["profile"],
            ["profile", "default_content_setting_values"],
            ["profile", "content_settings", "exceptions"],
            ["profile", "content_settings", "exceptions", "media_stream_mic"],
            ["profile", "content_settings", "exceptions", "notifications", CTI_PATTERN],
            ["media"],
            ["media", "audio_input", "user_preference_ranking"],
        ]
    ),
    _JSON,
)
def test_any_shape_of_preferences_gives_facts_or_a_value_error(path: list[str], leaf: Any) -> None:
    try:
        facts = preference_facts(_nest(path, leaf))
    except ValueError:
        return
    assert set(facts) == {
        "mic_default",
        "notifications_default",
        "mic_exceptions",
        "notification_exceptions",
        "audio_input_ranking",
        "default_audio_capture_device",
    }


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(preferences(mic={CTI_PATTERN: {"setting": 1}})) - 1))
def test_preferences_cut_anywhere_are_unreadable_not_a_crash(cut: int) -> None:
    text = preferences(mic={CTI_PATTERN: {"setting": 1}})[:cut]
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


# --- policy ------------------------------------------------------------------------------------


def test_later_policy_layers_win_whole_policies() -> None:
    merged = merge_policies(
        [
            {"AudioCaptureAllowed": True, "AudioCaptureAllowedUrls": ["https://a.example"]},
            {"AudioCaptureAllowedUrls": ["https://b.example"], "Unrelated": 1},
        ]
    )

    assert merged == {"AudioCaptureAllowed": True, "AudioCaptureAllowedUrls": ["https://b.example"]}


@pytest.mark.parametrize(
    ("values", "field", "expected", "problem"),
    [
        ({"AudioCaptureAllowed": 0}, "AudioCaptureAllowed", False, False),
        ({"AudioCaptureAllowed": 1}, "AudioCaptureAllowed", True, False),
        ({"AudioCaptureAllowed": "no"}, "AudioCaptureAllowed", None, True),
        ({"DefaultNotificationsSetting": 2}, "DefaultNotificationsSetting", 2, False),
        ({"DefaultNotificationsSetting": 7}, "DefaultNotificationsSetting", None, True),
        ({"NotificationsBlockedForUrls": "https://a"}, "NotificationsBlockedForUrls", [], True),
        (
            {"NotificationsBlockedForUrls": ["https://a", 3]},
            "NotificationsBlockedForUrls",
            ["https://a"],
            False,
        ),
    ],
)
def test_policy_values_are_normalised_and_odd_ones_make_the_policy_unknown(
    values: dict[str, Any], field: str, expected: Any, problem: bool
) -> None:
    facts = policy_facts(PolicyReading(values=values, source="registry"))

    assert facts[field] == expected
    assert (facts["status"] == "unknown") is problem
