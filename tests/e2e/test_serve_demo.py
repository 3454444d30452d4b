"""What `make run` does, on the embedded defaults: `manage.py serve --demo` with no
DATABASE_URL/REDIS_URL starts its own PostgreSQL and Redis, serves web + worker + beat,
prints the URL and a login, and shows a demo floor where several seats are NOT READY with
readable reasons. Stopping it stops everything it started."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(process: subprocess.Popen, pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output was:\n{''.join(seen)}")


def logged_in_opener(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    request = urllib.request.Request(
        f"{base}/login/", data=form.encode(), headers={"Referer": f"{base}/login/"}
    )
    opener.open(request, timeout=10)
    return opener


def test_serve_demo_runs_the_product_on_embedded_services(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(READYFLOOR_DATA_DIR=str(tmp_path / "var"), PORT=str(port), PYTHONUNBUFFERED="1")
    env.pop("CELERY_QUEUE", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--demo", "--web-workers", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = read_until(process, r"ReadyFloor is running at (http://\S+)/", timeout=120).group(1)
        username, password = read_until(process, r"Log in with (\S+) / (\S+)", timeout=10).groups()
        free = read_until(process, r"Free seats for a real machine: Floor 1 (\S+),", timeout=10).group(1)
        assert free == "G-01"
        assert url == f"http://localhost:{port}"
        base = f"http://127.0.0.1:{port}"

        opener = logged_in_opener(base, username, password)

        def not_ready_seats() -> list[dict]:
            body = json.load(opener.open(f"{base}/api/v1/seats?status=not_ready&page_size=100", timeout=10))
            return body["results"]

        deadline = time.monotonic() + 90
        seats = []
        while time.monotonic() < deadline and len(seats) < 3:
            seats = not_ready_seats()
            time.sleep(1)
        assert len(seats) >= 3, seats
        assert all(seat["failing_checks"][0]["reason"] for seat in seats)
        # The floor page ("/" is each role's home: the demo's IT admin lands on the fleet overview).
        floor_page = opener.open(f"{base}/floor/", timeout=10).read().decode()
        assert seats[0]["failing_checks"][0]["reason"].split(" ")[0] in floor_page
        assert (tmp_path / "var" / "postgres").is_dir()
        # Where the README says: a person can reach the embedded Redis.
        assert (tmp_path / "var" / "redis" / "redis.sock").is_socket()
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    # It ends quietly: exit code 0, no error from a child, the embedded servers or a traceback.
    rest = process.stdout.read()
    assert process.returncode == 0, rest
    for noise in ("CommandError", "exited with code", "shutdown failed", "Traceback", "pg_ctl"):
        assert noise not in rest, (noise, rest)
    # The embedded PostgreSQL went away with it.
    postmaster = tmp_path / "var" / "postgres" / "postmaster.pid"
    deadline = time.monotonic() + 20
    while postmaster.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postmaster.exists()
