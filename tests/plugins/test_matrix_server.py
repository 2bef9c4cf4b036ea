"""The client-server API calls a Matrix network plugin needs, against a real Synapse.

These tests pin down the server behaviour the plugin will rely on (idempotent sends,
relations, redaction, media, error shapes); they import nothing from Kairos.
"""

from __future__ import annotations

import itertools
import struct
import time
import uuid
import zlib
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.plugins.matrix_server import (  # noqa: F401  (synapse_fixture is a fixture)
    Synapse,
    synapse_fixture,
    synapse_python_or_skip,
)

pytestmark = pytest.mark.e2e

HTML = "org.matrix.custom.html"


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x80\x00"))
        + chunk(b"IEND", b"")
    )


class Client:
    """Just enough of a Matrix client: one access token, explicit txn ids."""

    _txn = itertools.count()

    def __init__(self, server: Synapse, account: dict[str, str]) -> None:
        self.user_id = account["user_id"]
        self.device_id = account["device_id"]
        self.http = httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {account['access_token']}"},
            timeout=30,
        )

    @staticmethod
    def new_txn() -> str:
        return f"kairos-{uuid.uuid4().hex[:8]}-{next(Client._txn)}"

    def send(
        self, room: str, content: dict[str, Any], *, event_type="m.room.message", txn=None
    ) -> httpx.Response:
        txn = txn or self.new_txn()
        return self.http.put(
            f"/_matrix/client/v3/rooms/{quote(room)}/send/{event_type}/{quote(txn)}",
            json=content,
        )

    def send_ok(self, room: str, content: dict[str, Any], **kw: Any) -> str:
        resp = self.send(room, content, **kw)
        assert resp.status_code == 200, resp.text
        return resp.json()["event_id"]

    def relations(self, room: str, event_id: str, *path: str, **params: Any) -> list:
        """All pages of /relations (Synapse's default page size is only 5)."""
        base = f"/_matrix/client/v1/rooms/{quote(room)}/relations/{quote(event_id)}"
        url = "/".join([base, *path])
        events: list = []
        token = None
        while True:
            query = dict(params, **({"from": token} if token else {}))
            resp = self.http.get(url, params=query)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            events += body["chunk"]
            token = body.get("next_batch")
            if not token:
                return events

    def event(self, room: str, event_id: str) -> dict:
        resp = self.http.get(f"/_matrix/client/v3/rooms/{quote(room)}/event/{quote(event_id)}")
        assert resp.status_code == 200, resp.text
        return resp.json()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def make_room(bot: Client, human: Client) -> str:
    resp = bot.http.post(
        "/_matrix/client/v3/createRoom",
        json={"name": "Kairos test", "preset": "private_chat", "invite": [human.user_id]},
    )
    assert resp.status_code == 200, resp.text
    room = resp.json()["room_id"]
    assert room.startswith("!")
    joined = human.http.post(f"/_matrix/client/v3/join/{quote(room)}", json={})
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"room_id": room}
    return room


def test_publish_engage_count_redact(synapse: Synapse) -> None:
    bot = Client(synapse, synapse.register(unique("bot"), "bot-password"))
    human = Client(synapse, synapse.register(unique("human"), "human-password"))
    assert bot.user_id.endswith(":localhost") and bot.device_id
    room = make_room(bot, human)

    # A formatted text post.
    root = bot.send_ok(
        room,
        {
            "msgtype": "m.text",
            "body": "Launch *today*",
            "format": HTML,
            "formatted_body": "Launch <em>today</em>",
        },
    )
    assert root.startswith("$")
    assert bot.event(room, root)["content"]["formatted_body"] == "Launch <em>today</em>"

    # Media: upload, then an m.image pointing at the mxc:// URI.
    png = tiny_png()
    up = bot.http.post(
        "/_matrix/media/v3/upload",
        params={"filename": "pixel.png"},
        content=png,
        headers={"Content-Type": "image/png"},
    )
    assert up.status_code == 200, up.text
    mxc = up.json()["content_uri"]
    assert mxc.startswith("mxc://localhost/")
    image = bot.send_ok(
        room,
        {
            "msgtype": "m.image",
            "body": "pixel.png",
            "url": mxc,
            "info": {"mimetype": "image/png", "size": len(png), "w": 1, "h": 1},
        },
    )
    assert bot.event(room, image)["content"]["url"] == mxc
    media_id = mxc.removeprefix("mxc://")
    # Media is "authenticated": the download needs a token and the v1 client path;
    # the legacy unauthenticated path answers 404 for newly uploaded media.
    dl = bot.http.get(f"/_matrix/client/v1/media/download/{media_id}")
    assert dl.status_code == 200 and dl.content == png
    assert dl.headers["content-type"] == "image/png"
    legacy = bot.http.get(f"/_matrix/media/v3/download/{media_id}")
    assert legacy.status_code == 404
    config = bot.http.get("/_matrix/client/v1/media/config")
    assert config.json() == {"m.upload.size": 10 * 1024 * 1024}

    # A threaded reply by the bot, then engagement by the human.
    thread_rel = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True}
    bot_reply = bot.send_ok(
        room,
        {
            "msgtype": "m.text",
            "body": "More in thread",
            "m.relates_to": {**thread_rel, "m.in_reply_to": {"event_id": root}},
        },
    )
    reaction = human.send_ok(
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}},
        event_type="m.reaction",
    )
    # The same key twice by the same user is refused.
    dup = human.send(
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}},
        event_type="m.reaction",
    )
    assert dup.status_code == 400
    assert dup.json()["errcode"] == "M_DUPLICATE_ANNOTATION"
    bot.send_ok(
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "🎉"}},
        event_type="m.reaction",
    )
    human_reply = human.send_ok(
        room,
        {
            "msgtype": "m.text",
            "body": "Congrats!",
            "m.relates_to": {**thread_rel, "m.in_reply_to": {"event_id": bot_reply}},
        },
    )
    # A plain (non-thread) reply is NOT a relation: /relations never lists it.
    human.send_ok(
        room,
        {
            "msgtype": "m.text",
            "body": "> Launch today\n\nnice",
            "m.relates_to": {"m.in_reply_to": {"event_id": root}},
        },
    )
    # A reaction on a thread reply only shows up with recurse=true.
    human.send_ok(
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": bot_reply, "key": "❤️"}},
        event_type="m.reaction",
    )

    # Counting. Filtered endpoints: /relations/{id}/{relType}[/{eventType}].
    reactions = human.relations(room, root, "m.annotation", "m.reaction")
    by_key: dict[str, int] = {}
    for event in reactions:
        key = event["content"]["m.relates_to"]["key"]
        by_key[key] = by_key.get(key, 0) + 1
    assert by_key == {"👍": 1, "🎉": 1}
    assert reaction in {e["event_id"] for e in reactions}

    replies = bot.relations(room, root, "m.thread")
    assert {e["event_id"] for e in replies} == {bot_reply, human_reply}
    everything = bot.relations(room, root)
    assert len(everything) == 4  # 2 reactions + 2 thread replies, not the plain reply
    assert len(bot.relations(room, root, recurse="true")) == 5
    # Page size defaults to 5: one item per page still adds up.
    assert len(bot.relations(room, root, limit=1)) == 4
    # The thread summary is bundled into the root event itself.
    summary = bot.event(room, root)["unsigned"]["m.relations"]["m.thread"]
    assert summary["count"] == 2
    assert summary["latest_event"]["event_id"] == human_reply
    assert "m.annotation" not in bot.event(room, root)["unsigned"]["m.relations"]

    # Redaction: itself a PUT with a txn id, hence idempotent too.
    redact_url = f"/_matrix/client/v3/rooms/{quote(room)}/redact/{quote(root)}/red-1"
    first = bot.http.put(redact_url, json={"reason": "withdrawn"})
    assert first.status_code == 200, first.text
    again = bot.http.put(redact_url, json={"reason": "withdrawn"})
    assert again.json()["event_id"] == first.json()["event_id"]
    redacted = bot.event(room, root)
    assert redacted["content"] == {}
    assert redacted["unsigned"]["redacted_by"] == first.json()["event_id"]
    assert redacted["unsigned"]["redacted_because"]["content"]["reason"] == "withdrawn"
    # Relations survive the redaction of their target.
    assert len(bot.relations(room, root)) == 4
    # A plain member may not redact someone else's event.
    forbidden = human.http.put(
        f"/_matrix/client/v3/rooms/{quote(room)}/redact/{quote(bot_reply)}/r", json={}
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["errcode"] == "M_FORBIDDEN"


def test_transaction_id_idempotency(synapse: Synapse) -> None:
    name = unique("poster")
    account = synapse.register(name, "poster-password")
    bot = Client(synapse, account)
    human = Client(synapse, synapse.register(unique("reader"), "reader-password"))
    room = make_room(bot, human)

    first = bot.send_ok(room, {"msgtype": "m.text", "body": "once"}, txn="pub-1")
    # Same token/device + same txn id: same event, even with different content.
    assert bot.send_ok(room, {"msgtype": "m.text", "body": "once"}, txn="pub-1") == first
    assert bot.send_ok(room, {"msgtype": "m.text", "body": "edit"}, txn="pub-1") == first
    assert bot.event(room, first)["content"]["body"] == "once"
    # The txn id is scoped to (room, user, device), NOT to the event type.
    assert bot.send_ok(room, {}, event_type="m.reaction", txn="pub-1") == first
    # The txn id is echoed to its sender only, in unsigned.transaction_id.
    assert bot.event(room, first)["unsigned"]["transaction_id"] == "pub-1"
    assert "transaction_id" not in human.event(room, first)["unsigned"]
    # Another user with the same txn id gets its own event.
    assert human.send_ok(room, {"msgtype": "m.text", "body": "x"}, txn="pub-1") != first

    # A fresh password login is a new device: the txn id is NOT recognised.
    fresh = Client(synapse, synapse.login(name, "poster-password"))
    assert fresh.device_id != bot.device_id
    duplicate = fresh.send_ok(room, {"msgtype": "m.text", "body": "once"}, txn="pub-1")
    assert duplicate != first
    # Logging in again WITH the original device_id restores idempotency, and the
    # older token of that device stays valid.
    same = Client(synapse, synapse.login(name, "poster-password", bot.device_id))
    assert same.device_id == bot.device_id
    assert same.send_ok(room, {"msgtype": "m.text", "body": "once"}, txn="pub-1") == first
    assert bot.http.get("/_matrix/client/v3/account/whoami").json() == {
        "user_id": bot.user_id,
        "is_guest": False,
        "device_id": bot.device_id,
    }


def test_login_and_token_errors(synapse: Synapse) -> None:
    name = unique("login")
    synapse.register(name, "right-password")

    resp = httpx.post(
        f"{synapse.base_url}/_matrix/client/v3/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": "right-password",
            "initial_device_display_name": "Kairos",
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["user_id"] == f"@{name}:localhost"
    assert body["access_token"] and body["device_id"]
    assert body["home_server"] == "localhost"

    bad = httpx.post(
        f"{synapse.base_url}/_matrix/client/v3/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": "wrong",
        },
    )
    assert bad.status_code == 403
    assert bad.json()["errcode"] == "M_FORBIDDEN"

    client = Client(synapse, body)
    assert client.http.get("/_matrix/client/v3/account/whoami").status_code == 200
    assert client.http.post("/_matrix/client/v3/logout", json={}).status_code == 200
    revoked = client.http.get("/_matrix/client/v3/account/whoami")
    assert revoked.status_code == 401
    assert revoked.json() == {
        "errcode": "M_UNKNOWN_TOKEN",
        "error": "Invalid access token passed.",
        "soft_logout": False,
    }
    garbage = httpx.get(
        f"{synapse.base_url}/_matrix/client/v3/account/whoami",
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert garbage.status_code == 401
    assert garbage.json()["errcode"] == "M_UNKNOWN_TOKEN"
    missing = httpx.get(f"{synapse.base_url}/_matrix/client/v3/account/whoami")
    assert missing.status_code == 401
    assert missing.json()["errcode"] == "M_MISSING_TOKEN"

    outsider = Client(synapse, synapse.register(unique("outsider"), "pw"))
    owner = Client(synapse, synapse.register(unique("owner"), "pw"))
    room = make_room(owner, Client(synapse, synapse.register(unique("guest"), "pw")))
    not_member = outsider.send(room, {"msgtype": "m.text", "body": "hi"})
    assert not_member.status_code == 403
    assert not_member.json()["errcode"] == "M_FORBIDDEN"


def test_rate_limit_upload_limit_and_restart() -> None:
    """A second, strict server: 429 and 413 shapes; txn ids survive a restart."""
    strict = {
        "rc_message": {"per_second": 1, "burst_count": 2},
        "max_upload_size": "1K",
    }
    with Synapse(synapse_python_or_skip(), config_overrides=strict) as server:
        bot = Client(server, server.register("bot", "bot-password"))
        human = Client(server, server.register("human", "human-password"))
        room = make_room(bot, human)

        limited = None
        sent: list[str] = []
        for _ in range(10):
            txn = Client.new_txn()
            resp = bot.send(room, {"msgtype": "m.text", "body": "burst"}, txn=txn)
            if resp.status_code == 429:
                limited = (txn, resp)
                break
            assert resp.status_code == 200, resp.text
            sent.append(resp.json()["event_id"])
        assert limited is not None, "rc_message burst_count=2 never answered 429"
        txn, resp = limited
        body = resp.json()
        assert body["errcode"] == "M_LIMIT_EXCEEDED"
        assert body["error"] == "Too Many Requests"
        assert 0 < body["retry_after_ms"] <= 2000
        assert int(resp.headers["Retry-After"]) >= 1
        # A 429 is not cached against the txn id: retrying it later succeeds.
        time.sleep(body["retry_after_ms"] / 1000 + 0.2)
        retried = bot.send(room, {"msgtype": "m.text", "body": "burst"}, txn=txn)
        assert retried.status_code == 200, retried.text

        too_big = bot.http.post(
            "/_matrix/media/v3/upload",
            params={"filename": "big.bin"},
            content=b"x" * 2048,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert too_big.status_code == 413
        assert too_big.json()["errcode"] == "M_TOO_LARGE"

        # Synapse also remembers (room, user, device, txn) -> event in its
        # database for 24 h, so idempotency survives a homeserver restart.
        time.sleep(1.2)
        before = bot.send_ok(room, {"msgtype": "m.text", "body": "x"}, txn="durable")
        server.restart()
        after = bot.send_ok(room, {"msgtype": "m.text", "body": "x"}, txn="durable")
        assert after == before
