"""The X plugin - CONTRACT tests against ``x_server`` on 127.0.0.1 (the X API v2's documented
requests and answers, not X), through the conformance kit and X's own rules: weighted
counting, media upload, threads as replies, the error mapping, rate-limit and daily-cap
headers, reconciliation after an ambiguous failure, and connecting by OAuth 2.0 with PKCE."""

from __future__ import annotations

import time
import uuid

import pytest

from plugins.x.network import XNetwork
from plugins.x.text import weighted_length
from publishers import (
    ChannelContext,
    CredentialsExpired,
    PermanentError,
    Post,
    PublicationRef,
    ThreadPart,
    TransientError,
)
from publishers.testing import FakeServer, NetworkConformance, Reply, deliver_with
from publishers.testing.delivery import tiny_png
from tests.plugins.x_server import USER, XContractServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def x_server(monkeypatch):
    with XContractServer() as server:
        monkeypatch.setenv("KAIROS_X_API_URL", server.base_url)
        monkeypatch.setenv("KAIROS_X_AUTHORIZE_URL", f"{server.base_url}/i/oauth2/authorize")
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "x")
        yield server


def channel_for(server: XContractServer, token: str | None = None) -> ChannelContext:
    secrets = server.user_token()
    if token is not None:
        secrets["access_token"] = token
    return ChannelContext(
        id="1",
        network="x",
        handle="@kairos_brand",
        settings={"user_id": USER["id"]},
        secrets=secrets,
    )


def unique(text: str = "Kickoff") -> Post:
    return Post(body=f"{text} {uuid.uuid4().hex[:8]}")


class TestXConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return XNetwork()

    @pytest.fixture
    def channel(self, x_server):
        return channel_for(x_server)

    @pytest.fixture
    def sample_post(self, network):
        return unique("Conformance check from Kairos")

    @pytest.fixture
    def failing_channels(self, x_server):
        return [(channel_for(x_server, token="revoked"), CredentialsExpired)]

    def count_posts(self, network, channel) -> int | None:
        return None

    def test_distinct_keys_make_distinct_posts(self, network, channel, sample_post) -> None:
        """X refuses the same text twice (duplicate content), keys or not: a distinct post
        needs a distinct text."""
        first = network.publish(sample_post, channel, "k1")
        second = network.publish(unique(), channel, "k2")
        assert first.external_id != second.external_id
        with pytest.raises(PermanentError, match="duplicate content"):
            network.publish(sample_post, channel, "k3")

    def test_find_existing(self, network, channel, sample_post) -> None:
        """X keeps no key: the post is found by its text since the first attempt."""
        assert network.find_existing("k", channel, post=sample_post) is None
        result = network.publish(sample_post, channel, "k")
        found = network.find_existing("k", channel, post=sample_post)
        assert found is not None and found.external_id == result.external_id


def test_weighted_counting() -> None:
    network = XNetwork()
    channel = ChannelContext(id="1", network="x")
    assert weighted_length("a" * 280) == 280
    assert weighted_length("日本語") == 6, "CJK characters weigh 2"
    assert weighted_length("😀") == 2
    long_url = "https://example.com/" + "x" * 200
    assert weighted_length(f"see {long_url}") == 4 + 23, "every URL weighs 23"
    assert network.validate(Post(body="a" * 250 + " " + long_url), channel) == [], "250+1+23"
    cjk = network.validate(Post(body="日" * 141), channel)
    assert [p.code for p in cjk] == ["text_too_long"] and "282" in cjk[0].message
    assert network.preview(Post(body="日本"), channel).length == 4


def test_a_post_with_a_picture_and_alt_text(x_server) -> None:
    network, channel = XNetwork(), channel_for(x_server)
    content = tiny_png(8, 6)
    from publishers import MediaRef

    media = MediaRef(
        url="https://example.com/p.png",
        mime_type="image/png",
        size=len(content),
        alt_text="A red rectangle",
        name="p.png",
    )
    x_server.calls.clear()
    outcome = deliver_with(
        network, unique().replace(media=(media,)), channel, "k", load_media=lambda m: content
    )
    assert outcome.published, outcome.reason
    post = x_server.x_posts[outcome.result.external_id]
    (media_id,) = post["media_ids"]
    assert x_server.x_media[media_id]["bytes"] == content
    assert x_server.x_media[media_id]["alt_text"] == "A red rectangle"
    assert x_server.x_media[media_id]["category"] == "tweet_image"
    assert outcome.result.url == f"https://x.com/kairos_brand/status/{outcome.result.external_id}"
    assert x_server.calls == [
        "POST /2/media/upload",
        "POST /2/media/metadata",
        "POST /2/tweets",
    ], "three calls for a post with one picture"


def test_a_thread_is_a_chain_of_replies(x_server) -> None:
    network, channel = XNetwork(), channel_for(x_server)
    post = unique("Part 1").replace(thread=(ThreadPart("Part 2 x"), ThreadPart("Part 3 x")))
    outcome = deliver_with(network, post, channel, "k")
    first, second, third = (x_server.x_posts[p.external_id] for p in outcome.parts)
    assert first["reply_to"] is None
    assert second["reply_to"] == first["id"] and third["reply_to"] == second["id"]
    ref = PublicationRef(
        publication_id="p",
        idempotency_key="k",
        network="x",
        external_id=first["id"],
        thread=tuple(outcome.parts[1:]),
    )
    network.delete(ref, channel)
    assert x_server.x_posts == {}
    network.delete(ref, channel)  # a recall is idempotent


def test_metrics_are_read_from_public_metrics(x_server) -> None:
    network, channel = XNetwork(), channel_for(x_server)
    result = network.publish(unique(), channel, "k")
    ref = PublicationRef(
        publication_id="p", idempotency_key="k", network="x", external_id=result.external_id
    )
    snapshot = network.fetch_metrics(ref, channel)
    assert (snapshot.impressions, snapshot.reactions, snapshot.shares, snapshot.replies) == (
        120,
        7,
        3,
        1,
    )


def test_errors_map_to_what_kairos_does_next(x_server) -> None:
    network, channel = XNetwork(), channel_for(x_server)
    with pytest.raises(CredentialsExpired):
        network.publish(unique(), channel_for(x_server, token="nope"), "k")
    x_server.revoke_all()
    with pytest.raises(CredentialsExpired, match="reconnect"):
        network.publish(unique(), channel, "k")
    channel = channel_for(x_server)
    x_server.fail_before_create = 503
    with pytest.raises(TransientError) as unavailable:
        network.publish(unique(), channel, "k")
    assert not unavailable.value.may_have_posted
    with pytest.raises(PermanentError) as gone:
        network.fetch_metrics(
            PublicationRef(publication_id="p", idempotency_key="k", network="x", external_id="1"),
            channel,
        )
    assert gone.value.code == "not_found"
    with pytest.raises(PermanentError) as refused:
        network.publish(unique().replace(body=""), channel, "k")
    assert refused.value.code == "empty_post"


def test_the_daily_cap_and_rate_limit_headers(x_server) -> None:
    network, channel = XNetwork(), channel_for(x_server)
    x_server.daily_cap = 1
    first = deliver_with(network, unique(), channel, "k1")
    assert first.published and first.rate_limit is not None
    assert (first.rate_limit.limit, first.rate_limit.remaining) == (100, 99)
    with pytest.raises(TransientError) as capped:
        network.publish(unique(), channel, "k2")
    assert capped.value.code == "daily_cap_reached"
    assert 86000 < capped.value.retry_after <= 86400
    assert network.retry_policy.max_retry_after >= 86400, "waited for, not given up"


def test_an_ambiguous_failure_is_reconciled_not_posted_twice(x_server) -> None:
    network, channel = XNetwork(), channel_for(x_server)
    post = unique("Goal")
    x_server.fail_after_create = 500
    first = deliver_with(network, post, channel, "k")
    assert not first.published
    assert isinstance(first.error, TransientError) and first.error.may_have_posted
    again = deliver_with(network, post, channel, "k", reconcile=True)
    assert again.published, again.reason
    assert len(x_server.x_posts) == 1, "found, not posted again"
    assert again.result.external_id in x_server.x_posts


def test_oauth_app_declares_pkce_refresh_and_basic_auth(x_server) -> None:
    app = XNetwork().oauth_app({})
    assert app.pkce and app.refreshable and app.token_auth_method == "client_secret_basic"
    assert "offline.access" in app.scopes and "media.write" in app.scopes
    assert app.token_url == f"{x_server.base_url}/2/oauth2/token"
    token = {**x_server.user_token(), "expires_at": time.time() + 7200}
    account = XNetwork().oauth_account({}, token)
    assert (account.handle, account.account_id, dict(account.settings)) == (
        "@kairos_brand",
        USER["id"],
        {"user_id": USER["id"]},
    )
    assert set(account.secrets) == {"access_token", "refresh_token"} and account.expires_at


def test_posts_reuse_one_connection(monkeypatch) -> None:
    """Two posts: one TCP connection, kept alive. The contract server runs on werkzeug's
    development server, which closes every connection, so a loopback server that keeps them
    answers as X does here."""
    answers = (Reply(201, json={"data": {"id": str(n), "text": "t"}}) for n in range(1, 9))
    with FakeServer(lambda request: next(answers)) as server:
        monkeypatch.setenv("KAIROS_X_API_URL", server.url)
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "x")
        network = XNetwork()
        channel = ChannelContext(id="1", network="x", secrets={"access_token": "t"})
        first = network.publish(unique(), channel, "k1")
        second = network.publish(unique(), channel, "k2")
        network.close()
    assert (first.external_id, second.external_id) == ("1", "2")
    assert [r.path for r in server.requests] == ["/2/tweets", "/2/tweets"]
    assert len({r.peer for r in server.requests}) == 1
