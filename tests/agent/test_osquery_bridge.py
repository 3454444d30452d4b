"""The osquery bridge: a seat read through osqueryd's tables gives the facts the agent's own
readers give, names where they came from, and falls back — with the reason — whenever osquery
cannot answer. osqueryd is played by a thrift ExtensionManager answering with captured rows."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from readyfloor_agent import osquery_bridge as bridge
from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.checks import Policy, evaluate
from readyfloor_agent.cli import main as cli_main
from readyfloor_agent.collectors import collect
from readyfloor_agent.config import AgentSettings
from readyfloor_agent.report import validate

from . import osquery_fixtures
from .fixture_bundles import ROOT as BUNDLES
from .osquery_fakes import FIXTURE_ENV, FakeOsqueryd, load_answers

CTI = "https://acme.my.salesforce.com"
WINDOWS = {
    "host.source": ("registry", "osquery:registry"),
    "os_mic.source": ("registry", "osquery:registry"),
    "chrome.policy.source": ("registry", "osquery:registry"),
    "audio.source": ("registry", "osquery:registry"),
}
MACOS = {
    "host.source": ("file", "osquery:os_version"),
    "chrome.policy.source": ("plist", "osquery:plist"),
    "audio.source": ("system_profiler", "osquery:system_profiler"),
}
USB_NOTE = "USB vendor and product ids from osquery's usb_devices"

# Where a seat read through osquery differs from the same seat read natively: the sources, and
# what osquery knows that the agent's own readers cannot (nothing else may differ).
DIFFERENCES: dict[str, dict[str, tuple[Any, Any]]] = {
    "windows-healthy": WINDOWS,
    "windows-exclusive-mode-held": WINDOWS,
    "windows-chrome-policy-allowlist-misses-cti": WINDOWS,
    "macos-healthy": {
        **MACOS,
        # system_profiler names the headset but gives no USB ids; usb_devices does.
        "audio.inputs.0.vendor_id": (None, "0b0e"),
        "audio.inputs.0.product_id": (None, "0305"),
        "audio.reason": (None, USB_NOTE),
    },
    "macos-chrome-policy-blocks-notifications": MACOS,
    # The serial number is readable by root only; osqueryd runs as root, the agent as the user.
    "linux-healthy-pactl": {"host.serial": (None, "PF3KX9A2")},
}


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def sockets() -> Iterator[Path]:
    """A short folder for unix sockets (their paths may not exceed ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="rfosq-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flat(item, f"{prefix}{key}."))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(flat(item, f"{prefix}{index}."))
        return out or {prefix[:-1]: []}
    return {prefix[:-1]: value}


def differences(native: dict[str, Any], through: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    a, b = flat(native), flat(through)
    return {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}


def native_facts(seat: str) -> dict[str, Any]:
    with open_bundle(BUNDLES / seat) as host:
        return collect(host)


def facts_through(osquery: Any, seat: str) -> dict[str, Any]:
    with open_bundle(BUNDLES / seat) as host:
        return collect(host, osquery=osquery)


@contextlib.contextmanager
def osqueryd(path: Path, seat: str | None = None, **behaviour: Any) -> Iterator[FakeOsqueryd]:
    fake = FakeOsqueryd(load_answers(seat) if seat else {}, **behaviour)
    with fake.serve(path):
        yield fake


def reasons(facts: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in flat(facts).items() if key.endswith("reason") and value}


# -- a seat read through osquery -----------------------------------------------------------------


@pytest.mark.parametrize("seat", sorted(DIFFERENCES))
def test_a_seat_read_through_osquery_differs_from_the_native_reading_only_where_osquery_knows_more(
    seat: str, sockets: Path
) -> None:
    with (
        osqueryd(sockets / "osquery.em", seat) as fake,
        bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq,
    ):
        through = facts_through(osq, seat)

    validate("facts", through)
    assert differences(native_facts(seat), through) == DIFFERENCES[seat]
    assert fake.unexpected == []


@pytest.mark.parametrize("seat", sorted(DIFFERENCES))
def test_checks_give_the_same_verdicts_through_osquery(seat: str, sockets: Path) -> None:
    policy = Policy(cti_origins=(CTI,))
    with osqueryd(sockets / "osquery.em", seat), bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq:
        through = evaluate(facts_through(osq, seat), policy)
    native = evaluate(native_facts(seat), policy)

    assert [(r.check_id, r.state, r.reason) for r in through] == [
        (r.check_id, r.state, r.reason) for r in native
    ]


def test_usb_ids_from_osquery_let_an_approved_model_list_by_id_pass_on_a_mac(sockets: Path) -> None:
    policy = Policy(cti_origins=(CTI,), approved_headsets=("0b0e:*",))
    with (
        osqueryd(sockets / "osquery.em", "macos-healthy"),
        bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq,
    ):
        through = {r.check_id: r for r in evaluate(facts_through(osq, "macos-healthy"), policy)}
    native = {r.check_id: r for r in evaluate(native_facts("macos-healthy"), policy)}

    assert native["audio.headset.present"].state.value == "fail"
    assert through["audio.headset.present"].state.value == "pass"


def test_the_captured_answers_are_the_queries_the_bridge_sends(tmp_path: Path) -> None:
    # Regenerate with: .venv/bin/python -m tests.agent.osquery_fixtures
    for path in osquery_fixtures.write(tmp_path):
        committed = osquery_fixtures.ROOT / path.name
        assert json.loads(path.read_text("utf-8")) == json.loads(committed.read_text("utf-8")), path.name


# -- falling back --------------------------------------------------------------------------------


def test_an_unreachable_socket_falls_back_to_the_native_readers_and_says_so(sockets: Path) -> None:
    missing = str(sockets / "nothing-here.em")
    started = time.monotonic()
    with bridge.OsqueryBridge(missing, connect_timeout=1.0) as osq:
        through = facts_through(osq, "windows-healthy")
    elapsed = time.monotonic() - started

    validate("facts", through)
    changed = differences(native_facts("windows-healthy"), through)
    assert set(changed) == {"host.reason", "os_mic.reason", "chrome.policy.reason", "audio.reason"}
    for _native, reason in changed.values():
        assert reason.startswith("read without osquery: no osquery extension socket at")
        assert missing in reason
    assert elapsed < 2


def test_a_socket_nobody_answers_on_costs_one_connect_timeout(sockets: Path) -> None:
    stale = sockets / "osquery.em"
    with socket.socket(socket.AF_UNIX) as leftover:
        leftover.bind(str(stale))  # osqueryd died and left its socket file behind
    started = time.monotonic()
    with bridge.OsqueryBridge(str(stale), connect_timeout=0.5) as osq:
        through = facts_through(osq, "macos-healthy")
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert through["host"]["source"] == "file"
    assert "nothing answered on osquery's extension socket" in through["host"]["reason"]
    assert through["os_mic"] == native_facts("macos-healthy")["os_mic"]


def test_a_refused_query_falls_back_for_that_table_only(sockets: Path) -> None:
    def refuse(sql: str) -> str | None:
        return "no such table: system_profiler" if "FROM system_profiler" in sql else None

    with (
        osqueryd(sockets / "osquery.em", "macos-healthy", refuse=refuse),
        bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq,
    ):
        through = facts_through(osq, "macos-healthy")

    native = native_facts("macos-healthy")
    assert through["audio"]["source"] == "system_profiler"
    assert "osquery refused a query (no such table: system_profiler)" in through["audio"]["reason"]
    assert [i["name"] for i in through["audio"]["inputs"]] == [i["name"] for i in native["audio"]["inputs"]]
    assert through["host"]["source"] == "osquery:os_version"
    assert through["chrome"]["policy"]["source"] == "osquery:plist"


def test_registry_queries_refused_leave_every_windows_area_on_the_registry_with_the_reason(
    sockets: Path,
) -> None:
    def refuse(sql: str) -> str | None:
        return "registry table disabled by --disable_tables" if "FROM registry" in sql else None

    with (
        osqueryd(sockets / "osquery.em", "windows-healthy", refuse=refuse),
        bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq,
    ):
        through = facts_through(osq, "windows-healthy")

    changed = differences(native_facts("windows-healthy"), through)
    assert set(changed) == {"host.reason", "os_mic.reason", "chrome.policy.reason", "audio.reason"}
    assert all("registry table disabled" in reason for _native, reason in changed.values())


def test_a_hung_osqueryd_costs_one_timeout_not_one_per_read(sockets: Path) -> None:
    def hang(sql: str) -> float:
        return 5.0 if "FROM registry" in sql else 0.0

    started = time.monotonic()
    with (
        osqueryd(sockets / "osquery.em", "windows-healthy", delay=hang),
        bridge.OsqueryBridge(str(sockets / "osquery.em"), query_timeout=0.5) as osq,
    ):
        through = facts_through(osq, "windows-healthy")
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    validate("facts", through)
    changed = differences(native_facts("windows-healthy"), through)
    assert set(changed) == {"host.reason", "os_mic.reason", "chrome.policy.reason", "audio.reason"}
    assert "osquery did not answer a query within 0.5 s" in through["os_mic"]["reason"]


def test_an_osquery_without_the_system_profiler_table_runs_system_profiler_without_complaint(
    sockets: Path,
) -> None:
    answers = load_answers("macos-healthy")
    answers[bridge.TABLES_SQL] = [
        row for row in answers[bridge.TABLES_SQL] if row["name"] != "system_profiler"
    ]
    fake = FakeOsqueryd(answers)
    with fake.serve(sockets / "osquery.em"), bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq:
        through = facts_through(osq, "macos-healthy")

    assert through["audio"]["source"] == "system_profiler"
    assert through["audio"]["reason"] == USB_NOTE
    assert not [sql for sql in fake.queries if "system_profiler" in sql]


def test_without_the_signed_in_persons_hive_only_their_keys_are_read_natively(sockets: Path) -> None:
    answers = load_answers("windows-healthy")
    answers[bridge.USER_HIVES_SQL] = []  # nobody's Volatile Environment: the hive cannot be told
    with (
        FakeOsqueryd(answers).serve(sockets / "osquery.em"),
        bridge.OsqueryBridge(str(sockets / "osquery.em")) as osq,
    ):
        through = facts_through(osq, "windows-healthy")

    native = native_facts("windows-healthy")
    assert through["host"]["source"] == "osquery:registry"  # HKLM only
    assert through["os_mic"]["source"] == "registry"
    assert "osquery has no HKEY_CURRENT_USER" in through["os_mic"]["reason"]
    assert {k: v for k, v in through["os_mic"].items() if k not in ("reason", "source")} == {
        k: v for k, v in native["os_mic"].items() if k not in ("reason", "source")
    }


def test_a_default_socket_found_but_not_answering_is_ignored_quietly(sockets: Path) -> None:
    quiet = bridge.OsqueryBridge(str(sockets / "gone.em"), required=False, connect_timeout=0.2)

    assert facts_through(quiet, "windows-healthy") == native_facts("windows-healthy")


def test_the_bridge_reconnects_after_osqueryd_restarts(sockets: Path) -> None:
    path = sockets / "osquery.em"
    with bridge.OsqueryBridge(str(path)) as osq:
        with osqueryd(path, "windows-healthy"):
            first = facts_through(osq, "windows-healthy")
        with osqueryd(path, "windows-healthy"):
            second = facts_through(osq, "windows-healthy")

    assert first["audio"]["source"] == second["audio"]["source"] == "osquery:registry"
    assert first == second


def test_without_osquery_python_the_bridge_reads_natively_and_says_why(
    sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "osquery", None)  # as if it were not installed
    path = sockets / "osquery.em"
    path.touch()
    with bridge.OsqueryBridge(str(path)) as osq:
        through = facts_through(osq, "macos-healthy")

    assert through["host"]["source"] == "file"
    assert "osquery-python cannot be loaded" in through["host"]["reason"]


def test_the_agent_never_imports_osquery_unless_a_bridge_connects() -> None:
    code = (
        "import sys, readyfloor_agent.cli, readyfloor_agent.osquery_bridge, readyfloor_agent.collectors\n"
        "from readyfloor_agent.host import live_host\n"
        "readyfloor_agent.collectors.collect(live_host())\n"
        "assert 'osquery' not in sys.modules and 'thrift' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- a private osqueryd --------------------------------------------------------------------------


def _fake_osqueryd_program(folder: Path) -> Path:
    program = folder / "osqueryd"
    fakes = Path(__file__).with_name("osquery_fakes.py")
    program.write_text(f'#!/bin/sh\necho $$ > "{folder}/pid"\nexec "{sys.executable}" "{fakes}" "$@"\n')
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def test_a_configured_osqueryd_is_started_from_its_path_and_stopped_with_the_bridge(
    sockets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FIXTURE_ENV, "windows-healthy")
    program = _fake_osqueryd_program(sockets)
    osq = bridge.OsqueryBridge(osqueryd_path=str(program))
    try:
        through = facts_through(osq, "windows-healthy")
    finally:
        osq.close()

    assert differences(native_facts("windows-healthy"), through) == WINDOWS
    pid = int((sockets / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_configured_osqueryd_that_is_not_there_falls_back_naming_its_path(sockets: Path) -> None:
    with bridge.OsqueryBridge(osqueryd_path="/opt/osquery/lib/osquery.app/Contents/MacOS/osqueryd") as osq:
        through = facts_through(osq, "macos-healthy")

    assert through["audio"]["source"] == "system_profiler"
    assert (
        "osqueryd is not at /opt/osquery/lib/osquery.app/Contents/MacOS/osqueryd"
        in through["audio"]["reason"]
    )


# -- which osquery the agent uses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "flag", "default_there", "expected"),
    [
        (AgentSettings(), None, False, None),
        (AgentSettings(), None, True, ("default socket", False)),
        (AgentSettings(osquery_socket="/run/osquery.em"), None, True, ("/run/osquery.em", True)),
        (AgentSettings(osquery_socket="/run/osquery.em"), "/tmp/other.em", False, ("/tmp/other.em", True)),
        (AgentSettings(osquery_socket="off"), None, True, None),
        (AgentSettings(), "OFF", True, None),
        (AgentSettings(osqueryd_path="/usr/bin/osqueryd"), None, False, ("osqueryd /usr/bin/osqueryd", True)),
        (
            AgentSettings(osquery_socket="/run/osquery.em", osqueryd_path="/usr/bin/osqueryd"),
            None,
            False,
            ("/run/osquery.em", True),
        ),
    ],
)
def test_the_settings_choose_the_osquery_the_agent_reads_through(
    settings: AgentSettings,
    flag: str | None,
    default_there: bool,
    expected: tuple[str, bool] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        bridge, "socket_present", lambda path: default_there and path == bridge.DEFAULT_SOCKET_PATH
    )

    chosen = bridge.bridge_for(settings, socket_path=flag)

    if expected is None:
        assert chosen is None
        return
    where, required = expected
    assert chosen is not None
    described = f"osqueryd {chosen.osqueryd_path}" if chosen.osqueryd_path else chosen.socket_path
    assert described == (bridge.DEFAULT_SOCKET_PATH if where == "default socket" else where)
    assert chosen.required is required


@pytest.mark.skipif(sys.platform != "linux", reason="osquery answers the serial file on Linux")
def test_collect_reads_this_computer_through_the_osquery_socket_flag(
    sockets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = {
        bridge.TABLES_SQL: [{"name": "system_info"}, {"name": "usb_devices"}],
        bridge.VERSION_SQL: [{"version": "5.12.1"}],
        bridge.SERIAL_SQL: [{"hardware_serial": "VMW-7Q2K"}],
        bridge.USB_DEVICES_SQL: [],
    }
    with FakeOsqueryd(answers).serve(sockets / "osquery.em"):
        code = cli_main(["collect", "--validate", "--osquery-socket", str(sockets / "osquery.em")])

    facts = json.loads(capsys.readouterr().out)
    assert code == 0
    assert facts["host"]["serial"] == "VMW-7Q2K"


def test_collect_with_osquery_off_reads_natively(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["collect", "--osquery-socket", "off"])

    facts = json.loads(capsys.readouterr().out)
    assert code == 0
    assert not [
        key for key, value in flat(facts).items() if key.endswith("source") and "osquery" in str(value)
    ]


# -- what osquery's tables print -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "value"),
    [
        ("REG_SZ", "Allow", "Allow"),
        ("REG_EXPAND_SZ", "%SystemDrive%\\Users\\a", "%SystemDrive%\\Users\\a"),
        ("REG_DWORD", "1", 1),
        ("REG_DWORD", "-2147483648", 0x8000_0000),  # osquery prints DWORDs signed
        ("REG_DWORD", "268435457", 0x1000_0001),
        ("REG_QWORD", "133600886580000000", 133600886580000000),
        ("REG_BINARY", "E8070500020014000800020011000000", bytes.fromhex("e8070500020014000800020011000000")),
        ("REG_MULTI_SZ", "a,b", ["a", "b"]),
        ("REG_MULTI_SZ", "", []),
        ("REG_NONE", "(zero-length binary value)", b""),
    ],
)
def test_registry_values_read_as_winreg_gives_them(kind: str, data: str, value: Any) -> None:
    assert bridge.registry_value(kind, data) == value


def test_a_registry_key_keeps_its_default_value_subkeys_and_skips_unnamed_types() -> None:
    rows = [
        {"path": "HKEY_LOCAL_MACHINE\\X\\Sub", "name": "Sub", "type": "subkey", "data": ""},
        {"path": "HKEY_LOCAL_MACHINE\\X\\", "name": "(Default)", "type": "REG_SZ", "data": "hello"},
        {"path": "HKEY_LOCAL_MACHINE\\X\\Odd", "name": "Odd", "type": "UNKNOWN", "data": ""},
    ]

    key = bridge.registry_key_from_rows("HKEY_LOCAL_MACHINE\\X", rows)

    assert key.subkeys == ["Sub"]
    assert key.values == {"": ("REG_SZ", "hello")}


def test_registry_data_that_does_not_fit_its_type_is_an_osquery_failure() -> None:
    rows = [{"path": "HKEY_LOCAL_MACHINE\\X\\V", "name": "V", "type": "REG_DWORD", "data": "n/a"}]

    with pytest.raises(bridge.OsqueryError, match="REG_DWORD data 'n/a'"):
        bridge.registry_key_from_rows("HKEY_LOCAL_MACHINE\\X", rows)


@pytest.mark.parametrize(
    ("rows", "policy"),
    [
        ([{"key": "AudioCaptureAllowed", "subkey": "", "value": "0"}], {"AudioCaptureAllowed": False}),
        ([{"key": "AudioCaptureAllowed", "subkey": "", "value": "true"}], {"AudioCaptureAllowed": True}),
        ([{"key": "AudioCaptureAllowed", "subkey": "", "value": "maybe"}], {"AudioCaptureAllowed": "maybe"}),
        (
            [{"key": "DefaultNotificationsSetting", "subkey": "", "value": "2"}],
            {"DefaultNotificationsSetting": 2},
        ),
        (
            [
                {"key": "AudioCaptureAllowedUrls", "subkey": "", "value": "https://a.example"},
                {"key": "AudioCaptureAllowedUrls", "subkey": "", "value": "https://[*.]b.example"},
            ],
            {"AudioCaptureAllowedUrls": ["https://a.example", "https://[*.]b.example"]},
        ),
        (
            [{"key": "NotificationsBlockedForUrls", "subkey": "", "value": ""}],
            {"NotificationsBlockedForUrls": []},
        ),
        ([{"key": "PasswordManagerEnabled", "subkey": "", "value": "0"}], {}),
    ],
)
def test_managed_chrome_policy_comes_back_typed_from_plist_rows(
    rows: list[dict[str, str]], policy: dict
) -> None:
    assert bridge.chrome_policy_from_plist_rows(rows) == policy
