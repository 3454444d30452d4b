"""The on-disk spool: check-ins waiting for the server, oldest first.

A report that was collected must reach the server even when the server, the network or the
agent itself goes away in between. Every report is written to the spool before it is sent
and removed only once the server acknowledged it; the server's report_id idempotency makes a
re-send after a crash harmless.

Layout (one directory, one file per report)::

    0000000000000042.json   a report (sequence number 42), written atomically
    .0000000000000043.json.tmp   a write in progress; never read, removed when the spool opens
    0000000000000017.corrupt     a file that could not be parsed, set aside for a human
    dropped                 reports dropped by the bound since the server last heard of it

Durability: each file is written to a temporary name, fsync'ed, renamed over its final name
with ``os.replace`` and the directory is fsync'ed, so after ``kill -9`` or a power cut a report
is either complete under its final name or absent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 1000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

_ENTRY_NAME = re.compile(r"^(\d{16})\.json$")
_DROPPED_FILE = "dropped"


def write_file_durably(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content.

    ``mode`` is applied to the temporary file before any byte is written, so a secret (the
    node key) is never readable by others, not even for an instant.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temporary, flags, 0o600 if mode is None else mode)
    try:
        if mode is not None and hasattr(os, "fchmod"):
            # os.open's mode is filtered by the umask and ignored for an existing file.
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        _remove_quietly(temporary)
        raise
    os.replace(temporary, path)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` survive a power cut (POSIX only: Windows
    cannot open a directory, and NTFS journals the rename itself)."""
    if os.name == "nt":
        return
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        # Some file systems (network mounts) refuse fsync on a directory; the data file
        # itself is already on disk.
        pass
    finally:
        os.close(descriptor)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@dataclass
class SpoolEntry:
    """One queued check-in. ``facts`` is kept even when ``body`` is a heartbeat carrying only
    ``facts_hash``, so that a 409 facts_required can be answered with the full report."""

    sequence: int
    path: Path
    body: dict[str, Any]
    facts: dict[str, Any] | None = None
    size: int = 0

    @property
    def report_id(self) -> str:
        return str(self.body.get("report_id", ""))


@dataclass
class SpoolStats:
    entries: int
    bytes: int
    dropped: int
    corrupt: int
    partial_writes: int
    rejected: int = 0
    oldest_collected_at: str | None = None


class Spool:
    """A bounded, ordered, crash-safe queue of check-ins in ``directory``.

    Bounds: at most ``max_entries`` reports and ``max_bytes`` bytes. When a new report does
    not fit, the OLDEST reports are dropped (the newest facts matter most for a seat's
    current state) and counted in :attr:`dropped`; that count travels to the server in the
    next check-in's ``dropped_reports`` and is cleared with :meth:`acknowledge_dropped`.

    The spool is used by one agent process at a time; a lock serialises the threads of that
    process.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a spool must hold at least one report")
        self.directory = Path(directory)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.corrupt = 0
        self.partial_writes = 0
        self.rejected = 0
        self._lock = threading.RLock()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._dropped = self._read_dropped()
        self._clear_partial_writes()

    # -- queue operations ------------------------------------------------------------------

    def put(self, body: dict[str, Any], *, facts: dict[str, Any] | None = None) -> SpoolEntry:
        """Queue a check-in durably, then enforce the bound by dropping the oldest reports."""
        record: dict[str, Any] = {"body": body}
        if facts is not None and "facts" not in body:
            record["facts"] = facts
        data = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        with self._lock:
            sequences = self._sequences()
            sequence = (sequences[-1] + 1) if sequences else 1
            path = self.directory / f"{sequence:016d}.json"
            write_file_durably(path, data)
            self._enforce_bound(keep=sequence)
        return SpoolEntry(sequence, path, body, record.get("facts"), len(data))

    def peek_oldest(self) -> SpoolEntry | None:
        """The oldest readable report, or None when the spool is empty. Unreadable files are
        set aside as ``.corrupt`` and counted, never raised."""
        with self._lock:
            for sequence in self._sequences():
                entry = self._load(sequence)
                if entry is not None:
                    return entry
            return None

    def entries(self) -> list[SpoolEntry]:
        """Every readable report, oldest first."""
        with self._lock:
            loaded = (self._load(sequence) for sequence in self._sequences())
            return [entry for entry in loaded if entry is not None]

    def ack(self, entry: SpoolEntry) -> None:
        """The server holds this report (accepted or duplicate): forget it."""
        with self._lock:
            _remove_quietly(entry.path)
            fsync_directory(self.directory)

    def reject(self, entry: SpoolEntry) -> None:
        """The server refused this report for good (400/413): drop it and count it."""
        with self._lock:
            self.rejected += 1
            _remove_quietly(entry.path)
            fsync_directory(self.directory)

    def replace(self, entry: SpoolEntry, body: dict[str, Any]) -> SpoolEntry:
        """Rewrite a queued report in place (same sequence, same report_id), e.g. with full
        facts after a 409 facts_required, so that a crash right after still resends it."""
        record: dict[str, Any] = {"body": body}
        if entry.facts is not None and "facts" not in body:
            record["facts"] = entry.facts
        data = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        with self._lock:
            write_file_durably(entry.path, data)
        return SpoolEntry(entry.sequence, entry.path, body, record.get("facts"), len(data))

    def __len__(self) -> int:
        with self._lock:
            return len(self._sequences())

    def __bool__(self) -> bool:
        # A spool object is always usable; emptiness is asked with len().
        return True

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(self._size(sequence) for sequence in self._sequences())

    # -- dropped-report accounting ---------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Reports dropped by the bound that the server has not been told about yet."""
        with self._lock:
            return self._dropped

    def acknowledge_dropped(self, reported: int) -> None:
        """The server acknowledged a check-in that carried ``dropped_reports=reported``.
        Only that many are cleared: drops that happened while it was in flight remain."""
        if reported <= 0:
            return
        with self._lock:
            self._dropped = max(0, self._dropped - reported)
            self._write_dropped()

    def stats(self) -> SpoolStats:
        with self._lock:
            sequences = self._sequences()
            oldest = self._load(sequences[0]) if sequences else None
            return SpoolStats(
                entries=len(sequences),
                bytes=sum(self._size(sequence) for sequence in sequences),
                dropped=self._dropped,
                corrupt=self.corrupt,
                partial_writes=self.partial_writes,
                rejected=self.rejected,
                oldest_collected_at=oldest.body.get("collected_at") if oldest else None,
            )

    # -- internals -------------------------------------------------------------------------

    def _sequences(self) -> list[int]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)
            return []
        found = []
        for name in names:
            match = _ENTRY_NAME.match(name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def _path(self, sequence: int) -> Path:
        return self.directory / f"{sequence:016d}.json"

    def _size(self, sequence: int) -> int:
        try:
            return self._path(sequence).stat().st_size
        except OSError:
            return 0

    def _load(self, sequence: int) -> SpoolEntry | None:
        path = self._path(sequence)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("spool: cannot read %s (%s); leaving it for the next attempt", path.name, error)
            return None
        try:
            record = json.loads(data.decode("utf-8"))
            body = record["body"]
            facts = record.get("facts")
            if not isinstance(body, dict) or not (facts is None or isinstance(facts, dict)):
                raise ValueError("unexpected record shape")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            self._set_aside(path, error)
            return None
        return SpoolEntry(sequence, path, body, facts, len(data))

    def _set_aside(self, path: Path, error: Exception) -> None:
        self.corrupt += 1
        log.error("spool: %s is unreadable (%s); set aside as .corrupt", path.name, error)
        try:
            os.replace(path, path.with_suffix(".corrupt"))
        except OSError:
            _remove_quietly(path)
        fsync_directory(self.directory)

    def _enforce_bound(self, *, keep: int) -> None:
        sequences = self._sequences()
        sizes = {sequence: self._size(sequence) for sequence in sequences}
        total = sum(sizes.values())
        dropped_now = 0
        for sequence in sequences:
            if len(sequences) - dropped_now <= self.max_entries and total <= self.max_bytes:
                break
            if sequence == keep:
                # The report just written always stays, even when it alone exceeds max_bytes.
                break
            _remove_quietly(self._path(sequence))
            total -= sizes[sequence]
            dropped_now += 1
        if dropped_now:
            fsync_directory(self.directory)
            self._dropped += dropped_now
            self._write_dropped()
            log.warning(
                "spool full (%d reports, %d bytes max): dropped the %d oldest; %d dropped in total",
                self.max_entries,
                self.max_bytes,
                dropped_now,
                self._dropped,
            )

    def _read_dropped(self) -> int:
        try:
            return max(0, int((self.directory / _DROPPED_FILE).read_text("ascii").strip() or 0))
        except (OSError, ValueError):
            return 0

    def _write_dropped(self) -> None:
        write_file_durably(self.directory / _DROPPED_FILE, str(self._dropped).encode("ascii"))

    def _clear_partial_writes(self) -> None:
        # A .tmp file is a write that never reached os.replace: by construction incomplete.
        for name in os.listdir(self.directory):
            if name.startswith(".") and name.endswith(".tmp"):
                self.partial_writes += 1
                log.warning("spool: removing %s, a write interrupted by a crash", name)
                _remove_quietly(self.directory / name)
