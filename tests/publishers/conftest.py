"""Fixtures for the publishers framework tests: a fresh plugin manager per test, built only from
the plugins the test names (pluggy's ``pm`` fixture idea), and a scriptable fake network."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from publishers import (
    Capabilities,
    ChannelContext,
    KairosPlugins,
    MetricSnapshot,
    Network,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    build_plugin_manager,
    capability_problems,
    hookimpl,
)


class ScriptedNetwork(Network):
    """A network whose publish behaviour a test scripts: a list of results or exceptions."""

    key = "scripted"
    display_name = "Scripted"
    capabilities = Capabilities(max_text_length=100, max_links=2, metrics=("clicks",))

    def __init__(self, *script: Any, capabilities: Capabilities | None = None) -> None:
        self.script = list(script)
        self.published: list[tuple[Post, str]] = []
        self.found: dict[str, PublishResult] = {}
        if capabilities is not None:
            self.capabilities = capabilities  # type: ignore[misc]

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        return capability_problems(post, self.capabilities)

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        self.published.append((post, idempotency_key))
        step = self.script.pop(0) if self.script else PublishResult(f"ext-{len(self.published)}")
        if isinstance(step, BaseException):
            raise step
        return step

    def find_existing(self, idempotency_key: str, channel: ChannelContext) -> PublishResult | None:
        return self.found.get(idempotency_key)

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        return MetricSnapshot(clicks=3)


class NetworkPlugin:
    """A plugin object providing the given networks."""

    def __init__(self, *networks: Network) -> None:
        self.networks = list(networks)

    @hookimpl
    def register_networks(self) -> list[Network]:
        return self.networks


@pytest.fixture
def make_plugins() -> Callable[..., KairosPlugins]:
    """Build a manager from named plugins only: ``make_plugins(("name", plugin), ...)``."""

    def build(*plugins: object, **options: Any) -> KairosPlugins:
        options.setdefault("load_entrypoints", False)
        return build_plugin_manager(extra_plugins=plugins, **options)

    return build


@pytest.fixture
def network_plugin() -> type[NetworkPlugin]:
    return NetworkPlugin


@pytest.fixture
def scripted() -> type[ScriptedNetwork]:
    return ScriptedNetwork


@pytest.fixture
def channel() -> ChannelContext:
    return ChannelContext(
        id="ch-1",
        network="scripted",
        handle="@acme",
        settings={"lang": "en"},
        secrets={"token": "tok-very-secret-123"},
    )


@pytest.fixture
def post() -> Post:
    return Post(
        body="Hello from {{ brand.name }}",
        links=("https://acme.example/launch",),
        brand_name="Acme",
        brand_slug="acme",
        variant_key="control",
        publication_id="pub-1",
        scheduled_for=datetime(2026, 2, 8, 23, 0, tzinfo=UTC),
    )
