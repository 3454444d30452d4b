"""Deployment definitions under deploy/: each file parses in its own format and says what the
server and the agent really need (commands, rights, settings, policy origins).

No Django, no Docker engine, no Kubernetes cluster: these read the files. YAML checks need
PyYAML, which is not a project dependency; without it they are skipped (the text checks on
the same files still run).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    yaml = None

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

needs_yaml = pytest.mark.skipif(
    yaml is None,
    reason="PyYAML is not installed (not a project dependency): YAML structure checks skipped",
)

# What the server reads from its environment (server/settings.py and gunicorn).
SERVER_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
    "CSRF_TRUSTED_ORIGINS",
    "PORT",
    "READYFLOOR_DATA_DIR",
)
CTI_ORIGINS = ["https://acme.my.salesforce.com", "https://app.hubspot.com"]
CHROME_POLICIES = ("AudioCaptureAllowedUrls", "NotificationsAllowedForUrls")

SERVER_UNITS = {
    "readyfloor-web.service": "gunicorn server.wsgi:application",
    "readyfloor-worker.service": "celery -A server worker",
    "readyfloor-beat.service": "celery -A server beat",
}
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


# -- readers -------------------------------------------------------------------------------


def load_yaml(path: Path) -> list[Any]:
    assert yaml is not None
    with path.open(encoding="utf-8") as stream:
        return [document for document in yaml.safe_load_all(stream) if document is not None]


def compose() -> dict[str, Any]:
    (document,) = load_yaml(DEPLOY / "docker-compose.yml")
    return document


def command_line(command: list[str] | str) -> str:
    return command if isinstance(command, str) else " ".join(command)


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]} (keys may repeat, as in systemd)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{path.name}: not a KEY=value line inside a section: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def env_file_variables(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text("utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def read_reg(path: Path) -> dict[str, dict[str, str]]:
    """A regedit 5.00 file's string values as {key: {name: value}}."""
    keys: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    text = path.read_bytes().decode("utf-8-sig")
    for line in text.splitlines()[1:]:
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = keys.setdefault(line[1:-1], {})
            continue
        match = re.fullmatch(r'"([^"]*)"="([^"]*)"', line)
        assert match and current is not None, f"unexpected .reg line {line!r}"
        current[match.group(1)] = match.group(2)
    return keys


def task() -> ET.Element:
    return ET.parse(DEPLOY / "agent" / "windows" / "readyfloor-agent-task.xml").getroot()


def task_text(path: str) -> str:
    element = task().find(path, TASK_NS)
    assert element is not None and element.text is not None, f"task XML has no {path}"
    return element.text.strip()


def load_launcher() -> ModuleType:
    path = DEPLOY / "agent" / "windows" / "run-agent.pyw"
    loader = importlib.machinery.SourceFileLoader("readyfloor_run_agent", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents.extend(load_yaml(path))
    return documents


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    for document in k8s_documents():
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind} {name} in deploy/k8s")


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    return document["spec"]["template"]["spec"]


def mobileconfigs() -> list[Path]:
    return sorted(DEPLOY.rglob("*.mobileconfig"))


# -- docker compose ------------------------------------------------------------------------


@needs_yaml
def test_compose_services_run_the_server_commands() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat"}
    assert services["db"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    expected = {
        "migrate": "python manage.py migrate --noinput",
        "web": "gunicorn server.wsgi:application",
        "worker": "celery -A server worker",
        "beat": "celery -A server beat",
    }
    for name, command in expected.items():
        assert command in command_line(services[name]["command"]), name
    assert "manage.py collectstatic --noinput" in command_line(services["migrate"]["command"])
    for name in expected:
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert len({services[name]["image"] for name in expected}) == 1


@needs_yaml
def test_compose_starts_the_app_after_migrations_on_healthy_backends() -> None:
    services = compose()["services"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name


@needs_yaml
@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("db", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("web", "http://localhost:8000/healthz/ready"),
        ("worker", "celery -A server inspect ping"),
    ],
)
def test_compose_healthchecks_probe_each_service(service: str, probe: str) -> None:
    healthcheck = compose()["services"][service]["healthcheck"]
    assert probe in command_line(healthcheck["test"])


@needs_yaml
def test_compose_keeps_state_in_named_volumes() -> None:
    document = compose()
    assert set(document["volumes"]) == {"pgdata", "redisdata", "readyfloor-data"}
    assert "pgdata:/var/lib/postgresql/data" in document["services"]["db"]["volumes"]
    for name in ("migrate", "web", "worker", "beat"):
        assert "readyfloor-data:/var/lib/readyfloor" in document["services"][name]["volumes"], name


@needs_yaml
def test_compose_gives_the_app_every_server_setting() -> None:
    environment = compose()["services"]["web"]["environment"]
    assert set(SERVER_SETTINGS) <= set(environment)
    # The container healthcheck sends Host: localhost, which Django must accept.
    assert environment["ALLOWED_HOSTS"].endswith(",localhost")


def test_every_compose_variable_is_set_in_env_example() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text("utf-8")
    # $$NAME is Compose's escape for a variable the container's shell expands.
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert used, "docker-compose.yml takes its settings from deploy/.env"
    documented = set(env_file_variables(DEPLOY / ".env.example"))
    assert used - documented == set()


def test_compose_services_name_the_documented_commands_in_plain_text() -> None:
    # Runs without PyYAML too: the commands a person greps for are in the file as written.
    text = (DEPLOY / "docker-compose.yml").read_text("utf-8")
    for fragment in (
        "python manage.py migrate --noinput",
        "server.wsgi:application",
        '"celery", "-A", "server", "worker"',
        '"celery", "-A", "server", "beat"',
        "image: postgres:16",
        "image: redis:7",
    ):
        assert fragment in text


@pytest.mark.parametrize("path", [".env.example", "systemd/readyfloor.env.example"])
def test_env_examples_cover_the_server_settings(path: str) -> None:
    text = (DEPLOY / path).read_text("utf-8")
    missing = [name for name in SERVER_SETTINGS if not re.search(rf"\b{name}=", text)]
    assert missing == []


@pytest.mark.parametrize("path", [".env.example", "systemd/readyfloor.env.example"])
def test_env_examples_explain_every_variable(path: str) -> None:
    # Every KEY=value sits in a block (lines between blank lines) that carries a comment.
    blocks = (DEPLOY / path).read_text("utf-8").split("\n\n")
    unexplained = [
        line
        for block in blocks
        for line in block.splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=", line) and not any(row.startswith("#") for row in block.splitlines())
    ]
    assert unexplained == []


def test_env_examples_keep_secrets_as_placeholders() -> None:
    for path in (DEPLOY / ".env.example", DEPLOY / "systemd" / "readyfloor.env.example"):
        variables = env_file_variables(path)
        assert variables["SECRET_KEY"].startswith("change-me"), path
        assert variables["DEBUG"] == "0", path


# -- image ---------------------------------------------------------------------------------


def test_dockerfile_installs_the_agent_as_a_regular_package() -> None:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert re.search(r"pip install -r \S+ \./agent", text)
    assert "sed '/^-e[[:space:]]*\\.\\/agent/d' requirements.txt" in text
    assert "pip install -e" not in text
    # The sed really drops the editable line and nothing else.
    requirements = (REPO / "requirements.txt").read_text("utf-8").splitlines()
    editable = [line for line in requirements if re.match(r"^-e[ \t]*\./agent", line)]
    assert len(editable) == 1


def test_dockerfile_runs_gunicorn_as_an_unprivileged_user_on_a_supported_python() -> None:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    base = re.search(r"^FROM python:3\.(\d+)", text, re.MULTILINE)
    assert base and int(base.group(1)) >= 10, "Django 5.2 needs Python 3.10+"
    assert re.search(r"^USER readyfloor$", text, re.MULTILINE)
    cmd = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert cmd and json.loads(cmd.group(1))[:2] == ["gunicorn", "server.wsgi:application"]


def test_docker_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = set((DEPLOY / "Dockerfile.dockerignore").read_text("utf-8").splitlines())
    assert {".git", ".venv", "deploy/.env", "**/.env"} <= ignored


# -- systemd: server -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVER_UNITS))
def test_server_units_are_complete_and_hardened(name: str) -> None:
    unit = read_unit(DEPLOY / "systemd" / name)
    assert {"Unit", "Service", "Install"} <= set(unit)
    (exec_start,) = unit_values(unit, "Service", "ExecStart")
    assert exec_start.startswith("/opt/readyfloor/.venv/bin/")
    expected = {
        "User": "readyfloor",
        "EnvironmentFile": "/etc/readyfloor/readyfloor.env",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "StateDirectory": "readyfloor",
    }
    for key, value in expected.items():
        assert unit_values(unit, "Service", key) == [value], key
    assert unit_values(unit, "Service", "ReadWritePaths") == ["/var/lib/readyfloor"]
    assert unit_values(unit, "Install", "WantedBy") == ["multi-user.target"]


@pytest.mark.parametrize(("name", "command"), sorted(SERVER_UNITS.items()))
def test_server_units_run_the_server_commands(name: str, command: str) -> None:
    unit = read_unit(DEPLOY / "systemd" / name)
    (exec_start,) = unit_values(unit, "Service", "ExecStart")
    program, _, arguments = exec_start.partition(" ")
    assert f"{Path(program).name} {arguments}".startswith(command)


def test_web_unit_migrates_and_collects_static_before_serving() -> None:
    unit = read_unit(DEPLOY / "systemd" / "readyfloor-web.service")
    pre = unit_values(unit, "Service", "ExecStartPre")
    assert [line.split(" ", 1)[1] for line in pre] == [
        "manage.py migrate --noinput",
        "manage.py collectstatic --noinput",
    ]
    assert unit_values(unit, "Service", "Type") == ["notify"]


def test_beat_keeps_its_schedule_in_the_database_everywhere() -> None:
    """Beat's state used to be a file (which had to be writable); it is now PostgreSQL's, through
    django-celery-beat, so report schedules edited in the app need no restart."""
    scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
    unit = read_unit(DEPLOY / "systemd" / "readyfloor-beat.service")
    (exec_start,) = unit_values(unit, "Service", "ExecStart")
    assert f"--scheduler {scheduler}" in exec_start and "--schedule " not in exec_start
    assert scheduler in (DEPLOY / "docker-compose.yml").read_text()
    assert scheduler in (DEPLOY / "k8s" / "beat.yaml").read_text()


@pytest.mark.parametrize("name", sorted(SERVER_UNITS))
def test_server_unit_variables_have_defaults_or_are_documented(name: str) -> None:
    unit = read_unit(DEPLOY / "systemd" / name)
    commands = " ".join(
        unit_values(unit, "Service", "ExecStart") + unit_values(unit, "Service", "ExecStartPre")
    )
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", commands))
    defaults = {
        pair.split("=", 1)[0] for line in unit_values(unit, "Service", "Environment") for pair in line.split()
    }
    documented = set(env_file_variables(DEPLOY / "systemd" / "readyfloor.env.example"))
    assert used - (defaults | documented) == set()
    assert used <= defaults, "a variable the command line needs must not depend on the env file alone"


# -- systemd: agent on Linux ---------------------------------------------------------------


def test_linux_user_unit_runs_the_agent_in_the_users_session() -> None:
    unit = read_unit(DEPLOY / "agent" / "linux" / "readyfloor-agent.service")
    assert {"Unit", "Service", "Install"} <= set(unit)
    assert unit_values(unit, "Service", "ExecStart") == ["/opt/readyfloor-agent/bin/readyfloor-agent run"]
    # A user unit runs as its user; User= would be meaningless (and refused) there.
    assert unit_values(unit, "Service", "User") == []
    assert unit_values(unit, "Service", "Restart") == ["always"]
    assert unit_values(unit, "Install", "WantedBy") == ["default.target"]


def test_linux_system_template_runs_as_the_seat_user_with_their_runtime_dir() -> None:
    unit = read_unit(DEPLOY / "agent" / "linux" / "readyfloor-agent@.service")
    assert {"Unit", "Service", "Install"} <= set(unit)
    assert unit_values(unit, "Service", "User") == ["%i"]
    environment = " ".join(unit_values(unit, "Service", "Environment")).split()
    assert "XDG_RUNTIME_DIR=/run/user/%i" in environment
    assert "READYFLOOR_STATE_DIR=/var/lib/readyfloor-agent/%i" in environment
    assert unit_values(unit, "Service", "StateDirectory") == ["readyfloor-agent/%i"]
    assert unit_values(unit, "Unit", "BindsTo") == ["user@%i.service"]
    assert unit_values(unit, "Install", "WantedBy") == ["user@%i.service"]
    assert unit_values(unit, "Service", "ProtectHome") == ["read-only"]


def _verify(arguments: list[str], unit: Path, environ: dict[str, str] | None = None) -> list[str]:
    result = subprocess.run(
        ["systemd-analyze", *arguments, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )
    lines = (result.stdout + result.stderr).splitlines()
    # The programs live on the target host (/opt/...), not on the machine running the tests.
    return [line for line in lines if line.strip() and "is not executable" not in line]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", sorted(SERVER_UNITS))
def test_systemd_accepts_every_key_of_the_server_units(name: str) -> None:
    assert _verify([], DEPLOY / "systemd" / name) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_key_of_the_agent_units(tmp_path: Path) -> None:
    instance = tmp_path / "readyfloor-agent@1000.service"
    shutil.copy(DEPLOY / "agent" / "linux" / "readyfloor-agent@.service", instance)
    assert _verify([], instance) == []
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    environ = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    assert _verify(["--user"], DEPLOY / "agent" / "linux" / "readyfloor-agent.service", environ) == []


# -- agent settings ------------------------------------------------------------------------


def test_agent_settings_example_is_accepted_by_the_agent() -> None:
    config = pytest.importorskip("readyfloor_agent.config")
    settings = config.load_settings(environ={}, files=[DEPLOY / "agent" / "agent.ini.example"])
    assert settings.server == "https://readyfloor.example.com"
    assert settings.enroll_secret
    assert (settings.seat.floor, settings.seat.label) == ("Floor 1", "A-01")


def test_install_script_writes_only_settings_the_agent_knows(tmp_path: Path) -> None:
    config = pytest.importorskip("readyfloor_agent.config")
    script = (DEPLOY / "agent" / "windows" / "install-agent.ps1").read_text("utf-8")
    keys = re.findall(r'"(\w+) = \$\w+"', script)
    assert {"server", "enroll_secret", "seat", "ca_file"} == set(keys)
    sample = {
        "server": "https://rf.example",
        "enroll_secret": "s",
        "seat": "Floor 2/B-07",
        "ca_file": "C:/ca.pem",
    }
    ini = tmp_path / "agent.ini"
    ini.write_text("[agent]\n" + "".join(f"{key} = {sample[key]}\n" for key in keys), "utf-8")
    settings = config.load_settings(environ={}, files=[ini])
    assert (settings.server, str(settings.seat), settings.ca_file) == (
        "https://rf.example",
        "Floor 2/B-07",
        "C:/ca.pem",
    )


# -- macOS ---------------------------------------------------------------------------------


def test_launch_agent_keeps_the_agent_running_in_each_gui_session() -> None:
    with (DEPLOY / "agent" / "macos" / "com.readyfloor.agent.plist").open("rb") as stream:
        job = plistlib.load(stream)
    assert job["Label"] == "com.readyfloor.agent"
    assert job["ProgramArguments"] == ["/usr/local/readyfloor-agent/bin/readyfloor-agent", "run"]
    assert job["RunAtLoad"] is True
    assert job["KeepAlive"] is True
    assert job["ThrottleInterval"] >= 10
    assert job["LimitLoadToSessionType"] == "Aqua"
    assert job["StandardOutPath"].startswith("/Library/Logs/ReadyFloor/")
    assert job["StandardErrorPath"].startswith("/Library/Logs/ReadyFloor/")
    # A LaunchAgent runs as the signed-in user; UserName belongs to LaunchDaemons.
    assert "UserName" not in job


def test_pppc_profile_grants_full_disk_access_and_nothing_else() -> None:
    with (DEPLOY / "agent" / "macos" / "readyfloor-agent-pppc.mobileconfig").open("rb") as stream:
        profile = plistlib.load(stream)
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadScope"] == "System"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.TCC.configuration-profile-policy"
    assert set(payload["Services"]) == {"SystemPolicyAllFiles"}
    (grant,) = payload["Services"]["SystemPolicyAllFiles"]
    assert grant["Authorization"] == "Allow"
    assert grant["IdentifierType"] in {"bundleID", "path"}
    assert grant["Identifier"] and grant["CodeRequirement"]


def test_mobileconfig_payload_ids_are_valid_and_unique() -> None:
    uuids: list[str] = []
    identifiers: list[str] = []
    for path in mobileconfigs():
        with path.open("rb") as stream:
            profile = plistlib.load(stream)
        for payload in [profile, *profile["PayloadContent"]]:
            uuids.append(str(uuid.UUID(payload["PayloadUUID"])))
            identifiers.append(payload["PayloadIdentifier"])
            assert payload["PayloadVersion"] == 1
    assert len(mobileconfigs()) == 2
    assert len(set(uuids)) == len(uuids) == 4
    assert len(set(identifiers)) == len(identifiers)


# -- Chrome policy -------------------------------------------------------------------------


def chrome_policy_linux() -> dict[str, list[str]]:
    return json.loads((DEPLOY / "chrome-policy" / "linux" / "readyfloor-cti.json").read_text("utf-8"))


def chrome_policy_macos() -> dict[str, list[str]]:
    with (DEPLOY / "chrome-policy" / "macos" / "readyfloor-cti.mobileconfig").open("rb") as stream:
        (payload,) = plistlib.load(stream)["PayloadContent"]
    assert payload["PayloadType"] == "com.google.Chrome"
    return {name: payload[name] for name in CHROME_POLICIES}


def chrome_policy_windows() -> dict[str, list[str]]:
    keys = read_reg(DEPLOY / "chrome-policy" / "windows" / "readyfloor-cti.reg")
    prefix = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\"
    assert all(key.startswith(prefix) for key in keys)
    policies = {}
    for key, values in keys.items():
        # List policies are numbered string values 1..n; Chrome stops reading at a gap.
        assert list(values) == [str(number) for number in range(1, len(values) + 1)], key
        policies[key[len(prefix) :]] = list(values.values())
    return policies


@pytest.mark.parametrize("read", [chrome_policy_linux, chrome_policy_macos, chrome_policy_windows])
def test_chrome_policies_allow_the_cti_origins_mic_and_notifications(read: Any) -> None:
    assert read() == {name: CTI_ORIGINS for name in CHROME_POLICIES}


def test_chrome_policy_origins_are_https_origins_without_paths() -> None:
    for origin in chrome_policy_linux()["AudioCaptureAllowedUrls"]:
        parts = urlsplit(origin)
        assert (parts.scheme, parts.path, parts.query) == ("https", "", ""), origin


def test_reg_files_start_with_the_regedit_header_and_use_crlf() -> None:
    for path in DEPLOY.rglob("*.reg"):
        data = path.read_bytes()
        assert data.startswith(b"Windows Registry Editor Version 5.00\r\n"), path
        assert data.count(b"\n") == data.count(b"\r\n"), path


# -- Windows -------------------------------------------------------------------------------


def test_task_runs_at_sign_in_for_every_user_without_admin_rights() -> None:
    root = task()
    (trigger,) = root.findall("t:Triggers/*", TASK_NS)
    assert trigger.tag == f"{{{TASK_NS['t']}}}LogonTrigger"
    assert trigger.find("t:UserId", TASK_NS) is None, "no UserId: the trigger fires for any user"
    (principal,) = root.findall("t:Principals/t:Principal", TASK_NS)
    assert principal.findtext("t:GroupId", namespaces=TASK_NS) == "S-1-5-32-545"
    assert principal.findtext("t:RunLevel", namespaces=TASK_NS) == "LeastPrivilege"
    assert principal.find("t:UserId", TASK_NS) is None
    assert root.find("t:Actions", TASK_NS).get("Context") == principal.get("id")


def test_task_keeps_the_agent_running() -> None:
    assert task_text("t:Settings/t:ExecutionTimeLimit") == "PT0S"
    assert task_text("t:Settings/t:MultipleInstancesPolicy") == "IgnoreNew"
    assert task_text("t:Settings/t:DisallowStartIfOnBatteries") == "false"
    assert task_text("t:Settings/t:StopIfGoingOnBatteries") == "false"
    assert task_text("t:Settings/t:RestartOnFailure/t:Interval") == "PT1M"
    # The schema types Count as an unsignedByte.
    assert 1 <= int(task_text("t:Settings/t:RestartOnFailure/t:Count")) <= 255
    assert task_text("t:Triggers/t:LogonTrigger/t:Repetition/t:Interval") == "PT5M"
    # triggerBaseType is a sequence: Enabled, ..., Repetition; LogonTrigger's own Delay after it.
    children = [child.tag.split("}")[1] for child in task().find("t:Triggers/t:LogonTrigger", TASK_NS)]
    assert children == ["Enabled", "Repetition", "Delay"]


def test_task_starts_the_launcher_without_a_console_window() -> None:
    command = task_text("t:Actions/t:Exec/t:Command")
    arguments = task_text("t:Actions/t:Exec/t:Arguments")
    assert command == r"C:\ProgramData\ReadyFloor\venv\Scripts\pythonw.exe"
    assert arguments == r'"C:\ProgramData\ReadyFloor\run-agent.pyw" run'


@pytest.mark.parametrize(
    "path",
    [
        "agent/windows/install-agent.ps1",
        "agent/windows/readyfloor-agent-task.xml",
        "chrome-policy/windows/readyfloor-cti.reg",
    ],
)
def test_windows_files_are_plain_ascii(path: str) -> None:
    # Windows PowerShell 5.1 reads a script without a BOM in the ANSI code page; ASCII reads the
    # same everywhere.
    (DEPLOY / path).read_bytes().decode("ascii")


def test_install_script_builds_a_venv_registers_the_task_and_configures_enrolment() -> None:
    script = (DEPLOY / "agent" / "windows" / "install-agent.ps1").read_text("utf-8")
    for fragment in (
        "#Requires -RunAsAdministrator",
        "-m venv",
        "-m pip install",
        "Register-ScheduledTask",
        "readyfloor-agent-task.xml",
        "run-agent.pyw",
        "Join-Path $env:ProgramData 'ReadyFloor'",
        "'*S-1-5-32-545:(OI)(CI)RX'",
        "New-Object System.Text.UTF8Encoding($false)",
        "$LASTEXITCODE",
    ):
        assert fragment in script, fragment
    assert "pip install -e" not in script
    assert (DEPLOY / "agent" / "windows" / "readyfloor-agent-task.xml").is_file()


def test_launcher_logs_to_the_users_local_app_data(tmp_path: Path) -> None:
    launcher = load_launcher()
    path = launcher.log_path({"LOCALAPPDATA": str(tmp_path)})
    assert path == tmp_path / "ReadyFloor" / "logs" / "agent.log"


def test_launcher_rotates_a_full_log_and_appends_to_a_small_one(tmp_path: Path) -> None:
    launcher = load_launcher()
    log = tmp_path / "logs" / "agent.log"
    with launcher.open_log(log, max_bytes=100) as stream:
        stream.write("first run\n")
    with launcher.open_log(log, max_bytes=100) as stream:
        stream.write("second run\n")
    assert log.read_text("utf-8") == "first run\nsecond run\n"

    log.write_text("x" * 101, "utf-8")
    with launcher.open_log(log, max_bytes=100) as stream:
        stream.write("after rotation\n")
    assert log.read_text("utf-8") == "after rotation\n"
    assert log.with_name("agent.log.1").read_text("utf-8") == "x" * 101


def test_launcher_sends_the_agents_output_to_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = pytest.importorskip("readyfloor_agent.cli")
    launcher = load_launcher()
    seen: list[list[str]] = []

    def agent_main() -> int:
        seen.append(list(sys.argv))
        print("agent says hello")
        return 3

    monkeypatch.setattr(cli, "main", agent_main)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["run-agent.pyw", "run"])
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    assert launcher.main() == 3
    sys.stdout.close()
    assert seen == [["run-agent.pyw", "run"]]
    assert (tmp_path / "ReadyFloor" / "logs" / "agent.log").read_text("utf-8") == "agent says hello\n"


# -- Kubernetes ----------------------------------------------------------------------------


@needs_yaml
def test_k8s_manifests_declare_the_expected_objects() -> None:
    kinds = sorted((document["kind"], document["metadata"]["name"]) for document in k8s_documents())
    assert kinds == [
        ("ConfigMap", "readyfloor-config"),
        ("Deployment", "readyfloor-beat"),
        ("Deployment", "readyfloor-web"),
        ("Deployment", "readyfloor-worker"),
        ("Job", "readyfloor-migrate"),
        ("Secret", "readyfloor-secrets"),
        ("Service", "readyfloor-web"),
    ]


@needs_yaml
@pytest.mark.parametrize(
    ("kind", "name", "command"),
    [
        ("Deployment", "readyfloor-web", "gunicorn server.wsgi:application"),
        ("Deployment", "readyfloor-worker", "celery -A server worker"),
        ("Deployment", "readyfloor-beat", "celery -A server beat"),
        ("Job", "readyfloor-migrate", "python manage.py migrate --noinput"),
    ],
)
def test_k8s_workloads_run_the_server_commands(kind: str, name: str, command: str) -> None:
    (container,) = pod_spec(k8s_object(kind, name))["containers"]
    assert command in command_line(container["command"])


@needs_yaml
def test_k8s_web_collects_static_files_before_serving_and_probes_healthz() -> None:
    spec = pod_spec(k8s_object("Deployment", "readyfloor-web"))
    (init,) = spec["initContainers"]
    assert command_line(init["command"]) == "python manage.py collectstatic --noinput"
    (web,) = spec["containers"]
    probe = web["readinessProbe"]["httpGet"]
    # Readiness needs PostgreSQL only: with Redis stopped the pods stay in service (issue 11).
    assert probe["path"] == "/healthz/ready"
    assert {"name": "Host", "value": "localhost"} in probe["httpHeaders"]
    liveness = web["livenessProbe"]["httpGet"]
    assert liveness["path"] == "/healthz/live"
    assert {"name": "Host", "value": "localhost"} in liveness["httpHeaders"]
    allowed = k8s_object("ConfigMap", "readyfloor-config")["data"]["ALLOWED_HOSTS"].split(",")
    assert "localhost" in allowed


@needs_yaml
def test_k8s_deployments_select_their_own_pods_and_the_service_reaches_web() -> None:
    for document in k8s_documents():
        if document["kind"] == "Deployment":
            selector = document["spec"]["selector"]["matchLabels"]
            labels = document["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), document["metadata"]["name"]
    service = k8s_object("Service", "readyfloor-web")
    web = k8s_object("Deployment", "readyfloor-web")
    assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    port_names = {port["name"] for port in pod_spec(web)["containers"][0]["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names


@needs_yaml
def test_k8s_beat_never_runs_twice() -> None:
    beat = k8s_object("Deployment", "readyfloor-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


@needs_yaml
def test_k8s_workloads_get_every_server_setting_from_the_configmap_and_secret() -> None:
    config = k8s_object("ConfigMap", "readyfloor-config")
    secret = k8s_object("Secret", "readyfloor-secrets")
    assert set(SERVER_SETTINGS) <= set(config["data"]) | set(secret["stringData"])
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(secret["stringData"])
    for document in k8s_documents():
        if document["kind"] not in {"Deployment", "Job"}:
            continue
        spec = pod_spec(document)
        for container in spec.get("initContainers", []) + spec["containers"]:
            sources = {
                next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]
            }
            assert sources == {"configMapRef": "readyfloor-config", "secretRef": "readyfloor-secrets"}


@needs_yaml
def test_k8s_pods_share_one_image_and_run_as_the_images_user() -> None:
    uid = re.search(r"--uid (\d+)", (DEPLOY / "Dockerfile").read_text("utf-8"))
    assert uid
    images = set()
    for document in k8s_documents():
        if document["kind"] not in {"Deployment", "Job"}:
            continue
        spec = pod_spec(document)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == int(uid.group(1))
        for container in spec.get("initContainers", []) + spec["containers"]:
            images.add(container["image"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert len(images) == 1


# -- README --------------------------------------------------------------------------------


def test_readme_says_what_every_deploy_file_is_for() -> None:
    readme = (DEPLOY / "README.md").read_text("utf-8")
    files = [path for path in DEPLOY.rglob("*") if path.is_file() and path.name != "README.md"]
    assert files
    missing = sorted(str(path.relative_to(DEPLOY)) for path in files if path.name not in readme)
    assert missing == []
