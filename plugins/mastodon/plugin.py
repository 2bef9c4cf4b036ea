"""Hook implementations of the Mastodon plugin (entry point ``mastodon``)."""

from __future__ import annotations

from plugins.mastodon.network import MastodonNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [MastodonNetwork()]
