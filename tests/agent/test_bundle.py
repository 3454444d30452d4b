"""Support bundles: what a seat's collectors read, saved and replayed offline."""

from __future__ import annotations

import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from readyfloor_agent.bundle import RecordingHost, capture_bundle, command_key, member_for, open_bundle
from readyfloor_agent.collectors import collect
from readyfloor_agent.host import NotFound, ReadError, live_host
from readyfloor_agent.report import validate

from .bundle_facts import BUNDLES, facts_of
from .fixture_bundles import ROOT, build_all


def test_a_bundle_captured_here_replays_to_the_same_facts(tmp_path: Path) -> None:
    path = capture_bundle(tmp_path / "seat.zip")

    with open_bundle(path) as bundle:
        replayed = collect(bundle)

    assert replayed == collect(live_host())
    names = zipfile.ZipFile(path).namelist()
    assert "manifest.json" in names and "facts.json" in names


def test_the_manifest_says_what_was_captured(tmp_path: Path) -> None:
    path = capture_bundle(tmp_path / "seat.zip")

    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))

    assert manifest["format_version"] == 1
    assert manifest["platform"] == "linux"
    assert manifest["hostname"] == live_host().hostname()
    assert {"captured_at", "agent_version", "files", "registry", "commands", "env"} <= set(manifest)
    assert {"path": "/etc/os-release", "stored": "files/etc/os-release"} in manifest["files"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_recording_a_seat_and_replaying_the_recording_gives_the_same_facts(
    bundle: str, tmp_path: Path
) -> None:
    # Every fixture seat, re-recorded: registry keys go back through the .reg writer, TCC.db
    # through an SQLite backup, failures through the manifest.
    with open_bundle(ROOT / bundle) as source:
        recorder = RecordingHost(source)
        facts = collect(recorder)
        recording = recorder.save(tmp_path / "again.zip", facts)

    with open_bundle(recording) as replay:
        assert collect(replay) == facts == facts_of(bundle)


def test_a_folder_and_its_zip_are_the_same_bundle(tmp_path: Path) -> None:
    folder = ROOT / "macos-tcc-denied-chrome"
    archive = tmp_path / "seat.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in folder.rglob("*"):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())

    with open_bundle(archive) as zipped:
        assert collect(zipped) == facts_of("macos-tcc-denied-chrome")


def test_opening_a_bundle_writes_nothing_into_it(tmp_path: Path) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(ROOT / "macos-healthy", folder)
    before = sorted(str(path) for path in folder.rglob("*"))

    with open_bundle(folder) as bundle:
        collect(bundle)

    assert sorted(str(path) for path in folder.rglob("*")) == before


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["pactl", "-f", "json", "list", "sources"], ("pactl", "-f", "json", "list", "sources")),
        (
            [
                "runuser",
                "-u",
                "mrivera",
                "--",
                "env",
                "XDG_RUNTIME_DIR=/run/user/1000",
                "LC_ALL=C",
                "pactl",
                "info",
            ],
            ("pactl", "info"),
        ),
        (["sudo", "-u", "mrivera", "-E", "/usr/bin/pactl", "info"], ("pactl", "info")),
        (
            ["/usr/sbin/system_profiler", "SPAudioDataType", "-json"],
            ("system_profiler", "SPAudioDataType", "-json"),
        ),
        (
            ["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\PowerShell.EXE", "-NoProfile"],
            ("powershell", "-NoProfile"),
        ),
    ],
)
def test_commands_match_however_they_were_wrapped_or_spelled(argv: list[str], key: tuple[str, ...]) -> None:
    assert command_key(argv) == key


@pytest.mark.parametrize(
    ("path", "platform", "member"),
    [
        (
            "C:\\Users\\a\\AppData\\Local\\Google\\Chrome\\User Data\\Local State",
            "windows",
            "files/C/Users/a/AppData/Local/Google/Chrome/User Data/Local State",
        ),
        (
            "/Users/a/Library/Application Support/com.apple.TCC/TCC.db",
            "macos",
            "files/Users/a/Library/Application Support/com.apple.TCC/TCC.db",
        ),
        (
            "/sys/bus/usb/devices/1-3:1.0/bInterfaceClass",
            "linux",
            "files/sys/bus/usb/devices/1-3%3A1.0/bInterfaceClass",
        ),
        ("/tmp/100%", "linux", "files/tmp/100%25"),
    ],
)
def test_machine_paths_map_to_bundle_members_that_unzip_anywhere(
    path: str, platform: str, member: str
) -> None:
    assert member_for(path, platform) == member


def test_windows_paths_in_a_bundle_match_case_insensitively() -> None:
    with open_bundle(ROOT / "windows-healthy") as bundle:
        data = bundle.read_bytes("c:\\users\\MRIVERA\\appdata\\local\\google\\chrome\\user data\\local state")

    assert data.startswith(b"{")


def test_anything_not_in_a_bundle_reads_as_absent() -> None:
    with open_bundle(ROOT / "linux-healthy-pactl") as bundle:
        with pytest.raises(NotFound):
            bundle.read_bytes("/etc/shadow")
        with pytest.raises(NotFound):
            bundle.run(["lsusb"])
        assert bundle.registry("HKLM\\SOFTWARE") is None
        assert not bundle.exists("/opt/zoom")
        assert bundle.env("HOME") is None


def test_a_recorded_read_failure_replays_as_the_same_failure() -> None:
    with (
        open_bundle(ROOT / "macos-no-full-disk-access") as bundle,
        pytest.raises(ReadError, match="authorization denied") as raised,
    ):
        bundle.sqlite_connect("/Users/mrivera/Library/Application Support/com.apple.TCC/TCC.db")

    assert not isinstance(raised.value, NotFound)


def test_a_key_exported_only_through_its_children_still_exists() -> None:
    with open_bundle(ROOT / "windows-healthy") as bundle:
        parent = bundle.registry(
            "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager"
        )

    assert parent is not None and parent.subkeys == ["ConsentStore"]


def test_a_users_hive_exported_as_hkcu_answers_for_their_sid(tmp_path: Path) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(ROOT / "windows-healthy", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["user"].update({"sid": "S-1-5-21-1-1013", "agent_is_user": False})
    (folder / "manifest.json").write_text(json.dumps(manifest))

    facts = collect(open_bundle(folder))

    assert facts["os_mic"]["desktop_apps"] == "allow"


def test_a_hand_assembled_folder_needs_no_manifest(tmp_path: Path) -> None:
    # What support staff put together from a user's email: two reg exports and a Chrome folder.
    source = ROOT / "windows-desktop-apps-mic-off"
    folder = tmp_path / "from-user"
    shutil.copytree(source / "files", folder / "files")
    for name in ("consent-machine.reg", "consent-user.reg"):
        text = (source / "registry" / name).read_bytes().decode("utf-16")
        hkcu = text.replace("HKEY_USERS\\S-1-5-21-3623811015-3361044348-30300820-1013", "HKEY_CURRENT_USER")
        (folder / "registry").mkdir(exist_ok=True)
        (folder / "registry" / name).write_bytes(b"\xff\xfe" + hkcu.encode("utf-16-le"))

    with open_bundle(folder) as bundle:
        facts = collect(bundle)

    validate("facts", facts)
    assert (facts["host"]["os"], facts["host"]["console_user"]) == ("windows", "mrivera")
    assert facts["os_mic"]["desktop_apps"] == "deny"
    assert facts["chrome"]["profiles"][0]["status"] == "ok"


def test_the_platform_of_a_bundle_can_be_stated_when_opening_it(tmp_path: Path) -> None:
    (tmp_path / "files" / "Users" / "ana").mkdir(parents=True)
    (tmp_path / "files" / "Users" / "ana" / "notes.txt").write_text("hi")

    assert open_bundle(tmp_path).platform == "macos"
    assert open_bundle(tmp_path, platform="linux").platform == "linux"


def test_an_empty_bundle_is_a_seat_where_nothing_could_be_found(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"platform": "macos", "hostname": "M1"}))

    facts = collect(open_bundle(tmp_path))

    validate("facts", facts)
    assert facts["chrome"]["installed"] is False


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"{not json", "manifest.json is not valid JSON"), (b"[]", "not a JSON object")],
)
def test_a_damaged_manifest_cannot_be_opened(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "manifest.json").write_bytes(content)

    with pytest.raises(ReadError, match=reason):
        open_bundle(tmp_path)


def test_something_that_is_not_a_bundle_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "seat.zip").write_bytes(b"PK\x03\x04 not really")

    with pytest.raises(ReadError, match="not a bundle"):
        open_bundle(tmp_path / "seat.zip")
    with pytest.raises(ReadError, match="does not exist"):
        open_bundle(tmp_path / "absent.zip")


def test_reads_from_a_bundle_honour_the_size_limit() -> None:
    with (
        open_bundle(ROOT / "windows-healthy") as bundle,
        pytest.raises(ReadError, match="larger than 10 bytes"),
    ):
        bundle.read_bytes(
            "C:\\Users\\mrivera\\AppData\\Local\\Google\\Chrome\\User Data\\Local State", limit=10
        )


def _dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_the_committed_fixture_bundles_are_what_the_builder_writes(tmp_path: Path) -> None:
    build_all(tmp_path)
    built = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    committed = sorted(path.relative_to(ROOT) for path in ROOT.rglob("*") if path.is_file())

    assert built == committed, "run: .venv/bin/python -m tests.agent.fixture_bundles"
    for relative in built:
        new, old = tmp_path / relative, ROOT / relative
        if relative.name == "TCC.db" and new.read_bytes()[:16] == b"SQLite format 3\x00":
            # SQLite stamps its own version into the file; compare what the database holds.
            try:
                assert _dump(new) == _dump(old), relative
            except sqlite3.DatabaseError:
                assert new.read_bytes() == old.read_bytes(), relative
        else:
            assert new.read_bytes() == old.read_bytes(), relative
