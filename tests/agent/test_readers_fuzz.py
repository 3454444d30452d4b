"""Every reader of the agent holds against anything (issue 11, item 7): whatever the server
answers, whatever lies in the spool, the state folder or a settings file, the agent gets one of
its own typed results or errors, never a crash. (The collectors have their own property tests.)"""

from __future__ import annotations

import gzip
import json
import math
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readyfloor_agent.client import AgentAPIError, AgentClient, CheckinResponse, parse_retry_after
from readyfloor_agent.config import AgentSettings, SettingsError, StateDir, load_settings
from readyfloor_agent.spool import Spool

from .json_documents import json_values

fuzz = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


class ScriptedServer:
    """A raw TCP server that answers the next request with exactly the bytes it is given."""

    def __init__(self) -> None:
        self.answer = b""
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    received = b""
                    while b"\r\n\r\n" not in received:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        received += chunk
                    head, _, body = received.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        0,
                    )
                    while len(body) < length:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                    connection.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


statuses = st.sampled_from(
    [200, 201, 202, 204, 301, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 502, 503, 504, 599]
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: gzip.compress(json.dumps(value).encode())),
)


@fuzz
@given(
    status=statuses,
    body=bodies,
    gzip_header=st.booleans(),
    retry_after=st.one_of(st.none(), header_values),
    content_type=st.sampled_from(["application/json", "text/html", "", "application/json; charset=utf-8"]),
)
def test_any_answer_from_the_server_is_a_typed_result_or_a_typed_error(
    scripted: ScriptedServer, status, body, gzip_header, retry_after, content_type
) -> None:
    headers = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}", "Connection: close"]
    if gzip_header:
        headers.append("Content-Encoding: gzip")
    if retry_after is not None:
        headers.append(f"Retry-After: {retry_after}")
    if content_type:
        headers.append(f"Content-Type: {content_type}")
    scripted.answer = ("\r\n".join(headers) + "\r\n\r\n").encode() + body
    client = AgentClient(scripted.url, timeout=2)

    for call in (
        lambda: client.checkin("key", {"report_id": "r"}),
        lambda: client.enroll(enroll_secret="s" * 10, host_identifier="h", host_details={}),
        lambda: client.config("key"),
    ):
        try:
            result = call()
        except AgentAPIError as error:
            assert error.retry_after is None or 0 <= error.retry_after <= 3600
            continue
        if isinstance(result, CheckinResponse):
            assert isinstance(result.duplicate, bool)


@fuzz
@given(st.one_of(st.none(), st.text(max_size=60)))
def test_retry_after_is_none_or_a_bounded_number_of_seconds(value) -> None:
    seconds = parse_retry_after(value)

    assert seconds is None or (math.isfinite(seconds) and 0 <= seconds <= 3600)


@fuzz
@given(
    files=st.dictionaries(
        st.sampled_from(
            [
                "0000000000000001.json",
                "0000000000000002.json",
                "dropped",
                "dead_lettered",
                "dead/0000000000000001.json",
            ]
        ),
        st.one_of(st.binary(max_size=200), json_values.map(lambda value: json.dumps(value).encode())),
        max_size=5,
    )
)
def test_a_spool_opens_reads_and_drains_whatever_lies_in_it(
    tmp_path_factory: pytest.TempPathFactory, files
) -> None:
    directory = tmp_path_factory.mktemp("spool")
    (directory / "dead").mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)

    spool = Spool(directory)
    stats = spool.stats()
    oldest = spool.peek_oldest()
    spool.requeue_dead_letters()

    assert stats.dropped >= 0 and stats.dead_lettered_unreported >= 0
    assert oldest is None or isinstance(oldest.body, dict)
    for entry in spool.entries():
        spool.ack(entry)
    assert len(spool) == 0


@fuzz
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda value: json.dumps(value).encode())))
def test_the_state_folder_reads_whatever_state_json_holds(
    tmp_path_factory: pytest.TempPathFactory, data
) -> None:
    state = StateDir(tmp_path_factory.mktemp("state")).ensure()
    (state.path / "state.json").write_bytes(data)
    (state.path / "previous_node_key").write_bytes(data[:100])

    assert isinstance(state.load(), dict)
    assert isinstance(state.host_identifier(), str)
    assert len(state.claim_token()) >= 16
    state.previous_node_key()


ini_text = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda pairs: "[agent]\n" + "".join(f"{key} = {value}\n" for key, value in pairs),
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "server",
                        "seat",
                        "timeout",
                        "spool_max_entries",
                        "spool_max_bytes",
                        "cti_origins",
                        "state_dir",
                    ]
                ),
                st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30),
            ),
            max_size=5,
        ),
    ),
)


def assert_sane(loaded: AgentSettings) -> None:
    assert loaded.timeout > 0 and math.isfinite(loaded.timeout)
    assert loaded.spool_max_entries >= 1 and loaded.spool_max_bytes >= 1
    assert all(isinstance(origin, str) for origin in loaded.cti_origins)


@fuzz
@given(text=ini_text)
def test_an_ini_settings_file_is_settings_or_a_settings_error(
    tmp_path_factory: pytest.TempPathFactory, text
) -> None:
    path = tmp_path_factory.mktemp("settings") / "agent.ini"
    path.write_text(text, "utf-8")
    try:
        loaded = load_settings(environ={}, files=[path])
    except SettingsError:
        return
    assert_sane(loaded)


@fuzz
@given(
    document=st.dictionaries(
        st.sampled_from(
            ["server", "seat", "timeout", "spool_max_entries", "cti_origins", "state_dir", "enroll_secret"]
        ),
        json_values,
        max_size=4,
    )
)
def test_a_json_settings_file_is_settings_or_a_settings_error(
    tmp_path_factory: pytest.TempPathFactory, document
) -> None:
    path = tmp_path_factory.mktemp("settings") / "agent.json"
    path.write_text(json.dumps(document), "utf-8")
    try:
        loaded = load_settings(environ={}, files=[path])
    except SettingsError:
        return
    assert_sane(loaded)


@fuzz
@given(
    environ=st.dictionaries(
        st.sampled_from(
            ["READYFLOOR_TIMEOUT", "READYFLOOR_SEAT", "READYFLOOR_SPOOL_MAX_BYTES", "READYFLOOR_CTI_ORIGINS"]
        ),
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=30),
        max_size=3,
    )
)
def test_environment_variables_are_settings_or_a_settings_error(environ) -> None:
    try:
        loaded = load_settings(environ=environ, files=[])
    except SettingsError:
        return
    assert_sane(loaded)


def test_a_nan_or_infinite_timeout_is_refused(tmp_path: Path) -> None:
    for value in ("nan", "inf", "-inf"):
        with pytest.raises(SettingsError, match="timeout"):
            load_settings(environ={"READYFLOOR_TIMEOUT": value}, files=[])
