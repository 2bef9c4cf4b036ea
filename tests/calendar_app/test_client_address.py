"""The client's address: from a configured proxy header only, read from the right; IPv6 per /64."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from calendar_app.client_address import client_address, client_key


def test_without_a_configured_header_forwarded_headers_are_ignored():
    meta = {"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "192.0.2.9"}
    assert client_address(meta) == "198.51.100.1"


@override_settings(KAIROS_CLIENT_IP_HEADER="X-Forwarded-For", KAIROS_TRUSTED_PROXY_COUNT=1)
def test_the_right_most_entry_is_the_one_our_proxy_appended():
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "192.0.2.9, 203.0.113.7"}
    assert client_address(meta) == "203.0.113.7"


@override_settings(KAIROS_CLIENT_IP_HEADER="X-Forwarded-For", KAIROS_TRUSTED_PROXY_COUNT=2)
def test_behind_two_proxies_the_second_from_the_right():
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "192.0.2.9, 203.0.113.7, 10.0.0.9"}
    assert client_address(meta) == "203.0.113.7"


@override_settings(KAIROS_CLIENT_IP_HEADER="X-Forwarded-For")
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("not an address", "10.0.0.2"),
        (" , ", "10.0.0.2"),
        ("", "10.0.0.2"),
    ],
)
def test_header_values_are_parsed_or_ignored(header, expected):
    assert client_address({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": header}) == expected


@override_settings(KAIROS_TRUST_X_FORWARDED_FOR=True, KAIROS_CLIENT_IP_HEADER="X-Real-IP")
def test_a_single_value_header():
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.7"}
    assert client_address(meta) == "203.0.113.7"


def test_client_key_is_the_ipv6_64_and_the_ipv4_address():
    assert client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("") == ""


@override_settings(KAIROS_CLIENT_IP_HEADER="X-Forwarded-For", KAIROS_TRUSTED_PROXY_COUNT=3)
@given(header=st.text(max_size=200), remote=st.sampled_from(["", "10.0.0.2", "garbage"]))
def test_any_header_gives_an_address_or_nothing(header, remote):
    address = client_address({"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": header})
    if address:
        ipaddress.ip_address(address)
        ipaddress.ip_address(client_key(address))
