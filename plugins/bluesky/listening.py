"""Replies and mentions read from the records on the channel's PDS.

Bluesky has no "replies to me" call on a PDS: the conversation lives in other people's
repositories, and only an AppView indexes them all. Without one, Kairos reads the posts of
every repository the PDS hosts (``com.atproto.sync.listRepos`` then
``com.atproto.repo.listRecords``, newest first) and keeps:

* a **reply** when its ``reply.parent`` or ``reply.root`` is one of our posts (so a reply to a
  reply below our post counts too); it answers its ``reply.parent``;
* a **mention** when a facet of the post mentions the channel's DID (what every Bluesky app
  writes for ``@handle``), or, from an app that writes no facets, the text names ``@handle``.

The channel's own posts (a thread's later parts reply to its first) are never messages.

**The cursor** is a TID (Bluesky's record key: a microsecond timestamp, base32-sortable): the
newest record key seen, less :data:`OVERLAP_US` so that a post written a little out of order is
read again rather than missed (the host stores each message once). Records whose keys sort
below the cursor are not read again; a cursor that is not a TID is stale (the host starts over).
Apps always write posts under TIDs; a post under another kind of key is read only on a full
scan (empty cursor).

This sees only the accounts on that PDS (a self-hosted community server, or a test server) and
costs ``1 + accounts`` calls per round at least; it is capped like the metrics count
(:data:`plugins.bluesky.metrics.MAX_REPOS`, :data:`MAX_PAGES` pages of 100 per repository).

**With an AppView** (accounts on Bluesky's servers, or a channel that names ``appview``) the
account's own notifications say it instead: ``app.bsky.notification.listNotifications`` asked
of the PDS, which forwards it to the AppView (``atproto-proxy``), keeping the notifications of
reason ``reply`` or ``mention``. They come newest first with no "since" parameter, so the cursor
is the ``indexedAt`` of the newest one read, and each round pages back until it reaches it
(less :data:`OVERLAP_US`), at most :data:`MAX_PAGES` pages.

**Watches** (:func:`search`, with an AppView only: a PDS has no search) ask
``app.bsky.feed.searchPosts`` (``sort=latest``, ``since`` the cursor less the overlap, 100 per
page), one query per term, newest first down to the cursor; a term with more than
:data:`MAX_PAGES` pages since the last round is continued by the next call rather than skipped
(:func:`publishers.listening.read_back`). The AppView matches stems and tokens its own way, so
a result is kept only when its text holds the term as whole words, and never the account's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from plugins.bluesky.metrics import POST, Query, _repos
from plugins.bluesky.records import TID, _tid, parse_at_uri, post_url
from publishers import (
    InboundMessage,
    MessagePage,
    PublicationRef,
    PublisherError,
    SearchPosition,
    StaleCursor,
    contains_term,
    messages_from,
    read_back,
)

__all__ = [
    "MAX_PAGES",
    "OVERLAP_US",
    "Scan",
    "from_notifications",
    "handle_reader",
    "mentions_did",
    "message_from_record",
    "next_cursor",
    "page_of",
    "replies_in",
    "scan",
    "search",
    "tid_time",
]

MAX_PAGES = 5
PAGE = 100
#: How far back (microseconds) each round reads again below the newest record seen.
OVERLAP_US = 10 * 60 * 1_000_000
MENTION = "app.bsky.richtext.facet#mention"
_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def tid_time(tid: str) -> int:
    """The microsecond timestamp of a TID; ``ValueError`` when ``tid`` is not one."""
    if not TID.match(tid or ""):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for char in tid:
        value = (value << 5) | _ALPHABET.index(char)
    return value >> 10


@dataclass(frozen=True, slots=True)
class Scan:
    """The posts of the other accounts on the PDS newer than the cursor."""

    records: tuple[tuple[str, dict[str, Any]], ...]  # (author DID, listRecords item)
    newest_us: int | None  # the newest TID timestamp seen, any author


def _records(query: Query, did: str, floor: str) -> Iterator[dict[str, Any]]:
    """The posts of ``did`` newest first, down to (not including) record key ``floor``."""
    cursor = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"repo": did, "collection": POST, "limit": PAGE}
        if cursor:
            params["cursor"] = cursor
        data = query("com.atproto.repo.listRecords", params)
        page = data.get("records") or []
        for item in page:
            rkey = str(item.get("uri") or "").rsplit("/", 1)[-1]
            if floor and TID.match(rkey) and rkey <= floor:
                return  # newest first: everything after this is older still
            yield item
        cursor = data.get("cursor")
        if not cursor or len(page) < PAGE:
            return


def scan(query: Query, own_did: str, cursor: str) -> Scan:
    """Read the PDS's posts newer than ``cursor`` (a TID, or ``""`` for all)."""
    if cursor:
        try:
            tid_time(cursor)
        except ValueError:
            raise StaleCursor("The Bluesky cursor is not a record key (TID).") from None
    found: list[tuple[str, dict[str, Any]]] = []
    newest: int | None = None
    for did in _repos(query):
        for item in _records(query, did, cursor):
            rkey = str(item.get("uri") or "").rsplit("/", 1)[-1]
            if TID.match(rkey):
                stamp = tid_time(rkey)
                newest = stamp if newest is None else max(newest, stamp)
            if did != own_did:
                found.append((did, item))
    return Scan(tuple(found), newest)


def next_cursor(cursor: str, result: Scan) -> str:
    """The cursor for the next round: the newest key seen less the overlap, never going back."""
    if result.newest_us is None:
        return cursor
    candidate = _tid(max(result.newest_us - OVERLAP_US, 0) << 10)
    return max(candidate, cursor) if cursor else candidate


def _strong(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict):
        return "", ""
    return str(value.get("uri") or ""), str(value.get("cid") or "")


def mentions_did(record: dict[str, Any], did: str, handle: str) -> bool:
    """Whether the post's facets mention ``did`` (or, without facets, its text ``@handle``)."""
    facets = record.get("facets")
    if isinstance(facets, list) and facets:
        for facet in facets:
            for feature in (facet or {}).get("features") or []:
                if (
                    isinstance(feature, dict)
                    and feature.get("$type") == MENTION
                    and feature.get("did") == did
                ):
                    return True
        return False
    text = str(record.get("text") or "")
    return bool(handle) and bool(
        re.search(rf"(?<![\w@])@{re.escape(handle)}(?![\w.-])", text, re.IGNORECASE)
    )


def _when(record: dict[str, Any], rkey: str) -> datetime:
    written = str(record.get("createdAt") or "")
    try:
        when = datetime.fromisoformat(written.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        # A record with no readable time: its key's time (apps write TIDs), else refuse it.
        return datetime.fromtimestamp(tid_time(rkey) / 1_000_000, UTC)


def message_from_record(
    did: str, item: dict[str, Any], handles: Callable[[str], tuple[str, str]]
) -> InboundMessage:
    """One post record as a message; raises on a malformed one (``messages_from`` counts it)."""
    record = item["value"]
    if not isinstance(record, dict):
        raise TypeError("the record is not an object")
    uri = str(item["uri"])
    repo, _, rkey = parse_at_uri(uri)
    parent_uri, _ = _strong((record.get("reply") or {}).get("parent"))
    root_uri, root_cid = _strong((record.get("reply") or {}).get("root"))
    langs = record.get("langs") or []
    handle, name = handles(did)
    extra = {"uri": uri, "cid": str(item.get("cid") or "")}
    if root_uri:
        extra |= {"root_id": root_uri, "root_uri": root_uri, "root_cid": root_cid}
    text = record.get("text")
    if not isinstance(text, str):
        raise TypeError("the post has no text")
    return InboundMessage(
        network_id=uri,
        text=text,
        author_handle=f"@{handle}" if handle else did,
        author_name=name,
        language=str(langs[0]) if isinstance(langs, list) and langs else "",
        published_at=_when(record, rkey),
        url=post_url(repo, rkey),
        in_reply_to=parent_uri,
        extra=extra,
    )


def _our_uris(posts: Sequence[PublicationRef]) -> set[str]:
    ours: set[str] = set()
    for ref in posts:
        for part in [ref.external_id, *(p.external_id for p in getattr(ref, "thread", ()))]:
            if part:
                ours.add(part)
    return ours


def _answers(record: Any, ours: set[str]) -> bool:
    """Whether a post record replies to (or below) one of the URIs ``ours``."""
    reply = record.get("reply") if isinstance(record, dict) else None
    if not isinstance(reply, dict):
        return False
    return _strong(reply.get("parent"))[0] in ours or _strong(reply.get("root"))[0] in ours


def replies_in(result: Scan, posts: Sequence[PublicationRef]) -> list[tuple[str, dict]]:
    """The scanned posts that reply to (or below) one of ``posts``."""
    ours = _our_uris(posts)
    return [
        (did, item)
        for did, item in result.records
        if isinstance(item, dict) and _answers(item.get("value"), ours)
    ]


def page_of(
    matched: Iterable[tuple[str, dict]],
    cursor: str,
    result: Scan,
    handles: Callable[[str], tuple[str, str]],
) -> MessagePage:
    """The matched records as a :class:`MessagePage` with the next cursor."""
    items = list(matched)
    messages, skipped = messages_from(
        items, lambda pair: message_from_record(pair[0], pair[1], handles)
    )
    return MessagePage(tuple(messages), next_cursor(cursor, result), skipped=skipped)


def handle_reader(query: Query) -> Callable[[str], tuple[str, str]]:
    """``did -> (handle, display name)`` as the author's repository shows them (read once per
    round; an unreadable profile leaves the name empty, never fails the round)."""
    known: dict[str, tuple[str, str]] = {}

    def read(did: str) -> tuple[str, str]:
        if did not in known:
            handle = name = ""
            try:
                data = query("com.atproto.repo.describeRepo", {"repo": did})
                handle = str(data.get("handle") or "")
            except PublisherError:  # the DID stands in for a handle we cannot read
                handle = ""
            try:
                profile = query(
                    "com.atproto.repo.getRecord",
                    {"repo": did, "collection": "app.bsky.actor.profile", "rkey": "self"},
                )
                name = str((profile.get("value") or {}).get("displayName") or "")
            except PublisherError:  # no profile record: no display name
                name = ""
            known[did] = (handle, name)
        return known[did]

    return read


def _instant(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _notification_message(item: dict[str, Any]) -> InboundMessage:
    author = item["author"]
    names = {str(author["did"]): (str(author.get("handle") or ""), author.get("displayName"))}
    did = str(author["did"])
    return message_from_record(
        did,
        {"uri": item["uri"], "cid": item.get("cid"), "value": item["record"]},
        lambda d: (names[d][0], str(names[d][1] or "")),
    )


def from_notifications(
    query: Query, reason: str, cursor: str, posts: Sequence[PublicationRef] | None = None
) -> MessagePage:
    """The notifications of ``reason`` (``reply``, ``mention``) newer than ``cursor`` (an
    ``indexedAt`` instant); for replies, only those below one of ``posts``."""
    floor = None
    if cursor:
        try:
            floor = _instant(cursor).timestamp() * 1_000_000 - OVERLAP_US
        except ValueError:
            raise StaleCursor("The Bluesky cursor is not a notification time.") from None
    items: list[dict[str, Any]] = []
    newest = cursor
    page_cursor = None
    done = False
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE, "reasons": [reason]}
        if page_cursor:
            params["cursor"] = page_cursor
        data = query("app.bsky.notification.listNotifications", params)
        page = data.get("notifications") or []
        for item in page:
            if not isinstance(item, dict):
                continue
            indexed = str(item.get("indexedAt") or "")
            try:
                stamp = _instant(indexed).timestamp() * 1_000_000
            except ValueError:
                items.append(item)  # unreadable time: let the builder count it
                continue
            if floor is not None and stamp <= floor:
                done = True
                break
            if not newest or _instant(indexed) > _instant(newest):
                newest = indexed
            if item.get("reason") == reason:
                items.append(item)
        page_cursor = data.get("cursor")
        if done or not page_cursor or len(page) < PAGE:
            break
    if reason == "reply" and posts is not None:
        wanted = replies_in(
            Scan(tuple(("", {"value": i.get("record")}) for i in items), None), posts
        )
        keep = {id(pair[1]["value"]) for pair in wanted}
        items = [i for i in items if id(i.get("record")) in keep]
    messages, skipped = messages_from(items, _notification_message)
    return MessagePage(tuple(messages), newest, skipped=skipped)


def _iso(stamp_us: float) -> str:
    return datetime.fromtimestamp(stamp_us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


def _indexed(item: Any) -> str | None:
    """A search result's ``indexedAt`` when it is a readable time, else ``None``."""
    value = str(item.get("indexedAt") or "") if isinstance(item, dict) else ""
    try:
        _instant(value)
    except ValueError:
        return None
    return value


def search(query: Query, terms: Sequence[str], cursor: str, own_did: str) -> MessagePage:
    """Posts holding any of ``terms`` indexed after ``cursor`` (see the module's "Watches")."""

    def stamp(value: str) -> float:
        return _instant(value).timestamp() * 1_000_000

    def pages(term: str, floor: str, ceiling: str) -> Iterator[Sequence[Any]]:
        page_cursor = None
        while True:
            params: dict[str, Any] = {"q": term, "sort": "latest", "limit": PAGE}
            if floor:
                params["since"] = _iso(stamp(floor) - OVERLAP_US)
            if ceiling:
                params["until"] = ceiling
            if page_cursor:
                params["cursor"] = page_cursor
            data = query("app.bsky.feed.searchPosts", params)
            posts = data.get("posts") if isinstance(data, dict) else None
            posts = posts if isinstance(posts, list) else []
            yield posts
            page_cursor = data.get("cursor") if isinstance(data, dict) else None
            if not page_cursor or len(posts) < PAGE:
                return

    position = SearchPosition.parse(cursor)
    for value in [position.floor, position.newest, *position.pending.values()]:
        if value and _indexed({"indexedAt": value}) is None:
            raise StaleCursor("The Bluesky search cursor is not a time.")
    found, next_cursor, more = read_back(
        terms,
        cursor,
        pages,
        _indexed,
        stamp,
        max_pages=MAX_PAGES,
        reached=lambda value, floor: stamp(value) <= stamp(floor) - OVERLAP_US,
    )
    kept = []
    for term, item in found:
        if not isinstance(item, dict) or not isinstance(item.get("record"), dict):
            kept.append(item)  # counted as skipped
            continue
        if str((item.get("author") or {}).get("did") or "") == own_did:
            continue
        if contains_term(str(item["record"].get("text") or ""), term):
            kept.append(item)
    messages, skipped = messages_from(kept, _notification_message)
    return MessagePage(tuple(messages), next_cursor, more=more, skipped=skipped)
