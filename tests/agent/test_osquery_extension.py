"""The osquery extension: the seat's readiness, Chrome site permissions and audio inputs as
osquery tables — judged like ``readyfloor-agent check``, served over osquery's thrift API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import osquery
import pytest
from osquery.extensions import Extension
from readyfloor_agent import __version__
from readyfloor_agent import osquery_extension as extension
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.checks import CATALOG, Policy, State, evaluate, fix_for, readiness_of
from readyfloor_agent.cli import main as cli_main
from readyfloor_agent.config import AgentSettings, StateDir
from readyfloor_agent.host import ConsoleUser, HostOverlay, LiveHost

from .bundle_facts import facts_of
from .fixture_bundles import ROOT as BUNDLES
from .osquery_fakes import FakeOsqueryd, ThriftServer

CTI = "https://acme.my.salesforce.com"
TABLES = {
    "readyfloor_checks": extension.ReadinessChecksTable,
    "chrome_site_permissions": extension.ChromeSitePermissionsTable,
    "readyfloor_audio_inputs": extension.AudioInputsTable,
}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sockets() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rfext-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def seat(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Points the tables at a fixture bundle, judged with the CTI origin from the settings."""

    def use(name: str, settings: AgentSettings | None = None) -> None:
        chosen = settings or AgentSettings(state_dir=tmp_path / "state", cti_origins=(CTI,))
        monkeypatch.setattr(
            extension, "SEAT", extension.SeatSource(lambda: open_bundle(BUNDLES / name), lambda: chosen)
        )

    return use


def generate(table: str) -> list[dict[str, str]]:
    return TABLES[table]().generate({})


# -- readyfloor_checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bundle",
    ["windows-healthy", "any-chrome-site-blocked", "macos-no-full-disk-access", "linux-headset-not-default"],
)
def test_every_check_is_a_row_judged_as_the_self_check_judges_it(bundle: str, seat: Any) -> None:
    seat(bundle)
    facts = facts_of(bundle)
    results = evaluate(facts, Policy(cti_origins=(CTI,)))

    rows = generate("readyfloor_checks")

    assert [row["check_id"] for row in rows] == [check.id for check in CATALOG]
    assert {row["readiness"] for row in rows} == {readiness_of(results).value}
    for row, result, check in zip(rows, results, CATALOG):
        assert (row["state"], row["reason"], row["severity"]) == (
            result.state.value,
            result.reason,
            result.severity,
        )
        assert (row["title"], row["area"]) == (check.title, check.area)
        if result.state in (State.FAIL, State.WARN, State.UNKNOWN):
            assert row["fix"].startswith("1) " + fix_for(check.id, facts["host"]["os"]).steps[0])
        else:
            assert row["fix"] == ""


@pytest.mark.parametrize(
    ("bundle", "check_id", "state", "readiness"),
    [
        ("windows-healthy", "chrome.mic.site", "pass", "ready"),
        ("any-chrome-site-blocked", "chrome.mic.site", "fail", "not_ready"),
        ("any-chrome-one-time-allow", "chrome.mic.site", "warn", "at_risk"),
        ("macos-no-full-disk-access", "os.mic.chrome", "unknown", "unknown"),
    ],
)
def test_fleet_queries_find_the_seats_that_are_not_ready(
    bundle: str, check_id: str, state: str, readiness: str, seat: Any
) -> None:
    seat(bundle)

    not_passing = {row["check_id"]: row for row in generate("readyfloor_checks") if row["state"] != "pass"}

    assert (not_passing.get(check_id, {}).get("state") or "pass") == state
    assert {row["readiness"] for row in generate("readyfloor_checks")} == {readiness}


def test_without_a_known_cti_origin_the_site_checks_do_not_apply(seat: Any, tmp_path: Path) -> None:
    seat("any-chrome-site-blocked", AgentSettings(state_dir=tmp_path / "state"))

    rows = {row["check_id"]: row for row in generate("readyfloor_checks")}

    assert rows["chrome.mic.site"]["state"] == "n/a"


def test_the_policy_the_server_sent_wins_over_the_settings_file(seat: Any, tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.save_config({"config_version": "v7", "policy": {"cti_origins": ["https://app.hubspot.com"]}})
    seat("any-chrome-site-blocked", AgentSettings(state_dir=state.path, cti_origins=(CTI,)))

    rows = {row["check_id"]: row for row in generate("readyfloor_checks")}

    assert "https://app.hubspot.com" in rows["chrome.mic.site"]["reason"]
    assert CTI not in rows["chrome.mic.site"]["reason"]


def test_under_osqueryd_the_policy_cached_by_the_seats_own_agent_is_found(tmp_path: Path) -> None:
    class RootAtTheSeat(HostOverlay):
        # osqueryd runs the extension as root: the person's agent keeps its state in their home.
        def console_user(self) -> ConsoleUser:
            return ConsoleUser(name="mrivera", home=str(tmp_path / "home"), uid=1000, agent_is_user=False)

    host = RootAtTheSeat(LiveHost("linux"))
    StateDir(extension.user_state_dir(host, str(tmp_path / "home"))).save_config(
        {"config_version": "v3", "policy": {"cti_origins": [CTI]}}
    )

    policy, source = extension.seat_policy(AgentSettings(state_dir=tmp_path / "root-state"), host)

    assert policy.cti_origins == (CTI,)
    assert "v3" in source


def test_a_seat_that_cannot_be_read_is_unknown_on_every_check_never_passing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> Any:
        raise OSError("the disk went away")

    monkeypatch.setattr(extension, "SEAT", extension.SeatSource(broken, AgentSettings))

    rows = generate("readyfloor_checks")

    assert len(rows) == len(CATALOG)
    assert {row["state"] for row in rows} == {"unknown"}
    assert {row["readiness"] for row in rows} == {"unknown"}
    assert "the disk went away" in rows[0]["reason"]
    assert generate("chrome_site_permissions") == generate("readyfloor_audio_inputs") == []


def test_one_query_over_all_tables_reads_the_seat_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened: list[str] = []
    now = [1000.0]

    def open_host() -> Any:
        opened.append("seat")
        return open_bundle(BUNDLES / "windows-healthy")

    monkeypatch.setattr(
        extension,
        "SEAT",
        extension.SeatSource(open_host, lambda: AgentSettings(state_dir=tmp_path), clock=lambda: now[0]),
    )

    for table in TABLES:
        generate(table)
    assert opened == ["seat"]
    now[0] += extension.FACTS_TTL_S + 1
    generate("readyfloor_checks")
    assert opened == ["seat", "seat"]


# -- chrome_site_permissions and readyfloor_audio_inputs ------------------------------------------


@pytest.mark.parametrize(
    ("bundle", "expected"),
    [
        (
            "windows-healthy",
            [
                ("Default", "microphone", "https://acme.my.salesforce.com:443,*", "allow", "durable"),
                ("Default", "notifications", "https://acme.my.salesforce.com:443,*", "allow", "durable"),
            ],
        ),
        (
            "any-chrome-one-time-allow",
            [("Default", "microphone", "https://acme.my.salesforce.com:443,*", "allow", "one_time")],
        ),
        (
            "any-chrome-site-blocked",
            [("Default", "microphone", "https://acme.my.salesforce.com:443,*", "block", "durable")],
        ),
    ],
)
def test_site_permissions_are_one_row_per_exception(
    bundle: str, expected: list[tuple[str, ...]], seat: Any
) -> None:
    seat(bundle)

    rows = generate("chrome_site_permissions")

    found = [(r["profile"], r["permission"], r["pattern"], r["setting"], r["model"]) for r in rows]
    for row in expected:
        assert row in found
    profile = next(p for p in facts_of(bundle)["chrome"]["profiles"] if p["dir"] == "Default")
    assert len([r for r in rows if r["profile"] == "Default"]) == len(profile["mic_exceptions"]) + len(
        profile["notification_exceptions"]
    )
    assert all(row["last_modified"].endswith("Z") for row in rows if row["last_modified"])


def test_every_profile_s_permissions_are_listed(seat: Any) -> None:
    seat("any-chrome-several-profiles")
    profiles = [
        p for p in facts_of("any-chrome-several-profiles")["chrome"]["profiles"] if p.get("status") == "ok"
    ]

    rows = generate("chrome_site_permissions")

    expected = {p["dir"] for p in profiles if p["mic_exceptions"] or p["notification_exceptions"]}
    assert len(expected) > 1
    assert {row["profile"] for row in rows} == expected


@pytest.mark.parametrize(
    "bundle", ["windows-healthy", "macos-external-mic-not-default", "linux-pactl-outside-session"]
)
def test_audio_inputs_are_the_seat_s_inputs_as_text(bundle: str, seat: Any) -> None:
    seat(bundle)
    inputs = facts_of(bundle)["audio"]["inputs"]

    rows = generate("readyfloor_audio_inputs")

    assert [row["name"] for row in rows] == [item["name"] for item in inputs]
    for row, item in zip(rows, inputs):
        assert row["is_default"] == {True: "1", False: "0", None: ""}[item["is_default"]]
        assert row["vendor_id"] == (item["vendor_id"] or "")
        assert row["state"] == item["state"]


# -- over osquery's thrift API -------------------------------------------------------------------


def test_osquery_can_call_the_tables_over_thrift(sockets: Path, seat: Any) -> None:
    seat("any-chrome-site-blocked")
    path = sockets / "readyfloor.em"
    with ThriftServer(path, Extension.Processor(osquery.ExtensionManager())):
        client = osquery.ExtensionClient(str(path))
        assert client.open(timeout=2)
        try:
            call = client.extension_client().call
            generated = call("table", "readyfloor_checks", {"action": "generate"})
            columns = call("table", "readyfloor_checks", {"action": "columns"})
            inputs = call("table", "readyfloor_audio_inputs", {"action": "columns"})
            unknown = call("table", "no_such_table", {"action": "generate"})
        finally:
            client.close()

    assert generated.status.code == 0
    rows = {row["check_id"]: row for row in generated.response}
    assert rows["chrome.mic.site"]["state"] == "fail"
    assert all(isinstance(value, str) for row in generated.response for value in row.values())
    assert [column["name"] for column in columns.response] == [name for name, _ in extension.CHECK_COLUMNS]
    assert {c["name"]: c["type"] for c in inputs.response}["is_default"] == "INTEGER"
    assert unknown.status.code == 1


def test_the_extension_registers_with_osqueryd_and_serves_its_tables(sockets: Path, tmp_path: Path) -> None:
    settings = tmp_path / "agent.ini"
    settings.write_text(f"[agent]\nstate_dir = {tmp_path / 'state'}\ncti_origins = {CTI}\n")
    manager = FakeOsqueryd()
    socket_path = sockets / "osquery.em"
    env = {**os.environ, "READYFLOOR_CONFIG": str(settings), "PYTHONPATH": str(REPO / "agent")}
    with manager.serve(socket_path):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "readyfloor_agent",
                "osquery-extension",
                "--socket",
                str(socket_path),
                "--timeout",
                "3",
                "--interval",
                "1",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert manager.registration.wait(30), process.stderr.read1().decode() if process.poll() else ""
            info, registry = manager.registered[0]
            extension_socket = f"{socket_path}.{manager.uuid}"
            deadline = time.monotonic() + 10
            while not os.path.exists(extension_socket) and time.monotonic() < deadline:
                time.sleep(0.05)
            client = osquery.ExtensionClient(extension_socket)
            assert client.open(timeout=5)
            try:
                response = client.extension_client().call(
                    "table", "readyfloor_checks", {"action": "generate"}
                )
            finally:
                client.close()
        finally:
            process.kill()
            process.wait(10)

    assert (info.name, info.version) == ("readyfloor", __version__)
    assert set(registry["table"]) == set(TABLES)
    assert response.status.code == 0
    assert [row["check_id"] for row in response.response] == [check.id for check in CATALOG]


def test_without_osqueryd_the_extension_command_fails_clearly(
    sockets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["osquery-extension", "--socket", str(sockets / "none.em"), "--timeout", "1"])

    assert code == 3
    assert f"nothing answered on osqueryd's extension socket {sockets / 'none.em'}" in capsys.readouterr().err


def test_as_text_gives_osquery_strings() -> None:
    row = extension.as_text({"a": None, "b": True, "c": False, "d": 3, "e": "x"})

    assert row == {"a": "", "b": "1", "c": "0", "d": "3", "e": "x"}


def test_the_osquery_load_example_names_the_wrapper_that_runs_this_extension() -> None:
    load = (REPO / "deploy" / "osquery" / "extensions.load").read_text("utf-8")
    wrapper = REPO / "deploy" / "osquery" / "readyfloor.ext"

    assert next(line for line in load.splitlines() if line and not line.startswith("#")).endswith(
        "readyfloor.ext"
    )
    assert "osquery-extension" in wrapper.read_text("utf-8")
    assert os.access(wrapper, os.X_OK)
    subprocess.run(["sh", "-n", str(wrapper)], check=True)
