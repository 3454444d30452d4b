"""chrome.installed, chrome.mic.global, chrome.mic.site, chrome.notifications.site.
Failure states 3 (Chrome) and 4 (profiles) of CHECKS.md."""

from __future__ import annotations

import pytest
from readyfloor_agent.checks import Policy, State

from .factsbuilder import CTI, POLICY, assert_case, exception, judged, profile

CTI_KEY = "https://acme.my.salesforce.com:443,*"
HUBSPOT = "https://app.hubspot.com"


def managed(**values: object) -> dict:
    return {"chrome.policy": {"status": "ok", "source": "registry", "reason": None, **values}}


# --- chrome.installed ------------------------------------------------------------------------

INSTALLED = [
    (
        "Chrome missing",
        {"chrome.installed": False, "chrome.version": None, "chrome.profiles": []},
        POLICY,
        State.FAIL,
        "Google Chrome is not installed",
    ),
    (
        "Chrome below the policy minimum",
        {},
        Policy(cti_origins=(CTI,), min_chrome_major=132),
        State.FAIL,
        "Chrome 131.0.6778.86 is older than the required version 132",
    ),
    (
        "Chrome at the policy minimum",
        {},
        Policy(min_chrome_major=131),
        State.PASS,
        "Chrome 131.0.6778.86 is installed (policy minimum 131)",
    ),
    (
        "version unreadable under a minimum",
        {"chrome.version": None},
        Policy(min_chrome_major=120),
        State.UNKNOWN,
        "version could not be read",
    ),
    (
        "install state unreadable",
        {"chrome.installed": None},
        POLICY,
        State.UNKNOWN,
        "does not say whether Google Chrome is installed",
    ),
    (
        "Chrome facts unreadable",
        {
            "chrome": {
                "status": "unknown",
                "source": "file",
                "installed": None,
                "reason": "Local State could not be opened: permission denied",
            }
        },
        POLICY,
        State.UNKNOWN,
        "Could not read Chrome's settings: Local State could not be opened",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "policy", "state", "fragment"), INSTALLED, ids=[r[0] for r in INSTALLED]
)
@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_chrome_installed(
    os_name: str, case: str, changes: dict, policy: Policy, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "chrome.installed", policy, state, fragment)


# --- chrome.mic.global -----------------------------------------------------------------------

MIC_GLOBAL = [
    (
        "global default 2 ('Don't allow sites')",
        {"chrome.profiles[0].mic_default": 2, "chrome.profiles[0].mic_exceptions": []},
        POLICY,
        State.FAIL,
        "Chrome profile 'Person 1' (Default) is set to 'Don't allow sites to use your microphone'",
    ),
    (
        "global default 2 but the CTI origin is allowed on its own",
        {"chrome.profiles[0].mic_default": 2},
        POLICY,
        State.WARN,
        "each CTI origin is allowed on its own",
    ),
    (
        "AudioCaptureAllowed=false without the CTI in the allow-list",
        managed(AudioCaptureAllowed=False),
        POLICY,
        State.FAIL,
        f"Chrome policy AudioCaptureAllowed is off, so no site may ask for the microphone; "
        f"not allow-listed: {CTI}",
    ),
    (
        "AudioCaptureAllowed=false with the CTI allow-listed",
        managed(AudioCaptureAllowed=False, AudioCaptureAllowedUrls=["https://[*.]my.salesforce.com/"]),
        POLICY,
        State.PASS,
        "every CTI origin is in AudioCaptureAllowedUrls",
    ),
    (
        "DefaultMediaStreamSetting=2 by policy",
        managed(DefaultMediaStreamSetting=2),
        POLICY,
        State.FAIL,
        "DefaultMediaStreamSetting blocks the microphone for every site",
    ),
    ("sites can ask", {}, POLICY, State.PASS, "Sites can ask to use the microphone in Chrome profile"),
    (
        "Preferences missing (Chrome never started)",
        {"chrome.profiles[0]": profile(status="missing", mic_exceptions=[], notification_exceptions=[])},
        POLICY,
        State.WARN,
        "Chrome has not been started with profile 'Person 1' (Default) yet",
    ),
    (
        "corrupt Preferences",
        {
            "chrome.profiles[0]": profile(
                status="unknown", reason="Preferences is not valid JSON (line 1 column 7)"
            )
        },
        POLICY,
        State.UNKNOWN,
        "Could not read Chrome profile 'Person 1' (Default): Preferences is not valid JSON",
    ),
    (
        "managed policy unreadable",
        {"chrome.policy": {"status": "unknown", "source": "registry", "reason": "registry query timed out"}},
        POLICY,
        State.UNKNOWN,
        "Could not read Chrome's managed policy: registry query timed out",
    ),
    ("Chrome not installed", {"chrome.installed": False}, POLICY, State.NA, "Google Chrome is not installed"),
]


@pytest.mark.parametrize(
    ("case", "changes", "policy", "state", "fragment"), MIC_GLOBAL, ids=[r[0] for r in MIC_GLOBAL]
)
@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_chrome_mic_global(
    os_name: str, case: str, changes: dict, policy: Policy, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "chrome.mic.global", policy, state, fragment)


def test_policy_block_without_cti_origins_to_check_warns_when_an_allow_list_exists() -> None:
    with_list = managed(AudioCaptureAllowed=False, AudioCaptureAllowedUrls=["https://[*.]my.salesforce.com"])
    assert_case(
        "windows",
        with_list,
        "chrome.mic.global",
        Policy(),
        State.WARN,
        "outside AudioCaptureAllowedUrls (https://[*.]my.salesforce.com)",
    )
    assert_case(
        "windows",
        managed(AudioCaptureAllowed=False),
        "chrome.mic.global",
        Policy(),
        State.FAIL,
        "no site may ask for the microphone",
    )


# --- chrome.mic.site -------------------------------------------------------------------------

TWO_PROFILES = {
    "chrome.last_used_profile": "Profile 1",
    "chrome.profiles": [
        profile("Default", last_used=False),
        profile(
            "Profile 1",
            name="Work",
            last_used=True,
            mic_exceptions=[exception(CTI_KEY, 2, last_modified="2026-10-28T16:02:11Z")],
        ),
    ],
}

MIC_SITE = [
    (
        "site exception 2 (user clicked Block)",
        {"chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 2)]},
        POLICY,
        State.FAIL,
        f"{CTI} is blocked in Chrome profile 'Person 1' (Default) (set 2026-10-02)",
    ),
    (
        "a wildcard block covers the CTI",
        {"chrome.profiles[0].mic_exceptions": [exception("[*.]salesforce.com,*", 2)]},
        POLICY,
        State.FAIL,
        f"{CTI} is blocked",
    ),
    (
        "a more specific allow beats a wildcard block",
        {"chrome.profiles[0].mic_exceptions": [exception("[*.]salesforce.com,*", 2), exception(CTI_KEY, 1)]},
        POLICY,
        State.PASS,
        f"{CTI} is allowed",
    ),
    (
        "one-time allow only ('Allow this time')",
        {"chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 1, model=3)]},
        POLICY,
        State.WARN,
        "was only allowed once ('Allow this time')",
    ),
    (
        "allowed for this browser session only",
        {"chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 1, model=1)]},
        POLICY,
        State.WARN,
        "only until Chrome restarts",
    ),
    (
        "exception on the wrong origin (lightning.force.com)",
        {"chrome.profiles[0].mic_exceptions": [exception("https://acme.lightning.force.com:443,*", 1)]},
        POLICY,
        State.WARN,
        "(the allow in this profile is for https://acme.lightning.force.com:443, a different origin)",
    ),
    (
        "exception on the wrong scheme (http)",
        {"chrome.profiles[0].mic_exceptions": [exception("http://acme.my.salesforce.com:80,*", 1)]},
        POLICY,
        State.WARN,
        "the allow in this profile is for http://acme.my.salesforce.com:80,",
    ),
    (
        "exception on the wrong port (8443)",
        {"chrome.profiles[0].mic_exceptions": [exception("https://acme.my.salesforce.com:8443,*", 1)]},
        POLICY,
        State.WARN,
        "the allow in this profile is for https://acme.my.salesforce.com:8443,",
    ),
    (
        "never decided: Chrome will prompt",
        {"chrome.profiles[0].mic_exceptions": []},
        POLICY,
        State.WARN,
        "has not been allowed the microphone in Chrome profile 'Person 1' (Default) yet; Chrome will ask",
    ),
    (
        "an expired allow no longer counts",
        {"chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 1, expiration="2026-10-30T00:00:00Z")]},
        POLICY,
        State.WARN,
        "has not been allowed the microphone",
    ),
    (
        "global default 2 and no exception",
        {"chrome.profiles[0].mic_default": 2, "chrome.profiles[0].mic_exceptions": []},
        POLICY,
        State.FAIL,
        "blocks the microphone for every site ('Don't allow sites to use your microphone')",
    ),
    (
        "global default 2 but the site is allowed",
        {"chrome.profiles[0].mic_default": 2},
        POLICY,
        State.PASS,
        f"{CTI} is allowed",
    ),
    (
        "AudioCaptureAllowed=false without the CTI in the allow-list",
        managed(AudioCaptureAllowed=False, AudioCaptureAllowedUrls=["https://app.hubspot.com"]),
        POLICY,
        State.FAIL,
        f"Chrome policy AudioCaptureAllowed is off and {CTI} is not in AudioCaptureAllowedUrls",
    ),
    (
        "a bare '*' in the allow-list is ignored by Chrome",
        managed(AudioCaptureAllowed=False, AudioCaptureAllowedUrls=["*"]),
        POLICY,
        State.FAIL,
        "AudioCaptureAllowed is off",
    ),
    (
        "the policy allow-list beats a user block",
        {
            **managed(AudioCaptureAllowedUrls=["[*.]my.salesforce.com"]),
            "chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 2)],
        },
        POLICY,
        State.PASS,
        "by Chrome policy AudioCaptureAllowedUrls ('[*.]my.salesforce.com')",
    ),
    (
        "DefaultMediaStreamSetting=2 beats a user allow",
        managed(DefaultMediaStreamSetting=2),
        POLICY,
        State.FAIL,
        "DefaultMediaStreamSetting blocks the microphone for every site",
    ),
    (
        "several profiles: the last-used one is judged",
        TWO_PROFILES,
        POLICY,
        State.FAIL,
        f"{CTI} is blocked in Chrome profile 'Work' (Profile 1) (set 2026-10-28)",
    ),
    (
        "Preferences missing (Chrome never started)",
        {"chrome.profiles[0]": profile(status="missing", mic_exceptions=[], notification_exceptions=[])},
        POLICY,
        State.WARN,
        f"Chrome has not been started with profile 'Person 1' (Default) yet; {CTI} will ask",
    ),
    (
        "the last-used profile is not in the report at all",
        {"chrome.last_used_profile": "Profile 3"},
        POLICY,
        State.WARN,
        "Chrome has not been started with profile 'Profile 3' yet",
    ),
    (
        "corrupt/partial Preferences JSON",
        {
            "chrome.profiles[0]": profile(
                status="unknown", reason="Preferences is not valid JSON (line 1 column 7)"
            )
        },
        POLICY,
        State.UNKNOWN,
        "Could not read Chrome profile 'Person 1' (Default): Preferences is not valid JSON",
    ),
    ("no CTI origins configured", {}, Policy(), State.NA, "no CTI origins configured in policy"),
    (
        "several origins: the blocked one is named",
        {
            "chrome.profiles[0].mic_exceptions": [
                exception(CTI_KEY, 1),
                exception("https://app.hubspot.com:443,*", 2),
            ]
        },
        Policy(cti_origins=(CTI, HUBSPOT)),
        State.FAIL,
        f"{HUBSPOT} is blocked",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "policy", "state", "fragment"), MIC_SITE, ids=[r[0] for r in MIC_SITE]
)
@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_chrome_mic_site(
    os_name: str, case: str, changes: dict, policy: Policy, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "chrome.mic.site", policy, state, fragment)


def test_worst_origin_alone_is_named_in_the_reason() -> None:
    changes = {"chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 1), exception(f"{HUBSPOT}:443,*", 2)]}
    _, result = judged("windows", changes, "chrome.mic.site", Policy(cti_origins=(CTI, HUBSPOT)))
    assert CTI not in result.reason
    assert result.evidence["origins"][CTI]["state"] == "pass"
    assert result.evidence["origins"][HUBSPOT]["state"] == "fail"


def test_other_profiles_are_shown_in_evidence() -> None:
    _, result = judged("windows", TWO_PROFILES, "chrome.mic.site")
    assert result.evidence["profile"] == "Profile 1"
    assert result.evidence["other_profiles"] == {"Default": "pass"}


def test_profile_flagged_last_used_is_judged_when_local_state_names_none() -> None:
    changes = {**TWO_PROFILES, "chrome.last_used_profile": None}
    _, result = judged("windows", changes, "chrome.mic.site")
    assert result.evidence["profile"] == "Profile 1"


def test_default_profile_is_judged_when_nothing_is_marked() -> None:
    changes = {**TWO_PROFILES, "chrome.last_used_profile": None, "chrome.profiles[1].last_used": False}
    _, result = judged("windows", changes, "chrome.mic.site")
    assert result.evidence["profile"] == "Default"
    assert result.state is State.PASS


def test_block_names_when_it_was_set_in_evidence() -> None:
    _, result = judged(
        "windows", {"chrome.profiles[0].mic_exceptions": [exception(CTI_KEY, 2)]}, "chrome.mic.site"
    )
    assert result.evidence["origins"][CTI]["last_modified"] == "2026-10-02T09:14:31Z"
    assert result.severity == "critical"


# --- chrome.notifications.site ---------------------------------------------------------------

NOTIFICATIONS = [
    (
        "notifications blocked by site exception",
        {"chrome.profiles[0].notification_exceptions": [exception(CTI_KEY, 2)]},
        POLICY,
        State.FAIL,
        f"Notifications from {CTI} are blocked in Chrome profile 'Person 1' (Default) (set 2026-10-02)",
    ),
    (
        "notifications blocked by default",
        {"chrome.profiles[0].notifications_default": 2, "chrome.profiles[0].notification_exceptions": []},
        POLICY,
        State.FAIL,
        "does not let any site show notifications",
    ),
    (
        "notifications blocked by policy list",
        managed(NotificationsBlockedForUrls=["[*.]salesforce.com"]),
        POLICY,
        State.FAIL,
        "blocked by Chrome policy NotificationsBlockedForUrls ('[*.]salesforce.com')",
    ),
    (
        "notifications blocked by policy default",
        managed(DefaultNotificationsSetting=2),
        POLICY,
        State.FAIL,
        "Chrome policy DefaultNotificationsSetting blocks notifications from every site",
    ),
    (
        "policy allow-list beats policy default",
        managed(DefaultNotificationsSetting=2, NotificationsAllowedForUrls=[CTI]),
        POLICY,
        State.PASS,
        "allowed by Chrome policy NotificationsAllowedForUrls",
    ),
    (
        "a more specific policy allow beats a wildcard policy block",
        managed(NotificationsBlockedForUrls=["[*.]salesforce.com"], NotificationsAllowedForUrls=[CTI]),
        POLICY,
        State.PASS,
        "allowed by Chrome policy NotificationsAllowedForUrls",
    ),
    (
        "never decided: Chrome will ask",
        {"chrome.profiles[0].notification_exceptions": []},
        POLICY,
        State.WARN,
        "has not been allowed to show notifications",
    ),
    ("allowed", {}, POLICY, State.PASS, f"Notifications from {CTI} are allowed"),
    (
        "notifications not required",
        {},
        Policy(cti_origins=(CTI,), notifications_required=False),
        State.NA,
        "notifications are not required by policy",
    ),
    (
        "Preferences missing",
        {"chrome.profiles[0].status": "missing"},
        POLICY,
        State.WARN,
        "Chrome has not been started with profile",
    ),
]


@pytest.mark.parametrize(
    ("case", "changes", "policy", "state", "fragment"), NOTIFICATIONS, ids=[r[0] for r in NOTIFICATIONS]
)
@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_chrome_notifications_site(
    os_name: str, case: str, changes: dict, policy: Policy, state: State, fragment: str
) -> None:
    assert_case(os_name, changes, "chrome.notifications.site", policy, state, fragment)


def test_notifications_are_a_warning_level_check_by_default() -> None:
    blocked = {"chrome.profiles[0].notification_exceptions": [exception(CTI_KEY, 2)]}
    _, result = judged("windows", blocked, "chrome.notifications.site")
    assert (result.state, result.severity) == (State.FAIL, "warning")
