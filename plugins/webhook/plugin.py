"""Hook implementations of the webhook plugin (entry point ``webhook``)."""

from __future__ import annotations

from plugins.webhook.network import WebhookNetwork
from publishers import Network, hookimpl


@hookimpl
def register_networks() -> list[Network]:
    return [WebhookNetwork()]
