"""The Mastodon network - CONTRACT tests against mastodon-mock on 127.0.0.1.

No real Mastodon server installs from the registries this project can reach, so these tests run
the plugin over real HTTP against `mastodon-mock` (tests/plugins/mastodon_server.py), a stateful
mock of Mastodon's REST API: they prove the plugin speaks the API as documented, not that a
particular Mastodon release accepts it. Where the mock differs from Mastodon (it counts URLs by
their length, sends no rate-limit headers unless told to), the test says so and checks the
plugin's side alone.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from plugins.mastodon.network import MastodonNetwork, mastodon_length
from publishers import (
    AddressRefused,
    CallToAction,
    ChannelContext,
    CredentialsExpired,
    MediaRef,
    PermanentError,
    Post,
    PublicationRef,
    ThreadPart,
    TransientError,
)
from publishers.listening import StaleCursor
from publishers.testing import CountingProxy, NetworkConformance, deliver_with
from tests.plugins.mastodon_server import (  # noqa: F401  (mastodon_fixture is a fixture)
    mastodon_fixture,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    """The mock listens on 127.0.0.1, which only the operator may allow."""
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "mastodon")


def channel_for(mastodon, token=None, **settings) -> ChannelContext:
    return ChannelContext(
        id=f"md-{uuid.uuid4().hex[:6]}",
        network="mastodon",
        handle="@testuser",
        settings={"instance": mastodon.base_url, **settings},
        secrets={"access_token": token or mastodon.token},
    )


def status_of(mastodon, status_id: str, token: str | None = None) -> dict:
    response = httpx.get(
        f"{mastodon.base_url}/api/v1/statuses/{status_id}", headers=mastodon.headers(token)
    )
    response.raise_for_status()
    return response.json()


class TestMastodonConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return MastodonNetwork()

    @pytest.fixture
    def channel(self, mastodon):
        return channel_for(mastodon)

    @pytest.fixture
    def failing_channels(self, mastodon):
        return [(channel_for(mastodon, token="not-a-token"), CredentialsExpired)]


def test_a_status_carries_the_channel_s_options_the_cta_and_links(mastodon) -> None:
    network = MastodonNetwork()
    channel = channel_for(
        mastodon, visibility="unlisted", spoiler_text="Match spoilers", language="fr"
    )
    post = Post(
        body=f"Mi-temps ! {uuid.uuid4().hex[:6]}",
        links=("https://example.com/live",),
        cta=CallToAction("Regardez", "https://example.com/watch"),
    )
    result = network.publish(post, channel, uuid.uuid4().hex)
    status = status_of(mastodon, result.external_id)
    assert (status["visibility"], status["language"]) == ("unlisted", "fr")
    assert status["spoiler_text"] == "Match spoilers" and status["sensitive"] is True
    assert "Regardez" in status["content"] and "https://example.com/live" in status["content"]
    assert result.url == status["url"]


def test_the_idempotency_key_makes_a_retry_return_the_first_status(mastodon) -> None:
    network = MastodonNetwork()
    channel = channel_for(mastodon)
    key = uuid.uuid4().hex
    first = network.publish(Post(body=f"Goal {key[:6]}"), channel, key)
    # The first answer was lost (a time-out after Mastodon posted): the retry sends the same key.
    again = MastodonNetwork().publish(Post(body=f"Goal {key[:6]}"), channel, key)
    assert again.external_id == first.external_id


def test_the_instance_s_limits_are_read_and_used(mastodon) -> None:
    network = MastodonNetwork()
    channel = channel_for(mastodon)
    limits = network.limits(channel)
    assert (limits["max_characters"], limits["characters_reserved_per_url"]) == (500, 23)
    too_long = Post(body="x" * 501)
    assert [p.code for p in network.validate(too_long, channel)] == ["text_too_long"]
    with pytest.raises(PermanentError, match="this instance allows 500"):
        network.publish(too_long, channel, uuid.uuid4().hex)


def test_length_is_counted_the_way_mastodon_counts_it() -> None:
    url = "https://example.com/" + "a" * 200
    assert mastodon_length(f"Read {url} now") == len("Read  now") + 23
    assert mastodon_length("hi @fan@mastodon.example.org!") == len("hi @fan!")
    # 470 characters and a 220-character link: 494 for Mastodon, so valid. (The mock counts
    # the raw length and would refuse it: the plugin's count is checked here, not there.)
    network = MastodonNetwork()
    channel = ChannelContext(id="c", network="mastodon", settings={"instance": "https://m.example"})
    assert network.validate(Post(body="y" * 470 + " " + url), channel) == []


def test_favourites_boosts_and_replies_come_back_as_metrics(mastodon) -> None:
    network = MastodonNetwork()
    channel = channel_for(mastodon)
    result = network.publish(Post(body=f"Vote {uuid.uuid4().hex[:6]}"), channel, uuid.uuid4().hex)
    fan = httpx.Client(base_url=mastodon.base_url, headers=mastodon.headers(mastodon.fan_token))
    fan.post(f"/api/v1/statuses/{result.external_id}/favourite").raise_for_status()
    fan.post(f"/api/v1/statuses/{result.external_id}/reblog").raise_for_status()
    fan.post(
        "/api/v1/statuses", data={"status": "Blue!", "in_reply_to_id": result.external_id}
    ).raise_for_status()
    ref = PublicationRef("p", "k", "mastodon", external_id=result.external_id, url=result.url)
    snapshot = network.fetch_metrics(ref, channel)
    assert (snapshot.reactions, snapshot.shares, snapshot.replies) == (1, 1, 1)
    assert snapshot.clicks is None


def test_delete_removes_the_status_and_a_second_recall_is_harmless(mastodon) -> None:
    network = MastodonNetwork()
    channel = channel_for(mastodon)
    result = network.publish(Post(body=f"Oops {uuid.uuid4().hex[:6]}"), channel, uuid.uuid4().hex)
    ref = PublicationRef("p", "k", "mastodon", external_id=result.external_id, url=result.url)
    network.delete(ref, channel)
    network.delete(ref, channel)
    gone = httpx.get(f"{mastodon.base_url}/api/v1/statuses/{result.external_id}")
    assert gone.status_code == 404


def test_mastodon_s_refusal_is_permanent_with_its_message(mastodon) -> None:
    network = MastodonNetwork()
    with pytest.raises(PermanentError, match="Text can't be blank") as caught:
        # Only spaces: Kairos' own validation would stop it; sent anyway to see Mastodon's 422.
        network.publish(Post(body="   "), channel_for(mastodon), uuid.uuid4().hex)
    assert caught.value.code == "rejected"


def test_a_rate_limit_is_transient_with_the_server_s_wait(mastodon) -> None:
    mastodon.add_fault(
        {
            "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
            "effect": {"type": "ratelimit"},
            "count": 1,
        }
    )
    try:
        with pytest.raises(TransientError) as caught:
            MastodonNetwork().publish(Post(body="flood"), channel_for(mastodon), uuid.uuid4().hex)
    finally:
        mastodon.clear_faults()
    assert caught.value.code == "rate_limited"
    assert 200 < caught.value.retry_after <= 300  # from X-RateLimit-Reset


def test_a_refused_token_expires_the_channel(mastodon) -> None:
    with pytest.raises(CredentialsExpired, match="reconnect"):
        MastodonNetwork().publish(Post(body="x"), channel_for(mastodon, token="revoked"), "k")


def test_connection_test_checks_the_token(mastodon) -> None:
    network = MastodonNetwork()
    assert network.test_connection(channel_for(mastodon)) == []
    problems = network.test_connection(channel_for(mastodon, token="revoked"))
    assert [(p.code, p.field) for p in problems] == [
        ("credentials_refused", "secrets.access_token")
    ]
    bad = network.test_connection(channel_for(mastodon, visibility="everyone"))
    assert [p.field for p in bad] == ["settings.visibility"]


def test_the_instance_address_is_checked_like_a_webhook_s(mastodon, monkeypatch) -> None:
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(AddressRefused):
        MastodonNetwork().publish(Post(body="x"), channel_for(mastodon), "k")


# --- media and threads ---------------------------------------------------------------------------


def deliver_through_pipeline(post: Post, channel: ChannelContext, **options):
    """Deliver as the host does (uploads, thread parts, progress) with only this network."""
    return deliver_with(MastodonNetwork(), post, channel, uuid.uuid4().hex, **options)


def test_a_picture_is_uploaded_described_and_attached(mastodon) -> None:
    from tests.factories import png_bytes

    png = png_bytes(8, 6)
    picture = MediaRef(
        url="https://cdn.example/pitch.png",
        mime_type="image/png",
        size=len(png),
        alt_text="The pitch at kick-off",
        name="pitch.png",
    )
    outcome = deliver_through_pipeline(
        Post(body=f"Kick-off {uuid.uuid4().hex[:6]}", media=(picture,)),
        channel_for(mastodon),
        load_media=lambda media: png,
    )
    assert outcome.published, outcome.reason
    status = status_of(mastodon, outcome.result.external_id)
    [attachment] = status["media_attachments"]
    assert attachment["type"] == "image"
    assert attachment["description"] == "The pitch at kick-off"
    assert httpx.get(attachment["url"]).content == png


def test_a_thread_is_a_chain_of_replies_and_delete_removes_every_part(mastodon) -> None:
    channel = channel_for(mastodon)
    tag = uuid.uuid4().hex[:6]
    post = Post(
        body=f"1/3 Match day {tag}",
        thread=(ThreadPart(f"2/3 Half-time {tag}"), ThreadPart(f"3/3 Full time {tag}")),
    )
    outcome = deliver_through_pipeline(post, channel)
    assert outcome.published, outcome.reason
    first, second, third = (status_of(mastodon, r.external_id) for r in outcome.parts)
    assert first["in_reply_to_id"] is None
    assert second["in_reply_to_id"] == first["id"] and third["in_reply_to_id"] == second["id"]
    MastodonNetwork().delete(
        PublicationRef(
            "p", "k", "mastodon", external_id=first["id"], thread=tuple(outcome.parts[1:])
        ),
        channel,
    )
    for status in (first, second, third):
        gone = httpx.get(
            f"{mastodon.base_url}/api/v1/statuses/{status['id']}", headers=mastodon.headers()
        )
        assert gone.status_code == 404


def test_the_instance_s_limits_become_the_channel_s_capabilities(mastodon) -> None:
    network = MastodonNetwork()
    facts = network.discover(channel_for(mastodon))
    assert facts["max_characters"] == 500 and facts["max_media_attachments"] >= 1
    generous = ChannelContext(
        id="c",
        network="mastodon",
        settings={"instance": mastodon.base_url},
        facts={**facts, "max_characters": 5000, "max_media_attachments": 2},
    )
    caps = network.capabilities_for(generous)
    assert (caps.max_text_length, caps.max_media, caps.characters_per_url) == (5000, 2, 23)
    assert network.validate(Post(body="x" * 4000), generous) == []
    three = Post(body="x", media=("https://cdn.example/a.png",) * 3)
    assert [p.code for p in network.validate(three, generous)] == ["too_many_media"]


def test_replies_and_mentions_come_back_as_messages(mastodon) -> None:
    network = MastodonNetwork()
    channel = channel_for(mastodon)
    result = network.publish(Post(body=f"Poll {uuid.uuid4().hex[:6]}"), channel, uuid.uuid4().hex)
    ref = PublicationRef("p", "k", "mastodon", external_id=result.external_id, url=result.url)
    before = network.fetch_mentions(channel, "")
    fan = httpx.Client(base_url=mastodon.base_url, headers=mastodon.headers(mastodon.fan_token))
    fan.post(
        "/api/v1/statuses",
        data={"status": "@testuser Blue & <green>?", "in_reply_to_id": result.external_id},
    ).raise_for_status()
    fan.post("/api/v1/statuses", data={"status": "Hey @testuser, love it!"}).raise_for_status()
    replies = network.fetch_replies(channel, "", [ref])
    assert [m.in_reply_to for m in replies.messages] == [result.external_id]
    reply = replies.messages[0]
    # What the person typed, not Mastodon's HTML of it.
    assert (reply.author_handle, reply.text) == ("@fan", "@testuser Blue & <green>?")
    mentions = network.fetch_mentions(channel, before.cursor)
    texts = [m.text for m in mentions.messages]
    assert any("love it" in t for t in texts) and any("Blue" in t for t in texts)
    again = network.fetch_mentions(channel, mentions.cursor)
    assert again.messages == ()


def test_a_watch_reads_hashtags_and_search_after_its_cursor_whole_words_only(mastodon) -> None:
    """CONTRACT TEST (mastodon-mock's search matches inside words and ignores ``min_id``; the
    plugin keeps whole words and what is newer than its cursor either way)."""
    network = MastodonNetwork()
    channel = channel_for(mastodon)
    word = f"zork{uuid.uuid4().hex[:6]}"
    tag = f"tag{uuid.uuid4().hex[:6]}"
    fan = httpx.Client(base_url=mastodon.base_url, headers=mastodon.headers(mastodon.fan_token))

    def say(text: str) -> str:
        response = fan.post("/api/v1/statuses", data={"status": text})
        response.raise_for_status()
        return response.json()["id"]

    hit = say(f"My {word.upper()} broke again")
    say(f"{word}ology is not the brand")  # only inside a word
    tagged = say(f"Launch day #{tag}")
    network.publish(Post(body=f"We are {word} #{tag}"), channel, uuid.uuid4().hex)  # our own

    page = network.search_posts(channel, (word, f"#{tag}"), "")
    assert sorted(m.network_id for m in page.messages) == sorted([hit, tagged])
    assert all(m.author_handle == "@fan" for m in page.messages)
    assert page.cursor

    later = say(f"{word} again")
    again = network.search_posts(channel, (word, f"#{tag}"), page.cursor)
    assert [m.network_id for m in again.messages] == [later]
    with pytest.raises(StaleCursor):
        network.search_posts(channel, (word,), "not-an-id")


def test_a_busy_term_is_paged_without_another_term_jumping_over_it(mastodon) -> None:
    network = MastodonNetwork()
    network.PAGE = 2  # two statuses per call, so the tag below needs two calls
    channel = channel_for(mastodon)
    tag, word = f"busy{uuid.uuid4().hex[:6]}", f"calm{uuid.uuid4().hex[:6]}"
    fan = httpx.Client(base_url=mastodon.base_url, headers=mastodon.headers(mastodon.fan_token))
    fan.post("/api/v1/statuses", data={"status": f"#{tag} before"}).raise_for_status()
    start = network.search_posts(channel, (f"#{tag}", word), "").cursor
    assert start  # a new watch starts at the newest status; only later ones are read
    tagged = [
        fan.post("/api/v1/statuses", data={"status": f"#{tag} {n}"}).json()["id"] for n in range(3)
    ]
    fan.post("/api/v1/statuses", data={"status": f"{word} later"}).raise_for_status()
    seen, cursor = [], start
    for _ in range(5):
        page = network.search_posts(channel, (f"#{tag}", word), cursor)
        seen += [m.network_id for m in page.messages]
        cursor = page.cursor
        if not page.more:
            break
    assert set(tagged) <= set(seen)


def test_posts_reuse_one_connection(mastodon) -> None:
    """Reading the instance's limits and two posts: one TCP connection, kept alive."""
    network = MastodonNetwork()
    with CountingProxy(mastodon.base_url) as proxy:
        channel = channel_for(mastodon, instance=proxy.url)
        for n in range(2):
            network.publish(
                Post(body=f"Kept {n} {uuid.uuid4().hex[:6]}"), channel, uuid.uuid4().hex
            )
        assert proxy.connections == 1
        network.close()  # the next post needs a new connection
        network.publish(Post(body=f"Again {uuid.uuid4().hex[:6]}"), channel, uuid.uuid4().hex)
        assert proxy.connections == 2
    network.close()
