"""The agent's run loop as its own process, for end-to-end tests against the real server.

It is ``readyfloor-agent run`` with three differences, all through the seams AgentService
offers for exactly this (no patching of agent internals):

- time is compressed ``--speed`` times (clock and wait are injected), so the server's
  minimum interval of 5 s becomes 0.5 s and the 5 s backoff 0.5 s, and a test sees dozens
  of collections, outages and retries in seconds;
- facts come from fixture support bundles (``--bundle``, repeatable), read by the real
  collectors as ``readyfloor-agent collect --bundle`` reads them; the bundle changes every
  ``--change-every`` reports, so the stream mixes full reports and heartbeats;
- every report the agent queues is written to ``--journal`` (one line: report_id and
  collected_at) right after the spool holds it. A kill between the two is covered at the
  next start: whatever is in the spool and not in the journal is journaled before anything
  else happens, so the journal ends up naming every report ever spooled, in spool order.

Settings are the agent's own: READYFLOOR_CONFIG / READYFLOOR_* and the server and enrol
secret remembered by ``readyfloor-agent enroll`` in the state dir. SIGTERM stops it as it
stops the real agent.

    python -m tests.e2e.agent_process --bundle tests/fixtures/bundles/linux-healthy-pactl \
        --journal /tmp/journal.txt --speed 10
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from readyfloor_agent.bundle import open_bundle
from readyfloor_agent.collectors import collect
from readyfloor_agent.config import AgentSettings, StateDir, load_settings
from readyfloor_agent.service import AgentService, install_signal_handlers
from readyfloor_agent.spool import SpoolEntry

log = logging.getLogger("readyfloor_agent.e2e")


def read_journal(path: Path) -> list[tuple[str, str]]:
    """(report_id, collected_at) of every journaled report, in the order they were spooled."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [(parts[0], parts[1]) for parts in (line.split() for line in lines) if len(parts) == 2]


def spooled_reports(spool_dir: Path) -> list[tuple[str, str]]:
    """(report_id, collected_at) of the reports waiting in a spool directory, oldest first.
    Read-only: safe while an agent owns the spool (its writes are atomic renames)."""
    found = []
    for path in sorted(spool_dir.glob("*.json")):
        try:
            body = json.loads(path.read_text("utf-8"))["body"]
        except FileNotFoundError:
            continue  # acknowledged while we looked
        found.append((str(body["report_id"]), str(body["collected_at"])))
    return found


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.known = {report_id for report_id, _ in read_journal(path)}
        self._descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def record(self, report_id: str, collected_at: str) -> None:
        if report_id in self.known:
            return
        # One write(2) per line on an O_APPEND descriptor: a SIGKILL leaves whole lines only.
        os.write(self._descriptor, f"{report_id} {collected_at}\n".encode())
        self.known.add(report_id)

    def __len__(self) -> int:
        return len(self.known)


class CompressedTimeAgent(AgentService):
    def __init__(
        self,
        settings: AgentSettings,
        *,
        bundles: list[Path],
        change_every: int,
        journal: Journal,
        speed: float,
    ) -> None:
        self._stopped = threading.Event()
        self._speed = speed
        self._bundles = bundles
        self._change_every = change_every
        self.journal = journal
        super().__init__(
            settings,
            collect_facts=self._collect_from_bundle,
            clock=lambda: time.monotonic() * speed,
            wait=self._wait_compressed,
        )
        # Reports spooled by an earlier process that died before journaling them.
        for report_id, collected_at in spooled_reports(self.spool.directory):
            self.journal.record(report_id, collected_at)

    def _wait_compressed(self, seconds: float) -> bool:
        return self._stopped.wait(seconds / self._speed)

    def stop(self) -> None:
        super().stop()
        self._stopped.set()

    def _collect_from_bundle(self) -> dict[str, Any]:
        bundle = self._bundles[(len(self.journal) // self._change_every) % len(self._bundles)]
        host = open_bundle(bundle)
        try:
            return collect(host)
        finally:
            host.close()

    def collect_and_queue(self) -> SpoolEntry | None:
        entry = super().collect_and_queue()
        if entry is not None:
            self.journal.record(entry.report_id, str(entry.body["collected_at"]))
        return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.agent_process", description=__doc__)
    parser.add_argument("--bundle", action="append", required=True, type=Path, help="fixture bundle")
    parser.add_argument("--change-every", type=int, default=3, help="reports per bundle before the next")
    parser.add_argument("--journal", required=True, type=Path, help="file naming every report spooled")
    parser.add_argument("--speed", type=float, default=10.0, help="how much faster than real time")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = load_settings()
    state = StateDir(settings.state_dir)
    # As `readyfloor-agent run` does: the server and secret remembered by `enroll`.
    settings = settings.with_overrides(
        server=None if settings.server else state.get("server"),
        enroll_secret=None if settings.enroll_secret else state.enroll_secret(),
    )
    agent = CompressedTimeAgent(
        settings,
        bundles=args.bundle,
        change_every=args.change_every,
        journal=Journal(args.journal),
        speed=args.speed,
    )
    install_signal_handlers(agent)
    agent.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
