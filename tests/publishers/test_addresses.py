"""Which addresses count as public: the server-side request forgery rules (security review #2).

Every address class that can reach inside a network is refused, including IPv6 transition
addresses that carry a private IPv4 address inside them.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publishers.addresses import AddressRefused, embedded_ipv4, is_public_address, resolve_target

NOT_PUBLIC = [
    # IPv4 classes
    "10.0.0.8",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "0.1.2.3",
    "100.64.0.1",  # carrier-grade NAT
    "192.0.0.8",  # IETF protocol assignments
    "198.18.0.1",  # benchmarking
    "192.0.2.1",  # documentation
    "224.0.0.1",  # multicast
    "240.0.0.1",
    "255.255.255.255",
    # IPv6 classes
    "::",
    "::1",
    "fe80::1",  # link-local
    "fec0::1",  # site-local
    "fc00::1",
    "fd12:3456::1",  # unique local
    "ff02::1",  # multicast
    "2001:db8::1",
    "3fff::1",  # documentation (RFC 9637)
    "5f00::1",  # SRv6
    "100::1",  # discard-only
    # IPv6 carrying a private or loopback IPv4 address
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible
    "::169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata service
    "64:ff9b:1::a00:1",  # NAT64 local use
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2600::5efe:a00:1",  # ISATAP of 10.0.0.1
    "2600::200:5efe:7f00:1",  # ISATAP (universal bit) of 127.0.0.1
]

PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4007:80f::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 of a public address
    "64:ff9b::808:808",  # NAT64 of a public address: how IPv6-only servers reach IPv4 ones
    "2600::200:5efe:808:808",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_addresses_that_reach_inside_are_not_public(address):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address):
    assert is_public_address(ipaddress.ip_address(address))


def _resolver(address: str):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def resolve(host, port, type=0):
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


@pytest.mark.parametrize("address", ["2002:7f00:1::1", "fec0::1", "64:ff9b::a9fe:a9fe"])
def test_a_name_resolving_to_a_transition_address_is_refused(address):
    with pytest.raises(AddressRefused, match="private or reserved"):
        resolve_target("https://hooks.example/x", resolver=_resolver(address))


private_ipv4 = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="127.0.0.0/8"),
    st.ip_addresses(network="169.254.0.0/16"),
    st.ip_addresses(network="172.16.0.0/12"),
    st.ip_addresses(network="192.168.0.0/16"),
    st.ip_addresses(network="100.64.0.0/10"),
)


def _embeddings(inner: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    value = int(inner)
    return [
        ipaddress.IPv6Address(0xFFFF << 32 | value),  # mapped
        ipaddress.IPv6Address(value),  # compatible
        ipaddress.IPv6Address(0x2002 << 112 | value << 80 | 1),  # 6to4
        ipaddress.IPv6Address(0x0064FF9B << 96 | value),  # NAT64
        ipaddress.IPv6Address(0x2600 << 112 | 0x5EFE << 32 | value),  # ISATAP
        ipaddress.IPv6Address(0x2600 << 112 | 0x02005EFE << 32 | value),
    ]


@given(private_ipv4)
def test_no_transition_address_smuggles_a_private_ipv4_address(inner):
    for outer in _embeddings(inner):
        assert inner in embedded_ipv4(outer)
        assert not is_public_address(outer), outer


@given(st.ip_addresses(v=4).filter(is_public_address))
def test_public_ipv4_stays_public_when_mapped_or_translated(inner):
    mapped, _, sixtofour, nat64, *_ = _embeddings(inner)
    assert is_public_address(mapped)
    assert is_public_address(sixtofour)
    assert is_public_address(nat64)
