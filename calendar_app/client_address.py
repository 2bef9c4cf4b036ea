"""Who is asking: the client's address, read only from what this deployment can trust.

Two public doors limit what one client may do - login attempts (django-axes) and counted clicks
on tracked links - and both are only as good as the address they key on. Behind a reverse proxy
``REMOTE_ADDR`` is the proxy, so the client's address must come from a header the proxy sets; but
any client can *send* that header too, so it is read only when the operator says a proxy sets it
(``KAIROS_CLIENT_IP_HEADER``), and for ``X-Forwarded-For`` only the entry the operator's own
proxies appended is believed (``KAIROS_TRUSTED_PROXY_COUNT`` from the right). The left-most entry
is whatever the client wrote, so trusting it would let one client be a new visitor on every request.

A *client* is an address for IPv4 and the /64 network for IPv6: one IPv6 subscriber usually holds
a whole /64 (privacy extensions rotate the address inside it), so per-address limits would be
free to step around.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest

#: The IPv6 prefix length that stands for one client.
IPV6_CLIENT_PREFIX = 64


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id:  # "fe80::1%eth0": the zone names our interface, not the client
            return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    return address


def _header_meta_key(header: str) -> str:
    return "HTTP_" + header.strip().upper().replace("-", "_")


def _from_header(meta: Mapping[str, str]) -> str | None:
    header = getattr(settings, "KAIROS_CLIENT_IP_HEADER", "")
    if not header:
        return None
    raw = meta.get(_header_meta_key(header), "")
    if not raw:
        return None
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    if not entries:
        return None
    # X-Forwarded-For grows to the right, one entry per proxy: the client's address is the one
    # our own nearest proxies appended, counted from the right. A single-value header such as
    # X-Real-IP, overwritten by the proxy, has one entry and the count does not matter.
    count = max(1, int(getattr(settings, "KAIROS_TRUSTED_PROXY_COUNT", 1)))
    entry = entries[-count] if len(entries) >= count else entries[0]
    address = _parse(entry)
    return None if address is None else str(address)


def client_address(meta: Mapping[str, str]) -> str:
    """The client's IP address as text ('' when unknown), from the trusted header if one is
    configured and valid, else from ``REMOTE_ADDR``."""
    forwarded = _from_header(meta)
    if forwarded:
        return forwarded
    address = _parse(meta.get("REMOTE_ADDR", "") or "")
    return "" if address is None else str(address)


def client_key(address: str) -> str:
    """The address that stands for one client: IPv4 as it is, IPv6 reduced to its /64 network
    (written as that network's first address, so it still fits an IP address column)."""
    parsed = _parse(address) if address else None
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False)
        return str(network.network_address)
    return str(parsed)


def client_key_for_request(request: HttpRequest) -> str | None:
    """:func:`client_key` of the request's client, None when unknown: django-axes'
    ``AXES_CLIENT_IP_CALLABLE`` (its attempts table stores it in an IP address column)."""
    return client_key(client_address(request.META)) or None
