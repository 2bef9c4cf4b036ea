"""A TCP relay on 127.0.0.1 that counts the connections a client opens to a real server.

A network plugin should cost what the network costs: one kept-alive connection per server, not a
TCP (and TLS) handshake per post. That is a property of the *client*, so it is tested from the
outside, against any server the plugin's tests already run (a Synapse, a PDS, a contract
server): point the channel at the relay instead of the server, post twice, and read
:attr:`CountingProxy.connections`::

    with CountingProxy(server.url) as proxy:
        channel = channel_for(instance=proxy.url)
        network.publish(post_1, channel, "k1")
        network.publish(post_2, channel, "k2")
        assert proxy.connections == 1

The relay copies bytes both ways and understands nothing of HTTP, so what the server sees is
exactly what the client sent (apart from the ``Host`` port, which names the relay).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["CountingProxy"]

_CHUNK = 65536


class CountingProxy:
    """Forward every connection made to :attr:`url` to ``upstream`` (``http://host:port``),
    counting them. Stop it (or leave the ``with`` block) to close every relayed connection."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if not parts.hostname or not parts.port:
            raise ValueError(f"the upstream needs a host and a port: {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._scheme = parts.scheme or "http"
        self.connections = 0  #: TCP connections accepted so far
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """Where clients connect instead of the upstream, e.g. ``http://127.0.0.1:54321``."""
        if self._listener is None:
            raise RuntimeError("the relay is not running")
        return f"{self._scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> CountingProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self._spawn(self._accept_loop, listener)
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # stopped
                return
            try:
                server = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                _close(client)  # the client sees a refused connection, as it would directly
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                self._open.update((client, server))
            self._spawn(self._pipe, client, server)
            self._spawn(self._pipe, server, client)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` until either side closes, then close both (HTTP clients
        and servers close whole connections, so half-closing is not needed)."""
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
