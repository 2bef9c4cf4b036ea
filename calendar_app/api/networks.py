"""The API's one door to the plugin framework: installed networks and connection tests.

Everything goes through :func:`calendar_app.plugins_runtime.get_plugins`, built once per process.
"""

from __future__ import annotations

import logging
from typing import Any

from calendar_app.models import Channel

logger = logging.getLogger(__name__)


def _plugins() -> Any:
    from calendar_app.plugins_runtime import get_plugins

    return get_plugins()


def describe_networks() -> list[dict[str, Any]]:
    """Every installed network with its capabilities, sorted by key."""
    infos = _plugins().network_info()
    return sorted((info.to_dict() for info in infos), key=lambda d: d["key"])


def installed_network_keys() -> set[str] | None:
    """Keys of the installed networks; ``None`` when the plugins cannot be loaded (then the
    system check reports it and channel writes are not blocked on it)."""
    try:
        return {info.key for info in _plugins().network_info()}
    except Exception:  # a broken plugin must not make channels unwritable
        logger.exception("cannot load publisher plugins")
        return None


def test_connection(channel: Channel) -> list[dict[str, Any]]:
    """Problems the channel's network finds with its settings and credentials (none: it works)."""
    from publishers import UnknownNetworkError

    try:
        network = _plugins().network(channel.network)
    except UnknownNetworkError as exc:
        return [{"code": "unknown_network", "message": str(exc), "field": "network"}]
    from calendar_app.delivery.facts import refresh_facts
    from calendar_app.delivery.posts import channel_context

    problems = [p.to_dict() for p in network.test_connection(channel_context(channel))]
    if not problems:
        refresh_facts(channel)  # the server's limits, for validation without I/O
    return problems


def settings_errors(
    network_key: str | None, settings: Any, secrets: Any = None
) -> dict[str, dict[str, list[str]]]:
    """What is wrong with a channel's settings (and secrets, when being set), by group and key,
    as the network declares them; empty when they fit or the network is not installed (which
    the network field reports itself). Used by the API and the admin alike."""
    from publishers import UnknownNetworkError, settings_problems

    if not network_key or not isinstance(settings, dict):
        return {}
    try:
        network = _plugins().network(network_key)
    except UnknownNetworkError:
        return {}
    errors: dict[str, dict[str, list[str]]] = {}
    for problem in settings_problems(network, settings, secrets):
        group, _, key = (problem.field or "settings.").partition(".")
        errors.setdefault(group, {}).setdefault(key, []).append(problem.message)
    return errors
