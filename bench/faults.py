#!/usr/bin/env python3
"""Durability under faults: a simulated floor reports while the broker, the Celery worker and
the web server are killed (SIGKILL) and restarted on a schedule, and the network between the
agents and the server is degraded and cut. Nothing an agent was told is stored may be lost or
stored twice, and every stored report must be evaluated soon after the last fault.

One command does everything, as root (namespaces and tc need it): a fresh database on the
PostgreSQL named by DATABASE_URL; a broker of its own that it may kill (a redis-server on a
free port, or with --broker rabbitmq a RabbitMQ node of its own); gunicorn, a Celery worker
and beat. The agents run in a network namespace of their own (`ip netns`), joined to the
server's by a veth pair, so the network faults are real: `tc netem` (latency and loss, then
100 % loss) where the kernel has it, else `tc tbf` (a link too slow for the floor: latency and
drops, then one no packet fits through). Where namespaces cannot be made the floor runs beside
the server, the network faults are skipped and the table says so.

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
                     help="run the floor beside the server (no network faults), e.g. without root")
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
    stack.add_argument("--keep-db", action="store_true", help="keep the benchmark database for inspection")
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
    """The broker, web, worker and beat of this run, each restartable with the same command."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.commands: dict[str, tuple[list[str], dict[str, str], str | None]] = {}
        self.processes: dict[str, subprocess.Popen] = {}

    def define(self, name: str, argv: list[str], env: dict[str, str] | None = None,
               user: str | None = None) -> None:
        self.commands[name] = (argv, env or self.env, user)

    def start(self, name: str) -> None:
        argv, env, user = self.commands[name]
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.processes[name] = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True, user=user)

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


def wait_for_port(port: int, timeout: float, what: str, services: Services, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if services.processes[name].poll() is not None:
            raise SetupFailed(f"{what} exited with code {services.processes[name].returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.3)
    raise SetupFailed(f"{what} did not listen on port {port} within {timeout:.0f} s")


def define_broker(args: argparse.Namespace, services: Services, work: Path) -> tuple[str, int]:
    """A broker of this run's own, which it may kill: (broker URL, port)."""
    port = free_port()
    if args.broker == "redis":
        redis_server = shutil.which("redis-server")
        if not redis_server:
            raise SetupFailed("redis-server is not installed (apt-get install redis-server)")
        data = work / "redis"
        data.mkdir()
        # Append-only file, fsync every second: what a broker that should survive a restart runs.
        services.define("broker", [redis_server, "--port", str(port), "--bind", "127.0.0.1",
                                   "--dir", str(data),
                                   "--appendonly", "yes", "--save", "", "--daemonize", "no"])
        return f"redis://127.0.0.1:{port}/0", port
    rabbitmq_server = shutil.which("rabbitmq-server")
    if not rabbitmq_server:
        raise SetupFailed("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    data = work / "rabbitmq"
    (data / "mnesia").mkdir(parents=True)
    (data / "log").mkdir()
    (data / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n")
    (data / "plugins").write_text("[].\n")
    # rabbitmq-server runs as the rabbitmq user when started as root: it must own its files.
    subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(data)], check=False)
    os.chmod(work, 0o755)
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
    services.define("broker", [rabbitmq_server], env=env)
    return f"amqp://guest:guest@127.0.0.1:{port}//", port


# -- the network between the floor and the server -------------------------------------------------


@dataclass
class Network:
    """A namespace for the agents and a veth pair to it; None fields when it could not be made."""

    namespace: str = ""
    host_if: str = ""
    agent_if: str = ""
    host_ip: str = "127.0.0.1"
    method: str = ""  # "netem", "tbf", or "" (no network faults)
    why_not: str = ""

    @property
    def made(self) -> bool:
        return bool(self.namespace)

    def setup(self) -> None:
        tag = os.getpid() % 100_000
        self.namespace, self.host_if, self.agent_if = f"rff{tag}", f"rff{tag}h", f"rff{tag}a"
        octet2, octet3 = 200 + (tag // 250) % 50, tag % 250
        self.host_ip, agent_ip = f"10.{octet2}.{octet3}.1", f"10.{octet2}.{octet3}.2"
        steps = [
            ["ip", "netns", "add", self.namespace],
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.agent_if],
            ["ip", "link", "set", self.agent_if, "netns", self.namespace],
            ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
            ["ip", "link", "set", self.host_if, "up"],
            ["ip", "netns", "exec", self.namespace,
             "ip", "addr", "add", f"{agent_ip}/30", "dev", self.agent_if],
            ["ip", "netns", "exec", self.namespace, "ip", "link", "set", self.agent_if, "up"],
            ["ip", "netns", "exec", self.namespace, "ip", "link", "set", "lo", "up"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                self.why_not = f"`{' '.join(step)}` failed: {done.stderr.strip() or done.returncode}"
                self.teardown()
                return
        for method in ("netem", "tbf"):
            if self._qdisc("add", self.host_if, self._degrade_args(method)) == "":
                self._qdisc("del", self.host_if, [])
                self.method = method
                break
        else:
            self.why_not = "neither tc netem nor tc tbf is available in this kernel"

    def teardown(self) -> None:
        if self.namespace:
            subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=30)
        if self.host_if:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=30)
        self.namespace = ""

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

    def _qdisc(self, action: str, interface: str, qdisc: list[str], inside: bool = False) -> str:
        prefix = ["ip", "netns", "exec", self.namespace] if inside else []
        command = [*prefix, "tc", "qdisc", action, "dev", interface, "root", *qdisc]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return "" if done.returncode == 0 else (done.stderr.strip() or str(done.returncode))

    def degrade_args(self) -> list[str]:
        return self._degrade_args(self.method)

    def cut_args(self) -> list[str]:
        return self._cut_args(self.method)

    def impair(self, kind: str) -> None:
        qdisc = self._degrade_args(self.method) if kind == "degrade" else self._cut_args(self.method)
        # Both directions: each end shapes what it sends.
        self._qdisc("replace", self.host_if, qdisc)
        self._qdisc("replace", self.agent_if, qdisc, inside=True)

    def heal(self) -> None:
        self._qdisc("del", self.host_if, [])
        self._qdisc("del", self.agent_if, [], inside=True)


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


def main(argv: list[str]) -> int:
    if "--floor" in argv:
        return floor_main(argv[argv.index("--floor") + 1])
    args = parse_args(argv)
    stack = ingest.Stack(args)
    work = Path(tempfile.mkdtemp(prefix="readyfloor-faults-"))
    services: Services | None = None
    network = Network()
    status = 2
    try:
        status, services, network = benchmark(args, stack, work, network)
        return status
    except SetupFailed as error:
        say(f"bench/faults: could not set up the run: {error}")
        return status
    finally:
        if services is not None:
            stop_file = work / "stop"
            stop_file.touch()
            services.stop_all()
        network.teardown()
        stack.drop_database()
        if status == 0 and not args.log:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(stack.log_dir, ignore_errors=True)
        else:
            say(f"logs kept in {work} and {stack.log_dir}")


def benchmark(args: argparse.Namespace, stack: Any, work: Path,
              network: Network) -> tuple[int, Services | None, Network]:
    if args.no_netns:
        network.why_not = "--no-netns"
    elif os.geteuid() != 0:
        network.why_not = "not root"
    elif not shutil.which("ip") or not shutil.which("tc"):
        network.why_not = "iproute2 (ip, tc) is not installed"
    else:
        network.setup()
    if network.made:
        say(f"agents in namespace {network.namespace}, server at {network.host_ip}; network faults with "
            f"tc {network.method or '(none)'}")
    else:
        say(f"KILLS ONLY: namespaces could not be made ({network.why_not}); the floor runs beside the "
            "server and the network faults are skipped")

    services = Services(stack.log_dir, {})
    broker_url, broker_port = define_broker(args, services, work)
    os.environ["REDIS_URL"] = broker_url if args.broker == "redis" else os.environ.get("REDIS_URL", "")
    os.environ["CELERY_BROKER_URL"] = broker_url
    services.start("broker")
    wait_for_port(broker_port, 120, f"the {args.broker} broker", services, "broker")
    stack.create_database()
    env = dict(stack.env, CELERY_BROKER_URL=broker_url,
               ALLOWED_HOSTS=f"localhost,127.0.0.1,{network.host_ip}", LOG_LEVEL="WARNING")
    services.env = env
    ingest.setup_django()
    say(f"database {stack.db_name}: migrating, {args.seats} seats")
    secret = ingest.migrate_and_lay_out_floor(args.seats)
    port = free_port()
    python = sys.executable
    binds = ["--bind", f"127.0.0.1:{port}"]
    if network.made:
        binds += ["--bind", f"{network.host_ip}:{port}"]
    services.define("web", [python, "-m", "gunicorn", "server.wsgi:application", *binds,
                            "--workers", str(args.workers), "--timeout", "30", "--log-level", "warning"], env)
    services.define("worker", [python, "-m", "celery", "-A", "server", "worker", "--pool", "prefork",
                               "--concurrency", "1", "--loglevel=WARNING", "-n", f"faults-{os.getpid()}@%h",
                               "--without-gossip", "--without-mingle", "--without-heartbeat"], env)
    services.define("beat", [python, "-m", "celery", "-A", "server", "beat", "--loglevel=WARNING",
                             "-s", str(work / "beat-schedule")], env)
    for name in ("web", "worker", "beat"):
        services.start(name)
    wait_for_port(port, 60, "gunicorn", services, "web")

    faults = schedule(args)
    kinds = [fault.kind for fault in faults]
    skipped = [kind for kind in kinds if kind in {"degrade", "cut"} and not network.method]
    faults = [fault for fault in faults if fault.kind not in skipped]
    log_path = Path(args.log) if args.log else work / "floor.jsonl"
    spec = {
        "server": f"http://{network.host_ip}:{port}", "secret": secret, "seats": args.seats,
        "floor": ingest.FLOOR_NAME, "interval": args.interval, "change_ratio": args.change_ratio,
        "timeout": args.timeout, "seed": args.seed, "cti_origin": ingest.CTI_ORIGIN,
        "log": str(log_path), "stop_file": str(work / "stop"),
    }
    (work / "floor.json").write_text(json.dumps(spec))
    floor_argv = [python, str(Path(__file__).resolve()), "--floor", str(work / "floor.json")]
    if network.made:
        floor_argv = ["ip", "netns", "exec", network.namespace, *floor_argv]
    floor = subprocess.Popen(floor_argv, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO / "agent")),
                             stdout=open(stack.log_dir / "floor.log", "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    began = time.time()
    say(f"floor of {args.seats} seats reporting every {args.interval:g} s; faults: "
        + ", ".join(f"{f.kind} at {f.start:.0f} s" for f in faults)
        + (f"; skipped (no namespaces/tc): {', '.join(skipped)}" if skipped else ""))
    for fault in faults:
        pause_until(began + fault.start)
        apply_fault(fault, services, network, {"broker": broker_port, "web": port})
        fault.start = time.time()
        pause_until(fault.start + args.fault_length)
        restore(fault, services, network, broker_port)
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
    print_report(args, faults, outcome, network, skipped, last_fault_end)
    passed = (outcome.lost == 0 and outcome.duplicated == 0 and outcome.repeated_events == 0
              and outcome.unevaluated == 0 and outcome.readiness_matches == outcome.seats
              and outcome.acknowledged > 0)
    if args.json:
        document = {
            "settings": {k: v for k, v in vars(args).items() if k not in {"json", "floor"}},
            "network": asdict(network), "skipped": skipped,
            "faults": [{**asdict(fault), "start": round(fault.start - began, 1),
                        "end": round(fault.end - began, 1)} for fault in faults],
            "outcome": asdict(outcome), "passed": passed,
        }
        text = json.dumps(document, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return (0 if passed else 1), services, network


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


def apply_fault(fault: Fault, services: Services, network: Network, ports: dict[str, int]) -> None:
    if fault.kind in {"broker", "worker", "web"}:
        services.kill(fault.kind)
        if fault.kind == "worker":
            # Beat lives with the worker on most hosts; it goes down too.
            services.kill("beat")
        if fault.kind in ports and port_answers(ports[fault.kind]):
            # A fault that did not happen must not be reported as survived.
            raise SetupFailed(f"the {fault.kind} still answers on port {ports[fault.kind]} after SIGKILL")
        fault.note = f"SIGKILL {fault.kind}"
    else:
        network.impair(fault.kind)
        qdisc = network.degrade_args() if fault.kind == "degrade" else network.cut_args()
        fault.note = "tc qdisc " + " ".join(qdisc)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def restore(fault: Fault, services: Services, network: Network, broker_port: int) -> None:
    if fault.kind in {"broker", "worker", "web"}:
        services.start(fault.kind)
        if fault.kind == "worker":
            services.start("beat")
        if fault.kind == "broker":
            wait_for_port(broker_port, 120, "the broker", services, "broker")
        fault.note += ", restarted"
    else:
        network.heal()
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


def print_report(args: argparse.Namespace, faults: list[Fault], outcome: Outcome, network: Network,
                 skipped: list[str], last_fault_end: float) -> None:
    if args.json == "-":
        return

    def seconds(value: float | None) -> str:
        return "never" if value is None else f"{value:.1f}"

    header = ("fault", "what was done", "answers back s", "caught up s")
    rows = [(f.kind, f.note, seconds(f.answers_back_s), seconds(f.caught_up_s)) for f in faults]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header)]
    fmt = "  ".join([f"{{:<{widths[0]}}}", f"{{:<{widths[1]}}}"] + [f"{{:>{w}}}" for w in widths[2:]])
    print(fmt.format(*header))
    print(fmt.format(*("-" * w for w in widths)))
    for row in rows:
        print(fmt.format(*row))
    if not network.made:
        print(f"KILLS ONLY: network faults skipped, namespaces could not be made ({network.why_not})")
    elif skipped:
        print(f"network faults skipped ({', '.join(skipped)}): {network.why_not}")
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
