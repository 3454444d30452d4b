"""The Chromium family a softphone can run in: Google Chrome, Chromium and Microsoft Edge.

They share Chrome's preferences, content settings and policy names (``AudioCaptureAllowed``,
``AudioCaptureAllowedUrls``, ``DefaultNotificationsSetting``, ``Notifications*ForUrls``); what
differs is where each keeps its files and policies, its name, its settings pages and how it is
installed. Everything that differs is here, once: the collectors read their paths from
``BROWSERS`` and the checks word their reasons and fixes through ``adapt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Fix


@dataclass(frozen=True)
class Browser:
    id: str
    label: str  # "Microsoft Edge": in sentences where the full name reads best
    short: str  # "Edge": "Edge profile 'Default'", "open Edge"
    settings_scheme: str  # chrome://settings, edge://settings
    # Windows
    windows_exe: tuple[str, ...]  # below Program Files, Program Files (x86) and the user's LocalAppData
    windows_user_data: tuple[str, ...]  # below %LOCALAPPDATA%
    windows_policy_key: str  # below HKLM / HKCU
    windows_beacon_key: str  # below HKCU: the version it last ran as
    # macOS
    mac_app: str
    mac_user_data: tuple[str, ...]  # below ~/Library/Application Support
    mac_policy_domain: str  # /Library/Managed Preferences/<domain>.plist
    mac_bundle_id: str  # TCC's client for the microphone permission
    # Linux
    linux_binaries: tuple[str, ...]
    linux_config_dirs: tuple[tuple[str, ...], ...]  # below $HOME, the first that exists is used
    linux_config_name: str  # the folder below $XDG_CONFIG_HOME / $CHROME_CONFIG_HOME
    linux_policy_dirs: tuple[str, ...]  # managed policy folders, all read
    # Words and paths of Chrome's texts this browser says otherwise, in order.
    wording: tuple[tuple[str, str], ...] = field(default=())


CHROME = Browser(
    id="chrome",
    label="Google Chrome",
    short="Chrome",
    settings_scheme="chrome",
    windows_exe=("Google\\Chrome\\Application\\chrome.exe",),
    windows_user_data=("Google\\Chrome\\User Data",),
    windows_policy_key="SOFTWARE\\Policies\\Google\\Chrome",
    windows_beacon_key="Software\\Google\\Chrome\\BLBeacon",
    mac_app="Google Chrome.app",
    mac_user_data=("Google", "Chrome"),
    mac_policy_domain="com.google.Chrome",
    mac_bundle_id="com.google.Chrome",
    linux_binaries=("/opt/google/chrome/chrome", "/usr/bin/google-chrome-stable", "/usr/bin/google-chrome"),
    linux_config_dirs=((".config", "google-chrome"),),
    linux_config_name="google-chrome",
    linux_policy_dirs=("/etc/opt/chrome/policies/managed",),
)

EDGE = Browser(
    id="edge",
    label="Microsoft Edge",
    short="Edge",
    settings_scheme="edge",
    windows_exe=("Microsoft\\Edge\\Application\\msedge.exe",),
    windows_user_data=("Microsoft\\Edge\\User Data",),
    windows_policy_key="SOFTWARE\\Policies\\Microsoft\\Edge",
    windows_beacon_key="Software\\Microsoft\\Edge\\BLBeacon",
    mac_app="Microsoft Edge.app",
    mac_user_data=("Microsoft Edge",),
    mac_policy_domain="com.microsoft.Edge",
    mac_bundle_id="com.microsoft.edgemac",
    linux_binaries=(
        "/opt/microsoft/msedge/msedge",
        "/usr/bin/microsoft-edge-stable",
        "/usr/bin/microsoft-edge",
    ),
    linux_config_dirs=((".config", "microsoft-edge"),),
    linux_config_name="microsoft-edge",
    linux_policy_dirs=("/etc/opt/edge/policies/managed",),
    wording=(
        ("chrome://", "edge://"),
        ("/etc/opt/chrome/policies", "/etc/opt/edge/policies"),
        ("com.google.Chrome", "com.microsoft.edgemac"),
        ("three-dot menu", "three-dot menu (...)"),
        ("Open Site settings and set", "Open Permissions for this site and set"),
        ("then Site settings.", "then Permissions for this site."),
        ("GPO/Intune on Windows", "GPO/Intune under HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge on Windows"),
        ("a configuration profile on macOS", "a configuration profile for com.microsoft.Edge on macOS"),
    ),
)

CHROMIUM = Browser(
    id="chromium",
    label="Chromium",
    short="Chromium",
    settings_scheme="chrome",
    windows_exe=("Chromium\\Application\\chrome.exe",),
    windows_user_data=("Chromium\\User Data",),
    windows_policy_key="SOFTWARE\\Policies\\Chromium",
    windows_beacon_key="Software\\Chromium\\BLBeacon",
    mac_app="Chromium.app",
    mac_user_data=("Chromium",),
    mac_policy_domain="org.chromium.Chromium",
    mac_bundle_id="org.chromium.Chromium",
    # Debian's package, Ubuntu's transitional one and the snap.
    linux_binaries=(
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/snap/bin/chromium",
        "/usr/lib/chromium/chromium",
    ),
    linux_config_dirs=((".config", "chromium"), ("snap", "chromium", "common", "chromium")),
    linux_config_name="chromium",
    # Upstream (and Debian, Fedora, Arch) read /etc/chromium; Ubuntu's package reads
    # /etc/chromium-browser instead (chromium.org's Linux quick start says both).
    linux_policy_dirs=("/etc/chromium/policies/managed", "/etc/chromium-browser/policies/managed"),
    wording=(
        ("/etc/opt/chrome/policies", "/etc/chromium/policies"),
        ("com.google.Chrome", "org.chromium.Chromium"),
        ("GPO/Intune on Windows", "GPO/Intune under HKLM\\SOFTWARE\\Policies\\Chromium on Windows"),
        ("a configuration profile on macOS", "a configuration profile for org.chromium.Chromium on macOS"),
    ),
)

BROWSERS: dict[str, Browser] = {browser.id: browser for browser in (CHROME, CHROMIUM, EDGE)}
BROWSER_IDS = tuple(BROWSERS)
# Facts of Google Chrome travel as the report's "chrome" group (as they always have); the
# others as "browsers.<id>", with the same shape.
OTHER_BROWSERS = tuple(browser_id for browser_id in BROWSER_IDS if browser_id != "chrome")

_CHROME_WORD = re.compile(r"\bChrome\b")


def adapt(text: str, browser_id: str) -> str:
    """A reason, step or note written for Chrome, worded for ``browser_id``."""
    browser = BROWSERS.get(browser_id, CHROME)
    if browser is CHROME:
        return text
    for old, new in browser.wording:
        text = text.replace(old, new)
    text = text.replace("Google Chrome", browser.label)
    return _CHROME_WORD.sub(browser.short, text)


def adapt_fix(fix: Fix, browser_id: str) -> Fix:
    return Fix(tuple(adapt(step, browser_id) for step in fix.steps), adapt(fix.it_note, browser_id))


# chrome.installed is about installing and updating, which is each browser's own business.
INSTALLED_FIXES: dict[str, dict[str, Fix]] = {
    "edge": {
        "windows": Fix(
            (
                "Open Edge, click the three-dot menu (...), then Help and feedback > About Microsoft Edge.",
                "Let Edge finish updating, then click Restart.",
                "If Edge is missing or cannot update, ask IT: your calls only work in Edge.",
            ),
            "Edge ships with Windows and updates through Microsoft Edge Update; check that the Edge "
            "update policies (UpdateDefault, TargetVersionPrefix under "
            "HKLM\\SOFTWARE\\Policies\\Microsoft\\EdgeUpdate) are not holding seats below the minimum "
            "version.",
        ),
        "macos": Fix(
            (
                "Open Edge, choose Microsoft Edge > About Microsoft Edge in the menu bar.",
                "Let Edge finish updating, then click Restart.",
                "If Edge is missing, ask IT to install it: your calls only work in Edge.",
            ),
            "Deploy the Microsoft Edge .pkg through your MDM and keep Microsoft AutoUpdate running so seats "
            "stay at or above the minimum version.",
        ),
        "linux": Fix(
            (
                "Open Edge, click the three-dot menu (...), then Help and feedback > About Microsoft Edge.",
                "Ask IT to update or install the microsoft-edge-stable package: it is updated by the system.",
            ),
            "Install microsoft-edge-stable from Microsoft's package repository and keep it enabled so system "
            "updates bring new Edge versions.",
        ),
    },
    "chromium": {
        "windows": Fix(
            (
                "Open Chromium, click the three-dot menu, then Help > About Chromium to see the version.",
                "Ask IT to update Chromium: it does not update itself on Windows.",
            ),
            "Chromium has no updater on Windows: deploy new builds with your software distribution tool, or "
            "standardise on Google Chrome or Microsoft Edge for CTI seats.",
        ),
        "macos": Fix(
            (
                "Open Chromium, choose Chromium > About Chromium in the menu bar to see the version.",
                "Ask IT to update Chromium: it does not update itself on macOS.",
            ),
            "Chromium has no updater on macOS: deploy new builds through your MDM, or standardise on Google "
            "Chrome or Microsoft Edge for CTI seats.",
        ),
        "linux": Fix(
            (
                "Open Chromium, click the three-dot menu, then Help > About Chromium to see the version.",
                "Ask IT to update the chromium package (or the chromium snap): it is updated by the system.",
            ),
            "Keep the distribution's chromium package (or the snap, which refreshes itself) updated; its "
            "managed policies live in /etc/chromium/policies/managed (Debian, Fedora) or "
            "/etc/chromium-browser/policies/managed (Ubuntu, the snap).",
        ),
    },
}
