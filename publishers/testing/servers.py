"""A real HTTP server on 127.0.0.1, in a thread, for testing HTTP-based networks.

Mocking the HTTP client tests the mock; a loopback server tests the bytes on the wire, time-outs
and connection handling exactly as production sees them. The server records every request and
answers from a script (a queue of :class:`Reply`), a handler function, or a default reply.

Use it as a context manager, or through the :func:`fake_server` pytest fixture::

    with FakeServer() as server:
        server.reply(Reply(503, headers={"Retry-After": "7"}), Reply(200, json={"id": "1"}))
        ...  # point the channel at server.url
        assert server.requests[0].headers["idempotency-key"] == "k1"
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["FakeServer", "RecordedRequest", "Reply", "fake_server"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    #: the client's (address, port): requests sharing it came over one kept-alive connection
    peer: tuple = ()

    def json(self) -> Any:
        return jsonlib.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Reply:
    """A scripted response.

    :param status: HTTP status code.
    :param json: a JSON body (sets ``Content-Type``); ignored when ``body`` is given.
    :param body: raw body bytes.
    :param headers: extra response headers.
    :param delay: seconds to wait before answering (to provoke client read time-outs).
    :param drop: close the connection without answering.
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    def payload(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is not None:
            return self.body, headers
        if self.json is not None:
            headers.setdefault("Content-Type", "application/json")
            return jsonlib.dumps(self.json).encode(), headers
        return b"", headers


Handler = Callable[[RecordedRequest], Reply]


class FakeServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with a free port.

    :param handler: computes the reply for each request when no scripted reply is queued.
    :param default: the reply when neither a queued reply nor a handler applies.
    """

    def __init__(self, handler: Handler | None = None, *, default: Reply | None = None) -> None:
        self.handler = handler
        self.default = default or Reply(200, json={})
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, *replies: Reply) -> None:
        """Queue replies, used in order before the handler or default."""
        with self._lock:
            self._queue.extend(replies)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        if self.handler is not None:
            return self.handler(request)
        return self.default

    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    peer=tuple(self.client_address[:2]),
                )
                reply = server._next_reply(request)
                if reply.delay:
                    server._stopping.wait(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                payload, headers = reply.payload()
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (a time-out test): nothing left to answer.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A running :class:`FakeServer`, stopped after the test. Enable it in a ``conftest.py``
    with ``from publishers.testing import fake_server``."""
    with FakeServer() as server:
        yield server
