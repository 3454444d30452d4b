"""The real server for end-to-end tests: gunicorn serving server.wsgi on 127.0.0.1, on the test
database (``service_env()``), which a test can stop, freeze and start again on the same port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import REPO, service_env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accept_backlog(port: int) -> int:
    """Connections waiting to be accepted on the listening socket 127.0.0.1:port (Linux: the
    rx_queue of a LISTEN row in /proc/net/tcp is its accept queue)."""
    suffix = f":{port:04X}"
    try:
        with open("/proc/net/tcp", encoding="ascii") as table:
            rows = [line.split() for line in table.readlines()[1:]]
    except OSError:
        return 0
    for row in rows:
        if row[1] == f"0100007F{suffix}" and row[3] == "0A":
            return int(row[4].split(":")[1], 16)
    return 0


class LiveServer:
    """``python -m gunicorn server.wsgi:application`` in its own process group, so that
    stopping it (SIGKILL, as a crash or a power cut would) takes its workers too."""

    def __init__(self, log_dir: Path, *, port: int | None = None, workers: int = 2) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.access_log = log_dir / "gunicorn-access.log"
        self.error_log = log_dir / "gunicorn-error.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "server.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "30",
                "--access-logfile",
                str(self.access_log),
                "--error-logfile",
                str(self.error_log),
            ],
            cwd=REPO,
            env=service_env(PYTHONUNBUFFERED="1"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.error_log}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s; see {self.error_log}")

    def kill(self) -> None:
        """Stop the master and its workers at once, mid-request if need be."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Stop answering without closing the port: connections queue, requests go unanswered."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def checkin_statuses(self) -> list[int]:
        """HTTP status of every check-in answered so far, from the access log."""
        try:
            lines = self.access_log.read_text("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return []
        statuses = []
        for line in lines:
            request, _, rest = line.partition('"POST /api/agent/v1/checkin ')[2].partition('" ')
            if request and rest.split()[:1] and rest.split()[0].isdigit():
                statuses.append(int(rest.split()[0]))
        return statuses
