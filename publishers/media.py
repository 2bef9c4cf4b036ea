"""Reading a medium's bytes for a network that wants them uploaded.

A stored medium is read by the host from its own storage; a remote one (a URL a person gave) is
fetched here, under the same rules as every request a plugin makes: a public address unless the
operator allowed private ones for the network, the connection pinned to the address that was
checked, and a size cap enforced while reading (a server that lies about ``Content-Length``, or
streams for ever, cannot fill the worker's memory).

Connections are kept per media host (:class:`publishers.http.ClientPool`): a post with four
images from one CDN opens one connection, and a connection opened for one host never serves
another host that shares its address.
"""

from __future__ import annotations

import httpx

from publishers.addresses import pinned_request, private_allowed, resolve_target
from publishers.errors import PermanentError, TransientError
from publishers.http import ClientPool
from publishers.values import MediaRef

__all__ = ["DEFAULT_MAX_MEDIA_BYTES", "fetch_media"]

#: The most a remote medium may weigh when a network sets no lower cap (a short video).
DEFAULT_MAX_MEDIA_BYTES = 100 * 1024 * 1024

_pool = ClientPool(follow_redirects=False, trust_env=False)
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def fetch_media(
    media: MediaRef,
    *,
    network: str,
    max_bytes: int | None = None,
    client: httpx.Client | ClientPool | None = None,
) -> bytes:
    """The bytes at ``media.url``, at most ``max_bytes`` of them (through ``client``, by default
    the process's pool of kept connections).

    :raises PermanentError: the address is refused, the server answers 4xx, or the medium is
        larger than allowed (``media_too_large``).
    :raises TransientError: the server could not be reached or answered 5xx.
    """
    cap = DEFAULT_MAX_MEDIA_BYTES if max_bytes is None else max_bytes
    target = resolve_target(media.url, allow_private=private_allowed(network))
    pool_or_client = client if client is not None else _pool
    http = (
        pool_or_client.client_for(target)
        if isinstance(pool_or_client, ClientPool)
        else pool_or_client
    )
    try:
        response = pinned_request(
            http,
            "GET",
            media.url,
            target,
            headers={"User-Agent": "Kairos-Media/1", "Accept": media.mime_type or "*/*"},
            timeout=_TIMEOUT,
            stream=True,
        )
    except httpx.HTTPError as exc:
        raise TransientError(
            f"The medium at {media.url} could not be fetched.", code="media_unreachable"
        ) from exc
    try:
        if response.status_code >= 500:
            raise TransientError(
                f"The server of {media.url} failed (HTTP {response.status_code}).",
                code="media_unreachable",
            )
        if response.status_code != 200:
            raise PermanentError(
                f"The medium at {media.url} cannot be fetched (HTTP {response.status_code}).",
                code="media_unavailable",
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise _too_large(media, cap)
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > cap:
                raise _too_large(media, cap)
            chunks.append(chunk)
        return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise TransientError(
            f"Fetching the medium at {media.url} failed mid-way.", code="media_unreachable"
        ) from exc
    finally:
        response.close()


def _too_large(media: MediaRef, cap: int) -> PermanentError:
    return PermanentError(
        f"The medium at {media.url} is larger than the {cap:,} bytes allowed.",
        code="media_too_large",
    )
