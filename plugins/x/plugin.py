"""Registers the X network (entry point ``x`` in the ``kairos.publishers`` group)."""

from __future__ import annotations

from plugins.x.network import XNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [XNetwork()]
