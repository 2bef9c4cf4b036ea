"""HTTP for network plugins: to the address that was checked, with transport failures classified.

Every HTTP network needs the same two things. The target must be a public address, or one the
operator allowed (:func:`publishers.addresses.private_allowed`), and the connection must go to the
address that was checked (no DNS rebinding in between). And a failure must say whether the
request can have reached the server:
* a refused or timed-out *connection* did not reach it: retry freely;
* a read time-out or a connection dropped mid-request may have reached it: ``may_have_posted``,
  so Kairos retries only under an idempotency key, or reconciles first.

`send_request` does both, so plugins only interpret answers. It also reads the rate-limit
headers of every answer (:mod:`publishers.ratelimit`), so Kairos learns each channel's budget.

Connections are worth keeping: opening one (TCP, and TLS for https) cost most of a webhook
delivery when every post made a new client. But a request is sent to the *checked address*
(``https://203.0.113.7/...``) with the original host in ``Host`` and SNI, and httpx pools
connections by the address alone: one shared client would hand a connection opened (and whose
certificate was checked) for one host to a request for another host at the same address.
:class:`ClientPool` keeps one client per (scheme, host, port) instead, so a kept connection only
ever serves the host it was opened for; the pool is bounded (least recently used clients are
closed) and closed at exit.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import OrderedDict
from typing import Any

import httpx

from publishers.addresses import Target, pinned_request, private_allowed, resolve_target
from publishers.errors import TransientError
from publishers.ratelimit import observe_rate_limit

__all__ = ["ClientPool", "send_request"]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ClientPool:
    """Keep-alive ``httpx.Client``s, one per (scheme, host, port), for one plugin in one process.

    :param max_clients: how many hosts keep a client; beyond it the least recently used one is
        closed (a worker serving thousands of webhook receivers keeps a bounded number of sockets).
    :param client_options: passed to every ``httpx.Client`` (``follow_redirects``, ``trust_env``,
        ``limits``...).
    """

    def __init__(self, *, max_clients: int = 64, **client_options: Any) -> None:
        self.max_clients = max_clients
        self._options = {"follow_redirects": False, "trust_env": False, **client_options}
        self._clients: OrderedDict[tuple[str, str, int], httpx.Client] = OrderedDict()
        self._lock = threading.Lock()
        self.opened = 0  #: clients made so far (tests and benchmarks read it)
        _POOLS.add(self)

    def client_for(self, target: Target) -> httpx.Client:
        """The client for ``target``'s host, made on first use."""
        key = (target.scheme, target.host.lower(), target.port)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
            client = self._clients[key] = httpx.Client(**self._options)
            self.opened += 1
            evicted = (
                [self._clients.popitem(last=False)[1]]
                if len(self._clients) > self.max_clients
                else []
            )
        for old in evicted:
            old.close()
        return client

    def close(self) -> None:
        """Close every client and its connections (the pool can be used again afterwards)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()

    def __len__(self) -> int:
        return len(self._clients)


_POOLS: weakref.WeakSet[ClientPool] = weakref.WeakSet()


@atexit.register
def _close_pools() -> None:
    """Say goodbye to the servers (close the kept sockets) when a worker exits."""
    for pool in list(_POOLS):
        pool.close()


def send_request(
    client: httpx.Client | ClientPool,
    method: str,
    url: str,
    *,
    network: str,
    peer: str,
    headers: dict[str, str],
    timeout: httpx.Timeout,
    json: Any = None,
    content: bytes | None = None,
) -> httpx.Response:
    """Send one request for ``network`` to ``url``; ``peer`` names the server in reasons
    ("the Matrix homeserver"). ``client`` may be a :class:`ClientPool`: the request then goes
    through the pool's client for the checked target's host.

    :raises AddressRefused: the address is private and the operator did not allow it.
    :raises TransientError: the request failed in transit (``connect_failed``: nothing was sent;
        ``timeout`` and ``connection_lost``: it may have been processed).
    """
    target = resolve_target(url, allow_private=private_allowed(network))
    if isinstance(client, ClientPool):
        client = client.client_for(target)
    try:
        response = pinned_request(
            client,
            method,
            url,
            target,
            headers=headers,
            json=json,
            content=content,
            timeout=timeout,
        )
        observe_rate_limit(response.headers)  # the budget the network announces, if any
        return response
    except _NOT_SENT as exc:
        raise TransientError(
            f"{peer[:1].upper()}{peer[1:]} could not be reached.",
            code="connect_failed",
            detail=repr(exc),
        ) from exc
    except httpx.TimeoutException as exc:
        raise TransientError(
            f"{peer[:1].upper()}{peer[1:]} did not answer in time; the post may have gone through.",
            code="timeout",
            detail=repr(exc),
            may_have_posted=True,
        ) from exc
    except httpx.HTTPError as exc:
        raise TransientError(
            f"The connection to {peer} failed mid-request.",
            code="connection_lost",
            detail=repr(exc),
            may_have_posted=True,
        ) from exc
