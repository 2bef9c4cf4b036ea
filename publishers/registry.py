"""The network registry: network key -> (network, the plugin that provides it).

Built once from every plugin's ``register_networks``. Keeping the owner next to each network is
what lets a duplicate key name both plugins, and lets the API say which plugin, distribution and
version a network comes from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from publishers.errors import DuplicateNetworkError, InvalidNetworkError, UnknownNetworkError
from publishers.network import Network, check_network

__all__ = ["NetworkRegistry", "RegisteredNetwork"]


@dataclass(frozen=True, slots=True)
class RegisteredNetwork:
    """One registry entry."""

    network: Network
    plugin: str

    @property
    def key(self) -> str:
        return self.network.key


class NetworkRegistry:
    """Maps network keys to networks. Iterating yields entries sorted by key."""

    def __init__(self) -> None:
        self._entries: dict[str, RegisteredNetwork] = {}

    def add(self, network: Network, plugin: str) -> None:
        """Register ``network`` as provided by ``plugin``.

        :raises InvalidNetworkError: ``network`` does not keep the contract.
        :raises DuplicateNetworkError: the key is already provided, naming both plugins.
        """
        problem = check_network(network)
        if problem:
            raise InvalidNetworkError(plugin, problem)
        existing = self._entries.get(network.key)
        if existing is not None:
            raise DuplicateNetworkError(network.key, existing.plugin, plugin)
        self._entries[network.key] = RegisteredNetwork(network, plugin)

    def get(self, key: str) -> Network:
        """Return the network for ``key``.

        :raises UnknownNetworkError: no installed plugin provides ``key``.
        """
        try:
            return self._entries[key].network
        except KeyError:
            raise UnknownNetworkError(key, self._entries) from None

    def entry(self, key: str) -> RegisteredNetwork:
        """Return the entry (network and plugin name) for ``key``."""
        try:
            return self._entries[key]
        except KeyError:
            raise UnknownNetworkError(key, self._entries) from None

    def plugin_of(self, key: str) -> str:
        """Name of the plugin that provides ``key``."""
        return self.entry(key).plugin

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[RegisteredNetwork]:
        return iter([self._entries[k] for k in sorted(self._entries)])

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{e.key}={e.plugin}" for e in self)
        return f"<NetworkRegistry {pairs}>"
