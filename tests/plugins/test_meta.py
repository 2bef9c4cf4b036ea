"""Facebook Pages and Instagram - CONTRACT tests against ``meta_server`` on 127.0.0.1 (the Graph
API's documented requests and answers, not Meta): the conformance kit, the Page picker, photos,
the Instagram container flow (polled without holding a worker, resumed after a crash, never
published twice), captions counted as Instagram counts them, and the Graph error codes."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from plugins.meta.facebook import FacebookPagesNetwork
from plugins.meta.instagram import InstagramNetwork, caption_problems
from publishers import (
    ChannelContext,
    CredentialsExpired,
    MediaRef,
    MemoryProgress,
    PermanentError,
    Post,
    PublicationRef,
    TransientError,
)
from publishers.testing import FakeServer, NetworkConformance, Reply, deliver_with
from tests.plugins.meta_server import IG_USER, OTHER_PAGE, PAGE, MetaContractServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def meta(monkeypatch):
    with MetaContractServer() as server:
        monkeypatch.setenv("KAIROS_META_GRAPH_URL", server.base_url)
        monkeypatch.setenv("KAIROS_META_AUTHORIZE_URL", f"{server.base_url}/dialog/oauth")
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "facebook,instagram")
        for network in ("FACEBOOK", "INSTAGRAM"):
            monkeypatch.setenv(f"KAIROS_OAUTH_{network}_CLIENT_ID", server.client.client_id)
            monkeypatch.setenv(f"KAIROS_OAUTH_{network}_CLIENT_SECRET", server.client.client_secret)
        yield server


def page_channel(server, token=None) -> ChannelContext:
    return ChannelContext(
        id="1",
        network="facebook",
        handle=PAGE["name"],
        settings={"page_id": PAGE["id"]},
        secrets={"access_token": token or server.page_token()},
    )


def ig_channel(server, token=None) -> ChannelContext:
    return ChannelContext(
        id="2",
        network="instagram",
        handle="@" + IG_USER["username"],
        settings={"ig_user_id": IG_USER["id"]},
        secrets={"access_token": token or server.page_token()},
    )


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def picture(n: int = 1) -> MediaRef:
    content = jpeg()
    return MediaRef(
        url=f"https://kairos.example/m/picture-{n}",
        mime_type="image/jpeg",
        size=len(content),
        alt_text=f"Picture {n}",
        name=f"p{n}.jpg",
    )


def unique(text: str = "New season") -> Post:
    return Post(body=f"{text} {uuid.uuid4().hex[:8]}")


class TestFacebookConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return FacebookPagesNetwork()

    @pytest.fixture
    def channel(self, meta):
        return page_channel(meta)

    @pytest.fixture
    def sample_post(self):
        return unique("Conformance check from Kairos")

    @pytest.fixture
    def failing_channels(self, meta):
        return [(page_channel(meta, token="not-a-valid-token-7"), CredentialsExpired)]

    @pytest.fixture
    def sample_media(self):
        content = jpeg()
        return picture(), content

    def test_find_existing(self, network, channel, sample_post) -> None:
        """Pages keep no key: the post is found by its message since the first attempt."""
        assert network.find_existing("k", channel, post=sample_post) is None
        result = network.publish(sample_post, channel, "k")
        found = network.find_existing("k", channel, post=sample_post)
        assert found is not None and found.external_id == result.external_id


def test_the_page_picker_offers_each_page_with_its_own_token(meta) -> None:
    token = {**meta.issue("maria"), "expires_at": None}
    accounts = FacebookPagesNetwork().oauth_accounts({}, token)
    assert [(a.account_id, a.kind) for a in accounts] == [
        (PAGE["id"], "Page"),
        (OTHER_PAGE["id"], "Page"),
    ]
    assert dict(accounts[1].secrets) == {"access_token": meta.page_token(OTHER_PAGE)}
    assert accounts[0].expires_at is None, "Page tokens from a long-lived login do not expire"
    assert meta.calls[:2] == ["GET /oauth/access_token", "GET /me/accounts"]
    assert meta.long_lived, "the short-lived login was exchanged first"


def test_a_page_post_with_two_photos(meta) -> None:
    network, channel = FacebookPagesNetwork(), page_channel(meta)
    content = jpeg()
    meta.calls.clear()
    outcome = deliver_with(
        network,
        unique().replace(media=(picture(1), picture(2))),
        channel,
        "k",
        load_media=lambda m: content,
    )
    assert outcome.published, outcome.reason
    post = meta.feed[outcome.result.external_id]
    assert len(post["attached"]) == 2
    assert all(meta.photos[p]["bytes"] == content for p in post["attached"])
    assert meta.photos[post["attached"][0]]["alt_text"] == "Picture 1"
    assert meta.calls == ["POST /101000000000001/photos"] * 2 + ["POST /101000000000001/feed"]
    ref = PublicationRef(
        publication_id="p", idempotency_key="k", network="facebook", external_id=post_id(outcome)
    )
    snapshot = network.fetch_metrics(ref, channel)
    assert (snapshot.impressions, snapshot.reactions, snapshot.shares, snapshot.replies) == (
        321,
        21,
        4,
        6,
    )
    network.delete(ref, channel)
    network.delete(ref, channel)  # gone already: a recall is idempotent
    assert meta.feed == {}


def post_id(outcome) -> str:
    return outcome.result.external_id


def test_graph_errors_map_to_what_kairos_does_next(meta) -> None:
    network = FacebookPagesNetwork()
    with pytest.raises(CredentialsExpired, match="reconnect"):
        network.publish(unique(), page_channel(meta, token="revoked"), "k")
    meta.rate_limit_next = True
    with pytest.raises(TransientError) as limited:
        network.publish(unique(), page_channel(meta), "k")
    assert limited.value.code == "rate_limited" and limited.value.retry_after == 7 * 60
    with pytest.raises(PermanentError) as unknown:
        network.fetch_metrics(
            PublicationRef(
                publication_id="p", idempotency_key="k", network="facebook", external_id="404"
            ),
            page_channel(meta),
        )
    assert unknown.value.code == "graph_100" and "does not exist" in unknown.value.reason


# -- Instagram -------------------------------------------------------------------------------


def test_captions_are_counted_as_instagram_counts_them() -> None:
    assert caption_problems("#a " * 30) == []
    assert [p.code for p in caption_problems("#a " * 31)] == ["too_many_hashtags"]
    assert [p.code for p in caption_problems("x" * 2201)] == ["text_too_long"]
    assert [p.code for p in caption_problems("@a " * 21)] == ["too_many_mentions"]
    network, channel = InstagramNetwork(), ChannelContext(id="1", network="instagram")
    assert [p.code for p in network.validate(Post(body="No picture"), channel)] == [
        "media_required"
    ]
    png = MediaRef(url="https://x.example/a.png", mime_type="image/png", size=10)
    assert "media_type_not_supported" in [
        p.code for p in network.validate(Post(body="PNG", media=(png,)), channel)
    ]


def test_the_container_is_polled_without_holding_a_worker_then_published_once(meta) -> None:
    network, channel = InstagramNetwork(), ig_channel(meta)
    post = unique("Drop day").replace(media=(picture(),))
    progress = MemoryProgress()
    meta.calls.clear()
    first = deliver_with(network, post, channel, "k", progress=progress)
    assert not first.published and first.code == "container_in_progress"
    assert first.retry_after == 15.0, "the worker is released and comes back"
    second = deliver_with(network, post, channel, "k", progress=progress)
    assert second.published, second.reason
    assert len(meta.containers) == 1, "the retry reused the container"
    (media,) = meta.ig_media.values()
    assert media["image_urls"] == ["https://kairos.example/m/picture-1"]
    assert media["caption"] == post.body
    assert second.result.url.startswith("https://www.instagram.com/p/")
    assert meta.calls == [
        "POST /17841400000000001/media",
        f"GET /{next(iter(meta.containers))}",
        f"GET /{next(iter(meta.containers))}",
        "POST /17841400000000001/media_publish",
        f"GET /{second.result.external_id}",
    ]


def test_a_crash_after_publishing_never_publishes_twice(meta) -> None:
    network, channel = InstagramNetwork(), ig_channel(meta)
    meta.processing_checks = 0
    post = unique("Flash sale").replace(media=(picture(),))
    progress = MemoryProgress()
    meta.fail_after_publish = 500  # published, but the answer is lost
    first = deliver_with(network, post, channel, "k", progress=progress)
    assert not first.published and first.reconcile_next
    again = deliver_with(network, post, channel, "k", progress=progress, reconcile=True)
    assert again.published and again.reconciled
    assert len(meta.ig_media) == 1


def test_a_retry_that_finds_its_container_published_looks_the_post_up(meta) -> None:
    """Even without reconciling, the recorded container says PUBLISHED: the post is looked
    up, never published again."""
    network, channel = InstagramNetwork(), ig_channel(meta)
    meta.processing_checks = 0
    post = unique("Restock").replace(media=(picture(),))
    progress = MemoryProgress()
    meta.fail_after_publish = 500
    assert not deliver_with(network, post, channel, "k", progress=progress).published
    again = deliver_with(network, post, channel, "k", progress=progress)
    assert again.published, again.reason
    assert len(meta.ig_media) == 1 and again.result.external_id in meta.ig_media


def test_a_carousel_and_its_insights(meta) -> None:
    network, channel = InstagramNetwork(), ig_channel(meta)
    meta.processing_checks = 0
    post = unique("Lookbook").replace(media=(picture(1), picture(2), picture(3)))
    outcome = deliver_with(network, post, channel, "k")
    assert outcome.published, outcome.reason
    (media,) = meta.ig_media.values()
    assert media["image_urls"] == [f"https://kairos.example/m/picture-{n}" for n in (1, 2, 3)]
    assert len(meta.containers) == 4, "three items and the carousel"
    ref = PublicationRef(
        publication_id="p",
        idempotency_key="k",
        network="instagram",
        external_id=outcome.result.external_id,
    )
    snapshot = network.fetch_metrics(ref, channel)
    assert (snapshot.impressions, snapshot.reactions, snapshot.shares, snapshot.replies) == (
        900,
        45,
        2,
        5,
    )


def test_the_instagram_picker_lists_only_pages_with_an_instagram_account(meta) -> None:
    accounts = InstagramNetwork().oauth_accounts({}, meta.issue("maria"))
    assert [(a.handle, dict(a.settings)) for a in accounts] == [
        ("@acme.shoes", {"ig_user_id": IG_USER["id"]})
    ]
    assert dict(accounts[0].secrets) == {"access_token": meta.page_token()}


def test_posts_reuse_one_connection(monkeypatch) -> None:
    """Two posts: one TCP connection, kept alive. The contract server runs on werkzeug's
    development server, which closes every connection, so a loopback server that keeps them
    answers as the Graph API does here."""
    answers = (Reply(200, json={"id": f"{PAGE['id']}_{n}"}) for n in range(1, 9))
    with FakeServer(lambda request: next(answers)) as server:
        monkeypatch.setenv("KAIROS_META_GRAPH_URL", server.url)
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "facebook")
        network = FacebookPagesNetwork()
        channel = ChannelContext(
            id="1",
            network="facebook",
            settings={"page_id": PAGE["id"]},
            secrets={"access_token": "t"},
        )
        first = network.publish(unique(), channel, "k1")
        second = network.publish(unique(), channel, "k2")
        network.close()
    assert (first.external_id, second.external_id) == (f"{PAGE['id']}_1", f"{PAGE['id']}_2")
    assert len(server.requests) == 2 and len({r.peer for r in server.requests}) == 1
