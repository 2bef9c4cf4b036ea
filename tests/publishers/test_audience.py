"""The audience opt-in: only networks whose ``publish`` names ``audience`` receive the ledger,
found by signature inspection; every other network is called exactly as before."""

from __future__ import annotations

import pytest

from publishers import (
    Capabilities,
    ChannelContext,
    MetricSnapshot,
    Network,
    Post,
    PublishResult,
    build_plugin_manager,
    deliver,
    hookimpl,
)
from publishers.audience import MemoryLedger, RecipientState, accepts_audience, audience_kwargs


class _Base(Network):
    display_name = "Test"
    capabilities = Capabilities(supports_idempotency_key=True)

    def validate(self, post, channel):
        return []

    def fetch_metrics(self, ref, channel):
        return MetricSnapshot()


class Plain(_Base):
    key = "plain"
    calls: list = []

    def publish(self, post, channel, idempotency_key):
        self.calls.append(idempotency_key)
        return PublishResult("p1")


class WithAudience(_Base):
    key = "listy"
    seen: list = []

    def publish(self, post, channel, idempotency_key, *, audience=None):
        self.seen.append(audience)
        summary = audience.open()
        for recipient in audience.pending(10):
            audience.begin(recipient.id)
            audience.sent(recipient.id, f"<{recipient.id}@x>")
        return PublishResult("l1", recipients_per_variant={}) if summary.total else None


class WithKwargs(_Base):
    key = "kw"

    def publish(self, post, channel, idempotency_key, **options):
        return PublishResult("k1")


def test_signature_inspection():
    assert accepts_audience(WithAudience())
    assert not accepts_audience(Plain())
    assert not accepts_audience(WithKwargs()), "**kwargs is not an opt-in"
    assert audience_kwargs(Plain(), object()) == {}
    ledger = object()
    assert audience_kwargs(WithAudience(), ledger) == {"audience": ledger}
    assert not accepts_audience(WithAudience(), "fetch_metrics")


@pytest.fixture
def plugins():
    class Registration:
        @hookimpl
        def register_networks(self):
            return [Plain(), WithAudience()]

    return build_plugin_manager(load_entrypoints=False, extra_plugins=[Registration()])


def test_deliver_passes_the_ledger_only_to_networks_that_opt_in(plugins):
    ledger = MemoryLedger(["a@x.org", "b@x.org"])
    post = Post(body="Hello")
    listy = ChannelContext(id="1", network="listy")
    outcome = deliver(plugins, post, listy, "key-1", audience=ledger)
    assert outcome.published, outcome
    assert WithAudience.seen == [ledger]
    assert ledger.summary().count(RecipientState.SENT) == 2
    plain = ChannelContext(id="2", network="plain")
    assert deliver(plugins, post, plain, "key-2", audience=ledger).published
    assert Plain.calls == ["key-2"]


def test_memory_ledger_turns_a_left_sending_row_into_in_doubt():
    ledger = MemoryLedger(["a@x.org", "b@x.org"])
    ledger.open()
    first = ledger.pending(1)[0]
    assert ledger.begin(first.id)
    assert not ledger.begin(first.id), "a recipient is begun once"
    summary = ledger.open()  # a retry after the worker died
    assert summary.count(RecipientState.IN_DOUBT) == 1
    assert [r.email for r in ledger.pending(10)] == ["b@x.org"]
