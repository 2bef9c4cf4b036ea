"""A loopback webhook receiver that deduplicates like a careful network and injects faults.

The receiver is the ground truth of the chaos run: a post is *out* when the receiver processed it,
whatever the database says. It keeps one post per ``Idempotency-Key`` (a retry under the same key
gets the same id back, as the webhook contract asks receivers to do), so the interesting duplicate
is one publication arriving under two different keys, which no receiver could recognise.

Faults come from a seeded :class:`random.Random` and hit only the first ``max_per_key`` requests
of a key and only during the first ``window`` seconds, so the run converges. The harmful ones are
injected *after* the post was processed: the sender sees a failure for a post that is out.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FAULT_KINDS", "ChaosReceiver", "FaultPlan", "ReceivedPost"]

#: ``processed_500``: processed, then HTTP 500. ``throttled_429``: refused with ``Retry-After: 1``
#: before processing. ``processed_hang``: processed, then no answer for longer than the sender's
#: read time-out. ``reset``: the socket is reset without an answer, half of the time after
#: processing.
FAULT_KINDS = ("processed_500", "throttled_429", "processed_hang", "reset")


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail, and how.

    :param rate: probability that an eligible request gets a fault.
    :param window: seconds from :meth:`ChaosReceiver.start` during which faults happen.
    :param max_per_key: a key gets at most this many faults (its first requests), so that
        every publication can succeed well within its retry budget.
    :param hang: seconds a ``processed_hang`` holds the request; must exceed the read time-out.
    :param kinds: the fault kinds to draw from (see :data:`FAULT_KINDS`).
    :param latency: bounds of the time a processed request takes to answer, drawn uniformly
        for every request: a network's latency, and the window in which a kill leaves a post
        processed but unrecorded.
    """

    rate: float = 0.2
    window: float = 60.0
    max_per_key: int = 2
    hang: float = 3.0
    kinds: tuple[str, ...] = FAULT_KINDS
    latency: tuple[float, float] = (0.05, 0.6)


@dataclass
class ReceivedPost:
    """One post as the receiver keeps it (the first request that was processed for its key)."""

    post_id: str
    key: str
    publication_id: str
    processed_at: float  # time.time() of the first processing
    requests: int = 0  # requests seen under this key, processed or not
    processed: int = 0  # times a request under this key reached processing
    accepted_at: list[float] = field(default_factory=list)  # 2xx answers sent


class ChaosReceiver:
    """A threaded HTTP server on 127.0.0.1 that records webhook posts and injects faults."""

    def __init__(self, plan: FaultPlan, *, seed: int, signing_secret: str | None = None) -> None:
        self.plan = plan
        self.rng = random.Random(seed)
        self.signing_secret = signing_secret
        self.lock = threading.Lock()
        self.posts: dict[str, ReceivedPost] = {}
        self.keys_by_publication: dict[str, set[str]] = {}
        self.requests = 0
        self.duplicates_suppressed = 0
        self.bad_signatures = 0
        self.unreadable = 0
        self.aborted = 0
        self.faults: Counter[str] = Counter()
        self._faults_by_key: Counter[str] = Counter()
        self._started = time.monotonic()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the receiver is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ChaosReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 15  # a sender that stalls mid-request must not hold a thread forever

            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = self._connection_failed  # type: ignore[method-assign]
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="chaos-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def arm(self) -> None:
        """Start the fault window now (the publications have just been scheduled)."""
        with self.lock:
            self._started = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> ChaosReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _connection_failed(self, request: object, client_address: object) -> None:
        """A connection that broke before a request could be read (its sender was killed)."""
        with self.lock:
            self.aborted += 1

    # --- one request -------------------------------------------------------------------------

    def _draw_fault(self, key: str) -> str | None:
        """Called under the lock: the fault for this request, if any."""
        if time.monotonic() - self._started > self.plan.window:
            return None
        if self._faults_by_key[key] >= self.plan.max_per_key:
            return None
        if self.rng.random() >= self.plan.rate:
            return None
        kind = self.rng.choice(self.plan.kinds)
        if kind == "reset":
            kind = "reset_processed" if self.rng.random() < 0.5 else "reset_unprocessed"
        self._faults_by_key[key] += 1
        self.faults[kind] += 1
        return kind

    def _process(self, key: str, publication_id: str) -> ReceivedPost:
        """Called under the lock: keep the first post per key, count the repeats."""
        post = self.posts.get(key)
        if post is None:
            post = ReceivedPost(
                post_id=f"rx-{len(self.posts) + 1}",
                key=key,
                publication_id=publication_id,
                processed_at=time.time(),
            )
            self.posts[key] = post
            self.keys_by_publication.setdefault(publication_id, set()).add(key)
        else:
            self.duplicates_suppressed += 1
        post.processed += 1
        return post

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        try:
            body = handler.rfile.read(length) if length else b""
        except OSError:
            body = b""
        if len(body) < length:
            # The sender died mid-request (a kill): a real server never sees such a post.
            with self.lock:
                self.aborted += 1
            handler.close_connection = True
            return
        key = handler.headers.get("Idempotency-Key") or ""
        try:
            publication_id = str(json.loads(body)["post"]["publication_id"])
        except (ValueError, KeyError, TypeError):
            publication_id = ""
        if self.signing_secret is not None and not self._signed(handler, body):
            with self.lock:
                self.bad_signatures += 1
        if not key or not publication_id:
            with self.lock:
                self.requests += 1
                self.unreadable += 1
            self._answer(handler, 400, {"error": "missing idempotency key or publication id"})
            return

        with self.lock:
            self.requests += 1
            fault = self._draw_fault(key)
            post = None
            if fault not in ("throttled_429", "reset_unprocessed"):
                post = self._process(key, publication_id)
            else:
                known = self.posts.get(key)
                if known is not None:
                    known.requests += 1
            if post is not None:
                post.requests += 1
            latency = self.rng.uniform(*self.plan.latency)
        if post is not None:
            self._stopping.wait(latency)

        if fault == "throttled_429":
            self._answer(handler, 429, {"error": "slow down"}, {"Retry-After": "1"})
        elif fault == "processed_500":
            self._answer(handler, 500, {"error": "processed, then failed"})
        elif fault in ("reset_processed", "reset_unprocessed"):
            self._reset(handler)
        elif fault == "processed_hang":
            self._stopping.wait(self.plan.hang)
            self._answer(handler, 200, {"id": post.post_id})  # nobody is listening any more
        else:
            self._answer(handler, 200, {"id": post.post_id}, accepted=post)

    def _signed(self, handler: BaseHTTPRequestHandler, body: bytes) -> bool:
        from plugins.webhook.signing import SIGNATURE_HEADER, verify_signature

        return verify_signature(
            self.signing_secret or "", handler.headers.get(SIGNATURE_HEADER), body
        )

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        document: dict,
        headers: dict[str, str] | None = None,
        *,
        accepted: ReceivedPost | None = None,
    ) -> None:
        payload = json.dumps(document).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True  # the sender gave up (read time-out)
            return
        if accepted is not None:
            with self.lock:
                accepted.accepted_at.append(time.time())

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        """Close with RST (SO_LINGER 0), not FIN: the sender sees a reset connection."""
        handler.close_connection = True
        try:
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
        except OSError:
            pass

    # --- figures -------------------------------------------------------------------------------

    def figures(self) -> dict:
        with self.lock:
            return {
                "posts": len(self.posts),
                "requests": self.requests,
                "duplicates_suppressed": self.duplicates_suppressed,
                "publications_under_several_keys": sum(
                    1 for keys in self.keys_by_publication.values() if len(keys) > 1
                ),
                "faults": dict(sorted(self.faults.items())),
                "faults_total": sum(self.faults.values()),
                "bad_signatures": self.bad_signatures,
                "unreadable_requests": self.unreadable,
                "aborted_by_sender": self.aborted,
            }
