#!/usr/bin/env python3
"""Durability under faults: a simulated floor reports while the broker, the Celery worker and
the web server are killed (SIGKILL) and restarted on a schedule, and the network between the
agents and the server is degraded and cut. Nothing an agent was told is stored may be lost or
stored twice, and every stored report must be evaluated soon after the last fault.

One command does everything, as root (namespaces and tc need it), on three test hosts made
with network namespaces (`ip netns`): agents (the floor), web (gunicorn, a Celery worker and
beat) and db (a PostgreSQL cluster of its own, initdb'd from Debian's binaries into the run's
work dir, and a broker of its own that it may kill: a redis-server, or with --broker rabbitmq a
RabbitMQ node and a redis-server for the rate limits). Point-to-point veth pairs join
agents-web, web-db, and this machine to db and to web; nothing is routed, so IP forwarding is
not needed. The network faults impair the agents-web link: `tc netem` (latency and loss, then
100 % loss) where the kernel has it, else `tc tbf` (a link too slow for the floor: latency and
drops, then one no packet fits through). Where namespaces cannot be made (or with --no-netns)
everything runs on this machine at 127.0.0.1, the network faults are skipped and the table says
KILLS ONLY. The namespaces, the cluster and every process are removed at the end, also when the
run is stopped by SIGTERM or SIGINT.

The floor is the agent's own HTTP client (readyfloor_agent.client) and the simulator's facts,
one thread per seat: it reports every --interval seconds, sometimes with changed facts
(--change-ratio: a failure, later its fix), keeps every unacknowledged report and resends it
with the same report_id, in order, as the agent's spool does, and logs every report_id and
every answer.

Afterwards it prints each fault with its recovery time (answers back: the first report
acknowledged after the fault ended; caught up: every report received before the end
evaluated), then acknowledged / stored / lost / duplicated / unevaluated --settle seconds
after the last fault, and every seat's final readiness against a re-judgement of the last
facts its agent was told were stored.

Goals: 0 lost, 0 duplicated, 0 unevaluated --settle (default 120) seconds after the last
fault, every seat's readiness equal to its re-judgement. Exit 0 when all pass, 1 when one
is missed, 2 when the stack could not be set up.

Examples:
  sudo python bench/faults                              # about 7 minutes, Redis broker
  sudo python bench/faults --broker rabbitmq
  python bench/faults --duration 60 --seats 30 --fault-length 4 --settle 120   # the test's run
  python bench/faults --faults web,worker --no-netns     # kills only

See bench/README.md for how to read the table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "agent"))

FAULT_KINDS = ("degrade", "broker", "worker", "web", "cut")
FAILING = ("site_blocked", "no_headset", "chrome_mic_blocked")
CTI_ORIGIN = "https://acme.my.salesforce.com"


def _load_ingest():
    """bench/ingest's fresh database and floor layout are reused, not copied."""
    path = REPO / "bench" / "ingest"
    loader = importlib.machinery.SourceFileLoader("bench_ingest", str(path))
    spec = importlib.util.spec_from_loader("bench_ingest", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ingest"] = module
    loader.exec_module(module)
    return module


ingest = _load_ingest()
say = ingest.say
SetupFailed = ingest.SetupFailed


def parse_args(argv: list[str]) -> argparse.Namespace:
    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
        return value

    def faults(text: str) -> list[str]:
        names = [name for name in text.split(",") if name]
        unknown = [name for name in names if name not in FAULT_KINDS]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}")
        return names

    parser = argparse.ArgumentParser(
        prog="bench/faults",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run = parser.add_argument_group("the run")
    run.add_argument("--broker", choices=("redis", "rabbitmq"), default="redis",
                     help="the Celery broker this run starts, kills and restarts (default: %(default)s)")
    run.add_argument("--duration", type=float, default=300.0, metavar="S",
                     help="seconds of faults: they are spread over this span (default: %(default)s)")
    run.add_argument("--faults", type=faults, default=list(FAULT_KINDS), metavar="LIST",
                     help=f"in this order, evenly spread (default: {','.join(FAULT_KINDS)})")
    run.add_argument("--fault-length", type=float, default=15.0, metavar="S",
                     help="how long each fault lasts before the process restarts or the network "
                          "heals (default: %(default)s)")
    run.add_argument("--settle", type=float, default=120.0, metavar="S",
                     help="every report must be evaluated this long after the last fault ends "
                          "(default: %(default)s)")
    run.add_argument("--drain", type=float, default=30.0, metavar="S",
                     help="the floor keeps reporting this long after the last fault, so the reports "
                          "it kept are resent, then stops (default: %(default)s)")
    run.add_argument("--no-netns", action="store_true",
                     help="run everything on this machine (kills only, no network faults), e.g. without root")
    floor = parser.add_argument_group("the floor")
    floor.add_argument("--seats", type=positive, default=60, metavar="N",
                       help="simulated seats, one agent thread each (default: %(default)s)")
    floor.add_argument("--interval", type=float, default=5.0, metavar="S",
                       help="seconds between an agent's reports (default: %(default)s: a floor whose "
                            "agents report quickly, so each fault meets many reports)")
    floor.add_argument("--change-ratio", type=float, default=0.1, metavar="R",
                       help="share of reports whose facts changed: a failure, later its fix "
                            "(default: %(default)s)")
    floor.add_argument("--timeout", type=float, default=5.0, metavar="S",
                       help="the agent client's timeout per request (default: %(default)s)")
    floor.add_argument("--seed", type=int, default=1, help="seed of the floor (default: %(default)s)")
    stack = parser.add_argument_group("the stack")
    stack.add_argument("--workers", type=positive, default=2, metavar="N",
                       help="gunicorn sync workers (default: %(default)s)")
    stack.add_argument("--keep-db", action="store_true",
                       help="keep the benchmark's PostgreSQL cluster (stopped) for inspection")
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="PATH",
                        help="also write the results as JSON to PATH; '-' prints JSON instead of the table")
    output.add_argument("--log", metavar="PATH",
                        help="keep the floor's log (one JSON line per report sent and its answer) at PATH")
    parser.add_argument("--floor", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # Bench/ingest's Stack reads these.
    args.worker_pool, args.worker_concurrency = "prefork", 1
    return args


# -- the floor (runs in the agents' namespace) ----------------------------------------------------


def floor_main(spec_path: str) -> int:
    """`bench/faults --floor SPEC`: run the seats until the stop file appears, logging every
    report and answer as JSON lines."""
    from readyfloor_agent import report
    from readyfloor_agent.client import AgentClient, FactsRequired, NodeInvalid, Rejected, Unavailable
    from readyfloor_agent.simulate import plan_floor, scenario_facts

    spec = json.loads(Path(spec_path).read_text())
    stop_file = Path(spec["stop_file"])
    log_lock = threading.Lock()
    log = open(spec["log"], "a", buffering=1)  # noqa: SIM115 - open for the floor's life

    def write(**entry: Any) -> None:
        entry["t"] = time.time()
        with log_lock:
            log.write(json.dumps(entry) + "\n")

    plans = plan_floor(spec["seats"], floor=spec["floor"], mix={"healthy": 1.0}, seed=spec["seed"])

    def seat_loop(number: int) -> None:
        plan = plans[number]
        rng = random.Random(spec["seed"] * 1000 + number)
        client = AgentClient(spec["server"], timeout=spec["timeout"])
        scenario = "healthy"
        node_key: str | None = None
        acked_hash: str | None = None
        # Reports not yet acknowledged, oldest first, resent with their report_id: the spool.
        outbox: list[tuple[dict[str, Any], dict[str, Any], str]] = []

        def facts_of(name: str) -> dict[str, Any]:
            return scenario_facts(name, os=plan.os, seat_label=plan.label, cti_origin=spec["cti_origin"],
                                  hostname=plan.hostname)

        time.sleep(rng.uniform(0, spec["interval"]))
        while not stop_file.exists():
            if node_key is None:
                try:
                    node_key = client.enroll(
                        enroll_secret=spec["secret"], host_identifier=plan.host_identifier,
                        host_details={"hostname": plan.hostname, "os": plan.os, "agent_version": "0.1.0"},
                        seat={"floor": plan.floor, "label": plan.label},
                        # As the agent does: a retry after a lost answer proves itself with it.
                        claim_token=f"faults-{plan.host_identifier}-{os.getpid()}-token",
                    ).node_key
                    write(seat=plan.label, event="enrolled")
                except (Unavailable, Rejected) as error:
                    write(seat=plan.label, event="enrol_failed", error=str(error)[:200])
                    time.sleep(spec["interval"])
                    continue
            if rng.random() < spec["change_ratio"]:
                scenario = rng.choice(FAILING) if scenario == "healthy" else "healthy"
            facts = facts_of(scenario)
            body = report.build_checkin(facts, last_acknowledged_hash=acked_hash)
            outbox.append((body, facts, scenario))
            while outbox and not stop_file.exists():
                body, facts, name = outbox[0]
                digest = report.facts_hash(facts)
                kind = "full" if "facts" in body else "heartbeat"
                try:
                    answer = client.checkin(node_key, body)
                except FactsRequired:
                    write(seat=plan.label, report_id=body["report_id"], kind=kind, answer="facts_required")
                    full = {key: value for key, value in body.items() if key != "facts_hash"}
                    full["facts"] = facts
                    outbox[0] = (full, facts, name)
                    continue
                except NodeInvalid:
                    write(seat=plan.label, report_id=body["report_id"], kind=kind, answer="node_invalid")
                    node_key = None
                    break
                except Rejected as error:
                    # A 4xx other than the above: the agent drops the report, and so do we (logged).
                    write(seat=plan.label, report_id=body["report_id"], kind=kind, answer="rejected",
                          error=str(error)[:200])
                    outbox.pop(0)
                    continue
                except (Unavailable, OSError) as error:
                    write(seat=plan.label, report_id=body["report_id"], kind=kind, answer="unavailable",
                          error=str(error)[:200])
                    break
                write(seat=plan.label, report_id=body["report_id"], kind=kind,
                      answer="duplicate" if answer.duplicate else "accepted", facts_hash=digest,
                      scenario=name)
                acked_hash = digest
                outbox.pop(0)
            time.sleep(spec["interval"] * rng.uniform(0.9, 1.1))
        write(seat=plan.label, event="stopped", unsent=len(outbox))

    threads = [threading.Thread(target=seat_loop, args=(n,), daemon=True) for n in range(len(plans))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=spec["interval"] * 2 + spec["timeout"] * 4 + 60)
    log.close()
    return 0


# -- the stack: processes we may kill -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Services:
    """The broker, web, worker, beat and floor of this run, each restartable with the same
    command. A command may start with `ip netns exec NS`: that execs the program in place, so
    the process we hold is the program itself and a kill reaches it."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.processes: dict[str, subprocess.Popen] = {}

    def define(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.commands[name] = (argv, env)

    def start(self, name: str) -> None:
        argv, env = self.commands[name]
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.processes[name] = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def tree(self, name: str) -> list[Any]:
        """The process and all its descendants, found by parent links: rabbitmq-server starts
        its Erlang VM through `su`, which gives it a session (and process group) of its own,
        so signalling our process group alone would leave the broker running."""
        import psutil

        try:
            root = psutil.Process(self.processes[name].pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def kill(self, name: str) -> None:
        import psutil

        process = self.processes[name]
        tree = self.tree(name)
        for member in tree:
            with contextlib.suppress(psutil.Error):
                member.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        psutil.wait_procs(tree, timeout=15)

    def stop_all(self) -> None:
        import psutil

        trees = {name: self.tree(name) for name in self.processes}
        for name, process in self.processes.items():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for member in trees[name]:
                with contextlib.suppress(psutil.Error):
                    member.terminate()
        everyone = [member for tree in trees.values() for member in tree]
        _, alive = psutil.wait_procs(everyone, timeout=20)
        for member in alive:
            with contextlib.suppress(psutil.Error):
                member.kill()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def wait_for_port(address: str, port: int, timeout: float, what: str, services: Services, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if services.processes[name].poll() is not None:
            raise SetupFailed(f"{what} exited with code {services.processes[name].returncode}")
        if port_answers(address, port):
            return
        time.sleep(0.3)
    raise SetupFailed(f"{what} did not listen on {address}:{port} within {timeout:.0f} s")


def port_answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def define_redis(name: str, services: Services, hosts: Hosts, work: Path, durable: bool) -> int:
    """A redis-server of this run's own on the db host: the broker (durable: an append-only
    file, fsync every second, what a broker that should survive a restart runs) or, for a
    RabbitMQ run, the rate limits' cache. Returns its port."""
    redis_server = shutil.which("redis-server")
    if not redis_server:
        raise SetupFailed("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    data = work / name
    data.mkdir()
    persistence = ["--appendonly", "yes"] if durable else ["--appendonly", "no"]
    services.define(name, [*hosts.exec("db"), redis_server, "--port", str(port),
                           "--bind", *hosts.db_addresses(), "--protected-mode", "no", "--dir", str(data),
                           *persistence, "--save", "", "--daemonize", "no"], dict(os.environ))
    return port


def define_rabbitmq(services: Services, hosts: Hosts, work: Path) -> int:
    """A RabbitMQ node of this run's own on the db host. Returns its AMQP port. In a namespace of
    its own the node's epmd (started detached by the Erlang VM) is the namespace's, not the
    machine's; Hosts.teardown kills it with everything else left in the namespace."""
    rabbitmq_server = shutil.which("rabbitmq-server")
    if not rabbitmq_server:
        raise SetupFailed("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    port = free_port()
    data = work / "rabbitmq"
    (data / "mnesia").mkdir(parents=True)
    (data / "log").mkdir()
    listeners = "".join(f"listeners.tcp.{n} = {address}:{port}\n"
                        for n, address in enumerate(hosts.db_addresses(), start=1))
    (data / "rabbitmq.conf").write_text(listeners + "loopback_users = none\n")
    (data / "plugins").write_text("[].\n")
    # rabbitmq-server runs as the rabbitmq user when started as root: it must own its files.
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(data)], check=False)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin"),
        "HOME": str(data),
        "RABBITMQ_NODENAME": f"readyfloor-faults-{os.getpid()}@localhost",
        "RABBITMQ_CONFIG_FILE": str(data / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(data / "mnesia"),
        "RABBITMQ_FEATURE_FLAGS_FILE": str(data / "mnesia" / "feature_flags"),
        "RABBITMQ_LOG_BASE": str(data / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(data / "plugins"),
    }
    services.define("broker", [*hosts.exec("db"), rabbitmq_server], env)
    return port


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (postgresql-15 here), the newest installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class Cluster:
    """A PostgreSQL cluster of this run's own on the db host: initdb into the work dir, listening
    on the db host's addresses, trust for the run's subnet, stopped and removed at the end. Its
    own, so that the database is on the db host, behind the network, like the broker."""

    def __init__(self, bin_dir: Path, work: Path, hosts: Hosts) -> None:
        self.bin_dir = bin_dir
        self.hosts = hosts
        self.dir = work / "postgres"
        self.data = self.dir / "data"
        self.port = free_port()
        # PostgreSQL refuses to run as root; setpriv execs in place (su and runuser fork).
        self.as_owner = (["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
                         if os.geteuid() == 0 else [])
        self.env = dict(os.environ, LC_ALL="C")

    def url(self, address: str, name: str = "postgres") -> str:
        return f"postgresql://postgres@{address}:{self.port}/{name}"

    def _run(self, argv: list[str], timeout: float = 120) -> None:
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise SetupFailed(f"`{' '.join(argv)}` failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> None:
        self.dir.mkdir()
        if self.as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
        # --no-sync: the cluster is thrown away; commits are still flushed while it runs.
        self._run([*self.as_owner, str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--no-sync"])
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '{','.join(self.hosts.db_addresses())}'\n"
                       f"port = {self.port}\nunix_socket_directories = ''\n")
        if self.hosts.subnet:
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.hosts.subnet} trust\n")
        self._run([*self.hosts.exec("db"), *self.as_owner, str(self.bin_dir / "pg_ctl"), "-D", str(self.data),
                   "-l", str(self.dir / "postgres.log"), "-w", "-t", "60", "start"])

    def stop(self, keep: bool) -> None:
        # The pid file, not whether start returned: a run stopped during `pg_ctl start` may
        # already have a postmaster.
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            try:
                self._run([*self.as_owner, str(self.bin_dir / "pg_ctl"), "-D", str(self.data),
                           "-m", "fast", "-w", "-t", "30", "stop"], timeout=60)
            except (SetupFailed, subprocess.TimeoutExpired) as error:
                say(f"could not stop the benchmark's PostgreSQL ({error}); Hosts.teardown kills it")
        if keep and self.data.exists():
            say(f"kept the benchmark's PostgreSQL cluster in {self.data} (stopped)")
        else:
            shutil.rmtree(self.data, ignore_errors=True)


# -- the test hosts: network namespaces -----------------------------------------------------------

ROLES = ("agents", "web", "db")


@dataclass
class Hosts:
    """Three test hosts made with network namespaces: agents (the floor), web (gunicorn, the
    Celery worker and beat) and db (PostgreSQL and the broker). Point-to-point veth pairs join
    agents-web (the link the network faults impair), web-db, and the machine to db and to web
    (this process lays out the data, waits for ports and verifies). No routing between links,
    so nothing depends on IP forwarding or the FORWARD policy (Docker may set it to DROP).
    Where they cannot be made every role is the machine itself, at 127.0.0.1."""

    namespaces: dict[str, str] = field(default_factory=dict)
    host_ifs: list[str] = field(default_factory=list)
    subnet: str = ""
    agents_ip: str = "127.0.0.1"
    web_for_agents: str = "127.0.0.1"
    web_for_db: str = "127.0.0.1"
    web_for_host: str = "127.0.0.1"
    db_for_web: str = "127.0.0.1"
    db_for_host: str = "127.0.0.1"
    machine_ips: list[str] = field(default_factory=list)
    agents_if: str = ""
    web_if: str = ""
    method: str = ""  # "netem", "tbf", or "" (no network faults)
    why_not: str = ""

    @property
    def made(self) -> bool:
        return len(self.namespaces) == len(ROLES)

    def exec(self, role: str) -> list[str]:
        """The prefix that runs a command on the host of this role."""
        return ["ip", "netns", "exec", self.namespaces[role]] if self.made else []

    def db_addresses(self) -> list[str]:
        return [self.db_for_web, self.db_for_host] if self.made else ["127.0.0.1"]

    def setup(self) -> None:
        tag = os.getpid() % 100_000
        # A /28 per run, unique per pid: four /30 links.
        base = f"10.{100 + (tag // 250) % 100}.{tag % 250}"
        self.subnet = f"{base}.0/28"
        names = {role: f"rff{tag}{role[0]}" for role in ROLES}
        links = [("agents", "web", 1), ("web", "db", 5), ("host", "db", 9), ("host", "web", 13)]
        addresses: dict[tuple[str, str], str] = {}
        try:
            for role, name in names.items():
                self._ip("netns", "add", name)
                self.namespaces[role] = name
                self._ip("-n", name, "link", "set", "lo", "up")
            for left, right, first in links:
                left_if, right_if = f"rff{tag}{left[0]}{right[0]}", f"rff{tag}{right[0]}{left[0]}"
                self._ip("link", "add", left_if, "type", "veth", "peer", "name", right_if)
                if left == "host":
                    self.host_ifs.append(left_if)
                ends = [(left, left_if, f"{base}.{first + 1}"), (right, right_if, f"{base}.{first}")]
                for role, interface, address in ends:
                    inside = [] if role == "host" else ["-n", self.namespaces[role]]
                    if role != "host":
                        self._ip("link", "set", interface, "netns", self.namespaces[role])
                    self._ip(*inside, "addr", "add", f"{address}/30", "dev", interface)
                    self._ip(*inside, "link", "set", interface, "up")
                    addresses[(role, right if role == left else left)] = address
        except SetupFailed as error:
            self.why_not, self.subnet = str(error), ""
            self.teardown()
            return
        self.agents_ip, self.web_for_agents = addresses[("agents", "web")], addresses[("web", "agents")]
        self.web_for_db, self.db_for_web = addresses[("web", "db")], addresses[("db", "web")]
        self.db_for_host, self.web_for_host = addresses[("db", "host")], addresses[("web", "host")]
        self.machine_ips = [addresses[("host", "db")], addresses[("host", "web")]]
        self.agents_if, self.web_if = f"rff{tag}aw", f"rff{tag}wa"
        for method in ("netem", "tbf"):
            if self._qdisc("add", "web", self.web_if, self._degrade_args(method)) == "":
                self._qdisc("del", "web", self.web_if, [])
                self.method = method
                break
        else:
            self.why_not = "neither tc netem nor tc tbf is available in this kernel"

    @staticmethod
    def _ip(*argv: str) -> None:
        done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise SetupFailed(f"`ip {' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}")

    def teardown(self) -> None:
        """Idempotent, and run from the signal handler's path too. Whatever is still running in
        our namespaces is ours (the floor, a postgres pg_ctl could not stop, the epmd the Erlang
        VM starts detached): a namespace whose name is deleted lives on while a process is in
        it, so they are killed first."""
        import psutil

        for name in self.namespaces.values():
            done = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=30)
            for pid in done.stdout.split():
                with contextlib.suppress(psutil.Error):
                    psutil.Process(int(pid)).kill()
        for name in self.namespaces.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        # Deleting a namespace deletes its veth ends, and with them their peers here; in case.
        for interface in self.host_ifs:
            subprocess.run(["ip", "link", "del", interface], capture_output=True, timeout=30)
        self.namespaces, self.host_ifs = {}, []

    @staticmethod
    def _degrade_args(method: str) -> list[str]:
        if method == "netem":
            return ["netem", "delay", "300ms", "100ms", "loss", "10%"]
        # No netem in this kernel: a token bucket far slower than the floor gives queueing
        # delay (up to 500 ms) and drops once the queue is full.
        return ["tbf", "rate", "64kbit", "burst", "4kb", "latency", "500ms"]

    @staticmethod
    def _cut_args(method: str) -> list[str]:
        if method == "netem":
            return ["netem", "loss", "100%"]
        # A bucket smaller than any packet: nothing passes and nothing is refused, like a cut cable.
        return ["tbf", "rate", "8bit", "burst", "64", "limit", "1"]

    def _qdisc(self, action: str, role: str, interface: str, qdisc: list[str]) -> str:
        command = [*self.exec(role), "tc", "qdisc", action, "dev", interface, "root", *qdisc]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return "" if done.returncode == 0 else (done.stderr.strip() or str(done.returncode))

    def degrade_args(self) -> list[str]:
        return self._degrade_args(self.method)

    def cut_args(self) -> list[str]:
        return self._cut_args(self.method)

    def impair(self, kind: str) -> None:
        qdisc = self._degrade_args(self.method) if kind == "degrade" else self._cut_args(self.method)
        # Both directions of the agents-web link: each end shapes what it sends.
        self._qdisc("replace", "web", self.web_if, qdisc)
        self._qdisc("replace", "agents", self.agents_if, qdisc)

    def heal(self) -> None:
        self._qdisc("del", "web", self.web_if, [])
        self._qdisc("del", "agents", self.agents_if, [])

# -- the run --------------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    start: float
    end: float = 0.0
    note: str = ""
    answers_back_s: float | None = None
    caught_up_s: float | None = None


@dataclass
class Outcome:
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    repeated_events: int = 0
    unevaluated: int = 0
    slowest_catch_up_s: float | None = None
    seats: int = 0
    readiness_matches: int = 0
    mismatches: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)


class Interrupted(Exception):
    """SIGTERM or SIGINT: raised where the run is, so that its `finally` cleans up."""


def main(argv: list[str]) -> int:
    if "--floor" in argv:
        return floor_main(argv[argv.index("--floor") + 1])
    args = parse_args(argv)
    stack = ingest.Stack(args)
    work = Path(tempfile.mkdtemp(prefix="readyfloor-faults-"))
    # Other users (postgres, rabbitmq) own their directories under it.
    os.chmod(work, 0o755)
    services = Services(stack.log_dir)
    hosts = Hosts()
    cluster: list[Cluster] = []
    status = 2

    def interrupted(signum: int, _frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    # A killed run used to leak its namespaces and its RabbitMQ node: a signal now unwinds
    # through the `finally` below like any error.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupted)
    try:
        status = benchmark(args, stack, work, services, hosts, cluster)
        return status
    except SetupFailed as error:
        say(f"bench/faults: could not set up the run: {error}")
        return status
    except Interrupted as error:
        say(f"bench/faults: stopped by {error}; cleaning up")
        status = 128 + signal.Signals[str(error)].value
        return status
    finally:
        # A second signal must not cut the cleanup short.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        (work / "stop").touch()
        services.stop_all()
        if cluster:
            cluster[0].stop(keep=args.keep_db)
        else:
            stack.drop_database()
        hosts.teardown()
        if status == 0 and not args.log and not args.keep_db:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(stack.log_dir, ignore_errors=True)
        else:
            say(f"logs kept in {work} and {stack.log_dir}")


def benchmark(args: argparse.Namespace, stack: Any, work: Path, services: Services, hosts: Hosts,
              cluster: list[Cluster]) -> int:
    bin_dir = postgres_bin()
    if args.no_netns:
        hosts.why_not = "--no-netns"
    elif os.geteuid() != 0:
        hosts.why_not = "not root"
    elif not shutil.which("ip") or not shutil.which("tc"):
        hosts.why_not = "iproute2 (ip, tc) is not installed"
    elif bin_dir is None:
        hosts.why_not = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin for the db host"
    else:
        hosts.setup()
    if hosts.made:
        say(f"hosts agents, web, db: namespaces {', '.join(hosts.namespaces.values())} ({hosts.subnet}); "
            f"network faults with tc {hosts.method or '(none)'}")
    else:
        say(f"KILLS ONLY: namespaces could not be made ({hosts.why_not}); everything runs on this "
            "machine and the network faults are skipped")

    # The database: a cluster of our own on the db host, else (no binaries) DATABASE_URL's.
    if bin_dir is not None:
        cluster.append(Cluster(bin_dir, work, hosts))
        cluster[0].start()
        os.environ["DATABASE_URL"] = cluster[0].url(hosts.db_for_host, "readyfloor")
        database = f"postgresql {bin_dir.parent.name} (its own cluster) :{cluster[0].port}"
    else:
        database = "postgresql of DATABASE_URL"
    # Each URL as this machine (to lay out and judge) and as the web host see the db host.
    db_seen = (hosts.db_for_host, hosts.db_for_web)
    if args.broker == "redis":
        broker_port = define_redis("broker", services, hosts, work, durable=True)
        broker_url = {at: f"redis://{at}:{broker_port}/0" for at in db_seen}
        cache_url = broker_url
        brokers = f"redis broker :{broker_port}"
    else:
        broker_port = define_rabbitmq(services, hosts, work)
        broker_url = {at: f"amqp://guest:guest@{at}:{broker_port}//" for at in db_seen}
        # The rate limits' cache, never killed: the web host cannot reach the machine's Redis.
        cache_port = define_redis("cache", services, hosts, work, durable=False)
        cache_url = {at: f"redis://{at}:{cache_port}/0" for at in db_seen}
        services.start("cache")
        wait_for_port(hosts.db_for_host, cache_port, 30, "the cache's redis", services, "cache")
        brokers = f"rabbitmq broker :{broker_port}, redis cache (rate limits) :{cache_port}"
    os.environ["REDIS_URL"] = cache_url[hosts.db_for_host]
    os.environ["CELERY_BROKER_URL"] = broker_url[hosts.db_for_host]
    services.start("broker")
    wait_for_port(hosts.db_for_host, broker_port, 120, f"the {args.broker} broker", services, "broker")
    stack.create_database()
    port = free_port()
    web_addresses = [hosts.web_for_agents, hosts.web_for_host] if hosts.made else ["127.0.0.1"]
    # The web host's processes reach the db host at its address on the web-db link.
    env = dict(stack.env, DATABASE_URL=ingest.with_database(
        cluster[0].url(hosts.db_for_web), stack.db_name) if cluster else stack.env["DATABASE_URL"],
        REDIS_URL=cache_url[hosts.db_for_web], CELERY_BROKER_URL=broker_url[hosts.db_for_web],
        ALLOWED_HOSTS=",".join(["localhost", "127.0.0.1", *web_addresses]), LOG_LEVEL="WARNING")
    ingest.setup_django()
    say(f"database {stack.db_name}: migrating, {args.seats} seats")
    secret = ingest.migrate_and_lay_out_floor(args.seats)
    python = sys.executable
    binds = [arg for address in web_addresses for arg in ("--bind", f"{address}:{port}")]
    on_web = hosts.exec("web")
    services.define("web", [*on_web, python, "-m", "gunicorn", "server.wsgi:application", *binds,
                            "--workers", str(args.workers), "--timeout", "30", "--log-level", "warning"], env)
    services.define("worker", [*on_web, python, "-m", "celery", "-A", "server", "worker", "--pool", "prefork",
                               "--concurrency", "1", "--loglevel=WARNING", "-n", f"faults-{os.getpid()}@%h",
                               "--without-gossip", "--without-mingle", "--without-heartbeat"], env)
    services.define("beat", [*on_web, python, "-m", "celery", "-A", "server", "beat", "--loglevel=WARNING",
                             "-s", str(work / "beat-schedule")], env)
    for name in ("web", "worker", "beat"):
        services.start(name)
    wait_for_port(hosts.web_for_host, port, 60, "gunicorn", services, "web")

    def seen(*pairs: tuple[str, str]) -> str:
        """Addresses, each with who reaches it there."""
        if not hosts.made:
            return "127.0.0.1"
        return ", ".join(f"{address} ({peer})" for address, peer in pairs)

    placement = [
        ("agents", hosts.namespaces.get("agents", "-"), seen((hosts.agents_ip, "web")),
         f"the floor ({args.seats} seats) -> http://{hosts.web_for_agents}:{port}"),
        ("web", hosts.namespaces.get("web", "-"),
         seen((hosts.web_for_agents, "agents"), (hosts.web_for_db, "db"), (hosts.web_for_host, "machine")),
         f"gunicorn :{port} ({args.workers} workers), celery worker, celery beat"),
        ("db", hosts.namespaces.get("db", "-"),
         seen((hosts.db_for_web, "web"), (hosts.db_for_host, "machine")), f"{database}, {brokers}"),
        ("machine", "-", seen(*zip(hosts.machine_ips, ("db", "web"), strict=False)),
         "bench/faults: lays out the floor, waits for ports, kills, judges"),
    ]
    say(f"hosts: {', '.join(f'{row[0]} {row[2]}' for row in placement)}")

    faults = schedule(args)
    kinds = [fault.kind for fault in faults]
    skipped = [kind for kind in kinds if kind in {"degrade", "cut"} and not hosts.method]
    faults = [fault for fault in faults if fault.kind not in skipped]
    log_path = Path(args.log) if args.log else work / "floor.jsonl"
    spec = {
        "server": f"http://{hosts.web_for_agents}:{port}", "secret": secret, "seats": args.seats,
        "floor": ingest.FLOOR_NAME, "interval": args.interval, "change_ratio": args.change_ratio,
        "timeout": args.timeout, "seed": args.seed, "cti_origin": ingest.CTI_ORIGIN,
        "log": str(log_path), "stop_file": str(work / "stop"),
    }
    (work / "floor.json").write_text(json.dumps(spec))
    services.define("floor", [*hosts.exec("agents"), python, str(Path(__file__).resolve()), "--floor",
                              str(work / "floor.json")], dict(os.environ, PYTHONPATH=str(REPO / "agent")))
    services.start("floor")
    floor = services.processes["floor"]
    began = time.time()
    say(f"floor of {args.seats} seats reporting every {args.interval:g} s; faults: "
        + ", ".join(f"{f.kind} at {f.start:.0f} s" for f in faults)
        + (f"; skipped (no namespaces/tc): {', '.join(skipped)}" if skipped else ""))
    ports = {"broker": (hosts.db_for_host, broker_port), "web": (hosts.web_for_host, port)}
    for fault in faults:
        pause_until(began + fault.start)
        apply_fault(fault, services, hosts, ports)
        fault.start = time.time()
        pause_until(fault.start + args.fault_length)
        restore(fault, services, hosts, ports["broker"])
        fault.end = time.time()
        say(f"  {fault.kind}: {fault.note}")
    last_fault_end = max((fault.end for fault in faults), default=time.time())
    # The floor keeps reporting after the last fault, so its spooled reports drain; then it stops
    # and the evaluations must be done by --settle after the last fault.
    pause_until(last_fault_end + min(args.drain, args.settle))
    (work / "stop").touch()
    try:
        floor.wait(timeout=args.timeout * 4 + args.interval * 2 + 60)
    except subprocess.TimeoutExpired:
        floor.kill()
    outcome = judge(args, log_path, faults, last_fault_end)
    print_report(args, faults, outcome, hosts, placement, skipped)
    passed = (outcome.lost == 0 and outcome.duplicated == 0 and outcome.repeated_events == 0
              and outcome.unevaluated == 0 and outcome.readiness_matches == outcome.seats
              and outcome.acknowledged > 0)
    if args.json:
        document = {
            "settings": {k: v for k, v in vars(args).items() if k not in {"json", "floor"}},
            "network": asdict(hosts), "skipped": skipped,
            "placement": [dict(zip(("host", "namespace", "addresses", "processes"), row, strict=True))
                          for row in placement],
            "faults": [{**asdict(fault), "start": round(fault.start - began, 1),
                        "end": round(fault.end - began, 1)} for fault in faults],
            "outcome": asdict(outcome), "passed": passed,
        }
        text = json.dumps(document, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0 if passed else 1


def schedule(args: argparse.Namespace) -> list[Fault]:
    """The faults evenly spread over --duration, the first after a tenth of it."""
    count = len(args.faults)
    span = max(args.duration, count * (args.fault_length + 2))
    gap = span / (count + 0.5)
    return [Fault(kind=kind, start=gap * (index + 0.5)) for index, kind in enumerate(args.faults)]


def pause_until(moment: float) -> None:
    delay = moment - time.time()
    if delay > 0:
        time.sleep(delay)


def apply_fault(fault: Fault, services: Services, hosts: Hosts, ports: dict[str, tuple[str, int]]) -> None:
    if fault.kind in {"broker", "worker", "web"}:
        services.kill(fault.kind)
        if fault.kind == "worker":
            # Beat lives with the worker on most hosts; it goes down too.
            services.kill("beat")
        if fault.kind in ports and port_answers(*ports[fault.kind]):
            # A fault that did not happen must not be reported as survived.
            address, port = ports[fault.kind]
            raise SetupFailed(f"the {fault.kind} still answers on {address}:{port} after SIGKILL")
        fault.note = f"SIGKILL {fault.kind}"
    else:
        hosts.impair(fault.kind)
        qdisc = hosts.degrade_args() if fault.kind == "degrade" else hosts.cut_args()
        fault.note = "tc qdisc " + " ".join(qdisc)


def restore(fault: Fault, services: Services, hosts: Hosts, broker: tuple[str, int]) -> None:
    if fault.kind in {"broker", "worker", "web"}:
        services.start(fault.kind)
        if fault.kind == "worker":
            services.start("beat")
        if fault.kind == "broker":
            wait_for_port(*broker, 120, "the broker", services, "broker")
        fault.note += ", restarted"
    else:
        hosts.heal()
        fault.note += ", healed"

# -- judging --------------------------------------------------------------------------------------


def judge(args: argparse.Namespace, log_path: Path, faults: list[Fault], last_fault_end: float) -> Outcome:
    from django.db import connection
    from readyfloor_agent import checks

    from server.compliance.models import Policy, SeatEvent
    from server.fleet.models import CheckIn, Device, FactSnapshot, Seat

    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    outcome = Outcome(seats=args.seats)
    outcome.attempts = dict(Counter(entry.get("answer", entry.get("event")) for entry in entries))
    acked = {entry["report_id"] for entry in entries if entry.get("answer") in {"accepted", "duplicate"}}
    outcome.acknowledged = len(acked)
    ack_times = sorted(entry["t"] for entry in entries if entry.get("answer") in {"accepted", "duplicate"})

    # Every stored check-in must be evaluated by last fault + settle: wait for it, no longer.
    deadline = last_fault_end + args.settle
    while True:
        unevaluated = CheckIn.objects.filter(evaluated_at=None).count()
        if unevaluated == 0:
            break
        if time.time() >= deadline:
            break
        time.sleep(1)
    outcome.unevaluated = unevaluated

    stored_ids = {str(value) for value in CheckIn.objects.values_list("report_id", flat=True)}
    outcome.stored = len(acked & stored_ids)
    outcome.lost = len(acked - stored_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) - count(DISTINCT report_id) FROM {CheckIn._meta.db_table}")
        outcome.duplicated = cursor.fetchone()[0]
    # A transition written twice (X -> Y, then X -> Y again) would be a duplicated evaluation.
    previous: dict[int, str] = {}
    events = SeatEvent.objects.order_by("seat_id", "at", "pk").values_list("seat_id", "to_readiness")
    for seat_id, to_readiness in events:
        if previous.get(seat_id) == to_readiness:
            outcome.repeated_events += 1
        previous[seat_id] = to_readiness

    # Recovery per fault.
    for fault in faults:
        later = [t for t in ack_times if t > fault.end]
        fault.answers_back_s = round(later[0] - fault.end, 1) if later else None
        backlog = CheckIn.objects.filter(received_at__lte=_aware(fault.end))
        if backlog.filter(evaluated_at=None).exists():
            fault.caught_up_s = None
        else:
            newest = max((value for value in backlog.values_list("evaluated_at", flat=True)), default=None)
            fault.caught_up_s = round(max(0.0, newest.timestamp() - fault.end), 1) if newest else 0.0
    caught_up = [fault.caught_up_s for fault in faults]
    if faults and None not in caught_up:
        outcome.slowest_catch_up_s = max(value for value in caught_up if value is not None)

    # Final readiness of every seat against a re-judgement of the last facts its agent was
    # told were stored.
    last_hash: dict[str, str] = {}
    for entry in entries:
        if entry.get("answer") in {"accepted", "duplicate"}:
            last_hash[entry["seat"]] = entry["facts_hash"]
    policy = Policy.objects.get()
    catalog = policy.to_catalog()
    now = _aware(time.time())
    for seat in Seat.objects.all():
        device = Device.objects.filter(seat=seat).first()
        digest = last_hash.get(seat.label)
        if device is None or digest is None:
            outcome.mismatches.append(f"{seat.label}: never acknowledged")
            continue
        snapshot = FactSnapshot.objects.filter(sha256=digest).first()
        if snapshot is None:
            outcome.mismatches.append(f"{seat.label}: its last acknowledged facts are not stored")
            continue
        results = checks.evaluate(snapshot.facts, catalog, last_seen=device.last_seen_at, now=now)
        expected = checks.readiness_of(results).value
        if expected == seat.readiness and device.facts_hash == digest:
            outcome.readiness_matches += 1
        else:
            other = "" if device.facts_hash == digest else " (server holds other facts)"
            outcome.mismatches.append(
                f"{seat.label}: shows {seat.readiness}, its last facts judge {expected}{other}")
    return outcome


def _aware(epoch: float):
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)


def print_report(args: argparse.Namespace, faults: list[Fault], outcome: Outcome, hosts: Hosts,
                 placement: list[tuple[str, str, str, str]], skipped: list[str]) -> None:
    if args.json == "-":
        return

    table(("host", "namespace", "addresses", "ran there"), placement, numeric=0)
    print()

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f}"

    rows = [(f.kind, f.note, seconds(f.answers_back_s), seconds(f.caught_up_s)) for f in faults]
    table(("fault", "what was done", "answers back s", "caught up s"), rows, numeric=2)
    if not hosts.made:
        print(f"KILLS ONLY: network faults skipped, namespaces could not be made ({hosts.why_not}); "
              "everything ran on this machine")
    elif skipped:
        print(f"network faults skipped ({', '.join(skipped)}): {hosts.why_not}")
    print(f"broker {args.broker}; {args.seats} seats every {args.interval:g} s; attempts: "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcome.attempts.items())))
    settle = f"{args.settle:g} s after the last fault"

    def goal(name: str, value: Any, ok: bool) -> None:
        print(f"{name:<40} {value!s:>10}  {'PASS' if ok else 'FAIL'}")

    print(f"{'acknowledged':<40} {outcome.acknowledged:>10}")
    print(f"{'stored':<40} {outcome.stored:>10}")
    goal("lost", outcome.lost, outcome.lost == 0)
    goal("duplicated (rows, repeated transitions)", f"{outcome.duplicated}, {outcome.repeated_events}",
         outcome.duplicated == 0 and outcome.repeated_events == 0)
    goal(f"unevaluated {settle}", outcome.unevaluated, outcome.unevaluated == 0)
    if outcome.slowest_catch_up_s is not None:
        print(f"{'slowest catch-up after a fault, s':<40} {outcome.slowest_catch_up_s:>10}")
    goal("seats whose readiness = re-judgement", f"{outcome.readiness_matches}/{outcome.seats}",
         outcome.readiness_matches == outcome.seats)
    for line in outcome.mismatches[:10]:
        print(f"  {line}")



def table(header: tuple[str, ...], rows: list[tuple[str, ...]], numeric: int) -> None:
    """Columns from `numeric` on are right-aligned (0: none)."""
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:>{w}}}" if numeric and i >= numeric else f"{{:<{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*header).rstrip())
    print(fmt.format(*("-" * w for w in widths)))
    for row in rows:
        print(fmt.format(*row).rstrip())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
