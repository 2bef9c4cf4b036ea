"""Hook implementations of the sandbox plugin (entry point ``sandbox``): the sandbox network and
the sandbox email list."""

from __future__ import annotations

from plugins.sandbox.email import SandboxEmailNetwork
from plugins.sandbox.network import SandboxNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [SandboxNetwork(), SandboxEmailNetwork()]
