"""Bluesky listening against a real PDS on 127.0.0.1: replies and mentions are records other
accounts write through the XRPC API, read back the way Kairos reads them (nothing mocked)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from plugins.bluesky import listening
from plugins.bluesky.network import BlueskyNetwork
from publishers import ChannelContext, Post, PublicationRef
from publishers.listening import StaleCursor
from publishers.testing import Reply
from publishers.values import ReplyTarget
from tests.plugins.bluesky_server import bluesky_pds_fixture
from tests.plugins.test_bluesky import Account, operator_allows_loopback, ref

pytestmark = pytest.mark.e2e
bluesky_pds = bluesky_pds_fixture
__all__ = ["operator_allows_loopback"]  # the fixture applies here too


def mention(account: Account, text: str) -> list[dict]:
    """The facet a Bluesky app writes for ``@handle`` at the start of ``text``."""
    end = len(f"@{account.handle}".encode())
    return [
        {
            "index": {"byteStart": 0, "byteEnd": end},
            "features": [{"$type": listening.MENTION, "did": account.did}],
        }
    ]


def test_replies_below_our_post_come_back_once_with_what_they_answer(bluesky_pds) -> None:
    account = Account(bluesky_pds)
    network = BlueskyNetwork()
    channel = account.channel(link_cards=False)
    result = network.publish(Post(body="Which colour?"), channel, uuid.uuid4().hex)
    subject = dict(result.extra)
    fan, other = Account(bluesky_pds, "fan"), Account(bluesky_pds, "fan")
    first = fan.write(
        "app.bsky.feed.post",
        {"text": "Blue, obviously", "langs": ["en"], "reply": {"root": subject, "parent": subject}},
    )
    below = {"uri": first["uri"], "cid": first["cid"]}
    other.write(
        "app.bsky.feed.post", {"text": "Non, vert", "reply": {"root": subject, "parent": below}}
    )
    other.write("app.bsky.feed.post", {"text": "Unrelated musing"})
    # The channel's own thread part replies to its post too, but is no message.
    network.publish(
        Post(body="Part two", reply_to=ReplyTarget(root=result, parent=result)),
        channel,
        uuid.uuid4().hex,
    )

    page = network.fetch_replies(channel, "", [ref(result)])
    by_text = {m.text: m for m in page.messages}
    assert set(by_text) == {"Blue, obviously", "Non, vert"}
    blue = by_text["Blue, obviously"]
    assert blue.in_reply_to == result.external_id
    assert blue.author_handle == f"@{fan.handle}" and blue.language == "en"
    assert blue.url.startswith("https://bsky.app/profile/" + fan.did)
    # What Kairos needs to answer it: the message itself and its thread's root, as strong refs.
    assert blue.extra["cid"] and blue.extra["root_uri"] == result.external_id
    assert by_text["Non, vert"].in_reply_to == first["uri"]

    # Handing the cursor back reads only the overlap again; the host keeps each message once.
    again = network.fetch_replies(channel, page.cursor, [ref(result)])
    assert {m.network_id for m in again.messages} <= {m.network_id for m in page.messages}
    assert again.cursor >= page.cursor


def test_mentions_by_facet_or_by_text_and_never_our_own(bluesky_pds) -> None:
    account = Account(bluesky_pds)
    network = BlueskyNetwork()
    channel = account.channel(link_cards=False)
    fan = Account(bluesky_pds, "fan")
    text = f"@{account.handle} is the best shop"
    fan.write("app.bsky.feed.post", {"text": text, "facets": mention(account, text)})
    fan.write("app.bsky.feed.post", {"text": f"asking @{account.handle.upper()} without facets?"})
    fan.write("app.bsky.feed.post", {"text": f"not a mention: x@{account.handle}z.test"})
    account.write("app.bsky.feed.post", {"text": f"@{account.handle} talking to myself"})

    page = network.fetch_mentions(channel, "")
    assert sorted(m.text for m in page.messages) == sorted(
        [text, f"asking @{account.handle.upper()} without facets?"]
    )
    assert all(m.author_handle == f"@{fan.handle}" for m in page.messages)
    assert all(m.in_reply_to == "" for m in page.messages)


def test_a_cursor_that_is_no_record_key_is_stale_and_a_malformed_post_is_counted(
    bluesky_pds,
) -> None:
    account = Account(bluesky_pds)
    network = BlueskyNetwork()
    channel = account.channel(link_cards=False)
    with pytest.raises(StaleCursor):
        network.fetch_mentions(channel, "page-7")
    fan = Account(bluesky_pds, "fan")
    text = f"@{account.handle} hello"
    fan.write("app.bsky.feed.post", {"text": text, "facets": mention(account, text)})
    # A record the PDS stores unvalidated, with a mention but no text: skipped and counted.
    bluesky_pds.xrpc(
        "POST",
        "com.atproto.repo.createRecord",
        token=fan.token,
        json={
            "repo": fan.did,
            "collection": "app.bsky.feed.post",
            "validate": False,
            "record": {"$type": "app.bsky.feed.post", "text": 42, "facets": mention(account, text)},
        },
    )
    page = network.fetch_mentions(channel, "")
    assert [m.text for m in page.messages] == [text]
    assert page.skipped == 1


def _jwt(exp: float) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'exp': exp})}.sig"


def _notification(uri: str, reason: str, when: str, record: dict) -> dict:
    return {
        "uri": uri,
        "cid": "bafy-" + uri[-4:],
        "author": {"did": "did:plc:fan", "handle": "fan.bsky.social", "displayName": "Fan"},
        "reason": reason,
        "record": {"$type": "app.bsky.feed.post", "createdAt": when, **record},
        "indexedAt": when,
    }


def test_with_an_appview_the_notifications_are_read_through_the_pds(fake_server) -> None:
    """CONTRACT TEST: the PDS here is a scripted server answering as a PDS that forwards
    ``listNotifications`` to Bluesky's AppView would (an AppView cannot run on loopback)."""
    ours = "at://did:plc:brand/app.bsky.feed.post/3kours"
    parent = {"uri": ours, "cid": "bafy-ours"}
    session = {
        "did": "did:plc:brand",
        "handle": "brand.bsky.social",
        "accessJwt": _jwt(time.time() + 3600),
        "refreshJwt": _jwt(time.time() + 86400),
    }
    reply = _notification(
        "at://did:plc:fan/app.bsky.feed.post/3kr1",
        "reply",
        "2026-11-30T09:00:00.000Z",
        {"text": "Blue!", "langs": ["en"], "reply": {"root": parent, "parent": parent}},
    )
    elsewhere = _notification(
        "at://did:plc:fan/app.bsky.feed.post/3kr2",
        "reply",
        "2026-11-30T08:00:00.000Z",
        {
            "text": "old post",
            "reply": {"root": {"uri": "at://x/y/z"}, "parent": {"uri": "at://x/y/z"}},
        },
    )
    fake_server.reply(
        Reply(200, json=session),
        Reply(200, json={"notifications": [reply, elsewhere], "cursor": None}),
        Reply(200, json={"notifications": [reply]}),
    )
    network = BlueskyNetwork()
    channel = ChannelContext(
        id="c",
        network="bluesky",
        settings={
            "service": fake_server.url,
            "handle": "brand.bsky.social",
            "appview": "https://public.api.bsky.app",
        },
        secrets={"app_password": "aaaa-bbbb-cccc-dddd"},
    )
    page = network.fetch_replies(channel, "", [PublicationRef("p", "k", "bluesky", ours)])
    (message,) = page.messages
    assert (message.text, message.in_reply_to) == ("Blue!", ours)
    assert (message.author_handle, message.author_name) == ("@fan.bsky.social", "Fan")
    assert message.extra["root_cid"] == "bafy-ours" and message.language == "en"
    assert page.cursor == "2026-11-30T09:00:00.000Z"
    listed = fake_server.requests[1]
    assert listed.path == "/xrpc/app.bsky.notification.listNotifications"
    assert listed.query["reasons"] == ["reply"]
    assert listed.headers["atproto-proxy"] == "did:web:api.bsky.app#bsky_appview"
    # The next round reads back to the cursor (with the overlap) and keeps the message once.
    again = network.fetch_replies(channel, page.cursor, [PublicationRef("p", "k", "bluesky", ours)])
    assert [m.network_id for m in again.messages] == [message.network_id]
    with pytest.raises(StaleCursor):
        network.fetch_mentions(channel, "yesterday")


def test_tids_order_by_time_and_the_cursor_never_goes_back() -> None:
    older = listening._tid(1_700_000_000_000_000 << 10)
    newer = listening._tid(1_800_000_000_000_000 << 10)
    assert older < newer
    assert listening.tid_time(newer) == 1_800_000_000_000_000
    found = listening.Scan((), 1_700_000_000_000_000)
    assert listening.next_cursor(newer, found) == newer
    assert listening.next_cursor("", found) < older
    assert listening.next_cursor(newer, listening.Scan((), None)) == newer
