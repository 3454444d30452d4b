"""The command line: help that teaches, a self-check with honest exit codes, enrol and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from readyfloor_agent import cli, report, simulate
from readyfloor_agent.checks import fix_for
from readyfloor_agent.config import StateDir

from .fake_agent_server import FakeAgentServer, running_server

SECRET = "correct-horse-battery"
CTI = "https://acme.my.salesforce.com"
SUBCOMMANDS = [
    "check", "collect", "enroll", "run", "status", "requeue-dead", "bundle", "simulate", "osquery-extension"
]


@pytest.fixture
def server() -> Iterator[FakeAgentServer]:
    with running_server(enroll_secret=SECRET, next_checkin_s=60, policy={"cti_origins": [CTI]}) as fake:
        yield fake


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Never read the developer's own settings files or environment.
    for name in list(os.environ):
        if name.startswith("READYFLOOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("READYFLOOR_CONFIG", str(tmp_path / "agent.ini"))
    (tmp_path / "agent.ini").write_text("[agent]\n")


def seat(monkeypatch: pytest.MonkeyPatch, scenario: str, os_name: str = "windows") -> dict[str, Any]:
    """Stand in for the collectors with a seat we cannot have here (a Windows PC, a Mac)."""
    facts = simulate.scenario_facts(scenario, os=os_name, seat_label="A-01", cti_origin=CTI)
    monkeypatch.setattr(cli, "_collect", lambda bundle, platform: facts)
    return facts


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "readyfloor_agent", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


# -- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_command_explains_itself_with_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])

    out = capsys.readouterr().out
    assert done.value.code == 0
    assert f"readyfloor-agent {command}" in out
    assert "examples:" in out


def test_the_top_level_help_lists_every_command_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])

    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out
    assert "0 READY, 1 AT RISK, 2 NOT READY" in out


def test_a_wrong_command_line_exits_64_not_a_readiness_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["check", "--no-such-flag"])

    assert done.value.code == cli.EXIT_USAGE


def test_the_console_script_and_python_m_are_the_same_program() -> None:
    result = run_cli("--version")

    assert result.returncode == 0
    assert result.stdout.strip().startswith("readyfloor-agent ")


# -- check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "os_name", "readiness", "code"),
    [
        ("healthy", "windows", "ready", 0),
        ("one_time_allow", "windows", "at_risk", 1),
        ("site_blocked", "macos", "not_ready", 2),
        ("no_full_disk_access", "macos", "unknown", 2),
    ],
)
def test_check_exit_code_follows_the_seat_readiness(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    scenario: str,
    os_name: str,
    readiness: str,
    code: int,
) -> None:
    seat(monkeypatch, scenario, os_name)

    exit_code = cli.main(["check", "--json", "--cti-origin", CTI, "--state-dir", str(tmp_path)])

    document = json.loads(capsys.readouterr().out)
    assert (document["readiness"], document["exit_code"], exit_code) == (readiness, code, code)


def test_check_json_has_one_entry_per_check_with_fix_steps_for_the_failing_ones(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from readyfloor_agent.checks import CATALOG

    seat(monkeypatch, "site_blocked")

    cli.main(["check", "--json", "--cti-origin", CTI, "--state-dir", str(tmp_path)])

    document = json.loads(capsys.readouterr().out)
    assert set(document) >= {"readiness", "exit_code", "host", "policy", "checked_at", "results"}
    assert [row["check_id"] for row in document["results"]] == [check.id for check in CATALOG]
    by_id = {row["check_id"]: row for row in document["results"]}
    site = by_id["chrome.mic.site"]
    assert (site["state"], site["severity"]) == ("fail", "critical")
    assert site["fix"] == fix_for("chrome.mic.site", "windows").to_dict()
    assert all(row["fix"] is None for row in document["results"] if row["state"] in ("pass", "n/a"))
    assert document["policy"]["cti_origins"] == [CTI]
    assert document["host"]["os"] == "windows"


def test_check_text_shows_each_check_and_plain_steps_for_what_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from readyfloor_agent.checks import get_check

    seat(monkeypatch, "tcc_denied", "macos")

    exit_code = cli.main(["check", "--cti-origin", CTI, "--state-dir", str(tmp_path)])

    out = capsys.readouterr().out
    assert exit_code == 2
    assert get_check("os.mic.chrome").title in out
    assert "FAIL" in out
    assert "This seat is NOT READY." in out
    assert fix_for("os.mic.chrome", "macos").steps[0][:60] in out.replace("\n      ", " ")
    assert fix_for("os.mic.chrome", "windows").steps[0][:60] not in out.replace("\n      ", " ")


def test_check_uses_the_policy_cached_from_the_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hubspot = "https://app.hubspot.com"
    StateDir(tmp_path).save_config({"config_version": "v7", "policy": {"cti_origins": [hubspot]}})
    seat(monkeypatch, "healthy")  # allowed on Salesforce only

    exit_code = cli.main(["check", "--json", "--state-dir", str(tmp_path)])

    document = json.loads(capsys.readouterr().out)
    assert document["policy"]["cti_origins"] == [hubspot]
    assert "v7" in document["policy"]["source"]
    assert {row["check_id"]: row["state"] for row in document["results"]}["chrome.mic.site"] != "pass"
    assert exit_code != 0


def test_cti_origin_flags_override_the_cached_policy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    StateDir(tmp_path).save_config(
        {"config_version": "v7", "policy": {"cti_origins": ["https://app.hubspot.com"]}}
    )
    seat(monkeypatch, "healthy")

    exit_code = cli.main(["check", "--json", "--cti-origin", CTI, "--state-dir", str(tmp_path)])

    assert json.loads(capsys.readouterr().out)["policy"]["cti_origins"] == [CTI]
    assert exit_code == 0


def test_a_malformed_cti_origin_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seat(monkeypatch, "healthy")

    exit_code = cli.main(["check", "--cti-origin", "acme salesforce", "--state-dir", str(tmp_path)])

    assert exit_code == cli.EXIT_FAILED
    assert "CTI origin" in capsys.readouterr().err


def test_check_on_this_machine_agrees_with_its_own_json(tmp_path: Path) -> None:
    result = run_cli("check", "--json", "--cti-origin", CTI, "--state-dir", str(tmp_path))

    document = json.loads(result.stdout)
    assert (
        result.returncode == document["exit_code"] == {"ready": 0, "at_risk": 1}.get(document["readiness"], 2)
    )


def test_collect_on_this_machine_prints_schema_valid_facts(tmp_path: Path) -> None:
    result = run_cli("collect", "--validate", "--state-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    report.validate("facts", json.loads(result.stdout))


def test_a_bundle_captured_here_is_judged_the_same_by_check_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "seat.zip"
    captured = run_cli("bundle", "-o", str(bundle), "--state-dir", str(tmp_path))
    assert captured.returncode == 0, captured.stderr
    assert bundle.exists()

    live = run_cli("check", "--json", "--cti-origin", CTI, "--state-dir", str(tmp_path))
    replayed = run_cli(
        "check", "--json", "--cti-origin", CTI, "--state-dir", str(tmp_path), "--bundle", str(bundle)
    )

    def verdicts(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
        return [(row["check_id"], row["state"]) for row in json.loads(result.stdout)["results"]]

    assert replayed.returncode == live.returncode
    assert verdicts(replayed) == verdicts(live)
    this_os = json.loads(live.stdout)["host"]["os"]
    told = run_cli("check", "--json", "--cti-origin", CTI, "--bundle", str(bundle), "--platform", this_os)
    assert verdicts(told) == verdicts(live)


def test_a_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("check", "--bundle", str(tmp_path / "nope.zip"), "--state-dir", str(tmp_path))

    assert result.returncode == cli.EXIT_FAILED
    assert "nope.zip" in result.stderr


def test_platform_without_a_bundle_is_refused(tmp_path: Path) -> None:
    result = run_cli("check", "--platform", "macos", "--state-dir", str(tmp_path))

    assert result.returncode == cli.EXIT_FAILED
    assert "--bundle" in result.stderr


# -- enroll, run, status -------------------------------------------------------------------


def test_enroll_then_run_once_reports_this_machine(server: FakeAgentServer, tmp_path: Path) -> None:
    enrolled = run_cli(
        "enroll",
        "--server",
        server.url,
        "--secret",
        SECRET,
        "--seat",
        "Floor 1/A-01",
        "--state-dir",
        str(tmp_path),
    )
    assert enrolled.returncode == 0, enrolled.stderr
    [device] = server.devices_by_host.values()
    assert device.seat == {"floor": "Floor 1", "label": "A-01"}
    if os.name != "nt":
        assert (tmp_path / "node_key").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "enroll_secret").stat().st_mode & 0o777 == 0o600

    ran = run_cli("run", "--once", "--state-dir", str(tmp_path))

    assert ran.returncode == 0, ran.stderr
    [body] = server.stored.values()
    report.validate("checkin", body)
    assert StateDir(tmp_path).cached_config()["policy"] == {"cti_origins": [CTI]}


def test_enroll_with_a_wrong_secret_says_so(server: FakeAgentServer, tmp_path: Path) -> None:
    result = run_cli(
        "enroll",
        "--server",
        server.url,
        "--secret",
        "not-the-secret",
        "--no-collect",
        "--state-dir",
        str(tmp_path),
    )

    assert result.returncode == cli.EXIT_FAILED
    assert "refused the enrol secret" in result.stderr
    assert StateDir(tmp_path).node_key() is None


def test_enroll_needs_a_server(tmp_path: Path) -> None:
    result = run_cli("enroll", "--secret", SECRET, "--state-dir", str(tmp_path))

    assert result.returncode == cli.EXIT_FAILED
    assert "--server" in result.stderr


def test_run_without_any_server_explains_how_to_configure_one(tmp_path: Path) -> None:
    result = run_cli("run", "--once", "--state-dir", str(tmp_path))

    assert result.returncode == cli.EXIT_FAILED
    assert "READYFLOOR_SERVER" in result.stderr


def test_status_reports_enrolment_and_spool(
    server: FakeAgentServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            [
                "enroll",
                "--server",
                server.url,
                "--secret",
                SECRET,
                "--no-collect",
                "--state-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    capsys.readouterr()

    cli.main(["status", "--json", "--state-dir", str(tmp_path)])

    status = json.loads(capsys.readouterr().out)
    assert (status["enrolled"], status["server"], status["device_id"]) == (True, server.url, 1)
    assert status["spool"]["reports"] == 0


# -- simulate, osquery-extension -----------------------------------------------------------


def test_simulate_lists_its_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--list-scenarios"]) == 0

    out = capsys.readouterr().out
    for name in simulate.SCENARIOS:
        assert name in out


def test_simulate_drives_a_floor_and_prints_a_json_summary(server: FakeAgentServer) -> None:
    result = run_cli(
        "simulate",
        "--server",
        server.url,
        "--secret",
        SECRET,
        "--seats",
        "12",
        "--once",
        "--json",
        "--seed",
        "3",
    )

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["seats"], summary["enrolled"], summary["checkins"]) == (12, 12, 12)
    assert len(server.stored) == 12


def test_simulate_rejects_an_unknown_scenario_in_the_mix(server: FakeAgentServer) -> None:
    result = run_cli("simulate", "--server", server.url, "--secret", SECRET, "--mix", "gremlins=1", "--once")

    assert result.returncode == cli.EXIT_FAILED
    assert "gremlins" in result.stderr
