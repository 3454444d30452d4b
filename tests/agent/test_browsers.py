"""The softphone's browser is the policy's to name: Google Chrome by default, Chromium or
Microsoft Edge, or several. Each is read with its own paths and policy locations, and judged
with the same rules in its own words: its name, its settings pages, its policy locations."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

import pytest
from readyfloor_agent import mobileconfig
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.checks import Policy, State, evaluate, fix_for, readiness_of, title_for
from readyfloor_agent.checks.browsers import BROWSERS, adapt
from readyfloor_agent.cli import main
from readyfloor_agent.collectors import collect
from readyfloor_agent.host import ReadError
from readyfloor_agent.report import validate

from .bundle_facts import facts_of
from .fixture_bundles import CTI, ROOT, chrome_mobileconfig

EDGE = Policy(cti_origins=(CTI,), browsers=("edge",))
CHROMIUM = Policy(cti_origins=(CTI,), browsers=("chromium",))
ANY = Policy(cti_origins=(CTI,), browsers=("chrome", "edge"))


def results(bundle: str, policy: Policy) -> dict[str, Any]:
    return {result.check_id: result for result in evaluate(facts_of(bundle), policy)}


def test_the_policy_names_its_browsers_and_an_old_servers_policy_means_chrome() -> None:
    assert Policy().browsers == ("chrome",)
    assert Policy.from_dict({"cti_origins": [CTI]}).browsers == ("chrome",)
    assert Policy.from_dict(EDGE.to_dict()) == EDGE
    assert Policy.from_dict({"browsers": ["edge", "chrome"]}).browsers == ("edge", "chrome")
    for bad, words in (
        ([], "at least one"),
        (["firefox"], "not one of"),
        (["edge", "edge"], "twice"),
        ("edge", "list"),
    ):
        with pytest.raises(ValueError, match=f"browsers: .*{words}"):
            Policy.from_dict({"browsers": bad})


def test_an_edge_seat_on_windows_is_read_from_edges_own_paths() -> None:
    edge = facts_of("windows-edge-policy-allowlist-misses-cti")["browsers"]["edge"]
    assert edge["installed"] is True and edge["version"] == "124.0.2478.80"
    assert edge["user_data_dir"].endswith("AppData\\Local\\Microsoft\\Edge\\User Data")
    assert edge["policy"]["AudioCaptureAllowed"] is False
    assert edge["policy"]["AudioCaptureAllowedUrls"] == ["https://acme.lightning.force.com"]
    validate("facts", facts_of("windows-edge-policy-allowlist-misses-cti"))


def test_an_edge_seat_is_judged_with_edges_words_and_fixes() -> None:
    judged = results("windows-edge-policy-allowlist-misses-cti", EDGE)
    site = judged["chrome.mic.site"]
    assert site.state is State.FAIL
    assert site.reason.startswith("Edge policy AudioCaptureAllowed is off")
    assert site.evidence["browser"] == "edge"
    assert judged["chrome.installed"].reason == "Edge 124.0.2478.80 is installed"
    assert "desktop apps such as Edge" in judged["os.mic.chrome"].reason
    fix = fix_for("chrome.mic.global", "windows", "edge")
    assert "edge://settings/content/microphone" in " ".join(fix.steps)
    assert (
        "HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge" in fix_for("chrome.mic.site", "windows", "edge").it_note
    )
    assert title_for("chrome.installed", "edge") == "Microsoft Edge installed"
    assert "Chrome" not in " ".join((*fix.steps, fix.it_note))
    assert readiness_of(judged.values()).value == "not_ready"
    healthy = results("windows-edge-healthy", EDGE)
    assert readiness_of(healthy.values()).value == "ready"


def test_a_chromium_snap_on_linux_is_read_from_the_snaps_paths_and_etc_chromium_browser() -> None:
    chromium = facts_of("linux-chromium-snap-notifications-blocked")["browsers"]["chromium"]
    assert chromium["user_data_dir"] == "/home/mrivera/snap/chromium/common/chromium"
    assert chromium["policy"]["DefaultNotificationsSetting"] == 2
    judged = results("linux-chromium-snap-notifications-blocked", CHROMIUM)
    notifications = judged["chrome.notifications.site"]
    assert notifications.state is State.FAIL, notifications.reason
    assert "Chromium" in notifications.reason and "Chrome " not in notifications.reason
    assert "/etc/chromium/policies" in fix_for("chrome.mic.site", "linux", "chromium").it_note
    assert "chromium package" in " ".join(fix_for("chrome.installed", "linux", "chromium").steps)


def test_edge_on_a_mac_is_judged_by_its_own_tcc_row_and_named() -> None:
    facts = facts_of("macos-edge-tcc-denied")
    assert facts["browsers"]["edge"]["installed"] is True
    assert facts["browsers"]["edge"]["user_data_dir"].endswith("Library/Application Support/Microsoft Edge")
    assert facts["os_mic"]["browsers_tcc"] == {"chromium": "not_asked", "edge": "denied"}
    # Chrome was never asked: its own row is absent, which says nothing about Edge.
    assert facts["os_mic"]["chrome_tcc"] == "not_asked"
    judged = results("macos-edge-tcc-denied", EDGE)
    assert judged["os.mic.chrome"].state is State.FAIL
    assert "Edge" in judged["os.mic.chrome"].reason and "Chrome" not in judged["os.mic.chrome"].reason
    steps = " ".join(fix_for("os.mic.chrome", "macos", "edge").steps)
    assert "next to Microsoft Edge" in steps
    assert "com.microsoft.edgemac" in fix_for("os.mic.chrome", "macos", "edge").it_note


def test_with_several_browsers_every_installed_one_is_judged_and_the_worst_named() -> None:
    judged = results("windows-edge-policy-allowlist-misses-cti", ANY)
    # Chrome is not installed on this seat, so only Edge is judged.
    assert judged["chrome.installed"].state is State.PASS
    assert judged["chrome.mic.site"].state is State.FAIL
    assert judged["chrome.mic.site"].evidence["browsers"] == {"edge": "fail"}
    none = evaluate(
        facts_of("windows-edge-healthy"), Policy(cti_origins=(CTI,), browsers=("chrome", "chromium"))
    )
    installed = next(r for r in none if r.check_id == "chrome.installed")
    assert installed.state is State.FAIL and "None of the softphone's browsers" in installed.reason


def test_a_report_without_the_other_browsers_is_unknown_for_them_not_absent() -> None:
    facts = dict(facts_of("windows-healthy"))
    facts.pop("browsers")
    judged = {r.check_id: r for r in evaluate(facts, EDGE)}
    assert judged["chrome.installed"].state is State.UNKNOWN


@pytest.mark.parametrize("browser", sorted(BROWSERS))
@pytest.mark.parametrize("os_name", ["windows", "macos", "linux"])
def test_every_browser_check_has_fix_steps_in_each_browsers_words(browser: str, os_name: str) -> None:
    for check_id in (
        "chrome.installed",
        "os.mic.chrome",
        "chrome.mic.global",
        "chrome.mic.site",
        "chrome.notifications.site",
        "chrome.mic.device",
    ):
        fix = fix_for(check_id, os_name, browser)
        assert fix.steps and fix.it_note
        # chrome.installed's IT note may recommend another browser by name.
        if browser != "chrome" and check_id != "chrome.installed":
            text = " ".join((*fix.steps, fix.it_note))
            assert "Google Chrome" not in text and " Chrome " not in f" {text} ".replace(".", " ")


def test_chromes_own_words_are_left_alone() -> None:
    assert (
        adapt("Open Chrome and go to chrome://settings", "chrome")
        == "Open Chrome and go to chrome://settings"
    )
    assert (
        adapt("Open Chrome and go to chrome://settings", "chromium")
        == "Open Chromium and go to chrome://settings"
    )


def test_a_mobileconfig_in_a_bundle_installs_its_managed_preferences() -> None:
    facts = facts_of("macos-chrome-policy-mobileconfig")
    assert facts["chrome"]["policy"]["status"] == "ok"
    assert facts["chrome"]["policy"]["AudioCaptureAllowed"] is False
    assert facts["chrome"]["policy"]["DefaultNotificationsSetting"] == 1


def test_profile_payload_forms() -> None:
    custom = mobileconfig.managed_preferences(chrome_mobileconfig(), "ana")
    assert custom == {
        "/Library/Managed Preferences/com.google.Chrome.plist": {
            "AudioCaptureAllowed": False,
            "AudioCaptureAllowedUrls": ["https://acme.lightning.force.com"],
            "DefaultNotificationsSetting": 1,
        }
    }
    mcx = plistlib.dumps(
        {
            "PayloadScope": "User",
            "PayloadType": "Configuration",
            "PayloadContent": [
                {
                    "PayloadType": "com.apple.ManagedClient.preferences",
                    "PayloadContent": {
                        "com.microsoft.Edge": {
                            "Forced": [{"mcx_preference_settings": {"AudioCaptureAllowedUrls": [CTI]}}],
                            "Set-Once": [{"mcx_preference_settings": {"DefaultNotificationsSetting": 2}}],
                        }
                    },
                }
            ],
        }
    )
    assert mobileconfig.managed_preferences(mcx, "ana") == {
        "/Library/Managed Preferences/ana/com.microsoft.Edge.plist": {"AudioCaptureAllowedUrls": [CTI]}
    }
    # A signed profile: the property list sits inside DER-encoded CMS.
    signed = (
        b"\x30\x82\x1f\x00\x06\x09*\x86H\x86\xf7\r\x01\x07\x02" + chrome_mobileconfig() + b"\xa0\x82\x05\x00"
    )
    assert mobileconfig.managed_preferences(signed, None) == custom
    with pytest.raises(ReadError):
        mobileconfig.managed_preferences(b"\x30\x82 not a profile", None)


def test_a_damaged_mobileconfig_makes_the_policy_unknown_not_absent(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "seat"
    shutil.copytree(ROOT / "macos-chrome-policy-mobileconfig", folder)
    (folder / "profiles" / "acme-chrome.mobileconfig").write_bytes(chrome_mobileconfig()[:200])
    with open_bundle(folder) as host:
        policy = collect(host)["chrome"]["policy"]
    assert policy["status"] == "unknown" and "configuration profile" in policy["reason"]


def test_check_on_an_edge_only_bundle_judges_edge_without_being_told(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["check", "--bundle", str(ROOT / "windows-edge-policy-allowlist-misses-cti"), "--cti-origin", CTI]
    )
    out = capsys.readouterr().out
    assert code == 2
    assert "Microsoft Edge installed" in out and "edge://settings/content/microphone" in out
    code = main(
        ["check", "--bundle", str(ROOT / "windows-edge-healthy"), "--cti-origin", CTI, "--browser", "chrome"]
    )
    # The text is wrapped to the terminal's width, which differs from run to run.
    assert code == 2 and "Google Chrome is not installed" in " ".join(capsys.readouterr().out.split())
