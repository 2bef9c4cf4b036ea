"""Listening tests run the real sandbox plugin (its seeded conversation) and, for the bad
behaviours a real network may show, a scripted network registered for the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from publishers import (
    Capabilities,
    InboundMessage,
    MessagePage,
    MetricSnapshot,
    Network,
    PublishResult,
    StaleCursor,
    TransientError,
    hookimpl,
    messages_from,
)
from tests.admin.conftest import login, staff_member  # noqa: F401
from tests.delivery.conftest import fresh_policies, plugins_with, sandbox_dir  # noqa: F401

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class ScriptedNetwork(Network):
    """Answers each ``fetch_mentions`` call with the next scripted step: a list of raw items
    (read with ``messages_from``), or an exception to raise."""

    key = "scripted"
    display_name = "Scripted"
    capabilities = Capabilities(listening=("mentions",))

    def __init__(self) -> None:
        self.steps: list = []
        self.cursors: list[str] = []

    def validate(self, post, channel):
        return []

    def publish(self, post, channel, idempotency_key):
        return PublishResult("x")

    def fetch_metrics(self, ref, channel):
        return MetricSnapshot()

    def fetch_mentions(self, channel, cursor):
        self.cursors.append(cursor)
        step = self.steps.pop(0) if self.steps else []
        if isinstance(step, Exception):
            raise step
        messages, skipped = messages_from(step)
        return MessagePage(tuple(messages), f"c{len(self.cursors)}", skipped=skipped)


def item(n: int | str, text: str = "Love acme!", minutes: int = 0, **extra) -> dict:
    return {
        "network_id": str(n),
        "text": text,
        "author_handle": "@ana@example.social",
        "published_at": (AT + timedelta(minutes=minutes)).isoformat(),
        **extra,
    }


@pytest.fixture
def scripted(plugins_with):  # noqa: F811
    network = ScriptedNetwork()

    class Plugin:
        @hookimpl
        def register_networks(self):
            return [network]

    plugins_with(Plugin())
    yield network
    from calendar_app.plugins_runtime import use_plugins

    use_plugins(None)


__all__ = ["AT", "InboundMessage", "ScriptedNetwork", "StaleCursor", "TransientError", "item"]
