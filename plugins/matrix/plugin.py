"""Hook implementations of the Matrix plugin (entry point ``matrix``)."""

from __future__ import annotations

from plugins.matrix.network import MatrixNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [MatrixNetwork()]
