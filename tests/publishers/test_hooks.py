"""One ``test_hook_<name>`` per hookspec (the meta-test in test_hookspecs.py checks they exist)."""

from __future__ import annotations

import logging

import pytest

from publishers import (
    PermanentError,
    PluginLoadError,
    PostTransform,
    Problem,
    PublicationRef,
    PublishResult,
    Status,
    TransientError,
    deliver,
    hookimpl,
)
from publishers.values import MetricSnapshot

REF = PublicationRef("pub-1", "key-1", "scripted", "ext-1")


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))
        if self.fail:
            raise RuntimeError(f"{name} listener broke")

    @hookimpl
    def publication_published(self, ref, result, channel):
        self._record("published", ref=ref, result=result, channel=channel)

    @hookimpl
    def publication_failed(self, ref, error, final):  # opts out of `channel`
        self._record("failed", ref=ref, error=error, final=final)

    @hookimpl
    def publication_unconfirmed(self, ref, error, channel):
        self._record("unconfirmed", ref=ref, error=error)

    @hookimpl
    def metrics_collected(self, ref, snapshot):
        self._record("metrics", ref=ref, snapshot=snapshot)


def test_hook_register_networks(make_plugins, network_plugin, scripted):
    plugins = make_plugins(("nets", network_plugin(scripted())))
    assert plugins.network("scripted").display_name == "Scripted"
    assert plugins.networks.plugin_of("scripted") == "nets"

    class ReturnsClass:
        @hookimpl
        def register_networks(self):
            return scripted

    with pytest.raises(Exception, match="is a class"):
        make_plugins(("cls", ReturnsClass()))


def test_hook_register_post_transforms(make_plugins, network_plugin, scripted, post, channel):
    class Footer:
        @hookimpl
        def register_post_transforms(self):
            return [
                PostTransform("footer", lambda p, c: p.replace(body=p.body + " #ad"), order=50),
                PostTransform("shout", lambda p, c: p.replace(body=p.body.upper()), order=10),
            ]

    network = scripted()
    plugins = make_plugins(("nets", network_plugin(network)), ("footer", Footer()))
    outcome = deliver(plugins, post, channel, "k")
    assert outcome.published
    assert network.published[0][0].body.startswith("HELLO FROM ACME")
    assert network.published[0][0].body.endswith(" #ad")

    class Bad:
        @hookimpl
        def register_post_transforms(self):
            return ["not a transform"]

    with pytest.raises(PluginLoadError, match="not a PostTransform"):
        make_plugins(("bad", Bad()))


def test_hook_validate_post(make_plugins, network_plugin, scripted, post, channel):
    class BrandSafety:
        @hookimpl
        def validate_post(self, post, capabilities):
            if "blackout" in post.body.lower():
                return [Problem("unsafe_word", "Avoid 'blackout'.", "body")]
            assert capabilities.max_text_length == 100
            return None

    class Twice:
        @hookimpl
        def validate_post(self, post):
            if "blackout" in post.body.lower():
                return [Problem("unsafe_word", "Avoid 'blackout'.", "body")]
            return []

    network = scripted()
    plugins = make_plugins(
        ("nets", network_plugin(network)), ("safety", BrandSafety()), ("t", Twice())
    )
    assert plugins.validate(post, channel, network) == []
    bad = post.replace(body="Dunk in the blackout " + "x" * 100)
    problems = plugins.validate(bad, channel, network)
    assert [p.code for p in problems] == ["text_too_long", "unsafe_word"]  # de-duplicated
    outcome = deliver(plugins, bad, channel, "k")
    assert outcome.status is Status.FAILED and outcome.code == "validation_failed"
    assert network.published == []


def test_hook_resolve_placeholder(make_plugins, network_plugin, scripted, post, channel):
    class Score:
        @hookimpl
        def resolve_placeholder(self, name, post, channel):
            return "3-1" if name == "match.score" else None

    class Late:
        @hookimpl(trylast=True)
        def resolve_placeholder(self, name):
            return 42 if name == "match.score" or name == "answer" else None

    network = scripted()
    plugins = make_plugins(("nets", network_plugin(network)), ("score", Score()), ("late", Late()))
    assert plugins.resolve_placeholder(name="match.score", post=post, channel=channel) == "3-1"
    assert plugins.resolve_placeholder(name="answer", post=post, channel=channel) == "42"
    assert plugins.resolve_placeholder(name="nobody", post=post, channel=channel) is None
    outcome = deliver(plugins, post.replace(body="Score: {{ match.score }}"), channel, "k")
    assert outcome.published and network.published[0][0].body.startswith("Score: 3-1")
    outcome = deliver(plugins, post.replace(body="{{ nobody }}"), channel, "k2")
    assert outcome.status is Status.FAILED
    assert [p.code for p in outcome.problems] == ["unknown_placeholder"]


def test_hook_publication_published(make_plugins, caplog, channel):
    broken, healthy = Recorder(fail=True), Recorder()
    plugins = make_plugins(("broken", broken), ("healthy", healthy))
    result = PublishResult("ext-1")
    with caplog.at_level(logging.ERROR, logger="kairos.plugins"):
        plugins.notify_published(ref=REF, result=result, channel=channel)
    assert healthy.calls == [("published", {"ref": REF, "result": result, "channel": channel})]
    assert broken.calls  # it was called, failed, and did not stop the healthy one
    assert "broken" in caplog.text and "publication_published" in caplog.text


def test_hook_publication_failed(make_plugins, channel):
    broken, healthy = Recorder(fail=True), Recorder()
    plugins = make_plugins(("healthy", healthy), ("broken", broken))
    error = TransientError("later")
    plugins.notify_failed(ref=REF, error=error, channel=channel, final=False)
    assert healthy.calls == [("failed", {"ref": REF, "error": error, "final": False})]
    plugins.without(["healthy"]).notify_failed(ref=REF, error=error, channel=channel, final=True)
    assert len(healthy.calls) == 1 and len(broken.calls) == 2


def test_hook_publication_unconfirmed(make_plugins, channel):
    healthy = Recorder()
    plugins = make_plugins(("broken", Recorder(fail=True)), ("healthy", healthy))
    error = PermanentError("unknown", code="timeout")
    plugins.notify_unconfirmed(ref=REF, error=error, channel=channel)
    assert healthy.calls == [("unconfirmed", {"ref": REF, "error": error})]


def test_hook_metrics_collected(make_plugins, channel):
    healthy = Recorder()
    plugins = make_plugins(("healthy", healthy), ("broken", Recorder(fail=True)))
    snapshot = MetricSnapshot(clicks=4)
    plugins.notify_metrics(ref=REF, snapshot=snapshot, channel=channel)
    assert healthy.calls == [("metrics", {"ref": REF, "snapshot": snapshot})]


def test_hook_calls_are_keyword_only(make_plugins, post, channel):
    plugins = make_plugins()
    with pytest.raises(TypeError):
        plugins.resolve_placeholder("x", post, channel)  # type: ignore[misc]
    with pytest.raises(TypeError):
        plugins.notify_published(REF, PublishResult("e"), channel)  # type: ignore[misc]
