"""The sandbox email list: a per-recipient network that keeps the contract and splits its list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from plugins.sandbox.email import SandboxEmailNetwork
from publishers import (
    CallToAction,
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    PublicationRef,
    Status,
    TransientError,
    VariantOffer,
    build_plugin_manager,
    deliver,
    split_recipients,
)
from publishers.testing import NetworkConformance

ARMS = (
    VariantOffer("control", 1, CallToAction("Shop now", "https://shop.example/spring")),
    VariantOffer(
        "bold", 3, CallToAction("Grab yours before midnight", "https://shop.example/spring")
    ),
)


def make_channel(tmp_path, channel_id="list-1", **settings):
    return ChannelContext(
        id=channel_id,
        network="sandbox_email",
        handle="news@brand.example",
        settings={"sandbox_dir": str(tmp_path), **settings},
    )


def split_post(**fields) -> Post:
    return Post(
        body="Our spring collection is here.",
        experiment_key="42",
        publication_id="pub-1",
        variants=ARMS,
        **fields,
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class TestSandboxEmailConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return SandboxEmailNetwork()

    @pytest.fixture
    def channel(self, tmp_path):
        return make_channel(tmp_path, recipients=200)

    @pytest.fixture
    def failing_channels(self, tmp_path):
        return [
            (make_channel(tmp_path, "t", fail_mode="transient"), TransientError),
            (make_channel(tmp_path, "p", fail_mode="permanent"), PermanentError),
            (make_channel(tmp_path, "e", fail_mode="expired"), CredentialsExpired),
            (make_channel(tmp_path, "o", fail_mode="timeout_after_send"), TransientError),
        ]

    def count_posts(self, network, channel):
        return len(network.posts(channel))


class TestSandboxEmailConformanceWithVariants(TestSandboxEmailConformance):
    """The same contract for a post that carries an experiment's arms."""

    @pytest.fixture
    def sample_post(self):
        return split_post()


def test_publish_splits_the_list_and_reports_the_counts(tmp_path):
    network = SandboxEmailNetwork()
    channel = make_channel(tmp_path, recipients=1000)
    result = network.publish(split_post(), channel, "key-1")
    expected = split_recipients(range(1000), ARMS, "experiment:42")
    counts = dict(result.recipients_per_variant)
    assert counts == {k: len(v) for k, v in expected.items()}
    assert sum(counts.values()) == 1000
    assert counts["bold"] > counts["control"]  # weights 3:1
    record = json.loads(network.path_for(channel).read_text().splitlines()[0])
    assert record["recipients"] == 1000
    assert record["recipients_per_variant"] == counts
    assert record["split_seed"] == "experiment:42"
    assert record["messages"]["bold"]["body"].endswith(
        "Grab yours before midnight https://shop.example/spring"
    )
    # An idempotent retry and a reconciliation report the very same split.
    assert network.publish(split_post(), channel, "key-1") == result
    assert network.find_existing("key-1", channel) == result
    assert len(network.posts(channel)) == 1


def test_same_experiment_same_recipient_same_variant_across_sends(tmp_path):
    network = SandboxEmailNetwork()
    channel = make_channel(tmp_path, recipients=300)
    first = network.publish(split_post(), channel, "send-1")
    second = network.publish(split_post(), channel, "send-2")
    assert first.external_id != second.external_id
    assert first.recipients_per_variant == second.recipients_per_variant
    # Without an experiment key the idempotency key seeds the split.
    plain = Post(body="x", variants=ARMS)
    result = network.publish(plain, channel, "send-3")
    assert dict(result.recipients_per_variant) == {
        k: len(v) for k, v in split_recipients(range(300), ARMS, "send-3").items()
    }


def test_a_post_without_variants_reaches_the_whole_list(tmp_path):
    network = SandboxEmailNetwork()
    channel = make_channel(tmp_path, recipients=50)
    result = network.publish(Post(body="Newsletter"), channel, "k")
    assert result.recipients_per_variant == {}
    assert network.records(channel)[0]["recipients"] == 50


def test_metrics_are_totals_with_the_per_variant_detail_in_the_file(tmp_path):
    clock = Clock()
    network = SandboxEmailNetwork(clock=clock)
    channel = make_channel(
        tmp_path,
        recipients=4000,
        ramp_seconds=0,
        seed=3,
        variant_rates={"control": {"ctr": 0.01}, "bold": {"ctr": 0.05}},
    )
    result = network.publish(split_post(), channel, "k")
    ref = PublicationRef("pub-1", "k", "sandbox_email", result.external_id)
    clock.now += timedelta(hours=1)
    snapshot = network.fetch_metrics(ref, channel)
    assert set(snapshot.available()) == {"impressions", "clicks", "conversions"}
    assert snapshot.impressions == 4000  # ramp 0: every recipient opened
    record = network.records(channel)[-1]
    assert record["type"] == "metrics" and record["external_id"] == result.external_id
    per_variant = record["per_variant"]
    assert {k: v["recipients"] for k, v in per_variant.items()} == dict(
        result.recipients_per_variant
    )
    for name in ("impressions", "clicks", "conversions"):
        assert sum(v[name] for v in per_variant.values()) == getattr(snapshot, name)
    bold, control = per_variant["bold"], per_variant["control"]
    assert bold["clicks"] / bold["impressions"] > control["clicks"] / control["impressions"]
    assert network.fetch_metrics(ref, channel) == snapshot  # deterministic
    assert len(network.posts(channel)) == 1  # metrics records are not posts


def test_each_arm_is_validated_with_its_call_to_action(tmp_path):
    network = SandboxEmailNetwork()
    channel = make_channel(tmp_path)
    limit = network.capabilities.max_text_length
    body = "x" * (limit - 5)
    assert network.validate(Post(body=body), channel) == []
    problems = network.validate(split_post().replace(body=body), channel)
    assert [(p.code, p.field) for p in problems] == [("text_too_long", "variants")] * 2
    assert "'bold'" in problems[1].message
    bad = make_channel(tmp_path, recipients=-3)
    assert [p.field for p in network.validate(split_post(), bad)] == ["settings.recipients"]
    assert [p.field for p in network.test_connection(bad)] == ["settings.recipients"]


def test_email_cannot_be_recalled(tmp_path):
    network = SandboxEmailNetwork()
    channel = make_channel(tmp_path)
    result = network.publish(split_post(), channel, "k")
    with pytest.raises(PermanentError):
        network.delete(PublicationRef("p", "k", "sandbox_email", result.external_id), channel)


def test_registered_by_the_sandbox_entry_point_and_delivered_through_the_pipeline(tmp_path):
    plugins = build_plugin_manager(disabled=["webhook"])
    assert plugins.network("sandbox_email").capabilities.per_recipient_split
    channel = make_channel(tmp_path, recipients=100)
    outcome = deliver(plugins, split_post(), channel, "k")
    assert outcome.status is Status.PUBLISHED, outcome.reason
    assert sum(outcome.result.recipients_per_variant.values()) == 100
    sent = outcome.post.variant("bold").cta.url
    assert "utm_content=bold" in sent and "utm_source=sandbox_email" in sent


def test_a_network_that_cannot_split_refuses_variants(tmp_path):
    plugins = build_plugin_manager(disabled=["webhook"])
    channel = ChannelContext(id="c", network="sandbox", settings={"sandbox_dir": str(tmp_path)})
    outcome = deliver(plugins, split_post(), channel, "k")
    assert outcome.status is Status.FAILED
    assert [p.code for p in outcome.problems] == ["variants_not_supported"]
    assert not (tmp_path / "c.jsonl").exists()
