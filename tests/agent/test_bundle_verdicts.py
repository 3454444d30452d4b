"""From a seat's files to its verdict: every fixture bundle (one per failure state in CHECKS.md,
per OS where it applies) is collected and judged, and the decisive check says what is wrong,
why, and how to fix it. This is what `readyfloor-agent check --bundle` does for support."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from readyfloor_agent import checks
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.collectors import collect

BUNDLES = Path(__file__).resolve().parent.parent / "fixtures" / "bundles"
POLICY = checks.Policy(cti_origins=("https://acme.my.salesforce.com",))

# bundle, readiness, decisive check, its state, a fragment its reason must contain,
# and (fact path, value) read by the collector that the verdict rests on.
CASES: list[tuple[str, str, str, str, str, tuple[str, Any] | None]] = [
    ("windows-healthy", "ready", "os.mic.chrome", "pass", "", ("os_mic.desktop_apps", "allow")),
    ("macos-healthy", "ready", "os.mic.chrome", "pass", "", ("os_mic.chrome_tcc", "allowed")),
    (
        "linux-healthy-pactl",
        "ready",
        "audio.headset.default",
        "pass",
        "is the default input",
        ("audio.source", "pactl"),
    ),
    ("macos-catalina-tcc-allowed", "ready", "os.mic.chrome", "pass", "", ("os_mic.chrome_tcc", "allowed")),
    # 1. TCC
    ("macos-tcc-not-asked", "at_risk", "os.mic.chrome", "warn", "", ("os_mic.chrome_tcc", "not_asked")),
    ("macos-tcc-denied-chrome", "not_ready", "os.mic.chrome", "fail", "", ("os_mic.chrome_tcc", "denied")),
    (
        "macos-mdm-denies-mic",
        "not_ready",
        "os.mic.chrome",
        "fail",
        "device-management profile",
        ("os_mic.tcc_db", "mdm"),
    ),
    (
        "macos-no-full-disk-access",
        "unknown",
        "os.mic.chrome",
        "unknown",
        "Full Disk Access",
        ("os_mic.status", "unknown"),
    ),
    ("macos-tcc-db-corrupt", "unknown", "os.mic.chrome", "unknown", "TCC", ("os_mic.status", "unknown")),
    # 2. Windows consent
    (
        "windows-device-mic-off",
        "not_ready",
        "os.mic.device_access",
        "fail",
        "for this device is turned off",
        ("os_mic.device_access", "deny"),
    ),
    (
        "windows-desktop-apps-mic-off",
        "not_ready",
        "os.mic.chrome",
        "fail",
        "desktop apps",
        ("os_mic.desktop_apps", "deny"),
    ),
    (
        "windows-gpo-denies-mic",
        "at_risk",
        "os.mic.chrome",
        "warn",
        "LetAppsAccessMicrophone",
        ("os_mic.group_policy", 2),
    ),
    (
        "windows-registry-export-truncated",
        "unknown",
        "os.mic.device_access",
        "unknown",
        "damaged",
        ("os_mic.status", "unknown"),
    ),
    # 3. Chrome
    (
        "any-chrome-global-mic-blocked",
        "not_ready",
        "chrome.mic.global",
        "fail",
        "Don't allow",
        ("chrome.profiles.0.mic_default", 2),
    ),
    (
        "any-chrome-site-blocked",
        "not_ready",
        "chrome.mic.site",
        "fail",
        "acme.my.salesforce.com is blocked",
        None,
    ),
    ("any-chrome-one-time-allow", "at_risk", "chrome.mic.site", "warn", "once", None),
    ("any-chrome-wrong-origin", "at_risk", "chrome.mic.site", "warn", "lightning.force.com", None),
    (
        "windows-chrome-policy-allowlist-misses-cti",
        "not_ready",
        "chrome.mic.site",
        "fail",
        "AudioCaptureAllowedUrls",
        ("chrome.policy.AudioCaptureAllowed", False),
    ),
    (
        "linux-chrome-policy-audio-capture-off",
        "not_ready",
        "chrome.mic.site",
        "fail",
        "AudioCaptureAllowed",
        ("chrome.policy.AudioCaptureAllowed", False),
    ),
    ("any-chrome-notifications-blocked", "at_risk", "chrome.notifications.site", "fail", "blocked", None),
    (
        "macos-chrome-policy-blocks-notifications",
        "at_risk",
        "chrome.notifications.site",
        "fail",
        "policy",
        ("chrome.policy.DefaultNotificationsSetting", 2),
    ),
    (
        "linux-chrome-policy-json-corrupt",
        "unknown",
        "chrome.mic.site",
        "unknown",
        "",
        ("chrome.policy.status", "unknown"),
    ),
    (
        "macos-chrome-policy-plist-corrupt",
        "unknown",
        "chrome.mic.site",
        "unknown",
        "",
        ("chrome.policy.status", "unknown"),
    ),
    # 4. Profiles
    (
        "any-chrome-several-profiles",
        "not_ready",
        "chrome.mic.site",
        "fail",
        "Profile 1",
        ("chrome.last_used_profile", "Profile 1"),
    ),
    (
        "any-chrome-preferences-missing",
        "at_risk",
        "chrome.mic.site",
        "warn",
        "",
        ("chrome.profiles.0.status", "missing"),
    ),
    (
        "any-chrome-preferences-corrupt",
        "unknown",
        "chrome.mic.site",
        "unknown",
        "",
        ("chrome.profiles.0.status", "unknown"),
    ),
    # 5. Devices
    ("windows-no-active-capture", "not_ready", "audio.headset.present", "fail", "not connected", None),
    ("windows-headset-disabled", "not_ready", "audio.headset.present", "fail", "disabled", None),
    ("linux-headset-unplugged", "not_ready", "audio.headset.present", "fail", "", None),
    ("windows-headset-not-default", "at_risk", "audio.headset.default", "warn", "Realtek", None),
    ("linux-headset-not-default", "at_risk", "audio.headset.default", "warn", "not the headset", None),
    (
        "macos-external-mic-not-default",
        "at_risk",
        "audio.headset.default",
        "warn",
        "External Microphone",
        None,
    ),
    (
        "any-chrome-ranking-other-device",
        "at_risk",
        "chrome.mic.device",
        "warn",
        "MacBook Pro Microphone",
        None,
    ),
    ("windows-bluetooth-headset-no-mic", "not_ready", "audio.headset.present", "fail", "", None),
    ("macos-bluetooth-headset-no-mic", "not_ready", "audio.headset.present", "fail", "", None),
    ("linux-bluetooth-headset-no-mic", "not_ready", "audio.headset.present", "fail", "", None),
    (
        "linux-pactl-outside-session",
        "at_risk",
        "audio.headset.default",
        "unknown",
        "/proc/asound",
        ("audio.source", "proc"),
    ),
    (
        "linux-pactl-json-decimal-comma",
        "at_risk",
        "audio.headset.default",
        "unknown",
        "not valid JSON",
        ("audio.source", "proc"),
    ),
    (
        "macos-system-profiler-truncated",
        "unknown",
        "audio.headset.present",
        "unknown",
        "not JSON",
        ("audio.status", "unknown"),
    ),
    # Could not list the devices: unknown with the reason, never "no microphone".
    (
        "windows-no-audio-export",
        "unknown",
        "audio.headset.present",
        "unknown",
        "capture endpoints",
        ("audio.enumeration", "failed"),
    ),
    (
        "macos-system-profiler-unexpected-shape",
        "unknown",
        "audio.headset.present",
        "unknown",
        "unexpected shape",
        ("audio.enumeration", "failed"),
    ),
    (
        "linux-headless",
        "unknown",
        "audio.headset.present",
        "unknown",
        "pactl",
        ("audio.enumeration", "failed"),
    ),
    # Listed, and only the computer's own microphone: that is a failure.
    ("windows-only-builtin-mic", "not_ready", "audio.headset.present", "fail", "No headset", None),
    ("macos-only-builtin-mic", "not_ready", "audio.headset.present", "fail", "No headset", None),
    (
        "linux-only-builtin-mic",
        "not_ready",
        "audio.headset.present",
        "fail",
        "No headset",
        ("audio.enumeration", "listed"),
    ),
    (
        "macos-usb-gaming-headset",
        "ready",
        "audio.headset.present",
        "pass",
        "its manufacturer is SteelSeries",
        ("audio.inputs.0.manufacturer", "SteelSeries"),
    ),
    # Linux: every way of asking the sound server.
    (
        "linux-pactl-text-pulseaudio-14",
        "ready",
        "audio.headset.default",
        "pass",
        "is the default input",
        ("audio.source", "pactl"),
    ),
    (
        "linux-pacmd-only",
        "ready",
        "audio.headset.default",
        "pass",
        "is the default input",
        ("audio.source", "pacmd"),
    ),
    (
        "linux-default-source-unknown",
        "at_risk",
        "audio.headset.default",
        "unknown",
        "did not say which input is the default",
        ("audio.inputs.0.is_default", None),
    ),
    (
        "linux-headset-muted",
        "at_risk",
        "audio.headset.present",
        "warn",
        "Jabra Evolve2 40 Mono is connected but its microphone is muted",
        ("audio.inputs.1.muted", True),
    ),
    (
        "linux-headset-volume-zero-text",
        "at_risk",
        "audio.headset.present",
        "warn",
        "Jabra Evolve2 40 Mono is connected but its microphone volume is at zero",
        ("audio.inputs.1.volume_percent", 0),
    ),
    (
        "any-chrome-no-local-state",
        "not_ready",
        "chrome.mic.site",
        "fail",
        "Chrome profile 'Personal' (Profile 1; the most recently used, as Local State could not be read)",
        ("chrome.last_used_profile", "Profile 1"),
    ),
    # Chromium family: each browser with its own paths and words.
    (
        # Judged for a Chrome floor; test_browsers judges it for an Edge floor.
        "windows-edge-policy-allowlist-misses-cti",
        "not_ready",
        "chrome.installed",
        "fail",
        "Google Chrome is not installed",
        ("browsers.edge.installed", True),
    ),
    ("windows-edge-healthy", "not_ready", "chrome.installed", "fail", "Google Chrome is not installed", None),
    (
        "linux-chromium-snap-notifications-blocked",
        "not_ready",
        "chrome.installed",
        "fail",
        "Google Chrome is not installed",
        ("browsers.chromium.installed", True),
    ),
    (
        "macos-edge-tcc-denied",
        "not_ready",
        "chrome.installed",
        "fail",
        "Google Chrome is not installed",
        None,
    ),
    (
        "macos-chrome-policy-mobileconfig",
        "not_ready",
        "chrome.mic.site",
        "fail",
        "AudioCaptureAllowed is off",
        ("chrome.policy.AudioCaptureAllowed", False),
    ),
    # Outputs captured on real machines (tests/fixtures/real/SOURCES.md).
    (
        "macos-real-inzone-h3",
        "ready",
        "audio.headset.default",
        "pass",
        "INZONE H3 is the default input",
        ("audio.inputs.0.manufacturer", "Sony"),
    ),
    (
        "macos-real-continuity-iphone",
        "not_ready",
        "audio.headset.present",
        "fail",
        "iPhone (5) Microphone: a phone's microphone",
        ("audio.enumeration", "listed"),
    ),
    (
        "linux-real-pipewire-corsair-hs70",
        "ready",
        "audio.headset.present",
        "pass",
        "CORSAIR HS70 Pro Wireless Gaming Headset Mono is connected and active",
        ("audio.inputs.0.muted", True),
    ),
    # 6. Contention
    ("windows-exclusive-mode-held", "at_risk", "os.mic.exclusive", "fail", "exclusive", None),
    ("linux-mic-held-by-other-app", "at_risk", "os.mic.in_use", "warn", "", None),
]


def fact(facts: dict[str, Any], path: str) -> Any:
    value: Any = facts
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    return value


def test_every_fixture_bundle_has_a_case() -> None:
    assert sorted(case[0] for case in CASES) == sorted(p.name for p in BUNDLES.iterdir() if p.is_dir())


@pytest.mark.parametrize(
    ("bundle", "readiness", "check_id", "state", "reason", "evidence"), CASES, ids=[c[0] for c in CASES]
)
def test_a_bundle_is_judged_with_its_reason_and_fix(
    bundle, readiness, check_id, state, reason, evidence
) -> None:
    facts = collect(open_bundle(BUNDLES / bundle))
    results = {r.check_id: r for r in checks.evaluate(facts, POLICY)}

    if evidence is not None:
        assert fact(facts, evidence[0]) == evidence[1]
    result = results[check_id]
    assert result.state.value == state, result.reason
    assert reason in result.reason
    assert "\n" not in result.reason
    assert checks.readiness_of(results.values()).value == readiness
    for other in results.values():
        if other.state.value in {"fail", "warn", "unknown"}:
            fix = checks.fix_for(other.check_id, facts["host"]["os"])
            assert fix.steps and fix.it_note, other.check_id
