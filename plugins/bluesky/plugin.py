"""Hook implementations of the Bluesky plugin (entry point ``bluesky``)."""

from __future__ import annotations

from plugins.bluesky.network import BlueskyNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [BlueskyNetwork()]
