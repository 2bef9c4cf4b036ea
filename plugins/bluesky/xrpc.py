"""XRPC over HTTP: one request to a PDS (or an AppView), and its answer turned into what Kairos
should do next.

Every request goes through :func:`publishers.send_request`, so the server's address is checked
(private and loopback addresses only when the operator allows them for ``bluesky``) and the
connection is pinned to the address that was checked. Errors come back as XRPC's
``{"error": "Name", "message": "..."}``.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from publishers import (
    ClientPool,
    CredentialsExpired,
    PermanentError,
    TransientError,
    send_request,
)

__all__ = ["TOKEN_ERRORS", "XrpcReply", "answer", "error_name", "send"]

USER_AGENT = "Kairos-Bluesky/1"
#: Errors that mean "this access token no longer works", as opposed to "these credentials don't".
TOKEN_ERRORS = ("ExpiredToken", "InvalidToken")

XrpcReply = httpx.Response


def send(
    http: httpx.Client | ClientPool,
    base: str,
    method: str,
    nsid: str,
    *,
    timeout: httpx.Timeout,
    params: dict[str, Any] | None = None,
    json: Any = None,
    content: bytes | None = None,
    content_type: str | None = None,
    token: str | None = None,
    peer: str = "the Bluesky server",
    proxy: str | None = None,
) -> httpx.Response:
    """Send one XRPC call (``GET`` for queries, ``POST`` for procedures) to ``base``;
    ``proxy`` asks the PDS to forward it to that service (``atproto-proxy``: an AppView)."""
    url = f"{base.rstrip('/')}/xrpc/{nsid}"
    if params:
        url += "?" + urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    if proxy:
        headers["atproto-proxy"] = proxy
    return send_request(
        http,
        method,
        url,
        network="bluesky",
        peer=peer,
        headers=headers,
        json=json,
        content=content,
        timeout=timeout,
    )


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def error_name(response: httpx.Response) -> str:
    """The XRPC error name of a failed answer (``ExpiredToken``), or ``""``."""
    return str(_data(response).get("error") or "")


def _wait(response: httpx.Response) -> float | None:
    """Seconds until the rate limit lifts: ``RateLimit-Reset`` (epoch seconds, as the PDS sends
    it) or ``Retry-After``."""
    reset = response.headers.get("RateLimit-Reset", "").strip()
    if reset.isascii() and reset.isdigit():
        return max(float(reset) - time.time(), 0.0)
    after = response.headers.get("Retry-After", "").strip()
    return float(after) if after.isascii() and after.isdigit() else None


def _code(name: str) -> str:
    return "bluesky_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()[:50]


def answer(response: httpx.Response, doing: str) -> dict[str, Any]:
    """The JSON of a 2xx answer, or the error that says what Kairos should do next."""
    status = response.status_code
    data = _data(response)
    if 200 <= status < 300:
        return data
    name = str(data.get("error") or f"HTTP{status}")
    message = str(data.get("message") or response.reason_phrase)
    detail = f"HTTP {status} {name}: {message}"
    if status in (401, 403) or name in TOKEN_ERRORS:
        raise CredentialsExpired(
            f"Bluesky refused the channel's credentials while {doing} ({message}); "
            "create a new app password and reconnect the channel.",
            detail=detail,
        )
    if status == 429:
        raise TransientError(
            f"Bluesky is rate-limiting this account while {doing}.",
            code="rate_limited",
            detail=detail,
            retry_after=_wait(response),
        )
    if status >= 500:
        raise TransientError(
            f"The Bluesky server failed while {doing} (HTTP {status}).",
            code=f"http_{status}",
            detail=detail,
            may_have_posted=status in (500, 502, 504),
        )
    if status == 413 or name == "BlobTooLarge":
        raise PermanentError(
            f"Bluesky found the upload too large while {doing}.", code="too_large", detail=detail
        )
    raise PermanentError(f"Bluesky refused {doing}: {message}.", code=_code(name), detail=detail)
