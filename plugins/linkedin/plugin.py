"""Registers the LinkedIn network (entry point ``linkedin`` in the ``kairos.publishers`` group)."""

from __future__ import annotations

from plugins.linkedin.network import LinkedInNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [LinkedInNetwork()]
