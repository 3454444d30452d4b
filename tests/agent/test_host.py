"""The live host: every read bounded, every failure a ReadError with a reason people can act on."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest
from readyfloor_agent.host import (
    ConsoleUser,
    LiveHost,
    NotFound,
    ReadError,
    RegistryKey,
    canonical_key,
    connect_sqlite_readonly,
    live_host,
)


@pytest.fixture
def host() -> LiveHost:
    return live_host()


def test_it_reads_a_file_within_its_limit(host: LiveHost, tmp_path: Path) -> None:
    path = tmp_path / "Preferences"
    path.write_bytes(b"x" * 100)

    assert host.read_bytes(str(path), limit=100) == b"x" * 100


def test_a_file_over_the_limit_is_refused_not_truncated(host: LiveHost, tmp_path: Path) -> None:
    path = tmp_path / "Preferences"
    path.write_bytes(b"x" * 101)

    with pytest.raises(ReadError, match="larger than 100 bytes"):
        host.read_bytes(str(path), limit=100)


def test_a_missing_file_is_not_found(host: LiveHost, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        host.read_bytes(str(tmp_path / "absent"))
    assert not host.exists(str(tmp_path / "absent"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_a_read_error_not_absence(host: LiveHost, tmp_path: Path) -> None:
    path = tmp_path / "TCC.db"
    path.write_bytes(b"secret")
    path.chmod(0)

    with pytest.raises(ReadError, match="permission denied") as raised:
        host.read_bytes(str(path))
    assert not isinstance(raised.value, NotFound)


def test_a_directory_lists_sorted(host: LiveHost, tmp_path: Path) -> None:
    for name in ("Profile 2", "Default", "Local State"):
        (tmp_path / name).mkdir()

    assert host.list_dir(str(tmp_path)) == ["Default", "Local State", "Profile 2"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"profile": {', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_broken_json_is_a_read_error_with_a_reason(
    host: LiveHost, tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "Preferences"
    path.write_bytes(content)

    with pytest.raises(ReadError, match=reason):
        host.read_json(str(path))


def test_a_broken_plist_is_a_read_error(host: LiveHost, tmp_path: Path) -> None:
    path = tmp_path / "com.google.Chrome.plist"
    path.write_bytes(b"bplist00\x01\x02")

    with pytest.raises(ReadError, match="not a readable property list"):
        host.read_plist(str(path))


def test_a_command_reports_its_output_and_exit_code(host: LiveHost) -> None:
    result = host.run(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"]
    )

    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (3, "out", "err")


def test_a_command_gets_the_extra_environment(host: LiveHost) -> None:
    result = host.run([sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"], env={"LC_ALL": "C"})

    assert result.stdout.strip() == "C"


def test_a_missing_program_is_not_found(host: LiveHost) -> None:
    with pytest.raises(NotFound, match="not installed"):
        host.run(["readyfloor-no-such-program"])


def test_a_hanging_command_is_cut_off_at_its_timeout(host: LiveHost) -> None:
    with pytest.raises(ReadError, match=r"did not answer within 0\.5 s"):
        host.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_there_is_no_registry_off_windows(host: LiveHost) -> None:
    if host.platform == "windows":
        pytest.skip("this is Windows")
    assert host.registry("HKLM\\SOFTWARE\\Policies\\Google\\Chrome") is None


def _database(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE access (service TEXT, client TEXT)")
    connection.execute("INSERT INTO access VALUES ('kTCCServiceMicrophone', 'com.google.Chrome')")
    connection.commit()
    connection.close()


def test_sqlite_is_opened_read_only(host: LiveHost, tmp_path: Path) -> None:
    path = tmp_path / "TCC.db"
    _database(path)

    connection = host.sqlite_connect(str(path))
    try:
        assert connection.execute("SELECT client FROM access").fetchone() == ("com.google.Chrome",)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            connection.execute("DELETE FROM access")
    finally:
        connection.close()


def test_a_path_with_uri_characters_still_opens(tmp_path: Path) -> None:
    folder = tmp_path / "Application Support?#%"
    folder.mkdir()
    _database(folder / "TCC.db")

    connect_sqlite_readonly(str(folder / "TCC.db")).close()


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        (None, NotFound, "does not exist"),
        (b"SQLite format 3\x00" + b"\x01" * 600, ReadError, "cannot be read"),
        (b"not a database at all" * 50, ReadError, "cannot be read"),
    ],
)
def test_sqlite_failures_surface_at_connect(
    host: LiveHost, tmp_path: Path, content: bytes | None, error: type[ReadError], reason: str
) -> None:
    path = tmp_path / "TCC.db"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(error, match=reason):
        host.sqlite_connect(str(path))


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HKLM\\SOFTWARE\\Policies\\", "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies"),
        ("hkcu\\Software\\Google", "HKEY_CURRENT_USER\\Software\\Google"),
        ("HKU\\S-1-5-21-1\\Software", "HKEY_USERS\\S-1-5-21-1\\Software"),
        (
            "HKEY_CLASSES_ROOT\\MIME\\Database\\Content Type\\application/json",
            "HKEY_CLASSES_ROOT\\MIME\\Database\\Content Type\\application/json",
        ),
    ],
)
def test_registry_paths_are_written_the_way_reg_export_writes_them(given: str, canonical: str) -> None:
    assert canonical_key(given) == canonical


def test_an_unknown_registry_root_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown registry root"):
        canonical_key("HKEY_NOWHERE\\X")


def test_registry_value_names_match_case_insensitively() -> None:
    key = RegistryKey("HKEY_CURRENT_USER\\X", {"Value": ("REG_SZ", "Deny")})

    assert (key.get("value"), key.get("VALUE"), key.get("Missing", "default")) == ("Deny", "Deny", "default")


def test_a_console_user_survives_a_trip_through_json() -> None:
    user = ConsoleUser("mrivera", "C:\\Users\\mrivera", sid="S-1-5-21-1-1013", agent_is_user=False)

    assert ConsoleUser.from_json(user.to_json()) == user


def test_home_without_anyone_signed_in_is_a_read_error(
    host: LiveHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host, "console_user", lambda: None)

    with pytest.raises(ReadError, match="nobody is signed in"):
        host.home()


def test_paths_are_joined_the_way_the_seat_writes_them() -> None:
    assert LiveHost("windows").join("C:\\Users\\a", "AppData", "Local") == "C:\\Users\\a\\AppData\\Local"
    assert LiveHost("macos").join("/Users/a", "Library") == "/Users/a/Library"
