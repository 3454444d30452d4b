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
    dead/0000000000000009.json   a report the server refused for good (a 4xx naming a field,
                            or the same 5xx again and again), kept with the server's answer
    dead_lettered           reports dead-lettered since the server last heard of it

A poison report must not hold back the reports behind it: the service moves a report the
server will never take to ``dead/`` (with the answer, for a human or a support bundle) and the
rest of the spool flows on. ``dead/`` keeps the newest :data:`DEFAULT_MAX_DEAD_LETTERS` files.

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
DEFAULT_MAX_DEAD_LETTERS = 100
DEAD_LETTER_DIR = "dead"

_ENTRY_NAME = re.compile(r"^(\d{16})\.json$")
_DROPPED_FILE = "dropped"
_DEAD_LETTERED_FILE = "dead_lettered"


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
    # How many times the server answered a 5xx that may be about this very report (500, not
    # 502/503/504); survives restarts so a poison report is set aside after a few tries.
    server_errors: int = 0

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
    dead_letters: int = 0
    dead_lettered_unreported: int = 0


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
        self.max_dead_letters = DEFAULT_MAX_DEAD_LETTERS
        self._dropped = self._read_counter(_DROPPED_FILE)
        self._dead_lettered = self._read_counter(_DEAD_LETTERED_FILE)
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

    def reject(self, entry: SpoolEntry, answer: dict[str, Any] | None = None) -> Path:
        """The server refused this report for good (a 4xx naming a field): move it to the
        dead letters with the answer, and count it."""
        with self._lock:
            self.rejected += 1
            return self.dead_letter(entry, answer or {})

    def dead_letter(self, entry: SpoolEntry, answer: dict[str, Any]) -> Path:
        """Move a report the server will never take out of the queue, into ``dead/`` with
        the server's answer; counted until the server hears of it (:attr:`dead_lettered`)."""
        record: dict[str, Any] = {"body": entry.body, "answer": answer, "server_errors": entry.server_errors}
        if entry.facts is not None:
            record["facts"] = entry.facts
        data = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")
        with self._lock:
            dead = self.dead_letter_directory
            dead.mkdir(exist_ok=True)
            # Numbered in dead/'s own order: spool sequences restart at 1 when the spool empties.
            kept = self.dead_letters()
            number = int(kept[-1].stem) + 1 if kept else 1
            target = dead / f"{number:016d}.json"
            write_file_durably(target, data)
            _remove_quietly(entry.path)
            fsync_directory(self.directory)
            self._dead_lettered += 1
            self._write_counter(_DEAD_LETTERED_FILE, self._dead_lettered)
            self._prune_dead_letters()
        return target

    def note_server_error(self, entry: SpoolEntry) -> SpoolEntry:
        """Count one more 5xx against this report, durably; the updated entry."""
        updated = SpoolEntry(
            entry.sequence, entry.path, entry.body, entry.facts, entry.size, entry.server_errors + 1
        )
        with self._lock:
            if entry.path.exists():
                write_file_durably(entry.path, self._encode(updated))
        return updated

    def replace(self, entry: SpoolEntry, body: dict[str, Any]) -> SpoolEntry:
        """Rewrite a queued report in place (same sequence, same report_id), e.g. with full
        facts after a 409 facts_required, so that a crash right after still resends it."""
        facts = entry.facts if "facts" not in body else None
        updated = SpoolEntry(entry.sequence, entry.path, body, facts, 0, entry.server_errors)
        data = self._encode(updated)
        with self._lock:
            write_file_durably(entry.path, data)
        updated.size = len(data)
        return updated

    @staticmethod
    def _encode(entry: SpoolEntry) -> bytes:
        record: dict[str, Any] = {"body": entry.body}
        if entry.facts is not None and "facts" not in entry.body:
            record["facts"] = entry.facts
        if entry.server_errors:
            record["server_errors"] = entry.server_errors
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @property
    def dead_letter_directory(self) -> Path:
        return self.directory / DEAD_LETTER_DIR

    def dead_letters(self) -> list[Path]:
        """The dead-lettered report files kept, oldest first."""
        try:
            names = os.listdir(self.dead_letter_directory)
        except FileNotFoundError:
            return []
        return sorted(self.dead_letter_directory / name for name in names if _ENTRY_NAME.match(name))

    @property
    def dead_lettered(self) -> int:
        """Reports dead-lettered that the server has not been told about yet."""
        with self._lock:
            return self._dead_lettered

    def acknowledge_dead_lettered(self, reported: int) -> None:
        """The server acknowledged a check-in carrying ``dead_lettered_reports=reported``."""
        if reported <= 0:
            return
        with self._lock:
            self._dead_lettered = max(0, self._dead_lettered - reported)
            self._write_counter(_DEAD_LETTERED_FILE, self._dead_lettered)

    def requeue_dead_letters(self) -> int:
        """Put every dead-lettered report back at the end of the queue (the server is fixed,
        or the agent was upgraded); how many. Unreadable ones stay where they are."""
        requeued = 0
        with self._lock:
            for path in self.dead_letters():
                try:
                    record = json.loads(path.read_text("utf-8"))
                    body, facts = record["body"], record.get("facts")
                    if not isinstance(body, dict) or not (facts is None or isinstance(facts, dict)):
                        raise ValueError("unexpected record shape")
                except (OSError, ValueError, KeyError, TypeError) as error:
                    log.warning("spool: cannot requeue %s (%s)", path, error)
                    continue
                self.put(body, facts=facts)
                _remove_quietly(path)
                requeued += 1
            fsync_directory(self.dead_letter_directory)
        return requeued

    def _prune_dead_letters(self) -> None:
        kept = self.dead_letters()
        for path in kept[: max(0, len(kept) - self.max_dead_letters)]:
            _remove_quietly(path)

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
            self._write_counter(_DROPPED_FILE, self._dropped)

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
                dead_letters=len(self.dead_letters()),
                dead_lettered_unreported=self._dead_lettered,
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
            server_errors = record.get("server_errors", 0)
            if not isinstance(body, dict) or not (facts is None or isinstance(facts, dict)):
                raise ValueError("unexpected record shape")
            if not isinstance(server_errors, int) or isinstance(server_errors, bool) or server_errors < 0:
                raise ValueError("unexpected server_errors")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as error:
            self._set_aside(path, error)
            return None
        return SpoolEntry(sequence, path, body, facts, len(data), server_errors)

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
            self._write_counter(_DROPPED_FILE, self._dropped)
            log.warning(
                "spool full (%d reports, %d bytes max): dropped the %d oldest; %d dropped in total",
                self.max_entries,
                self.max_bytes,
                dropped_now,
                self._dropped,
            )

    def _read_counter(self, name: str) -> int:
        try:
            text = (self.directory / name).read_text("ascii").strip()
            # A counter is at most a few digits; anything longer is damage, not a count.
            return max(0, int(text or 0)) if len(text) <= 18 else 0
        except (OSError, ValueError, UnicodeDecodeError):
            return 0

    def _write_counter(self, name: str, value: int) -> None:
        write_file_durably(self.directory / name, str(value).encode("ascii"))

    def _clear_partial_writes(self) -> None:
        # A .tmp file is a write that never reached os.replace: by construction incomplete.
        for name in os.listdir(self.directory):
            if name.startswith(".") and name.endswith(".tmp"):
                self.partial_writes += 1
                log.warning("spool: removing %s, a write interrupted by a crash", name)
                _remove_quietly(self.directory / name)
