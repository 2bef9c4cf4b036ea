"""Every Outcome the pipeline can produce, one classification at a time."""

from __future__ import annotations

import logging

import pytest

from publishers import (
    Capabilities,
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    PostTransform,
    Problem,
    PublishResult,
    Status,
    TransientError,
    ValidationFailed,
    deliver,
    hookimpl,
)

IDEMPOTENT = Capabilities(max_text_length=100, supports_idempotency_key=True)
FINDABLE = Capabilities(max_text_length=100, can_find_existing=True)
BLIND = Capabilities(max_text_length=100)


@pytest.fixture
def run(make_plugins, network_plugin, channel, post):
    def run_(network, *extra, **kwargs):
        plugins = make_plugins(("nets", network_plugin(network)), *extra)
        return deliver(plugins, kwargs.pop("post", post), channel, "idem-1", **kwargs)

    return run_


def test_published(run, scripted):
    network = scripted(PublishResult("ext-9", "https://x.example/9"))
    outcome = run(network)
    assert outcome.status is Status.PUBLISHED and outcome.published and outcome.final
    assert outcome.result.external_id == "ext-9"
    assert outcome.post.body.startswith("Hello from Acme")
    assert "utm_source=scripted" in outcome.post.links[0]
    assert network.published[0][1] == "idem-1"
    assert outcome.elapsed >= 0


def test_transient_is_retried_with_retry_after(run, scripted):
    outcome = run(scripted(TransientError("slow down", code="rate_limited", retry_after=30)))
    assert outcome.status is Status.RETRY and not outcome.final
    assert (outcome.code, outcome.retry_after, outcome.reconcile_next) == (
        "rate_limited",
        30,
        False,
    )


def test_permanent_fails(run, scripted):
    outcome = run(scripted(PermanentError("Refused: duplicate content.", code="http_422")))
    assert outcome.status is Status.FAILED
    assert (outcome.code, outcome.reason) == ("http_422", "Refused: duplicate content.")


def test_validation_failed_raised_by_publish(run, scripted):
    outcome = run(scripted(ValidationFailed([Problem("bad_media", "Media too large.", "media")])))
    assert outcome.status is Status.FAILED and outcome.problems[0].code == "bad_media"


def test_validation_problems_stop_before_sending(run, scripted, post):
    network = scripted()
    outcome = run(network, post=post.replace(body="x" * 200))
    assert outcome.status is Status.FAILED and outcome.code == "validation_failed"
    assert [p.code for p in outcome.problems] == ["text_too_long"]
    assert network.published == []


def test_credentials_expired(run, scripted):
    outcome = run(scripted(CredentialsExpired()))
    assert outcome.status is Status.CREDENTIALS_EXPIRED and outcome.code == "credentials_expired"


def test_timeout_after_send_without_dedup_is_unconfirmed(run, scripted):
    network = scripted(
        TransientError("timed out", code="timeout", may_have_posted=True), capabilities=BLIND
    )
    outcome = run(network)
    assert outcome.status is Status.UNCONFIRMED and outcome.final
    assert "may have gone out" in outcome.reason


def test_timeout_after_send_with_idempotency_key_is_retried(run, scripted):
    network = scripted(TransientError(may_have_posted=True), capabilities=IDEMPOTENT)
    outcome = run(network)
    assert outcome.status is Status.RETRY and not outcome.reconcile_next


def test_timeout_after_send_with_find_existing_reconciles(run, scripted):
    network = scripted(TransientError(may_have_posted=True), capabilities=FINDABLE)
    outcome = run(network)
    assert outcome.status is Status.RETRY and outcome.reconcile_next
    network.found["idem-1"] = PublishResult("ext-earlier")
    again = run(network, reconcile=True)
    assert again.status is Status.PUBLISHED and again.reconciled
    assert again.result.external_id == "ext-earlier"
    assert len(network.published) == 1  # not published a second time


def test_reconcile_publishes_when_nothing_found(run, scripted):
    network = scripted(capabilities=FINDABLE)
    outcome = run(network, reconcile=True)
    assert outcome.published and not outcome.reconciled and len(network.published) == 1


def test_unexpected_exception_is_plugin_error(run, scripted, caplog):
    with caplog.at_level(logging.ERROR, logger="kairos.delivery"):
        outcome = run(scripted(KeyError("oops")))
    assert outcome.status is Status.PLUGIN_ERROR and outcome.final
    assert outcome.code == "plugin_error" and "KeyError" in outcome.detail
    assert outcome.error.code == "plugin_error"
    assert "Traceback" in caplog.text


def test_wrong_return_type_is_plugin_error(run, scripted):
    outcome = run(scripted("not a result"))
    assert outcome.status is Status.PLUGIN_ERROR and "PublishResult" in outcome.detail


def test_crashing_transform_is_plugin_error(run, scripted):
    class Crash:
        @hookimpl
        def register_post_transforms(self):
            return [PostTransform("crash", lambda p, c: 1 / 0)]

    network = scripted()
    outcome = run(network, ("crash", Crash()))
    assert outcome.status is Status.PLUGIN_ERROR and "transform 'crash'" in outcome.reason
    assert network.published == []


def test_unknown_network_fails_permanently(make_plugins, post):
    channel = ChannelContext(id="c", network="myspace")
    outcome = deliver(make_plugins(), post, channel, "k")
    assert outcome.status is Status.FAILED and outcome.code == "unknown_network"


def test_secrets_are_redacted_from_reason_and_detail(run, scripted, channel):
    secret = channel.secrets["token"]
    outcome = run(scripted(PermanentError(f"bad token {secret}", detail=f"Bearer {secret}")))
    assert secret not in outcome.reason and secret not in outcome.detail
    crash = run(scripted(RuntimeError(f"leaked {secret}")))
    assert secret not in crash.detail


def test_render_false_sends_post_as_is(run, scripted, post):
    network = scripted()
    outcome = run(network, post=post.replace(body="Literal {{ braces }}"), render=False)
    assert outcome.published and network.published[0][0].body == "Literal {{ braces }}"


def test_keyboard_interrupt_is_not_swallowed(run, scripted):
    with pytest.raises(KeyboardInterrupt):
        run(scripted(KeyboardInterrupt()))


def test_post_is_never_mutated(run, scripted, post):
    before = Post.from_dict(post.to_dict())
    run(scripted())
    assert post == before


def test_reconcile_on_a_network_that_cannot_tell_sends_nothing_and_is_unconfirmed(run, scripted):
    network = scripted(capabilities=BLIND)
    outcome = run(network, reconcile=True)
    assert outcome.status is Status.UNCONFIRMED and outcome.code == "cannot_reconcile"
    assert network.published == [], "sending again could post twice"
