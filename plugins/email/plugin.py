"""Hook implementations of the email newsletter plugin (entry point ``email``)."""

from __future__ import annotations

from plugins.email.network import EmailNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [EmailNetwork()]
