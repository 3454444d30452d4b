"""A support bundle comes from a seat the helpdesk does not control: whatever it holds, the agent
reads and writes only inside the bundle, and a bundle that tries otherwise is refused whole,
with exit status 3 and one line naming the rule it broke."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from readyfloor_agent import bundle as bundle_module
from readyfloor_agent.bundle import BundleRefused, open_bundle, unsafe_member_name
from readyfloor_agent.cli import main
from readyfloor_agent.collectors import collect
from readyfloor_agent.host import ReadError

from .fixture_bundles import ROOT

HEALTHY = ROOT / "linux-healthy-pactl"


def _zip_of(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return target


def _special_entry(target: Path, name: str, mode: int, data: bytes = b"") -> Path:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the mode is in the high bits of external_attr
    info.external_attr = mode << 16
    _zip_of(HEALTHY, target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr(info, data)
    return target


def _check(bundle: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", "--bundle", str(bundle)])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _listing(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.rglob("*"))


@pytest.mark.parametrize(
    "name",
    [
        "../escaped.txt",
        "files/../../escaped.txt",
        "files/home/../../../escaped.txt",
        "..\\escaped.txt",
        "files\\..\\..\\escaped.txt",
    ],
)
def test_a_zip_member_that_climbs_out_is_refused_and_nothing_is_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    archive = _zip_of(HEALTHY, inside / "seat.zip", {name: b"owned"})
    before = _listing(tmp_path)

    code, lines = _check(archive, capsys)

    assert code == 3
    assert len(lines) == 1 and "rule: path" in lines[0] and "'..'" in lines[0]
    assert _listing(tmp_path) == before
    assert not list(tmp_path.parent.glob("escaped.txt"))


@pytest.mark.parametrize(
    "name", ["/tmp/escaped.txt", "C:/Windows/escaped.txt", "c:escaped.txt", "\\\\server\\x"]
)
def test_a_zip_member_with_an_absolute_name_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _zip_of(HEALTHY, tmp_path / "seat.zip", {name: b"owned"})

    code, lines = _check(archive, capsys)

    assert code == 3
    assert len(lines) == 1 and "rule: path" in lines[0] and "absolute" in lines[0]


def test_a_zip_symlink_member_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # What `zip --symlinks` stores: the link's target as the member's data, S_IFLNK in its mode.
    archive = _special_entry(
        tmp_path / "seat.zip",
        "files/home/mrivera/.config/google-chrome/Profile 9/Preferences",
        stat.S_IFLNK | 0o777,
        b"/etc/shadow",
    )

    code, lines = _check(archive, capsys)

    assert code == 3
    assert len(lines) == 1 and "rule: symlink" in lines[0]


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK])
def test_a_zip_device_or_pipe_member_is_refused(
    kind: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _special_entry(tmp_path / "seat.zip", "files/dev/zero", kind | 0o644)

    code, lines = _check(archive, capsys)

    assert code == 3
    assert len(lines) == 1 and "rule: device" in lines[0]


def test_a_zip_naming_one_member_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _zip_of(HEALTHY, tmp_path / "seat.zip")
    with pytest.warns(UserWarning), zipfile.ZipFile(archive, "a") as out:
        out.writestr("manifest.json", b"{}")

    code, lines = _check(archive, capsys)

    assert code == 3 and "rule: duplicate" in lines[0]


def test_limits_on_member_count_member_size_and_total_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _zip_of(HEALTHY, tmp_path / "seat.zip", {"notes/big.txt": b"x" * 100_000})
    members = len(zipfile.ZipFile(archive).infolist())

    monkeypatch.setattr(bundle_module, "MAX_MEMBERS", members - 1)
    assert _check(archive, capsys)[1][0].count("rule: member-count") == 1
    monkeypatch.setattr(bundle_module, "MAX_MEMBERS", 10_000)

    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES", 99_999)
    code, lines = _check(archive, capsys)
    assert code == 3 and "rule: member-size" in lines[0] and "notes/big.txt" in lines[0]
    monkeypatch.setattr(bundle_module, "MAX_MEMBER_BYTES", 64 * 1024 * 1024)

    monkeypatch.setattr(bundle_module, "MAX_TOTAL_BYTES", 100_000)
    code, lines = _check(archive, capsys)
    assert code == 3 and "rule: total-size" in lines[0]


def test_a_member_that_inflates_past_its_declared_size_is_not_read_past_the_limit(tmp_path: Path) -> None:
    # A zip bomb declares a small size and inflates to far more: reading stops at the limit.
    archive = tmp_path / "seat.zip"
    _zip_of(HEALTHY, archive, {"notes/bomb.txt": b"0" * 200_000})
    with open_bundle(archive) as host:
        store = host._store
        with pytest.raises(ReadError, match="larger than 1000 bytes"):
            store.read("notes/bomb.txt", 1000)


@pytest.mark.parametrize(
    ("section", "entry"),
    [
        ("files", {"path": "/etc/os-release", "stored": "../../../../etc/passwd"}),
        ("files", {"path": "/etc/os-release", "stored": "/etc/passwd"}),
        ("commands", {"argv": ["pactl", "info"], "returncode": 0, "stdout": "..\\..\\secret.txt"}),
        ("registry", {"key": "HKEY_LOCAL_MACHINE\\SOFTWARE", "stored": "C:\\Windows\\system.reg"}),
    ],
)
def test_a_manifest_naming_a_member_outside_the_bundle_is_refused(
    section: str, entry: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(HEALTHY, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.setdefault(section, []).append(entry)
    (folder / "manifest.json").write_text(json.dumps(manifest))

    code, lines = _check(folder, capsys)

    assert code == 3
    assert len(lines) == 1 and "rule: manifest-path" in lines[0] and f"{section}[" in lines[0]


def test_a_folder_bundle_with_a_link_to_a_file_outside_is_refused_and_the_file_is_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text('{"profile": {"last_used": "Default"}}')
    folder = tmp_path / "seat"
    shutil.copytree(HEALTHY, folder)
    local_state = folder / "files/home/mrivera/.config/google-chrome/Local State"
    local_state.unlink()
    local_state.symlink_to(outside)
    read_before = os.stat(outside).st_atime_ns
    os.utime(outside, ns=(0, os.stat(outside).st_mtime_ns))

    code, lines = _check(folder, capsys)

    assert code == 3
    assert len(lines) == 1 and "rule: symlink" in lines[0] and "Local State" in lines[0]
    assert os.stat(outside).st_atime_ns == 0 != read_before


@pytest.mark.parametrize("loop", ["self", "parent"])
def test_a_folder_bundle_with_a_link_loop_is_refused(
    loop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(HEALTHY, folder)
    link = folder / "files/home/mrivera/loop"
    link.symlink_to(link if loop == "self" else folder, target_is_directory=loop == "parent")

    code, lines = _check(folder, capsys)

    assert code == 3 and len(lines) == 1 and "rule: symlink" in lines[0]


def test_a_folder_bundle_with_a_hard_link_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("NAME=Secret\n")
    folder = tmp_path / "seat"
    shutil.copytree(HEALTHY, folder)
    (folder / "files/etc/os-release").unlink()
    os.link(outside, folder / "files/etc/os-release")

    code, lines = _check(folder, capsys)

    assert code == 3 and len(lines) == 1 and "rule: hard-link" in lines[0]


def test_a_folder_bundle_with_a_pipe_is_refused_without_hanging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "seat"
    shutil.copytree(HEALTHY, folder)
    (folder / "files/etc/os-release").unlink()
    os.mkfifo(folder / "files/etc/os-release")

    code, lines = _check(folder, capsys)

    assert code == 3 and len(lines) == 1 and "rule: device" in lines[0]


def test_a_file_swapped_for_a_link_after_opening_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "os-release").write_text('PRETTY_NAME="Not this one"\n')
    folder = tmp_path / "seat"
    shutil.copytree(HEALTHY, folder)

    with open_bundle(folder) as host:
        # Between the scan and the read, a folder of the bundle becomes a link elsewhere.
        shutil.rmtree(folder / "files/etc")
        (folder / "files/etc").symlink_to(outside, target_is_directory=True)
        facts = collect(host)

    assert facts["host"]["os_version"] is None
    assert "os-release" in facts["host"]["reason"]


def test_a_bundle_given_through_a_link_to_its_folder_is_read(tmp_path: Path) -> None:
    # The person chose the path: the link they typed is followed, nothing below it is.
    link = tmp_path / "seat"
    link.symlink_to(HEALTHY, target_is_directory=True)
    with open_bundle(link) as host:
        assert collect(host)["host"]["os_version"]


def test_sqlite_members_are_unpacked_only_inside_the_bundles_own_temporary_folder(tmp_path: Path) -> None:
    archive = _zip_of(ROOT / "macos-tcc-denied-chrome", tmp_path / "seat.zip")
    with open_bundle(archive) as host:
        collect(host)
        temporary = Path(host._store._tmp.name).resolve()
        unpacked = [path for path in temporary.rglob("*") if path.is_file()]
        assert unpacked and all(temporary in path.resolve().parents for path in unpacked)
    assert not temporary.exists()


def test_refusal_is_a_read_error_naming_its_rule() -> None:
    refusal = BundleRefused("symlink", "x is a symbolic link")
    assert isinstance(refusal, ReadError) and refusal.rule == "symlink"
    assert unsafe_member_name("files/home/a/Preferences") is None
    assert unsafe_member_name("files/a..b/c") is None
    assert unsafe_member_name("files/../x") is not None
