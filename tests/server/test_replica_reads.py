"""Dashboards and the operator API read from a streaming replica; every write goes to the
primary. Proven on a real pair: the test makes a primary (initdb) and a replica of it
(pg_basebackup -R), both on free ports in a temporary folder, pauses the replica's replay and
shows which reads see a row only the primary has. Both servers are stopped at the end."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.slow


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, bin_dir: Path, data: Path, port: int, user: str | None) -> None:
        self.bin_dir, self.data, self.port, self.user = bin_dir, data, port, user

    def run(self, tool: str, *args: str) -> None:
        done = subprocess.run([str(self.bin_dir / tool), *args], capture_output=True, text=True, timeout=120,
                              user=self.user)
        assert done.returncode == 0, f"{tool} {' '.join(args)}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.data.parent / f"{self.data.name}.log"),
                 "-o", f"-p {self.port} -k {self.data.parent}", "-w", "-t", "60", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="module")
def streaming_pair() -> Iterator[tuple[Cluster, Cluster]]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    # initdb refuses to run as root: as root, the servers run as the postgres user.
    user = "postgres" if os.geteuid() == 0 else None
    work = Path(tempfile.mkdtemp(prefix="readyfloor-replica-"))
    if user:
        shutil.chown(work, user)
    primary = Cluster(bin_dir, work / "primary", free_port(), user)
    replica = Cluster(bin_dir, work / "replica", free_port(), user)
    try:
        primary.run("initdb", "-D", str(primary.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--no-sync")
        with open(primary.data / "postgresql.conf", "a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nwal_level = replica\nmax_wal_senders = 4\n"
                       "fsync = off\nshared_buffers = 32MB\n")
        primary.start()
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(primary.port),
                        "-U", "postgres", "readyfloor"], check=True, timeout=60)
        # -R: the copy starts as a hot standby streaming from the primary (standby.signal and
        # primary_conninfo are written for it).
        replica.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                    "-D", str(replica.data), "-R", "-X", "stream", "--no-sync")
        replica.start()
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_dashboard_and_api_reads_come_from_the_replica_and_every_write_goes_to_the_primary(
    streaming_pair: tuple[Cluster, Cluster],
) -> None:
    primary, replica = streaming_pair
    env = dict(
        os.environ,
        DATABASE_URL=primary.url("readyfloor"),
        DATABASE_REPLICA_URL=replica.url("readyfloor"),
        ALLOWED_HOSTS="testserver,localhost",
        CELERY_QUEUE=f"readyfloor-replica-{uuid.uuid4().hex[:8]}",
        DJANGO_SETTINGS_MODULE="server.settings",
        PYTHONPATH=str(REPO),
        LOG_LEVEL="WARNING",
    )
    done = subprocess.run([sys.executable, str(REPO / "tests" / "server" / "replica_probe.py")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    # The second server really is a streaming standby, and it had the seat written before.
    assert seen["replica_is_in_recovery"] is True
    assert seen["both_list_the_replicated_seat"] == {"api": True, "dashboard": True}
    # The router: fleet reads in a replica block go to the replica; users, and writes, never.
    assert seen["read_db_in_replica_block"] == "replica"
    assert seen["read_db_of_users"] == "default"
    assert seen["write_db_in_replica_block"] == "default"
    assert seen["read_db_elsewhere"] == "default"
    # With the replica's replay paused, writes still succeed (on the primary) ...
    assert seen["replica_block_write_updated"] == 1
    assert seen["primary_team"] == "Updated on the primary"
    assert seen["primary_read_sees_new_seat"] is True
    # ... and only reads served by the replica miss the new seat: the dashboard and the API.
    assert seen["replica_read_sees_new_seat"] is False
    assert seen["pages_while_replay_paused"] == {"api": False, "dashboard": False}
    # The admin reads the primary.
    assert seen["admin_while_replay_paused"] is True
    # After a POST the same browser reads the primary for a while, and sees its change.
    assert seen["post_sets_sticky_cookie"] is True
    assert seen["pages_right_after_a_post"] == {"api": True, "dashboard": True}
    # Replay resumed: the replica catches up and the pages show the seat.
    assert seen["pages_after_resume"] == {"api": True, "dashboard": True}


def test_without_a_replica_url_there_is_no_router_and_no_replica_database(settings) -> None:
    assert "replica" not in settings.DATABASES
    assert not getattr(settings, "DATABASE_ROUTERS", [])
    assert "server.replica.ReplicaReadsMiddleware" not in settings.MIDDLEWARE
