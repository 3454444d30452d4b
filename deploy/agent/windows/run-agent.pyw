"""Start the ReadyFloor agent from Task Scheduler with pythonw.exe (no console window).

pythonw.exe gives the process no stdout or stderr, so anything the agent prints would vanish.
This launcher sends both to a per-user log file first, then hands over to the same entry point
as the ``readyfloor-agent`` console script. install-agent.ps1 copies it next to the venv.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

# A seat runs for months; a small cap with one previous file keeps the log from filling a disk.
MAX_LOG_BYTES = 5 * 1024 * 1024


def log_path(environ: dict[str, str] | None = None) -> Path:
    """%LOCALAPPDATA%\\ReadyFloor\\logs\\agent.log: per user, like the agent's own state."""
    environ = dict(os.environ) if environ is None else environ
    base = environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    return Path(base) / "ReadyFloor" / "logs" / "agent.log"


def open_log(path: Path, max_bytes: int = MAX_LOG_BYTES) -> TextIO:
    """Open ``path`` for appending, first moving a file over ``max_bytes`` to ``<name>.1``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.stat().st_size > max_bytes:
            os.replace(path, path.with_name(path.name + ".1"))
    except OSError:
        # No log yet, or the old one is locked: appending to it is still better than nothing.
        pass
    return open(path, "a", buffering=1, encoding="utf-8", errors="replace")


def main() -> int:
    try:
        stream = open_log(log_path())
    except OSError:
        stream = None
    if stream is not None:
        sys.stdout = sys.stderr = stream
    from readyfloor_agent.cli import main as agent_main

    # sys.argv is ["...run-agent.pyw", "run", ...]: the agent's CLI sees the same arguments
    # as when started through the console script.
    return agent_main()


if __name__ == "__main__":
    sys.exit(main())
