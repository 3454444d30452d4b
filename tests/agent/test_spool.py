"""The spool keeps every unacknowledged check-in, in order, through crashes and restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent import report
from readyfloor_agent.spool import Spool, write_file_durably


def checkin(number: int, padding: int = 0) -> dict:
    facts = {"n": number, "padding": "x" * padding}
    return report.build_checkin(facts)  # facts need not be schema-valid for the spool


def report_ids(spool: Spool) -> list[str]:
    return [entry.report_id for entry in spool.entries()]


def test_reports_survive_a_new_spool_instance(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    bodies = [checkin(n) for n in range(3)]
    for body in bodies:
        first.put(body)

    reopened = Spool(tmp_path)

    assert len(reopened) == 3
    assert [entry.body for entry in reopened.entries()] == bodies


def test_oldest_report_comes_out_first_and_ack_removes_only_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    bodies = [checkin(n) for n in range(4)]
    for body in bodies:
        spool.put(body)

    seen = []
    while (entry := spool.peek_oldest()) is not None:
        seen.append(entry.report_id)
        spool.ack(entry)

    assert seen == [body["report_id"] for body in bodies]
    assert len(spool) == 0


def test_order_holds_past_ten_reports(tmp_path: Path) -> None:
    # File names are zero-padded so lexical and numeric order agree (10 after 9, not after 1).
    spool = Spool(tmp_path)
    bodies = [checkin(n) for n in range(12)]
    for body in bodies:
        spool.put(body)

    assert report_ids(Spool(tmp_path)) == [body["report_id"] for body in bodies]


def test_a_write_interrupted_before_rename_is_ignored_and_cleaned_up(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    kept = checkin(1)
    spool.put(kept)
    # What a crash between write() and os.replace() leaves: a truncated temporary file.
    (tmp_path / ".0000000000000002.json.tmp").write_bytes(b'{"body": {"report_id": "ab')

    reopened = Spool(tmp_path)

    assert report_ids(reopened) == [kept["report_id"]]
    assert reopened.partial_writes == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_a_corrupt_report_file_is_set_aside_and_counted_not_raised(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(checkin(1))
    good = checkin(2)
    spool.put(good)
    oldest = sorted(tmp_path.glob("*.json"))[0]
    oldest.write_bytes(oldest.read_bytes()[:17])  # a disk error truncated it

    entry = spool.peek_oldest()

    assert entry is not None and entry.report_id == good["report_id"]
    assert spool.corrupt == 1
    assert oldest.with_suffix(".corrupt").exists()
    assert len(spool) == 1


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe not utf-8", b"[1, 2, 3]", b'{"body": "not an object"}', b'{"no_body": {}}'],
    ids=["empty", "not-utf8", "not-an-object", "body-not-object", "no-body"],
)
def test_every_kind_of_unreadable_file_is_skipped(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "0000000000000001.json").write_bytes(content)
    spool = Spool(tmp_path)
    good = checkin(2)
    spool.put(good)

    assert report_ids(spool) == [good["report_id"]]
    assert spool.corrupt == 1


def test_count_bound_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_entries=3)
    bodies = [checkin(n) for n in range(5)]
    for body in bodies:
        spool.put(body)

    assert report_ids(spool) == [body["report_id"] for body in bodies[2:]]
    assert spool.dropped == 2


def test_byte_bound_drops_the_oldest(tmp_path: Path) -> None:
    one = len(Spool(tmp_path / "probe").put(checkin(0, padding=1000)).path.read_bytes())
    spool = Spool(tmp_path / "spool", max_bytes=one * 3 + one // 2)
    bodies = [checkin(n, padding=1000) for n in range(6)]
    for body in bodies:
        spool.put(body)

    assert report_ids(spool) == [body["report_id"] for body in bodies[3:]]
    assert spool.dropped == 3
    assert spool.size_bytes <= spool.max_bytes


def test_the_newest_report_is_kept_even_when_it_alone_exceeds_the_byte_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.put(checkin(1))
    big = checkin(2, padding=500)
    spool.put(big)

    assert report_ids(spool) == [big["report_id"]]
    assert spool.dropped == 1


def test_dropped_count_survives_restart_and_only_the_reported_part_is_cleared(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_entries=1)
    for n in range(4):
        spool.put(checkin(n))
    assert Spool(tmp_path, max_entries=1).dropped == 3

    # A check-in carrying dropped_reports=3 was in flight while one more drop happened.
    spool.put(checkin(9))
    spool.acknowledge_dropped(3)

    assert Spool(tmp_path, max_entries=1).dropped == 1


def test_a_heartbeat_keeps_its_facts_for_a_facts_required_answer(tmp_path: Path) -> None:
    facts = {"host": {"hostname": "seat"}}
    heartbeat = report.build_checkin(facts, last_acknowledged_hash=report.facts_hash(facts))
    spool = Spool(tmp_path)
    spool.put(heartbeat, facts=facts)

    entry = Spool(tmp_path).peek_oldest()

    assert entry is not None
    assert "facts" not in entry.body
    assert entry.facts == facts


def test_replace_rewrites_in_place_keeping_position_and_report_id(tmp_path: Path) -> None:
    facts = {"n": 1}
    spool = Spool(tmp_path)
    heartbeat = report.build_checkin(facts, last_acknowledged_hash=report.facts_hash(facts))
    first = spool.put(heartbeat, facts=facts)
    later = checkin(2)
    spool.put(later)
    full = {key: value for key, value in heartbeat.items() if key != "facts_hash"} | {"facts": facts}

    spool.replace(first, full)

    entries = Spool(tmp_path).entries()
    assert [entry.report_id for entry in entries] == [heartbeat["report_id"], later["report_id"]]
    assert entries[0].body["facts"] == facts


def test_reject_drops_the_report_and_counts_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    entry = spool.put(checkin(1))

    spool.reject(entry)

    assert len(spool) == 0
    assert spool.rejected == 1


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_durable_write_applies_the_mode_before_any_byte_is_written(tmp_path: Path) -> None:
    target = tmp_path / "node_key"
    write_file_durably(target, b"secret", mode=0o600)

    assert target.read_bytes() == b"secret"
    assert target.stat().st_mode & 0o777 == 0o600


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["put", "ack", "reopen"]), max_size=30))
def test_any_sequence_of_puts_acks_and_restarts_behaves_like_a_fifo(tmp_path_factory, operations) -> None:
    directory = tmp_path_factory.mktemp("spool")
    spool = Spool(directory)
    model: deque[str] = deque()
    for operation in operations:
        if operation == "put":
            body = report.build_checkin({"id": str(uuid.uuid4())})
            spool.put(body)
            model.append(body["report_id"])
        elif operation == "ack":
            entry = spool.peek_oldest()
            assert (entry.report_id if entry else None) == (model[0] if model else None)
            if entry:
                spool.ack(entry)
                model.popleft()
        else:
            spool = Spool(directory)
    assert report_ids(spool) == list(model)


_WRITER = textwrap.dedent(
    """
    import sys
    from readyfloor_agent import report
    from readyfloor_agent.spool import Spool

    spool = Spool(sys.argv[1], max_entries=100000, max_bytes=10**10)
    padding = "x" * 400_000  # large writes make a kill in mid-write likely
    while True:
        body = report.build_checkin({"padding": padding})
        spool.put(body)
        print(body["report_id"], flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_kill_9_in_the_middle_of_writing_leaves_a_readable_spool(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    confirmed = []
    try:
        assert writer.stdout is not None
        deadline = time.monotonic() + 30
        while len(confirmed) < 8 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if line:
                confirmed.append(line.strip())
        time.sleep(0.013)  # land somewhere inside a later write
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL

    spool = Spool(tmp_path)
    stored = report_ids(spool)

    assert spool.corrupt == 0
    assert set(confirmed) <= set(stored), "a report the writer saw as stored was lost"
    assert stored[: len(confirmed)] == confirmed, "order changed"
    assert not list(tmp_path.glob("*.tmp"))
