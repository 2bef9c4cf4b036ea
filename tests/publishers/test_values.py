from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from publishers import (
    CallToAction,
    Capabilities,
    ChannelContext,
    MetricSnapshot,
    Post,
    PublicationRef,
    PublishResult,
)


def test_post_is_frozen_and_deeply_read_only():
    post = Post(body="hi", links=["https://a.example"], metadata={"tags": ["x"], "n": {"a": 1}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        post.body = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        post.metadata["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        post.metadata["n"]["a"] = 2  # type: ignore[index]
    assert post.links == ("https://a.example",)
    assert post.metadata["tags"] == ("x",)


def test_post_replace_returns_a_new_post():
    post = Post(body="a")
    other = post.replace(body="b")
    assert (post.body, other.body) == ("a", "b")


def test_scheduled_for_is_normalised_to_utc_and_must_be_aware():
    paris = timezone(timedelta(hours=1))
    post = Post(body="x", scheduled_for=datetime(2026, 3, 1, 10, 0, tzinfo=paris))
    assert post.scheduled_for == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert post.scheduled_for.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Post(body="x", scheduled_for=datetime(2026, 3, 1, 10, 0))


def test_post_from_dict_round_trip():
    data = {
        "body": "Go",
        "links": ["https://a.example"],
        "cta": {"text": "Buy", "url": "https://a.example/buy", "button_label": "Buy now"},
        "variant_key": "B",
        "scheduled_for": "2026-02-08T23:00:00+00:00",
        "metadata": {"utm_campaign": "sb"},
    }
    post = Post.from_dict(data)
    assert post.cta == CallToAction("Buy", "https://a.example/buy", "Buy now")
    again = Post.from_dict(post.to_dict())
    assert again == post
    with pytest.raises(ValueError, match="unknown Post fields"):
        Post.from_dict({"body": "x", "bodyy": "typo"})


def test_post_rejects_a_string_as_links():
    with pytest.raises(TypeError):
        Post(body="x", links="https://a.example")  # type: ignore[arg-type]


def test_channel_repr_and_str_redact_secrets():
    channel = ChannelContext(
        id=1, network="webhook", settings={"url": "https://h.example"}, secrets={"key": "s3cr3t!"}
    )
    assert "s3cr3t!" not in repr(channel)
    assert "s3cr3t!" not in str(channel)
    assert "<redacted: key>" in repr(channel)
    assert "https://h.example" in repr(channel)
    assert channel.id == "1"
    assert channel.secret_values() == ("s3cr3t!",)
    with pytest.raises(TypeError):
        channel.secrets["key"] = "other"  # type: ignore[index]


def test_channel_from_dict():
    channel = ChannelContext.from_dict({"id": "c", "network": "sandbox", "secrets": {"a": "b"}})
    assert channel.settings == {} and channel.secrets["a"] == "b"


def test_capabilities_refuse_unknown_metrics_and_negative_limits():
    with pytest.raises(ValueError, match="unknown metrics"):
        Capabilities(metrics=("likes",))
    with pytest.raises(ValueError):
        Capabilities(max_text_length=-1)
    with pytest.raises(TypeError):
        Capabilities(max_links=True)
    assert Capabilities(metrics=["clicks"]).to_dict()["metrics"] == ["clicks"]


def test_metric_snapshot_checks_counts():
    with pytest.raises(ValueError):
        MetricSnapshot(clicks=-1)
    with pytest.raises(TypeError):
        MetricSnapshot(clicks=True)
    with pytest.raises(TypeError):
        MetricSnapshot(clicks="3")  # type: ignore[arg-type]
    snapshot = MetricSnapshot(clicks=3.0, impressions=10)  # type: ignore[arg-type]
    assert snapshot.available() == {"impressions": 10, "clicks": 3}
    assert (
        MetricSnapshot.from_dict({"clicks": 2, "collected_at": "2026-01-01T00:00:00Z"}).clicks == 2
    )


def test_publish_result_requires_an_external_id():
    with pytest.raises(ValueError):
        PublishResult("")
    result = PublishResult.from_dict(
        {"external_id": 5, "published_at": "2026-01-01T00:00:00+00:00"}
    )
    assert result.external_id == "5" and result.published_at.tzinfo is not None


def test_publication_ref_from_dict_ignores_extra_keys():
    ref = PublicationRef.from_dict(
        {"publication_id": 7, "idempotency_key": "k", "network": "sandbox", "status": "x"}
    )
    assert ref.publication_id == "7" and ref.external_id == ""
