"""Matrix listening against a real Synapse on 127.0.0.1: a person answers and mentions the bot
through the client-server API, and Kairos reads the room's timeline back (nothing mocked)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from plugins.matrix import listening
from plugins.matrix.network import MatrixNetwork
from publishers import ClientPool, Post, PublicationRef
from publishers.listening import StaleCursor
from tests.plugins.test_matrix import Room, operator_allows_loopback, synapse

pytestmark = pytest.mark.e2e
__all__ = ["operator_allows_loopback", "synapse"]  # the fixtures apply here too


@pytest.fixture
def room(synapse) -> Room:
    return Room(synapse)


def say(room: Room, content: dict) -> str:
    """The person sends ``content`` to the room; returns the event id."""
    return room.person.call(
        "PUT",
        f"/rooms/{quote(room.id, safe='')}/send/m.room.message/{uuid.uuid4().hex}",
        json={"msgtype": "m.text", **content},
    )["event_id"]


def ref_of(result) -> PublicationRef:
    return PublicationRef("p", "k", "matrix", external_id=result.external_id, url=result.url)


def test_thread_replies_and_rich_replies_come_back_once_with_what_they_answer(room) -> None:
    network = MatrixNetwork()
    channel = room.channel()
    result = network.publish(Post(body="Which colour?"), channel, uuid.uuid4().hex)
    ours = result.external_id
    in_thread = say(
        room, {"body": "Blue", "m.relates_to": {"rel_type": "m.thread", "event_id": ours}}
    )
    rich = say(
        room,
        {
            "body": "> <@bot:localhost> Which colour?\n\nGreen, clearly",
            "m.relates_to": {"m.in_reply_to": {"event_id": ours}},
        },
    )
    below = say(
        room,
        {"body": "Agreed", "m.relates_to": {"m.in_reply_to": {"event_id": rich}}},
    )
    say(room, {"body": "Unrelated chatter"})
    edit = {"rel_type": "m.replace", "event_id": in_thread}
    say(room, {"body": "* Blue!", "m.new_content": {"body": "Blue!"}, "m.relates_to": edit})

    page = network.fetch_replies(channel, "", [ref_of(result)])
    by_id = {m.network_id: m for m in page.messages}
    assert set(by_id) == {in_thread, rich, below}
    assert by_id[in_thread].in_reply_to == ours and by_id[in_thread].extra["root_id"] == ours
    # What the person wrote, not the quote older clients put first.
    assert by_id[rich].text == "Green, clearly" and by_id[rich].in_reply_to == ours
    assert by_id[below].in_reply_to == rich
    assert by_id[in_thread].author_handle == room.person.user_id
    assert by_id[in_thread].url.startswith("https://matrix.to/#/")
    assert page.cursor

    # From the cursor: only what came after.
    later = say(room, {"body": "Red", "m.relates_to": {"rel_type": "m.thread", "event_id": ours}})
    again = network.fetch_replies(channel, page.cursor, [ref_of(result)])
    assert [m.network_id for m in again.messages] == [later]
    quiet = network.fetch_replies(channel, again.cursor, [ref_of(result)])
    assert quiet.messages == ()


def test_mentions_intentional_or_by_id_and_never_the_bot_s_own(room) -> None:
    network = MatrixNetwork()
    channel = room.channel()
    bot = room.bot.user_id
    intentional = say(room, {"body": "Kairos bot: hello", "m.mentions": {"user_ids": [bot]}})
    by_id = say(room, {"body": f"{bot} are you there?"})
    say(room, {"body": f"{bot} not really", "m.mentions": {"user_ids": []}})
    say(room, {"body": "nobody here"})
    network.publish(Post(body=f"I am {bot}"), channel, uuid.uuid4().hex)

    page = network.fetch_mentions(channel, "")
    assert {m.network_id for m in page.messages} == {intentional, by_id}
    assert all(m.language == "" for m in page.messages)  # Matrix has none: the host guesses


def test_a_token_the_homeserver_refuses_is_a_stale_cursor(room) -> None:
    network = MatrixNetwork()
    with pytest.raises(StaleCursor):
        network.fetch_mentions(room.channel(), "not-a-token")


def test_the_reply_fallback_is_removed_and_malformed_events_are_refused() -> None:
    assert listening.strip_reply_fallback("> <@a:x> hi\n> more\n\nanswer") == "answer"
    assert listening.strip_reply_fallback("plain > text") == "plain > text"
    event = {
        "type": "m.room.message",
        "event_id": "$e",
        "sender": "@a:x",
        "content": {"body": 42},
        "origin_server_ts": 1,
    }
    with pytest.raises(TypeError):
        listening.message_from_event(event, "!r:x", {})
    assert not listening.readable({**event, "content": {}}, "@bot:x")  # redacted


def test_replies_and_mentions_of_one_round_read_the_timeline_once(room) -> None:
    network = MatrixNetwork()
    reads: list[str] = []

    def count_timeline_reads(request) -> None:
        if "/messages" in request.url.path:
            reads.append(request.url.path)

    # The network's pool, with a hook on every client it makes: the reads it sends, counted.
    network._http = ClientPool(
        follow_redirects=False, trust_env=False, event_hooks={"request": [count_timeline_reads]}
    )
    channel = room.channel()
    result = network.publish(Post(body="Which colour?"), channel, uuid.uuid4().hex)
    bot = network._bot(channel)
    reply = say(
        room,
        {"body": "Blue", "m.relates_to": {"rel_type": "m.thread", "event_id": result.external_id}},
    )
    mention = say(room, {"body": f"{bot} hello", "m.mentions": {"user_ids": [bot]}})

    replies = network.fetch_replies(channel, "", [ref_of(result)])
    mentions = network.fetch_mentions(channel, "")
    assert [m.network_id for m in replies.messages] == [reply]
    assert [m.network_id for m in mentions.messages] == [mention]
    assert len(reads) == 1 and replies.cursor == mentions.cursor
    # The next round: again one read for both, from the shared cursor.
    network.fetch_replies(channel, replies.cursor, [ref_of(result)])
    network.fetch_mentions(channel, mentions.cursor)
    assert len(reads) == 2


def test_a_watch_searches_the_joined_rooms_whole_terms_only_and_never_the_bot(room) -> None:
    network = MatrixNetwork()
    channel = room.channel()
    word = f"zork{uuid.uuid4().hex[:6]}"
    hit = say(room, {"body": f"My {word.upper()} broke again"})
    say(room, {"body": f"{word}ology is not the brand"})  # only inside a word
    network.publish(Post(body=f"We are {word}"), channel, uuid.uuid4().hex)  # the bot's own

    page = network.search_posts(channel, (word,), "")
    assert [m.network_id for m in page.messages] == [hit]
    assert page.messages[0].author_handle == room.person.user_id
    assert page.cursor and not page.more

    later = say(room, {"body": f"{word} again"})
    again = network.search_posts(channel, (word,), page.cursor)
    assert later in [m.network_id for m in again.messages]
    assert set(m.network_id for m in again.messages) <= {hit, later}
    with pytest.raises(StaleCursor):
        network.search_posts(channel, (word,), "not-a-time")


def test_a_busy_term_is_searched_over_several_calls_without_skipping(room, monkeypatch) -> None:
    from plugins.matrix import network as matrix_network

    monkeypatch.setattr(matrix_network, "SEARCH_PAGE", 2)
    monkeypatch.setattr(matrix_network, "SEARCH_PAGES", 2)
    network = MatrixNetwork()
    channel = room.channel()
    word = f"busy{uuid.uuid4().hex[:6]}"
    say(room, {"body": f"{word} before"})
    cursor = network.search_posts(channel, (word,), "").cursor
    burst = [say(room, {"body": f"{word} {n}"}) for n in range(9)]
    seen, calls = [], 0
    for _ in range(20):
        page = network.search_posts(channel, (word,), cursor)
        calls += 1
        seen += [m.network_id for m in page.messages]
        cursor = page.cursor
        if not page.more:
            break
    assert set(burst) <= set(seen) and calls > 1
