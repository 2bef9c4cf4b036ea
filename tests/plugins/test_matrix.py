"""The Matrix network against a real Synapse homeserver on 127.0.0.1 (tests/plugins/matrix_server.py).

Nothing is mocked: every message, reaction, redaction and error below went through Synapse's
client-server API, and the assertions read the room back as another member sees it.
"""

from __future__ import annotations

import itertools
import uuid
from urllib.parse import quote

import httpx
import pytest

from plugins.matrix.network import MatrixNetwork
from publishers import (
    AddressRefused,
    ChannelContext,
    CredentialsExpired,
    MediaRef,
    PermanentError,
    Post,
    PublicationRef,
    ThreadPart,
    TransientError,
)
from publishers.testing import CountingProxy, NetworkConformance, deliver_with
from tests.plugins.matrix_server import Synapse, synapse_python_or_skip

pytestmark = pytest.mark.e2e
_names = itertools.count()


@pytest.fixture(autouse=True)
def operator_allows_loopback(monkeypatch):
    """The homeserver is on 127.0.0.1, which only the operator may allow."""
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "matrix")


class Member:
    """A person in the room, reading it back with their own token."""

    def __init__(self, server: Synapse, account: dict[str, str]) -> None:
        self.user_id = account["user_id"]
        self.token = account["access_token"]
        self.http = httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, "/_matrix/client/v3" + path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def event(self, room: str, event_id: str) -> dict:
        return self.call("GET", f"/rooms/{quote(room, safe='')}/event/{quote(event_id, safe='')}")

    def messages(self, room: str) -> list[dict]:
        data = self.call(
            "GET", f"/rooms/{quote(room, safe='')}/messages", params={"dir": "b", "limit": 100}
        )
        return [e for e in data["chunk"] if e["type"] == "m.room.message"]

    def react(self, room: str, event_id: str, key: str) -> None:
        self.call(
            "PUT",
            f"/rooms/{quote(room, safe='')}/send/m.reaction/{uuid.uuid4().hex}",
            json={"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
        )

    def reply_in_thread(self, room: str, event_id: str, text: str) -> None:
        self.call(
            "PUT",
            f"/rooms/{quote(room, safe='')}/send/m.room.message/{uuid.uuid4().hex}",
            json={
                "msgtype": "m.text",
                "body": text,
                "m.relates_to": {"rel_type": "m.thread", "event_id": event_id},
            },
        )


class Room:
    """A room with a bot (the channel's account) and a person; a fresh one per test."""

    def __init__(self, server: Synapse) -> None:
        n = next(_names)
        self.server = server
        self.bot_password = f"bot-pw-{n}"
        self.bot_name = f"kairosbot{n}-{uuid.uuid4().hex[:6]}"
        bot = server.register(self.bot_name, self.bot_password)
        self.bot = Member(server, bot)
        self.person = Member(server, server.register(f"fan{n}-{uuid.uuid4().hex[:6]}", "pw-fan"))
        self.alias_name = f"news{n}{uuid.uuid4().hex[:6]}"
        self.id = self.person.call(
            "POST",
            "/createRoom",
            json={"preset": "public_chat", "room_alias_name": self.alias_name},
        )["room_id"]
        self.alias = f"#{self.alias_name}:{server.server_name}"
        self.bot.call("POST", f"/join/{quote(self.id, safe='')}", json={})

    def channel(self, *, by_password: bool = False, **settings) -> ChannelContext:
        secrets = (
            {"user": self.bot_name, "password": self.bot_password}
            if by_password
            else {"access_token": self.bot.token}
        )
        return ChannelContext(
            id=f"mx{next(_names)}",
            network="matrix",
            handle=self.bot.user_id,
            settings={"homeserver": self.server.base_url, "room": self.id, **settings},
            secrets=secrets,
        )


@pytest.fixture(scope="module")
def synapse():
    with Synapse(synapse_python_or_skip()) as server:
        yield server


@pytest.fixture
def room(synapse) -> Room:
    return Room(synapse)


class TestMatrixConformance(NetworkConformance):
    @pytest.fixture
    def network(self):
        return MatrixNetwork()

    @pytest.fixture
    def channel(self, room):
        return room.channel()

    @pytest.fixture
    def failing_channels(self, room, synapse):
        elsewhere = Room(synapse)  # the bot of `room` is not in this one
        return [
            (room.channel(room=elsewhere.id), PermanentError),
            (
                ChannelContext(
                    id="revoked",
                    network="matrix",
                    settings={"homeserver": synapse.base_url, "room": room.id},
                    secrets={"access_token": "syt_not_a_token"},
                ),
                CredentialsExpired,
            ),
        ]


def test_a_post_arrives_as_markdown_rendered_once_and_hostile_html_stays_text(room) -> None:
    network = MatrixNetwork()
    post = Post(
        body="**Kick-off** in 5 minutes! <script>alert(1)</script>",
        links=("https://example.com/live",),
    )
    result = network.publish(post, room.channel(), "key-markdown")
    event = room.person.event(room.id, result.external_id)
    content = event["content"]
    assert content["body"].startswith("**Kick-off** in 5 minutes!")
    assert content["body"].endswith("https://example.com/live")
    assert "<strong>Kick-off</strong>" in content["formatted_body"]
    assert "<script>" not in content["formatted_body"]
    assert "&lt;script&gt;" in content["formatted_body"]
    assert (
        result.url
        == f"https://matrix.to/#/{quote(room.id, safe='')}/{quote(result.external_id, safe='')}"
    )


def test_a_retry_with_the_same_key_posts_once_even_after_a_new_password_login(room) -> None:
    network = MatrixNetwork()
    channel = room.channel(by_password=True)
    first = network.publish(Post(body="Goal!"), channel, "key-goal")
    # A new worker process logs in again: the same device keeps the transaction id meaningful.
    again = MatrixNetwork().publish(Post(body="Goal!"), channel, "key-goal")
    assert again.external_id == first.external_id
    assert [m["content"]["body"] for m in room.person.messages(room.id)].count("Goal!") == 1


def test_a_revoked_token_is_replaced_by_a_new_login_when_a_password_is_known(room) -> None:
    network = MatrixNetwork()
    channel = room.channel(by_password=True)
    network.publish(Post(body="one"), channel, "key-one")
    token = network._tokens[network._token_key(channel)]
    httpx.post(
        f"{room.server.base_url}/_matrix/client/v3/logout",
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    network.publish(Post(body="two"), channel, "key-two")
    assert network._tokens[network._token_key(channel)] != token


def test_a_wrong_password_expires_the_channel(room) -> None:
    channel = room.channel(by_password=True)
    channel = ChannelContext(
        id=channel.id,
        network="matrix",
        settings=channel.settings,
        secrets={"user": room.bot_name, "password": "wrong"},
    )
    with pytest.raises(CredentialsExpired, match="user name or password"):
        MatrixNetwork().publish(Post(body="x"), channel, "key-x")


def test_reactions_and_thread_replies_come_back_as_metrics(room) -> None:
    network = MatrixNetwork()
    channel = room.channel()
    result = network.publish(Post(body="Which jersey?"), channel, "key-jersey")
    room.person.react(room.id, result.external_id, "🔥")
    room.bot.react(room.id, result.external_id, "👍")
    room.person.reply_in_thread(room.id, result.external_id, "The blue one")
    ref = PublicationRef(
        "p1", "key-jersey", "matrix", external_id=result.external_id, url=result.url
    )
    snapshot = network.fetch_metrics(ref, channel)
    assert (snapshot.reactions, snapshot.replies) == (2, 1)
    assert snapshot.clicks is None  # Matrix cannot tell: tracked links count clicks


def test_delete_redacts_the_message(room) -> None:
    network = MatrixNetwork()
    channel = room.channel()
    result = network.publish(Post(body="Oops"), channel, "key-oops")
    ref = PublicationRef("p2", "key-oops", "matrix", external_id=result.external_id, url=result.url)
    network.delete(ref, channel)
    network.delete(ref, channel)  # a second recall is harmless
    event = room.person.event(room.id, result.external_id)
    assert event["content"] == {} and event["unsigned"]["redacted_because"]


def test_an_alias_is_resolved_to_the_room(room) -> None:
    network = MatrixNetwork()
    result = network.publish(Post(body="Via the alias"), room.channel(room=room.alias), "key-alias")
    assert room.person.event(room.id, result.external_id)["content"]["body"] == "Via the alias"


def test_connection_test_says_what_is_wrong(room, synapse) -> None:
    network = MatrixNetwork()
    assert network.test_connection(room.channel()) == []
    outside = Room(synapse)
    problems = network.test_connection(room.channel(room=outside.id))
    assert [p.field for p in problems] == ["settings.room"]
    revoked = ChannelContext(
        id="r",
        network="matrix",
        settings={"homeserver": synapse.base_url, "room": room.id},
        secrets={"access_token": "syt_nope"},
    )
    assert [p.code for p in network.test_connection(revoked)] == ["credentials_refused"]


def test_rate_limits_are_transient_with_the_server_s_wait() -> None:
    strict = {"rc_message": {"per_second": 0.2, "burst_count": 2}}
    with Synapse(synapse_python_or_skip(), config_overrides=strict) as server:
        room = Room(server)
        network = MatrixNetwork()
        channel = room.channel()
        with pytest.raises(TransientError) as caught:
            for index in range(10):
                network.publish(Post(body=f"flood {index}"), channel, f"key-flood-{index}")
    assert caught.value.code == "rate_limited"
    assert 0 < caught.value.retry_after <= 10


def test_the_homeserver_address_is_checked_like_a_webhook_s(room, monkeypatch) -> None:
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(AddressRefused):
        MatrixNetwork().publish(Post(body="x"), room.channel(), "key-private")


def test_validation_names_the_setting_to_fix() -> None:
    channel = ChannelContext(
        id="v", network="matrix", settings={"homeserver": "ftp://x", "room": "news"}
    )
    problems = MatrixNetwork().validate(Post(body="hi"), channel)
    assert {p.field for p in problems} == {
        "settings.homeserver",
        "settings.room",
        "secrets.access_token",
    }


@pytest.mark.django_db
def test_kairos_delivers_a_scheduled_item_to_the_room_and_reads_its_metrics_back(
    room, actor, brand
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from calendar_app.delivery.dispatcher import dispatch_due
    from calendar_app.metrics import collect_recent
    from calendar_app.models import MetricSnapshot, PublicationStatus
    from tests import factories as f
    from tests.delivery.conftest import scheduled_item

    channel = f.ChannelFactory(
        brand=brand,
        workspace=brand.workspace,
        network="matrix",
        handle=room.bot.user_id,
        settings={"homeserver": room.server.base_url, "room": room.alias},
        secrets={"user": room.bot_name, "password": room.bot_password},
    )
    item = scheduled_item(brand, actor, channels=[channel], body="Half-time: _what a match_")
    dispatch_due()  # sync django-q2: the worker runs inline
    publication = item.publications.get()
    assert publication.status == PublicationStatus.PUBLISHED, publication.last_error_reason
    event = room.person.event(room.id, publication.external_id)
    assert event["sender"] == room.bot.user_id
    assert "<em>what a match</em>" in event["content"]["formatted_body"]
    room.person.react(room.id, publication.external_id, "⚽")
    assert collect_recent(now=timezone.now() + timedelta(minutes=1)) == 1
    snapshot = MetricSnapshot.objects.get(publication=publication)
    assert (snapshot.reactions, snapshot.replies, snapshot.impressions) == (1, 0, None)


# --- media and threads ---------------------------------------------------------------------------


def deliver_through_pipeline(post: Post, channel: ChannelContext, **options):
    """Deliver as the host does (uploads, thread parts, progress) with only this network."""
    return deliver_with(MatrixNetwork(), post, channel, uuid.uuid4().hex, **options)


def test_a_picture_goes_through_the_content_repository_with_its_alt_text(room) -> None:
    from tests.factories import png_bytes

    png = png_bytes(12, 9)
    picture = MediaRef(
        url="https://cdn.example/crowd.png",
        mime_type="image/png",
        size=len(png),
        alt_text="The crowd at half-time",
        name="crowd.png",
    )
    channel = room.channel()
    outcome = deliver_through_pipeline(
        Post(body="Half-time!", media=(picture,)), channel, load_media=lambda media: png
    )
    assert outcome.published, outcome.reason
    [image_event] = outcome.result.extra["media_events"].split(",")
    content = room.person.event(room.id, image_event)["content"]
    assert content["msgtype"] == "m.image" and content["body"] == "The crowd at half-time"
    assert content["info"] == {"mimetype": "image/png", "size": len(png)}
    server_name, media_id = content["url"].removeprefix("mxc://").split("/", 1)
    download = room.person.http.get(f"/_matrix/client/v1/media/download/{server_name}/{media_id}")
    assert download.status_code == 200 and download.content == png


def test_a_thread_lives_in_the_room_s_thread_and_only_replies_count_as_replies(room) -> None:
    channel = room.channel()
    post = Post(body="1/3 Line-ups", thread=(ThreadPart("2/3 Kick-off"), ThreadPart("3/3 Goal!")))
    outcome = deliver_through_pipeline(post, channel)
    assert outcome.published, outcome.reason
    root, second, third = outcome.parts
    for part, parent in ((second, root), (third, second)):
        relation = room.person.event(room.id, part.external_id)["content"]["m.relates_to"]
        assert relation["rel_type"] == "m.thread" and relation["event_id"] == root.external_id
        assert relation["m.in_reply_to"] == {"event_id": parent.external_id}
    room.person.reply_in_thread(room.id, root.external_id, "What a goal")
    ref = PublicationRef(
        "p", "k", "matrix", external_id=root.external_id, url=root.url, thread=(second, third)
    )
    network = MatrixNetwork()
    assert network.fetch_metrics(ref, channel).replies == 1
    network.delete(ref, channel)
    for part in outcome.parts:
        assert room.person.event(room.id, part.external_id)["content"] == {}


def test_posts_reuse_one_connection(room, synapse) -> None:
    """Resolving the room, joining it and two posts: one TCP connection, kept alive."""
    network = MatrixNetwork()
    with CountingProxy(synapse.base_url) as proxy:
        channel = room.channel(homeserver=proxy.url)
        for n in range(2):
            network.publish(Post(body=f"Kept {n}"), channel, uuid.uuid4().hex)
        assert proxy.connections == 1
    network.close()
    assert [m["content"]["body"] for m in room.person.messages(room.id)][:2] == [
        "Kept 1",
        "Kept 0",
    ]
