"""Replies and mentions read from the room's timeline.

A Matrix room is one conversation: there is no "replies to me" or "notifications" call a bot
can page by cursor, so Kairos reads the room's timeline forward (``GET /rooms/{id}/messages``,
``dir=f``) from the pagination token it kept, and keeps each ``m.room.message`` by another
member that:

* **replies** to one of our posts: its ``m.relates_to`` is a thread (``m.thread``) rooted at
  one of them, or a rich reply (``m.in_reply_to``) to one of them or to a reply found earlier
  in the same read; it answers the event its ``m.in_reply_to`` names (else the thread root);
* **mentions** the bot: ``m.mentions.user_ids`` names it (intentional mentions, what current
  clients send), or, from an older client, its user id appears in the text or in a pill link.

Edits (``m.replace``) are not new messages, and a redacted event has nothing to read. The text
is the ``body`` with the reply fallback (the quoted ``> <@user> ...`` lines older clients put
first) removed. Matrix gives no language, so the host guesses it.

Both streams read the same timeline: one read per round serves both (the network keeps it for
the other stream for a minute).

**Watches** use the client-server ``/search`` (``room_events``, ``order_by: recent``, over the
rooms the bot has joined), newest first, paged by ``next_batch``, down to the newest
``origin_server_ts`` the last round read; a term with more than five pages is continued by the
next call, never skipped. The homeserver's full-text search matches stems and prefixes, so a
message is kept only when its text holds the term as whole words, and never the bot's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from publishers import InboundMessage

__all__ = [
    "event_time",
    "is_mention",
    "message_from_event",
    "readable",
    "relation",
    "replies_in",
    "strip_reply_fallback",
]

_FALLBACK = re.compile(r"\A(?:> .*\n)+\n?", re.MULTILINE)


def strip_reply_fallback(body: str) -> str:
    """``body`` without the quoted lines a rich reply starts with in older clients."""
    return _FALLBACK.sub("", body, count=1) if body.startswith("> ") else body


def relation(event: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(rel_type, thread root or related event, in-reply-to event)`` of a message."""
    content = event.get("content")
    relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
    if not isinstance(relates, Mapping):
        return "", "", ""
    reply = relates.get("m.in_reply_to")
    parent = str(reply.get("event_id") or "") if isinstance(reply, Mapping) else ""
    return str(relates.get("rel_type") or ""), str(relates.get("event_id") or ""), parent


def event_time(event: Any) -> int | None:
    """An event's ``origin_server_ts`` (milliseconds), ``None`` when it has none."""
    stamp = event.get("origin_server_ts") if isinstance(event, Mapping) else None
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else None


def readable(event: Any, bot: str) -> bool:
    """A message a person wrote (not the bot, not an edit, not redacted)."""
    if not isinstance(event, Mapping) or event.get("type") != "m.room.message":
        return False
    if event.get("sender") == bot:
        return False
    content = event.get("content")
    if not isinstance(content, Mapping) or "body" not in content:
        return False  # redacted: nothing left to read
    return relation(event)[0] != "m.replace"


def replies_in(events: Iterable[Any], bot: str, ours: set[str]) -> list[Mapping[str, Any]]:
    """The messages among ``events`` (oldest first) that answer one of ``ours``, or a reply to
    one found earlier in ``events``."""
    known = set(ours)
    out = []
    for event in events:
        if not readable(event, bot):
            continue
        rel_type, related, parent = relation(event)
        root = related if rel_type == "m.thread" else ""
        if root in known or parent in known:
            out.append(event)
            if event.get("event_id"):
                known.add(str(event["event_id"]))
    return out


def is_mention(event: Any, bot: str) -> bool:
    """Whether a person's message mentions the bot (intentionally, or by id in the text)."""
    if not readable(event, bot):
        return False
    content = event["content"]
    mentions = content.get("m.mentions")
    if isinstance(mentions, Mapping) and "user_ids" in mentions:
        ids = mentions.get("user_ids")
        return isinstance(ids, list) and bot in ids
    body = str(content.get("body") or "")
    formatted = str(content.get("formatted_body") or "")
    return bot in strip_reply_fallback(body) or quote(bot, safe="@:") in formatted


def message_from_event(
    event: Mapping[str, Any], room_id: str, names: Mapping[str, str]
) -> InboundMessage:
    """One timeline event as a message; raises on a malformed one."""
    event_id = str(event["event_id"])
    content = event["content"]
    body = content["body"]
    if not isinstance(body, str):
        raise TypeError("the message's body is not text")
    rel_type, related, parent = relation(event)
    stamp = event["origin_server_ts"]
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        raise TypeError("origin_server_ts is not a number")
    sender = str(event["sender"])
    extra = {"room_id": room_id}
    if rel_type == "m.thread" and related:
        # A reply from Kairos goes in the same thread (Matrix threads have one level).
        extra |= {"root_id": related, "root_room_id": room_id}
    return InboundMessage(
        network_id=event_id,
        text=strip_reply_fallback(body),
        author_handle=sender,
        author_name=names.get(sender, ""),
        published_at=datetime.fromtimestamp(stamp / 1000, UTC),
        url=f"https://matrix.to/#/{quote(room_id, safe='')}/{quote(event_id, safe='')}",
        in_reply_to=parent or (related if rel_type == "m.thread" else ""),
        extra=extra,
    )
