"""What could not be read is unknown with its reason, never "absent", "none" or "denied": every
collector says whether it listed the seat's devices, and the checks never turn "could not list"
into "no microphone"."""

from __future__ import annotations

from pathlib import Path

import pytest
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.checks import State
from readyfloor_agent.collectors import collect

from .factsbuilder import POLICY, assert_case, judged
from .fixture_bundles import LINUX_USER_DATA, WIN_SID, LinuxSeat, WindowsSeat


def _facts(seat: LinuxSeat | WindowsSeat, tmp_path: Path, edit=None) -> dict:
    bundle = seat.build()
    if edit is not None:
        edit(bundle)
    with open_bundle(bundle.write(tmp_path)) as host:
        return collect(host)


@pytest.mark.parametrize(
    ("os_name", "enumeration", "state", "fragment"),
    [
        ("windows", "failed", State.UNKNOWN, "Could not list the audio devices"),
        ("macos", "failed", State.UNKNOWN, "Could not list the audio devices"),
        ("linux", "failed", State.UNKNOWN, "Could not list the audio devices"),
        ("linux", "partial", State.UNKNOWN, "sound server could not be asked"),
        ("windows", "listed", State.FAIL, "No microphone of any kind"),
        ("macos", "listed", State.FAIL, "No microphone of any kind"),
        ("linux", "listed", State.FAIL, "No microphone of any kind"),
    ],
)
def test_an_empty_device_list_is_a_failure_only_when_the_list_was_read(
    os_name: str, enumeration: str, state: State, fragment: str
) -> None:
    assert_case(
        os_name,
        {"audio.inputs": [], "audio.enumeration": enumeration, "audio.reason": "pactl is not installed"},
        "audio.headset.present",
        POLICY,
        state,
        fragment,
    )


def test_an_old_agents_empty_list_is_still_judged_as_it_was() -> None:
    # Reports from agents that do not say how they listed the devices keep their meaning.
    _, result = judged("linux", {"audio.inputs": []}, "audio.headset.present")
    assert result.state is State.FAIL


def test_a_fallback_that_finds_the_headset_is_good_enough() -> None:
    _, result = judged(
        "linux", {"audio.enumeration": "partial", "audio.source": "proc"}, "audio.headset.present"
    )
    assert result.state is State.PASS, result.reason


def test_windows_without_the_users_consent_key_does_not_say_nobody_holds_the_microphone(
    tmp_path: Path,
) -> None:
    def drop_user_consent(bundle) -> None:
        del bundle.members["registry/consent-user.reg"]
        bundle.registry = [entry for entry in bundle.registry if WIN_SID not in entry["key"]]

    facts = _facts(WindowsSeat("seat"), tmp_path, drop_user_consent)

    assert facts["audio"]["holders"] is None
    assert "consent key is absent" in facts["audio"]["reason"]


def test_an_unlistable_chrome_folder_is_unknown_not_never_started(tmp_path: Path) -> None:
    def unreadable_folder(bundle) -> None:
        for name in list(bundle.members):
            if name.startswith("files/home/mrivera/.config/google-chrome"):
                del bundle.members[name]
        bundle.files = [entry for entry in bundle.files if not entry["path"].startswith(LINUX_USER_DATA)]
        bundle.files.append({"path": f"{LINUX_USER_DATA}/Local State", "missing": True})
        bundle.dirs.append({"path": LINUX_USER_DATA, "error": f"permission denied: {LINUX_USER_DATA}"})

    facts = _facts(LinuxSeat("seat"), tmp_path, unreadable_folder)

    assert facts["chrome"]["status"] == "unknown"
    assert "permission denied" in facts["chrome"]["reason"]
    assert facts["chrome"]["profiles"] == []


def test_no_chrome_folder_at_all_is_chrome_never_started(tmp_path: Path) -> None:
    def no_folder(bundle) -> None:
        for name in list(bundle.members):
            if name.startswith("files/home/mrivera/.config/google-chrome"):
                del bundle.members[name]
        bundle.files = [entry for entry in bundle.files if not entry["path"].startswith(LINUX_USER_DATA)]

    facts = _facts(LinuxSeat("seat"), tmp_path, no_folder)

    assert facts["chrome"]["status"] == "ok"
    assert "has not been started" in facts["chrome"]["reason"]
