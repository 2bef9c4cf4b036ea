"""Listening: the words people send back, as plain values a network hands to the host.

A network that can read the conversation declares which streams it reads in
``Capabilities.listening`` and implements the matching optional methods of
:class:`~publishers.Network`:

* ``"replies"`` - :meth:`~publishers.Network.fetch_replies`: replies and comments to our posts;
* ``"mentions"`` - :meth:`~publishers.Network.fetch_mentions`: posts that mention the channel's
  account;
* ``"search"`` - :meth:`~publishers.Network.search_posts`: public posts matching a watch's terms,
  where the network offers a search.

Each returns a :class:`MessagePage`: the messages newer than the cursor it was given, and the
cursor to give next time. The cursor is opaque to the host (a network's own pagination token, a
timestamp, an id); the host keeps it per channel and stream and stores each message once by
``(channel, network_id)``, so a network may safely return a message twice (the host drops the
repeat) but must never skip one. A cursor the network no longer accepts raises
:class:`StaleCursor`: the host starts the stream again from the empty cursor, losing nothing and
doubling nothing. A rate limit is a :class:`~publishers.TransientError` with ``retry_after``;
the host waits at least that long before it asks that channel again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from publishers.errors import PermanentError
from publishers.values import _LISTENING_STREAMS, _aware_utc, _parse_datetime, _set

__all__ = [
    "LISTENING_STREAMS",
    "MAX_MESSAGE_TEXT",
    "InboundMessage",
    "MessagePage",
    "SearchPosition",
    "StaleCursor",
    "contains_term",
    "messages_from",
    "read_back",
]

#: The streams a network may read, as named in ``Capabilities.listening``.
LISTENING_STREAMS: tuple[str, ...] = _LISTENING_STREAMS

#: The longest text kept for one message; longer texts are cut (networks allow less anyway).
MAX_MESSAGE_TEXT = 10_000
_MAX_SHORT = 255
_MAX_URL = 2000


class StaleCursor(PermanentError):
    """The network no longer accepts the cursor it gave earlier (expired, pruned); the host
    restarts the stream from the empty cursor and its unique key drops what it already has."""

    default_code = "stale_cursor"


def _clean(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    # PostgreSQL cannot store NUL; a network that sends one must not make the host fail.
    return value.replace("\x00", "")[:limit]


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message as the network shows it: never enriched, never re-identified.

    :param network_id: the network's id for the message (stable across fetches; the host's
        unique key with the channel).
    :param text: the message's plain text (HTML already stripped by the plugin).
    :param author_handle: the author's handle as the network shows it (``@ana@example.social``).
    :param author_name: the author's display name, if the network shows one.
    :param language: a BCP 47 tag as the network gives it (``en``, ``fr-CA``), or ``""`` when
        unknown: the host then guesses.
    :param published_at: when it was posted (aware; normalised to UTC).
    :param url: where a person can read it.
    :param in_reply_to: the network id of the post it answers (ours, for a reply), or ``""``.
    :param extra: what the network needs to answer this message later (Bluesky's ``cid`` and
        thread root), as short strings; handed back when Kairos replies.
    """

    network_id: str
    text: str
    author_handle: str
    published_at: datetime
    author_name: str = ""
    language: str = ""
    url: str = ""
    in_reply_to: str = ""
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        network_id = _clean(self.network_id, "network_id", _MAX_SHORT).strip()
        if not network_id:
            raise ValueError("network_id must be a non-empty string")
        _set(self, "network_id", network_id)
        _set(self, "text", _clean(self.text, "text", MAX_MESSAGE_TEXT))
        _set(self, "author_handle", _clean(self.author_handle, "author_handle", _MAX_SHORT))
        _set(self, "author_name", _clean(self.author_name, "author_name", _MAX_SHORT))
        _set(self, "language", _clean(self.language, "language", 35).strip())
        _set(self, "url", _clean(self.url, "url", _MAX_URL))
        _set(self, "in_reply_to", _clean(self.in_reply_to, "in_reply_to", _MAX_SHORT))
        _set(self, "published_at", _aware_utc(self.published_at, "published_at"))
        if not isinstance(self.extra, Mapping):
            raise TypeError("extra must be a mapping of strings")
        _set(
            self,
            "extra",
            MappingProxyType(
                {str(k): _clean(str(v), "extra", _MAX_URL) for k, v in self.extra.items()}
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InboundMessage:
        """Build one from JSON-like data; raises ``KeyError``, ``TypeError`` or ``ValueError``
        on a malformed item (see :func:`messages_from`)."""
        published = _parse_datetime(data["published_at"])
        return cls(
            network_id=data["network_id"],
            text=data.get("text") or "",
            author_handle=data.get("author_handle") or "",
            published_at=published,  # type: ignore[arg-type]
            author_name=data.get("author_name") or "",
            language=data.get("language") or "",
            url=data.get("url") or "",
            in_reply_to=data.get("in_reply_to") or "",
            extra=data.get("extra") or {},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "network_id": self.network_id,
            "text": self.text,
            "author_handle": self.author_handle,
            "author_name": self.author_name,
            "language": self.language,
            "published_at": self.published_at.isoformat(),
            "url": self.url,
            "in_reply_to": self.in_reply_to,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True, slots=True)
class MessagePage:
    """What one listening call returns.

    :param messages: the messages newer than the cursor given, in any order.
    :param cursor: the cursor to give next time (``""``: start over next time).
    :param more: ``True`` when the network holds more right now; the host calls again at once
        (up to its own limit per round) instead of waiting for the next round.
    :param skipped: how many items the network returned that could not be read (malformed);
        the host counts them so a person can see a plugin that loses messages.
    """

    messages: tuple[InboundMessage, ...] = ()
    cursor: str = ""
    more: bool = False
    skipped: int = 0

    def __post_init__(self) -> None:
        messages = tuple(self.messages or ())
        for message in messages:
            if not isinstance(message, InboundMessage):
                raise TypeError("messages must be InboundMessage values")
        _set(self, "messages", messages)
        if not isinstance(self.cursor, str):
            raise TypeError("cursor must be a string")


def messages_from(items: Iterable[Any], build: Any = None) -> tuple[list[InboundMessage], int]:
    """Turn a network's raw items into messages, skipping the malformed ones.

    ``build`` turns one raw item into an :class:`InboundMessage` (default:
    :meth:`InboundMessage.from_dict`); an item for which it raises ``KeyError``, ``TypeError``,
    ``ValueError`` or ``AttributeError`` is skipped and counted. Repeats of a network id keep the
    first. Returns ``(messages, skipped)``.
    """
    build = build or InboundMessage.from_dict
    seen: set[str] = set()
    out: list[InboundMessage] = []
    skipped = 0
    for item in items:
        try:
            message = build(item)
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped += 1
            continue
        if message is None or message.network_id in seen:
            continue
        seen.add(message.network_id)
        out.append(message)
    return out, skipped


def contains_term(text: str, term: str) -> bool:
    """Whether ``text`` holds ``term`` as whole words (``#tag`` also as the bare word), without
    regard to case: a network's search may match inside words or stems, a watch must not."""
    word = term.strip().lstrip("#")
    if not word:
        return False
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


# --- searching newest first, never skipping (a helper for search_posts) ------------------------


@dataclass(frozen=True, slots=True)
class SearchPosition:
    """Where a watch's search stands, as one opaque cursor string.

    A network's search answers newest first, so a busy term can hold more than a round reads
    between the cursor and now. Reading stops then at a bounded number of pages, and what is
    left is remembered instead of skipped: ``pending`` maps each such term to the oldest
    position read (its *ceiling*); everything of that term between ``floor`` and the ceiling is
    still to read. Once nothing is pending, ``newest`` (the newest position read meanwhile)
    becomes the floor. Positions are the network's own (a status id, a time).

    Encoded as the bare floor when nothing is pending (so a plain cursor from before stays
    valid), else as JSON.
    """

    floor: str = ""
    newest: str = ""
    pending: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, cursor: str) -> SearchPosition:
        """Read a cursor; :class:`StaleCursor` when it is not one this helper wrote."""
        if not cursor.startswith("{"):
            return cls(floor=cursor)
        try:
            data = json.loads(cursor)
            pending = {str(k): str(v) for k, v in dict(data.get("pending") or {}).items()}
            return cls(str(data.get("floor") or ""), str(data.get("newest") or ""), pending)
        except (ValueError, TypeError, AttributeError):
            raise StaleCursor("The search cursor cannot be read.") from None

    def encode(self) -> str:
        if not self.pending:
            return self.floor
        return json.dumps(
            {"floor": self.floor, "newest": self.newest, "pending": dict(self.pending)},
            separators=(",", ":"),
            sort_keys=True,
        )


#: ``pages(term, floor, ceiling)``: the network's results for ``term`` newest first, one list
#: per page, strictly above ``floor`` and below ``ceiling`` where the network can bound them
#: (``""``: unbounded). Stop yielding when the network has no more.
PageReader = Callable[[str, str, str], Iterator[Sequence[Any]]]


def read_back(
    terms: Sequence[str],
    cursor: str,
    pages: PageReader,
    position: Callable[[Any], str | None],
    order: Callable[[str], Any],
    *,
    max_pages: int,
    reached: Callable[[str, str], bool] | None = None,
    first_round_pages: int = 1,
) -> tuple[list[tuple[str, Any]], str, bool]:
    """Read each term's results newest first down to the cursor, at most ``max_pages`` pages per
    term, and never skip: a term cut short is continued by the next call (see
    :class:`SearchPosition`). Returns ``(found, next cursor, more)``: ``found`` pairs each
    result (above the floor) with its term; ``more`` says a backlog is left, so the host calls
    again at once.

    :param position: an item's position (id or time), ``None`` when unreadable (the item is
        still returned, so ``messages_from`` counts it as skipped).
    :param order: turns a position into something comparable.
    :param reached: ``reached(position, floor)``: whether an item lies at or below the floor
        (default: ``order(position) <= order(floor)``); a network that reads a little overlap
        again says so here.
    :param first_round_pages: pages per term for a new watch (empty cursor): it starts from
        now, so one page is enough to learn where now is.
    """
    state = SearchPosition.parse(cursor)
    below = reached or (lambda value, floor: order(value) <= order(floor))
    todo = list(state.pending) if state.pending else list(dict.fromkeys(terms))
    todo = [t for t in todo if t in terms]  # a term removed from the watch is dropped
    limit = max_pages if state.floor else max(1, first_round_pages)
    found: list[tuple[str, Any]] = []
    newest = state.newest if state.pending else ""
    pending: dict[str, str] = {}

    def later(a: str, b: str) -> str:
        return a if not b or (a and order(a) > order(b)) else b

    for term in todo:
        ceiling = state.pending.get(term, "")
        oldest, done, read = "", False, 0
        for page in pages(term, state.floor, ceiling):
            read += 1
            for item in page:
                value = position(item)
                if value is None:
                    found.append((term, item))
                    continue
                if state.floor and below(value, state.floor):
                    done = True  # the rest of this page and the next ones are older still
                    continue
                if ceiling and order(value) >= order(ceiling):
                    continue  # a network that ignores the ceiling: read already
                found.append((term, item))
                newest = later(value, newest)
                oldest = value if not oldest or order(value) < order(oldest) else oldest
            if done or read >= limit:
                break
        else:
            done = True  # the network had no more pages
        if not done and state.floor and oldest and oldest != ceiling:
            pending[term] = oldest  # cut short: the next call reads below it
    if pending:
        return found, SearchPosition(state.floor, newest, pending).encode(), True
    return found, later(newest, state.floor), False
