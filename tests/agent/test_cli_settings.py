"""Agent settings: files, then environment, then flags; the state dir keeps secrets private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from readyfloor_agent.config import AgentSettings, Seat, SettingsError, StateDir, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_user_file_overrides_the_system_file_and_the_environment_overrides_both(tmp_path: Path) -> None:
    system = write(
        tmp_path / "system.ini",
        "[agent]\nserver = https://system.example.com\nenroll_secret = from-the-system\ntimeout = 5\n",
    )
    user = write(tmp_path / "user.ini", "[agent]\nserver = https://user.example.com\n")

    settings = load_settings(environ={"READYFLOOR_TIMEOUT": "7"}, files=[system, user])

    assert settings.server == "https://user.example.com"
    assert settings.enroll_secret == "from-the-system"
    assert settings.timeout == 7.0
    assert settings.sources == (str(system), str(user), "$READYFLOOR_TIMEOUT")


def test_flags_override_everything(tmp_path: Path) -> None:
    settings = load_settings(environ={"READYFLOOR_SERVER": "https://env.example.com"}, files=[])

    overridden = settings.with_overrides(server="https://flag.example.com", state_dir="~/rf", timeout=None)

    assert overridden.server == "https://flag.example.com"
    assert overridden.state_dir == Path("~/rf").expanduser()
    assert overridden.timeout == settings.timeout


def test_a_json_settings_file_works_like_an_ini_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "agent.json",
        '{"server": "https://rf.example.com", "seat": {"floor": "Floor 3", "label": "D-02"},'
        ' "cti_origins": ["https://acme.my.salesforce.com"]}',
    )

    settings = load_settings(environ={}, files=[path])

    assert settings.seat == Seat("Floor 3", "D-02")
    assert settings.cti_origins == ("https://acme.my.salesforce.com",)


def test_environment_values_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "READYFLOOR_SEAT": "Floor 1/North/A-01",
            "READYFLOOR_CTI_ORIGINS": "https://a.example.com, https://b.example.com",
            "READYFLOOR_STATE_DIR": str(tmp_path / "state"),
        },
        files=[],
    )

    assert settings.seat == Seat("Floor 1/North", "A-01")
    assert settings.cti_origins == ("https://a.example.com", "https://b.example.com")
    assert settings.state_dir == tmp_path / "state"


def test_readyfloor_config_names_the_only_file_read(tmp_path: Path) -> None:
    path = write(tmp_path / "only.ini", "[agent]\nserver = https://only.example.com\n")

    settings = load_settings(environ={"READYFLOOR_CONFIG": str(path)})

    assert settings.server == "https://only.example.com"
    assert settings.sources == (str(path),)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("server = x\n", "section"),
        ("[agent]\nsevrer = https://typo.example.com\n", "sevrer"),
        ("[agent]\ntimeout = soon\n", "timeout"),
        ("[agent]\nspool_max_entries = -1\n", "positive"),
        ("[agent]\nseat = A-01\n", "FLOOR/LABEL"),
    ],
)
def test_a_mistake_in_the_settings_file_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "agent.ini", content)

    with pytest.raises(SettingsError, match=message):
        load_settings(environ={}, files=[path])


def test_missing_settings_files_mean_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, files=[tmp_path / "absent.ini"])

    assert settings == AgentSettings(state_dir=settings.state_dir)
    assert settings.server is None


def test_a_named_but_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={"READYFLOOR_CONFIG": str(tmp_path / "absent.ini")})


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_the_node_key_and_enrol_secret_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")

    state.save_node_key("nk")
    state.save_enroll_secret("secret")

    assert state.node_key() == "nk" and state.enroll_secret() == "secret"
    for name in ("node_key", "enroll_secret"):
        assert (state.path / name).stat().st_mode & 0o777 == 0o600
    assert state.path.stat().st_mode & 0o777 == 0o700


def test_the_host_identifier_stays_the_same_once_chosen(tmp_path: Path) -> None:
    state = StateDir(tmp_path)

    first = state.host_identifier("SERIAL-1")

    assert first == "SERIAL-1"
    assert StateDir(tmp_path).host_identifier("SERIAL-2") == "SERIAL-1"


def test_a_corrupt_state_file_reads_as_empty_not_as_a_crash(tmp_path: Path) -> None:
    state = StateDir(tmp_path).ensure()
    (tmp_path / "state.json").write_text("{not json")
    (tmp_path / "config.json").write_text("[]")

    assert state.load() == {}
    assert state.cached_config() is None
    assert state.update(device_id=3) == {"device_id": 3}
