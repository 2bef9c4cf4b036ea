"""Threads and media in the contract: parts go out in order and are remembered, media are
uploaded once, limits are checked per part before anything is sent."""

from __future__ import annotations

import pytest

from publishers import (
    Capabilities,
    ChannelContext,
    MediaRef,
    MemoryProgress,
    PermanentError,
    Post,
    PublishResult,
    Status,
    ThreadPart,
    TransientError,
    capability_problems,
    deliver,
    fetch_media,
)
from publishers.addresses import AddressRefused
from publishers.testing.servers import FakeServer, Reply
from tests.publishers.conftest import ScriptedNetwork

THREADS = Capabilities(
    max_text_length=50,
    supports_threads=True,
    supports_media=True,
    supports_idempotency_key=True,
    max_media=2,
    media_types=("image/*",),
    max_media_bytes=1000,
    max_thread_parts=4,
)

PNG = MediaRef(url="https://cdn.example/a.png", mime_type="image/png", size=10, alt_text="A")


class Uploading(ScriptedNetwork):
    """A scripted network that takes uploads and records them."""

    def __init__(self, *script, capabilities=THREADS) -> None:
        super().__init__(*script, capabilities=capabilities)
        self.uploads: list[tuple[str, bytes]] = []

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        self.uploads.append((media.key, content))
        return f"m-{len(self.uploads)}"


def thread_post(*parts: str, media: tuple[MediaRef, ...] = ()) -> Post:
    return Post(body=parts[0], media=media, thread=tuple(ThreadPart(p) for p in parts[1:]))


def plugins_with(make_plugins, network_plugin, network):
    return make_plugins(("net", network_plugin(network)))


# --- values --------------------------------------------------------------------------------------


def test_parts_are_the_post_then_each_later_part_without_the_cta_or_links() -> None:
    post = Post(
        body="one",
        links=("https://acme.example",),
        cta={"text": "Buy", "url": "https://acme.example/buy"},
        thread=("two", {"body": "three", "media": [PNG.to_dict()]}),
    )
    parts = post.parts()
    assert [p.body for p in parts] == ["one", "two", "three"]
    assert [(p.part_index, p.part_count) for p in parts] == [(0, 3), (1, 3), (2, 3)]
    assert parts[0].links and parts[0].cta and not parts[1].links and parts[1].cta is None
    assert parts[2].media == (PNG,) and all(p.thread == () for p in parts)


def test_media_accept_bare_urls_for_plugins_written_before_media_refs() -> None:
    post = Post(body="x", media=("https://cdn.example/a.jpg",))
    assert post.media == (MediaRef(url="https://cdn.example/a.jpg"),)
    assert Post.from_dict(post.to_dict()) == post
    with pytest.raises(ValueError, match="unknown MediaRef fields"):
        MediaRef.from_value({"url": "https://x.example", "colour": "red"})
    with pytest.raises(ValueError, match="size"):
        MediaRef(url="https://x.example", size=-1)


def test_a_post_with_reply_to_survives_its_json_form() -> None:
    root = PublishResult("1", extra={"cid": "abc"})
    post = Post(body="x", reply_to={"root": root, "parent": PublishResult("2")}, part_count=2)
    post = post.replace(part_index=1)
    again = Post.from_dict(post.to_dict())
    assert again.reply_to.root.extra == {"cid": "abc"} and again.reply_to.parent.external_id == "2"


# --- limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media", "code", "field"),
    [
        ((PNG, PNG, PNG), "too_many_media", "media"),
        ((PNG.replace(mime_type="video/mp4"),), "media_type_not_supported", "media.0"),
        ((PNG.replace(size=5000),), "media_too_large", "media.0"),
    ],
)
def test_media_limits_are_checked_before_sending(media, code, field) -> None:
    problems = capability_problems(Post(body="x", media=media), THREADS)
    assert [(p.code, p.field) for p in problems] == [(code, field)]


def test_unknown_size_and_type_pass_until_the_upload_tells() -> None:
    assert capability_problems(Post(body="x", media=("https://x.example/clip",)), THREADS) == []


def test_a_network_without_threads_or_media_says_so() -> None:
    plain = Capabilities()
    problems = capability_problems(thread_post("a", "b", media=(PNG,)), plain)
    assert {p.code for p in problems} == {"media_not_supported", "threads_not_supported"}


def test_a_thread_longer_than_the_network_allows_is_refused() -> None:
    problems = capability_problems(thread_post(*"abcde"), THREADS)
    assert [p.code for p in problems] == ["thread_too_long"]


def test_urls_count_as_the_network_counts_them() -> None:
    caps = Capabilities(max_text_length=30, characters_per_url=23)
    long_url = "https://example.com/" + "x" * 200
    assert capability_problems(Post(body=f"Look {long_url}"), caps) == []
    assert capability_problems(Post(body=f"Look at this {long_url}"), caps)[0].code == (
        "text_too_long"
    )


def test_each_later_part_is_validated_and_its_problems_name_the_part(
    make_plugins, network_plugin, channel
) -> None:
    network = Uploading()
    plugins = plugins_with(make_plugins, network_plugin, network)
    post = thread_post("fine", "x" * 60, "also fine")
    problems = plugins.validate(post, channel, network)
    assert [(p.code, p.field) for p in problems] == [("text_too_long", "thread.1.body")]
    assert problems[0].message.startswith("Part 2:")


# --- delivery ------------------------------------------------------------------------------------


def test_a_thread_goes_out_in_order_each_part_replying_to_the_one_before(
    make_plugins, network_plugin, channel
) -> None:
    network = Uploading()
    plugins = plugins_with(make_plugins, network_plugin, network)
    outcome = deliver(plugins, thread_post("one", "two", "three"), channel, "k", render=False)
    assert outcome.status is Status.PUBLISHED
    sent = [(post.body, key) for post, key in network.published]
    assert sent == [("one", "k"), ("two", "k.2"), ("three", "k.3")]
    first, second, third = (post for post, _ in network.published)
    assert first.reply_to is None
    assert second.reply_to.root.external_id == "ext-1" == second.reply_to.parent.external_id
    assert third.reply_to.root.external_id == "ext-1"
    assert third.reply_to.parent.external_id == "ext-2"
    assert outcome.result.external_id == "ext-1"
    assert [r.external_id for r in outcome.parts] == ["ext-1", "ext-2", "ext-3"]


def test_a_retry_after_part_two_of_four_continues_at_part_three(
    make_plugins, network_plugin, channel
) -> None:
    network = Uploading(
        PublishResult("p1"), PublishResult("p2"), TransientError("busy", code="http_503")
    )
    plugins = plugins_with(make_plugins, network_plugin, network)
    progress = MemoryProgress()
    post = thread_post("one", "two", "three", "four")
    first = deliver(plugins, post, channel, "k", render=False, progress=progress)
    assert first.status is Status.RETRY
    assert "Parts 1-2 of 4 of the thread are out" in first.reason
    assert sorted(progress.parts) == [0, 1]
    network.published.clear()
    second = deliver(plugins, post, channel, "k", render=False, progress=progress)
    assert second.status is Status.PUBLISHED
    assert [(p.body, key) for p, key in network.published] == [("three", "k.3"), ("four", "k.4")]
    assert network.published[0][0].reply_to.parent.external_id == "p2"
    assert [r.external_id for r in second.parts][:2] == ["p1", "p2"]


def test_a_part_refused_for_good_says_which_parts_are_out(
    make_plugins, network_plugin, channel
) -> None:
    network = Uploading(PublishResult("p1"), PermanentError("no", code="rejected"))
    plugins = plugins_with(make_plugins, network_plugin, network)
    outcome = deliver(plugins, thread_post("one", "two", "three"), channel, "k", render=False)
    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("Parts 1-1 of 3 of the thread are out")
    assert [r.external_id for r in outcome.parts] == ["p1"]


def test_reconciling_a_thread_asks_only_about_the_part_that_was_in_flight(
    make_plugins, network_plugin, channel
) -> None:
    caps = THREADS.replace(can_find_existing=True, supports_idempotency_key=False)
    network = Uploading(capabilities=caps)
    network.found["k.2"] = PublishResult("found-2")
    plugins = plugins_with(make_plugins, network_plugin, network)
    progress = MemoryProgress()
    progress.record_part(0, PublishResult("p1"))
    outcome = deliver(
        plugins,
        thread_post("one", "two", "three"),
        channel,
        "k",
        render=False,
        progress=progress,
        reconcile=True,
    )
    assert outcome.status is Status.PUBLISHED and outcome.reconciled
    assert [(p.body, key) for p, key in network.published] == [("three", "k.3")]
    assert [r.external_id for r in outcome.parts] == ["p1", "found-2", "ext-1"]


def test_a_thread_on_a_network_that_cannot_reconcile_stops_unconfirmed(
    make_plugins, network_plugin, channel
) -> None:
    network = Uploading(capabilities=THREADS.replace(supports_idempotency_key=False))
    plugins = plugins_with(make_plugins, network_plugin, network)
    progress = MemoryProgress()
    progress.record_part(0, PublishResult("p1"))
    outcome = deliver(
        plugins,
        thread_post("one", "two"),
        channel,
        "k",
        render=False,
        progress=progress,
        reconcile=True,
    )
    assert outcome.status is Status.UNCONFIRMED and outcome.code == "cannot_reconcile"
    assert "part 2 of the thread" in outcome.reason and network.published == []


def test_media_are_uploaded_once_and_publish_receives_their_ids(
    make_plugins, network_plugin, channel
) -> None:
    network = Uploading(TransientError("busy", code="http_503"))
    plugins = plugins_with(make_plugins, network_plugin, network)
    progress = MemoryProgress()
    post = Post(body="look", media=(PNG, PNG.replace(url="https://cdn.example/b.png")))
    loaded: list[str] = []

    def load(media: MediaRef) -> bytes:
        loaded.append(media.url)
        return media.url.encode()

    first = deliver(plugins, post, channel, "k", render=False, progress=progress, load_media=load)
    assert first.status is Status.RETRY
    second = deliver(plugins, post, channel, "k", render=False, progress=progress, load_media=load)
    assert second.status is Status.PUBLISHED
    assert network.uploads == [("0.0", PNG.url.encode()), ("0.1", b"https://cdn.example/b.png")]
    assert len(loaded) == 2, "the retry attaches what the first attempt uploaded"
    sent = network.published[-1][0]
    assert [(m.key, m.network_id) for m in sent.media] == [("0.0", "m-1"), ("0.1", "m-2")]


def test_an_upload_that_returns_no_id_is_a_plugin_error(
    make_plugins, network_plugin, channel
) -> None:
    class Broken(Uploading):
        def upload_media(self, media, content, channel):
            return ""

    network = Broken()
    plugins = plugins_with(make_plugins, network_plugin, network)
    post = Post(body="look", media=(PNG,))
    outcome = deliver(plugins, post, channel, "k", render=False, load_media=lambda m: b"x")
    assert outcome.status is Status.PLUGIN_ERROR and "upload_media" in outcome.detail


# --- fetching remote media -------------------------------------------------------------------------


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "scripted")


def test_a_remote_medium_is_fetched_with_its_size_capped(loopback_allowed) -> None:
    with FakeServer() as server:
        server.reply(Reply(200, body=b"x" * 500), Reply(200, body=b"x" * 5000), Reply(404))
        media = MediaRef(url=f"{server.url}/a.png")
        assert fetch_media(media, network="scripted", max_bytes=1000) == b"x" * 500
        with pytest.raises(PermanentError) as too_large:
            fetch_media(media, network="scripted", max_bytes=1000)
        assert too_large.value.code == "media_too_large"
        with pytest.raises(PermanentError) as missing:
            fetch_media(media, network="scripted")
        assert missing.value.code == "media_unavailable"


def test_media_from_one_host_share_one_kept_connection(loopback_allowed) -> None:
    """Four images from one server: one TCP connection (the process's pool keeps it)."""
    from publishers.http import ClientPool

    pool = ClientPool()
    with FakeServer(default=Reply(200, body=b"img")) as server:
        for n in range(4):
            media = MediaRef(url=f"{server.url}/{n}.png")
            assert fetch_media(media, network="scripted", client=pool) == b"img"
        pool.close()
    assert len(server.requests) == 4 and len({r.peer for r in server.requests}) == 1
    assert pool.opened == 1


def test_a_medium_over_the_cap_does_not_spoil_the_kept_connection(loopback_allowed) -> None:
    """A refused medium closes its unread connection; the next fetch opens a fresh one."""
    from publishers.http import ClientPool

    pool = ClientPool()
    with FakeServer() as server:
        server.reply(Reply(200, body=b"x" * 5000), Reply(200, body=b"ok"))
        with pytest.raises(PermanentError):
            fetch_media(
                MediaRef(url=f"{server.url}/big"), network="scripted", max_bytes=10, client=pool
            )
        assert (
            fetch_media(MediaRef(url=f"{server.url}/ok"), network="scripted", client=pool) == b"ok"
        )
        pool.close()


def test_a_remote_medium_on_a_private_address_is_refused_unless_the_operator_allows_it() -> None:
    with FakeServer() as server, pytest.raises(AddressRefused):
        fetch_media(MediaRef(url=f"{server.url}/a.png"), network="scripted")


# --- reconciling by content ----------------------------------------------------------------------


def test_find_existing_gets_the_post_and_the_first_attempt_when_it_asks_for_them(
    make_plugins, network_plugin, channel
) -> None:
    from datetime import UTC, datetime

    seen: list[tuple] = []

    class SearchesByText(Uploading):
        capabilities = THREADS.replace(can_find_existing=True, supports_idempotency_key=False)

        def find_existing(self, idempotency_key, channel, *, post=None, first_attempt_at=None):
            seen.append((idempotency_key, post.body, first_attempt_at))
            return PublishResult("found-by-text")

    first = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    plugins = plugins_with(make_plugins, network_plugin, SearchesByText(capabilities=None))
    outcome = deliver(
        plugins,
        Post(body="Goal!"),
        channel,
        "k",
        render=False,
        reconcile=True,
        first_attempt_at=first,
    )
    assert outcome.published and outcome.reconciled
    assert seen == [("k", "Goal!", first)]


def test_a_find_existing_that_asks_for_nothing_is_called_as_before(
    make_plugins, network_plugin, channel
) -> None:
    caps = THREADS.replace(can_find_existing=True)
    network = Uploading(capabilities=caps)
    network.found["k"] = PublishResult("by-key")
    plugins = plugins_with(make_plugins, network_plugin, network)
    outcome = deliver(plugins, Post(body="x"), channel, "k", render=False, reconcile=True)
    assert outcome.result.external_id == "by-key"
