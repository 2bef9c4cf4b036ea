"""Outbound webhook fixtures: a real signed-webhook receiver on 127.0.0.1, subscriptions, the
life-cycle receivers and the publication-hook plugin switched on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache

from calendar_app.models import WebhookSubscription, Workspace
from calendar_app.outbound import plugin as outbound_plugin
from calendar_app.outbound import receivers
from calendar_app.outbound.sender import new_secret_value
from calendar_app.outbound.signing import WebhookVerificationError, verify
from calendar_app.plugins_runtime import reset_plugins, use_plugins
from publishers import build_plugin_manager
from publishers.testing import FakeServer, RecordedRequest, Reply

IDEMPOTENCY_MIDDLEWARE = "calendar_app.api.idempotency.IdempotencyMiddleware"


@dataclass
class Receiver:
    """A webhook receiver that checks every request's Standard Webhooks signature."""

    server: FakeServer
    secrets: list[str] = field(default_factory=list)
    verified: list[RecordedRequest] = field(default_factory=list)
    rejected: list[RecordedRequest] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url + "/hooks/kairos"

    def check(self, request: RecordedRequest) -> None:
        for secret in self.secrets:
            try:
                verify(secret, request.headers, request.body)
            except WebhookVerificationError:
                continue
            self.verified.append(request)
            return
        self.rejected.append(request)

    def types(self) -> list[str]:
        return [r.json()["type"] for r in self.verified]

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.verified]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    def handle(request: RecordedRequest) -> Reply:
        holder["r"].check(request)
        return Reply(204)

    server = FakeServer(handle)
    holder["r"] = Receiver(server)
    with server:
        yield holder["r"]


@pytest.fixture(autouse=True)
def _outbound(settings, tmp_path, monkeypatch):
    """Private targets allowed (the receiver is on loopback), receivers connected, and the
    installed plugins plus ``outbound_webhooks`` (as the entry point will register it)."""
    settings.KAIROS_WEBHOOKS_ALLOW_PRIVATE = True
    settings.ROOT_URLCONF = "tests.outbound.urls"
    monkeypatch.setenv("KAIROS_SANDBOX_DIR", str(tmp_path / "sandbox"))
    cache.clear()
    was_connected = receivers.connected()
    receivers.connect()
    use_plugins(build_plugin_manager(extra_plugins=[("outbound_webhooks", outbound_plugin)]))
    yield
    reset_plugins()
    if not was_connected:
        receivers.disconnect()
    cache.clear()


@pytest.fixture
def plugins_with():
    """``plugins_with(("name", plugin), ...)``: installed plugins, the outbound one and these."""

    def install(*extra: object) -> None:
        use_plugins(
            build_plugin_manager(
                extra_plugins=[("outbound_webhooks", outbound_plugin), *extra],
            )
        )

    return install


@pytest.fixture
def subscribe(receiver):
    """``subscribe(workspace, event_types=[], brands=[], url=None)`` → (subscription, secret);
    the receiver learns the secret."""

    def make(
        workspace: Workspace,
        event_types: list[str] | None = None,
        brands: list | None = None,
        url: str | None = None,
        **fields,
    ) -> tuple[WebhookSubscription, str]:
        stored, clear = new_secret_value()
        subscription = WebhookSubscription.objects.create(
            workspace=workspace,
            url=url or receiver.url,
            event_types=event_types or [],
            secret=stored,
            **fields,
        )
        if brands:
            subscription.brands.set(brands)
        receiver.secrets.append(clear)
        return subscription, clear

    return make


@pytest.fixture
def with_idempotency(settings):
    middleware = list(settings.MIDDLEWARE)
    if IDEMPOTENCY_MIDDLEWARE not in middleware:
        position = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
        middleware.insert(position, IDEMPOTENCY_MIDDLEWARE)
        settings.MIDDLEWARE = middleware
