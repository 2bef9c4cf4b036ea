"""Registers Facebook Pages and Instagram (entry point ``meta``): one plugin, as both networks
share Facebook Login, the Graph API version and its error codes."""

from __future__ import annotations

from plugins.meta.facebook import FacebookPagesNetwork
from plugins.meta.instagram import InstagramNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [FacebookPagesNetwork(), InstagramNetwork()]
