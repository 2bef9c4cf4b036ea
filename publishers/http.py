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
"""

from __future__ import annotations

from typing import Any

import httpx

from publishers.addresses import pinned_request, private_allowed, resolve_target
from publishers.errors import TransientError
from publishers.ratelimit import observe_rate_limit

__all__ = ["send_request"]

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def send_request(
    client: httpx.Client,
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
    ("the Matrix homeserver").

    :raises AddressRefused: the address is private and the operator did not allow it.
    :raises TransientError: the request failed in transit (``connect_failed``: nothing was sent;
        ``timeout`` and ``connection_lost``: it may have been processed).
    """
    target = resolve_target(url, allow_private=private_allowed(network))
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
