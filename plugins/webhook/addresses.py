"""Refusing webhook targets inside our own network (server-side request forgery).

A channel's URL is typed by a workspace admin, so it must not let them reach the metadata
service (169.254.169.254), the database on localhost or anything else on private ranges. The
host is resolved and *every* address checked - a name with one public and one private address is
refused - and the connection is then pinned to a checked address, so the name cannot resolve to
something else between check and use (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from publishers import PermanentError, TransientError

__all__ = ["AddressRefused", "Target", "is_public_address", "resolve_target"]

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(PermanentError):
    default_code = "address_refused"
    default_reason = "The webhook URL points at a private or reserved address."


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook target: where to connect, and the name to present (Host, TLS SNI)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def pinned_host(self) -> str:
        """The first checked address, formatted for a URL."""
        address = self.addresses[0]
        return f"[{address}]" if address.version == 6 else str(address)


def is_public_address(address: IPAddress) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses
    (an IPv4-mapped IPv6 address is judged by its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_target(
    url: str, *, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo
) -> Target:
    """Parse and resolve ``url``, checking every address.

    :raises PermanentError: the URL is not http(s) or has no host.
    :raises AddressRefused: an address is not public and ``allow_private`` is false.
    :raises TransientError: the name does not resolve right now.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise PermanentError(
            "The webhook URL is not valid.", code="invalid_url", detail=exc
        ) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise PermanentError("The webhook URL must be an http(s) URL.", code="invalid_url")
    host = parts.hostname
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TransientError(
            f"The webhook host {host!r} could not be resolved.", code="dns_failure", detail=exc
        ) from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TransientError(f"The webhook host {host!r} has no address.", code="dns_failure")
    if not allow_private:
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            raise AddressRefused(
                f"The webhook URL's host {host!r} resolves to a private or reserved address "
                f"({refused[0]}); set allow_private_addresses on the channel to allow it.",
            )
    return Target(scheme, host, port, tuple(addresses))
