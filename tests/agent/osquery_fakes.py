"""osqueryd stand-ins for the osquery tests: no osqueryd exists on the test machine.

``ThriftServer`` serves any osquery thrift processor on a unix socket, a thread per connection.
``FakeOsqueryd`` implements osquery's ExtensionManager service (the generated
``osquery.extensions.ExtensionManager.Iface``): ``query(sql)`` answers from the rows of
``tests/fixtures/osquery/<seat>.json``, in the shape ``osqueryi --json`` prints them, and
``registerExtension`` accepts an extension the way osqueryd does.

Run as a program it is an "osqueryd" that ``SpawnInstance`` can start:
``osquery_fakes.py --extensions_socket PATH ...`` serves the fixture named by
$READYFLOOR_FAKE_OSQUERYD_FIXTURE on PATH until killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from osquery.extensions import ExtensionManager
from osquery.extensions.ttypes import ExtensionResponse, ExtensionStatus
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "osquery"
FIXTURE_ENV = "READYFLOOR_FAKE_OSQUERYD_FIXTURE"


def load_answers(seat: str) -> dict[str, Any]:
    """SQL -> rows (or {"error": message}) captured for one seat."""
    document = json.loads((FIXTURES / f"{seat}.json").read_text("utf-8"))
    return {entry["sql"]: entry.get("rows", {"error": entry.get("error")}) for entry in document["answers"]}


class ThriftServer:
    """A thrift processor on a unix socket, one daemon thread per connection."""

    def __init__(self, path: str | os.PathLike[str], processor: Any) -> None:
        self.path = str(path)
        self.processor = processor
        self._stopping = threading.Event()
        self._listener = TSocket.TServerSocket(unix_socket=self.path)
        self._thread = threading.Thread(target=self._serve, name="fake-osquery-server", daemon=True)
        self._clients: list[Any] = []

    def __enter__(self) -> ThriftServer:
        self._listener.listen()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                client = self._listener.accept()
            except OSError:
                return
            if self._stopping.is_set():
                client.close()
                return
            self._clients.append(client)
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: Any) -> None:
        transport = TTransport.TBufferedTransport(client)
        protocol = TBinaryProtocol.TBinaryProtocol(transport)
        try:
            while not self._stopping.is_set():
                self.processor.process(protocol, protocol)
        except (TTransport.TTransportException, OSError, EOFError):
            pass
        finally:
            transport.close()

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        # Wake the accept() so the serving thread sees the stop.
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as waker:
            waker.settimeout(1)
            waker.connect(self.path)
        self._listener.close()
        # Like a process exiting: every open connection is cut.
        for client in self._clients:
            handle = client.handle  # None once the client hung up
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        with contextlib.suppress(OSError):
            os.unlink(self.path)


class FakeOsqueryd(ExtensionManager.Iface):
    """osqueryd's extension manager, answering ``query`` from captured rows.

    ``refuse(sql)`` returning a message makes that query fail as osquery does (status 1);
    ``delay(sql)`` seconds of silence before answering imitate a hung osqueryd."""

    def __init__(
        self,
        answers: Mapping[str, Any] | None = None,
        *,
        refuse: Callable[[str], str | None] | None = None,
        delay: Callable[[str], float] | None = None,
    ) -> None:
        self.answers = dict(answers or {})
        self.refuse = refuse
        self.delay = delay
        self.queries: list[str] = []
        self.unexpected: list[str] = []
        self.registered: list[tuple[Any, dict[str, Any]]] = []
        self.registration = threading.Event()
        self.uuid = 4242

    def ping(self) -> ExtensionStatus:
        return ExtensionStatus(code=0, message="OK")

    def query(self, sql: str) -> ExtensionResponse:
        self.queries.append(sql)
        if self.delay is not None and self.delay(sql) > 0:
            time.sleep(self.delay(sql))
        refusal = self.refuse(sql) if self.refuse is not None else None
        if refusal:
            return ExtensionResponse(status=ExtensionStatus(code=1, message=refusal), response=[])
        if sql not in self.answers:
            self.unexpected.append(sql)
            return ExtensionResponse(
                status=ExtensionStatus(code=1, message=f"not in the captured fixture: {sql}"), response=[]
            )
        answer = self.answers[sql]
        if isinstance(answer, dict):
            return ExtensionResponse(status=ExtensionStatus(code=1, message=answer["error"]), response=[])
        return ExtensionResponse(status=ExtensionStatus(code=0, message="OK"), response=answer)

    def getQueryColumns(self, sql: str) -> ExtensionResponse:
        return ExtensionResponse(status=ExtensionStatus(code=1, message="not supported here"), response=[])

    def extensions(self) -> dict[int, Any]:
        return {}

    def options(self) -> dict[str, Any]:
        return {}

    def registerExtension(self, info: Any, registry: dict[str, Any]) -> ExtensionStatus:
        self.registered.append((info, registry))
        self.registration.set()
        return ExtensionStatus(code=0, message="OK", uuid=self.uuid)

    def deregisterExtension(self, uuid: int) -> ExtensionStatus:
        return ExtensionStatus(code=0, message="OK")

    def serve(self, path: str | os.PathLike[str]) -> ThriftServer:
        return ThriftServer(path, ExtensionManager.Processor(self))


def _serve_forever(argv: list[str]) -> None:
    path = argv[argv.index("--extensions_socket") + 1]
    answers = load_answers(os.environ[FIXTURE_ENV])
    with FakeOsqueryd(answers).serve(path):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    _serve_forever(sys.argv)
