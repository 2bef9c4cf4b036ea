"""Refusing outbound HTTP targets inside our own network (server-side request forgery).

A URL typed by a workspace admin (a webhook network channel, an outbound-webhook subscription)
must not let them reach the metadata service (169.254.169.254), the database on localhost or
anything else on private ranges. The host is resolved and *every* address checked - a name with
one public and one private address is refused - and the connection is then pinned to a checked
address (:meth:`Target.pinned_url`, :attr:`Target.host_header`), so the name cannot resolve to
something else between check and use (DNS rebinding).

Free of the host application, so plugins and Kairos itself share one implementation.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from publishers.errors import PermanentError, TransientError

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "AddressRefused",
    "Resolver",
    "Target",
    "embedded_ipv4",
    "is_public_address",
    "pinned_request",
    "private_allowed",
    "resolve_target",
]

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The operator's list of networks that may reach private and loopback addresses (an on-premises
#: receiver or homeserver, a test rig): comma-separated network keys, or ``*``.
ALLOW_PRIVATE_ENV = "KAIROS_ALLOW_PRIVATE_NETWORKS"
DEFAULT_HINT = f"only the operator can allow such addresses ({ALLOW_PRIVATE_ENV})"


class AddressRefused(PermanentError):
    default_code = "address_refused"
    default_reason = "The webhook URL points at a private or reserved address."


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: where to connect, and the name to present (Host, TLS SNI)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def pinned_host(self) -> str:
        """The first checked address, formatted for a URL."""
        address = self.addresses[0]
        return f"[{address}]" if address.version == 6 else str(address)

    @property
    def default_port(self) -> int:
        return 443 if self.scheme == "https" else 80

    @property
    def host_header(self) -> str:
        """The ``Host`` header naming the original host (and port when not the default)."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return host if self.port == self.default_port else f"{host}:{self.port}"

    def pinned_url(self, url: str) -> str:
        """``url`` with its host replaced by the checked address (path and query kept)."""
        parts = urlsplit(url)
        return urlunsplit(
            (self.scheme, f"{self.pinned_host}:{self.port}", parts.path or "/", parts.query, "")
        )

    @property
    def extensions(self) -> dict[str, Any]:
        """httpx request extensions: the TLS server name of the original host for https."""
        return {"sni_hostname": self.host} if self.scheme == "https" else {}


#: Ranges that are not for the public internet although some Python versions' ``is_global``
#: says otherwise (the list grew between releases): checked explicitly so the answer does not
#: depend on the interpreter.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT, shared address space
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, and the broadcast address
        "fec0::/10",  # site-local (deprecated, still routed inside some networks)
        "64:ff9b:1::/48",  # NAT64 for local use (RFC 8215)
        "2001::/32",  # Teredo: the client address inside is obfuscated, so never trusted
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 segment identifiers
        "fc00::/7",  # unique local
    )
)
#: NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: IPv4-compatible addresses (``::a.b.c.d``, deprecated): the last 32 bits are IPv4.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped, compatible, 6to4, NAT64 and ISATAP.

    Each of these transition mechanisms carries an IPv4 address inside the IPv6 one, and a
    router that speaks it delivers to that IPv4 address; ``2002:7f00:1::`` is a way to write
    127.0.0.1. An address is only as public as every address it embeds.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    last32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(last32)
    # ISATAP's interface identifier is 0000:5efe or 0200:5efe followed by the IPv4 address.
    if (int(address) >> 32) & 0xFDFFFFFF == 0x00005EFE:
        found.append(last32)
    return found


def is_public_address(address: IPAddress) -> bool:
    """False for every address that can reach inside a network: private, loopback, link-local,
    site-local, multicast, reserved, unspecified, shared (CGNAT), documentation, and IPv6
    transition addresses (6to4, NAT64, ISATAP, IPv4-mapped or -compatible) that embed one.

    A NAT64 address of a public IPv4 host is public: IPv6-only servers reach IPv4 networks
    through DNS64 that way.
    """
    embedded = embedded_ipv4(address)
    if embedded:
        if address.ipv4_mapped is not None or address in _NAT64:
            return all(is_public_address(inner) for inner in embedded)
        if not all(is_public_address(inner) for inner in embedded):
            return False
    if any(address in network for network in _NOT_PUBLIC if network.version == address.version):
        return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def resolve_target(
    url: str,
    *,
    allow_private: bool = False,
    resolver: Resolver = socket.getaddrinfo,
    hint: str = DEFAULT_HINT,
) -> Target:
    """Parse and resolve ``url``, checking every address.

    :param hint: how to allow private addresses, appended to the refusal's reason.
    :raises PermanentError: the URL is not http(s) or has no host (code ``invalid_url``).
    :raises AddressRefused: an address is not public and ``allow_private`` is false.
    :raises TransientError: the name does not resolve right now (code ``dns_failure``).
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
                f"({refused[0]}); {hint}.",
            )
    return Target(scheme, host, port, tuple(addresses))


def private_allowed(network: str) -> bool:
    """Whether the operator lets ``network`` reach private and loopback addresses.

    Read from the process environment (``KAIROS_ALLOW_PRIVATE_NETWORKS``) at every call: it is
    server configuration, never something a workspace can set through a channel's settings.
    """
    allowed = {name.strip() for name in os.environ.get(ALLOW_PRIVATE_ENV, "").split(",")}
    return "*" in allowed or network in allowed


def pinned_request(
    client: Any,
    method: str,
    url: str,
    target: Target,
    *,
    headers: dict[str, str],
    timeout: Any,
    json: Any = None,
    content: bytes | None = None,
    stream: bool = False,
) -> Any:
    """Send a request with an ``httpx.Client`` to the address ``target`` checked, naming the
    original host (``Host`` and, for https, SNI), so DNS cannot change between check and use.
    With ``stream=True`` the body is left unread (close the response when done)."""
    request = client.build_request(
        method,
        target.pinned_url(url),
        headers={**headers, "Host": target.host_header},
        json=json,
        content=content,
        timeout=timeout,
        extensions=target.extensions,
    )
    return client.send(request, stream=stream)
