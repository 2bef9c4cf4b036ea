"""The Matrix network: a post is an ``m.room.message`` sent to one room by a bot user.

Settings: ``homeserver`` (the client-server API base, ``https://matrix.example.org``), ``room``
(``!id:server`` or ``#alias:server``; the bot must have joined it), optionally ``device_id``.
Secrets: ``access_token``, or ``user`` and ``password`` (then Kairos logs in itself, always with
the same device id, and logs in again when the token is revoked).

Exactly once: the publication's idempotency key is the message's *transaction id*. A homeserver
answers a repeated (room, user, device, transaction id) with the first event instead of posting
again - Synapse remembers it for 24 hours, across restarts - so a retry after a time-out is safe
as long as the device stays the same, which is why a password login always names its device.

Metrics: reactions (``m.annotation`` relations) and thread replies (``m.thread`` relations) of
the post, counted through the relations API. Listening: replies and mentions read from the
room's timeline by pagination token (:mod:`plugins.matrix.listening`). Delete: a redaction. The address of the homeserver
is checked like the webhook's: private and loopback addresses only when the operator allows them
(``KAIROS_ALLOW_PRIVATE_NETWORKS``).
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from plugins.matrix import listening
from plugins.matrix.text import media_message, message_content
from publishers import (
    Capabilities,
    ChannelContext,
    ClientPool,
    CredentialsExpired,
    InboundMessage,
    MediaRef,
    MessagePage,
    MetricSnapshot,
    Network,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublisherError,
    PublishResult,
    SearchPosition,
    SettingField,
    StaleCursor,
    TransientError,
    capability_problems,
    contains_term,
    messages_from,
    read_back,
    send_request,
)

__all__ = ["MatrixNetwork"]

USER_AGENT = "Kairos-Matrix/1"
CLIENT = "/_matrix/client/v3"
#: Relations are paged; a post with more reactions than this is counted up to here.
MAX_RELATION_PAGES = 20
#: Timeline events per page, and pages per listening call (the host calls again for ``more``).
TIMELINE_PAGE = 100
TIMELINE_PAGES = 5
#: How long one stream's timeline read is kept for the other stream of the same round.
SHARED_READ_SECONDS = 60.0
#: Search results asked per page, pages per term and call, and pages passed over above a
#: backlog's ceiling before a call gives up for this round.
SEARCH_PAGE = 50
SEARCH_PAGES = 5
SEARCH_SKIP_PAGES = 50
_ONLY_MESSAGES = jsonlib.dumps({"types": ["m.room.message"]}, separators=(",", ":"))


def _ascii_digits(text: str) -> bool:
    """``"120"`` yes; ``"²"`` no (``str.isdigit`` says yes, then ``float()`` raises)."""
    return text.isascii() and text.isdigit()


def _room_path(room_id: str) -> str:
    return quote(room_id, safe="")


def _media_events(extra: Any) -> list[str]:
    return [e for e in str((extra or {}).get("media_events") or "").split(",") if e]


class MatrixNetwork(Network):
    """Posts to a Matrix room as a bot user."""

    key = "matrix"
    display_name = "Matrix"
    capabilities = Capabilities(
        # An event may hold 64 KiB; the HTML twin of the text roughly doubles it.
        max_text_length=25000,
        max_links=20,
        supports_media=True,
        supports_links=True,
        supports_threads=True,
        supports_idempotency_key=True,
        # Synapse keeps transaction ids for 24 h; other homeservers are not bound to as much.
        idempotency_window=20 * 3600,
        can_find_existing=False,
        can_delete=True,
        metrics=("reactions", "replies"),
        listening=("replies", "mentions", "search"),
        max_media=10,
        media_types=("image/*", "video/*", "audio/*"),
        # Synapse's default max_upload_size; a homeserver may set less.
        max_media_bytes=50 * 1024 * 1024,
    )
    settings_schema = (
        SettingField(
            "homeserver",
            "Homeserver",
            "Client-server API base URL, e.g. https://matrix.example.org.",
            "url",
            required=True,
        ),
        SettingField(
            "room",
            "Room",
            "Room id (!abc:example.org) or alias (#news:example.org).",
            required=True,
        ),
        SettingField("device_id", "Device id", "The bot's device (default: KAIROS + channel id)."),
        SettingField("connect_timeout", "Connect time-out", "Seconds.", "number", default=5.0),
        SettingField("read_timeout", "Read time-out", "Seconds.", "number", default=15.0),
    )
    secret_fields = (
        SettingField("access_token", "Access token", "The bot's access token.", "secret"),
        SettingField("user", "User", "The bot's user id or name, to log in with a password."),
        SettingField("password", "Password", "The bot's password.", "secret"),
    )

    def __init__(self) -> None:
        # Kept connections, one client per server host (publishers.ClientPool): posts reuse a
        # connection, and one opened for a host never serves another host at its address.
        self._http = ClientPool(follow_redirects=False, trust_env=False)
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._rooms: dict[tuple[str, str], str] = {}
        self._bots: dict[tuple[str, ...], str] = {}
        #: The last timeline read per channel and cursor, for the other stream of the same round.
        self._reads: dict[tuple[str, str, str], tuple[float, tuple[str, list[Any], str, bool]]] = {}

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self._http.close()

    # --- the channel's settings ----------------------------------------------------------------

    @staticmethod
    def _homeserver(channel: ChannelContext) -> str:
        return str(channel.settings.get("homeserver") or "").rstrip("/")

    @staticmethod
    def _device(channel: ChannelContext) -> str:
        return str(channel.settings.get("device_id") or f"KAIROS{channel.id}")

    @staticmethod
    def _timeout(channel: ChannelContext) -> httpx.Timeout:
        connect = float(channel.settings.get("connect_timeout", 5.0))
        read = float(channel.settings.get("read_timeout", 15.0))
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    @staticmethod
    def _can_log_in(channel: ChannelContext) -> bool:
        return bool(channel.secrets.get("user") and channel.secrets.get("password"))

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(
        self,
        channel: ChannelContext,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str = "",
        authenticated: bool = True,
        relogin: bool = True,
    ) -> httpx.Response:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if authenticated:
            headers["Authorization"] = f"Bearer {self._token(channel)}"
        response = send_request(
            self._http,
            method,
            self._homeserver(channel) + path,
            network=self.key,
            peer="the Matrix homeserver",
            headers=headers,
            json=json,
            content=content,
            timeout=self._timeout(channel),
        )
        if response.status_code == 401 and authenticated and relogin and self._can_log_in(channel):
            self._forget_token(channel)  # revoked or expired: a new login, same device
            return self._request(
                channel,
                method,
                path,
                json=json,
                content=content,
                content_type=content_type,
                relogin=False,
            )
        return response

    @staticmethod
    def _answer(response: httpx.Response, doing: str) -> dict[str, Any]:
        """The JSON of a 2xx answer, or the error that says what Kairos should do next."""
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if 200 <= status < 300:
            return data
        errcode = str(data.get("errcode") or f"http_{status}")
        message = str(data.get("error") or response.reason_phrase)
        detail = f"HTTP {status} {errcode}: {message}"
        if status == 401:
            raise CredentialsExpired(
                f"The homeserver refused the bot's credentials while {doing} ({errcode}); "
                "reconnect the channel.",
                detail=detail,
            )
        if status == 429 or errcode == "M_LIMIT_EXCEEDED":
            wait = data.get("retry_after_ms")
            retry_after = float(wait) / 1000 if isinstance(wait, int | float) else None
            if retry_after is None and _ascii_digits(response.headers.get("Retry-After", "")):
                retry_after = float(response.headers["Retry-After"])
            raise TransientError(
                f"The homeserver is rate-limiting the bot while {doing}.",
                code="rate_limited",
                detail=detail,
                retry_after=retry_after,
            )
        if status >= 500:
            raise TransientError(
                f"The homeserver failed while {doing} (HTTP {status}).",
                code=f"http_{status}",
                detail=detail,
                may_have_posted=status in (500, 502, 504),
            )
        if status == 403:
            raise PermanentError(
                f"The homeserver forbade {doing}: {message}. Invite the bot to the room and give "
                "it the right to post.",
                code="matrix_forbidden",
                detail=detail,
            )
        if status == 413:
            raise PermanentError(
                f"The homeserver found the message too large while {doing}.",
                code="too_large",
                detail=detail,
            )
        raise PermanentError(
            f"The homeserver refused {doing}: {message} ({errcode}).",
            code=f"matrix_{errcode.lower()}"[:64],
            detail=detail,
        )

    # --- credentials and the room ----------------------------------------------------------------

    def _token_key(self, channel: ChannelContext) -> tuple[str, str, str]:
        return (self._homeserver(channel), str(channel.secrets.get("user")), self._device(channel))

    def _forget_token(self, channel: ChannelContext) -> None:
        with self._lock:
            self._tokens.pop(self._token_key(channel), None)

    def _token(self, channel: ChannelContext) -> str:
        token = channel.secrets.get("access_token")
        if token:
            return token
        if not self._can_log_in(channel):
            raise CredentialsExpired(
                "The Matrix channel has neither an access token nor a password."
            )
        key = self._token_key(channel)
        with self._lock:
            cached = self._tokens.get(key)
        if cached:
            return cached
        response = self._request(
            channel,
            "POST",
            f"{CLIENT}/login",
            json={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": channel.secrets["user"]},
                "password": channel.secrets["password"],
                # The same device on every login keeps transaction ids deduplicating.
                "device_id": self._device(channel),
                "initial_device_display_name": "Kairos",
            },
            authenticated=False,
        )
        if response.status_code == 403:
            raise CredentialsExpired(
                "The homeserver refused the bot's user name or password; reconnect the channel.",
                detail=response.text[:500],
            )
        token = str(self._answer(response, "logging in")["access_token"])
        with self._lock:
            self._tokens[key] = token
        return token

    def _room_id(self, channel: ChannelContext) -> str:
        room = str(channel.settings.get("room") or "")
        if not room.startswith("#"):
            return room
        key = (self._homeserver(channel), room)
        with self._lock:
            known = self._rooms.get(key)
        if known:
            return known
        response = self._request(channel, "GET", f"{CLIENT}/directory/room/{_room_path(room)}")
        room_id = str(self._answer(response, f"looking up the room {room}")["room_id"])
        with self._lock:
            self._rooms[key] = room_id
        return room_id

    @staticmethod
    def _event_url(room_id: str, event_id: str) -> str:
        return f"https://matrix.to/#/{_room_path(room_id)}/{quote(event_id, safe='')}"

    def _room_of(self, ref: PublicationRef, channel: ChannelContext) -> str:
        """The room a post went to: from its link (the channel's room may have changed since)."""
        fragment = urlsplit(ref.url).fragment if ref.url else ""
        parts = fragment.strip("/").split("/")
        if len(parts) >= 2 and parts[0]:
            return unquote(parts[0])
        return self._room_id(channel)

    # --- the Network contract ------------------------------------------------------------------

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = capability_problems(post, self.capabilities)
        homeserver = self._homeserver(channel)
        if (
            urlsplit(homeserver).scheme not in ("http", "https")
            or not urlsplit(homeserver).hostname
        ):
            problems.append(
                Problem(
                    "invalid_setting",
                    "The homeserver must be an http(s) URL.",
                    "settings.homeserver",
                )
            )
        room = str(channel.settings.get("room") or "")
        # Room ids of room version 12 have no server part (``!hash``); aliases always do.
        if not ((room.startswith("!") and len(room) > 1) or (room.startswith("#") and ":" in room)):
            problems.append(
                Problem(
                    "invalid_setting",
                    "The room must be a room id (!abc:example.org) or an alias (#news:example.org).",
                    "settings.room",
                )
            )
        if not channel.secrets.get("access_token") and not self._can_log_in(channel):
            problems.append(
                Problem(
                    "missing_secret",
                    "Give the bot's access token, or its user name and password.",
                    "secrets.access_token",
                )
            )
        return problems

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        """The text as one event, then one event per medium; a later part of a thread goes in
        the thread of the first (``m.thread``), answering the part before it. Each event has its
        own transaction id derived from the key, so a retry repeats none."""
        room_id = self._room_id(channel)
        relation = None
        if post.reply_to is not None:
            relation = {
                "rel_type": "m.thread",
                "event_id": post.reply_to.root.external_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": post.reply_to.parent.external_id},
            }
        content = message_content(post)
        if relation:
            content["m.relates_to"] = relation
        event_id = self._send(channel, room_id, idempotency_key, content, "posting the message")
        media_events = []
        for index, media in enumerate(post.media):
            media_content = media_message(media)
            if relation:
                media_content["m.relates_to"] = {
                    **relation,
                    "m.in_reply_to": {"event_id": event_id},
                }
            media_events.append(
                self._send(
                    channel,
                    room_id,
                    f"{idempotency_key}.m{index}",
                    media_content,
                    "posting a medium",
                )
            )
        extra = {"room_id": room_id}
        if media_events:
            extra["media_events"] = ",".join(media_events)
        return PublishResult(
            external_id=event_id,
            url=self._event_url(room_id, event_id),
            published_at=datetime.now(UTC),
            extra=extra,
        )

    def _send(
        self, channel: ChannelContext, room_id: str, txn: str, content: dict, doing: str
    ) -> str:
        response = self._request(
            channel,
            "PUT",
            f"{CLIENT}/rooms/{_room_path(room_id)}/send/m.room.message/{quote(txn, safe='')}",
            json=content,
        )
        return str(self._answer(response, doing)["event_id"])

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        """Upload to the homeserver's content repository; the ``mxc://`` URI is the id."""
        name = media.name or media.url.rsplit("/", 1)[-1] or "upload"
        response = self._request(
            channel,
            "POST",
            f"/_matrix/media/v3/upload?filename={quote(name[:200], safe='')}",
            content=content,
            content_type=media.mime_type or "application/octet-stream",
        )
        data = self._answer(response, "uploading a medium")
        uri = str(data.get("content_uri") or "")
        if not uri.startswith("mxc://"):
            raise PermanentError(
                "The homeserver did not return a content URI for the upload.",
                code="upload_failed",
                detail=str(data)[:500],
            )
        return uri

    def _count_relations(
        self, channel: ChannelContext, room_id: str, event_id: str, kind: str
    ) -> int:
        path = (
            f"/_matrix/client/v1/rooms/{_room_path(room_id)}/relations/"
            f"{quote(event_id, safe='')}/{kind}?limit=1000"
        )
        count, cursor = 0, None
        for _ in range(MAX_RELATION_PAGES):
            page = path + (f"&from={quote(cursor, safe='')}" if cursor else "")
            data = self._answer(
                self._request(channel, "GET", page), "reading reactions and replies"
            )
            count += len(data.get("chunk") or [])
            cursor = data.get("next_batch")
            if not cursor:
                break
        return count

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        room_id = self._room_of(ref, channel)
        reactions = self._count_relations(
            channel, room_id, ref.external_id, "m.annotation/m.reaction"
        )
        replies = self._count_relations(channel, room_id, ref.external_id, "m.thread")
        # The thread's own later parts and media are ours, not replies.
        own = len(ref.thread) + sum(len(_media_events(p.extra)) for p in ref.thread)
        return MetricSnapshot(
            reactions=reactions, replies=max(replies - own, 0), collected_at=datetime.now(UTC)
        )

    # --- listening ------------------------------------------------------------------------------

    def _bot(self, channel: ChannelContext) -> str:
        """The bot's user id (``whoami``, once per credentials)."""
        key = (*self._token_key(channel), str(channel.secrets.get("access_token") or ""))
        with self._lock:
            known = self._bots.get(key)
        if known:
            return known
        data = self._answer(
            self._request(channel, "GET", f"{CLIENT}/account/whoami"), "checking the bot"
        )
        user_id = str(data["user_id"])
        with self._lock:
            self._bots[key] = user_id
        return user_id

    def _timeline(self, channel: ChannelContext, cursor: str) -> tuple[str, list[Any], str, bool]:
        """``(room id, messages oldest first, next cursor, more)`` after ``cursor`` (a
        pagination token; ``""``: from the room's start).

        Replies and mentions are two streams of one timeline: the first stream of a round reads
        it, and the other, asking from the same cursor within :data:`SHARED_READ_SECONDS`, is
        given that read instead of reading the room again. Their cursors stay equal because each
        keeps the token the shared read ended at; when they differ (one stream failed), each
        reads for itself."""
        room_id = self._room_id(channel)
        key = (channel.id, room_id, cursor)
        now = time.monotonic()
        with self._lock:
            for stale in [
                k for k, (at, _) in self._reads.items() if now - at > SHARED_READ_SECONDS
            ]:
                del self._reads[stale]
            shared = self._reads.pop(key, None)
        if shared is not None:
            return shared[1]
        read = self._read_timeline(channel, room_id, cursor)
        with self._lock:
            self._reads[key] = (now, read)
        return read

    def _read_timeline(
        self, channel: ChannelContext, room_id: str, cursor: str
    ) -> tuple[str, list[Any], str, bool]:
        events: list[Any] = []
        token, more = cursor, False
        for _ in range(TIMELINE_PAGES):
            path = (
                f"{CLIENT}/rooms/{_room_path(room_id)}/messages?dir=f&limit={TIMELINE_PAGE}"
                f"&filter={quote(_ONLY_MESSAGES, safe='')}"
            )
            if token:
                path += f"&from={quote(token, safe='')}"
            response = self._request(channel, "GET", path)
            if token and response.status_code == 400:
                raise StaleCursor(
                    "The homeserver no longer accepts the timeline position.",
                    detail=response.text[:300],
                )
            data = self._answer(response, "reading the room")
            chunk = data.get("chunk") or []
            if not isinstance(chunk, list):
                raise TransientError("The homeserver answered the timeline with no list.")
            events += chunk
            end = data.get("end")
            # No ``end``: the live edge; the next round starts where this one did.
            token = str(end) if isinstance(end, str) and end else token
            more = bool(end) and len(chunk) >= TIMELINE_PAGE
            if not more:
                break
        return room_id, events, token, more

    def _names(self, channel: ChannelContext, room_id: str) -> dict[str, str]:
        """The members' display names as the room shows them (none when it cannot be read)."""
        try:
            data = self._answer(
                self._request(
                    channel, "GET", f"{CLIENT}/rooms/{_room_path(room_id)}/joined_members"
                ),
                "reading the room's members",
            )
        except PermanentError:
            return {}
        joined = data.get("joined") or {}
        return {
            str(user): str((info or {}).get("display_name") or "")
            for user, info in joined.items()
            if isinstance(info, dict)
        }

    def _page(
        self, channel: ChannelContext, room_id: str, events: list[Any], cursor: str, more: bool
    ) -> MessagePage:
        names = self._names(channel, room_id) if events else {}
        messages, skipped = messages_from(
            events, lambda event: listening.message_from_event(event, room_id, names)
        )
        return MessagePage(tuple(messages), cursor, more=more, skipped=skipped)

    def fetch_replies(
        self, channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef]
    ) -> MessagePage:
        """Messages in the room answering (in a thread or as a rich reply) one of ``posts``."""
        bot = self._bot(channel)
        room_id, events, token, more = self._timeline(channel, cursor)
        ours = {ref.external_id for ref in posts if ref.external_id}
        for ref in posts:
            ours |= {part.external_id for part in ref.thread if part.external_id}
        return self._page(channel, room_id, listening.replies_in(events, bot, ours), token, more)

    def fetch_mentions(self, channel: ChannelContext, cursor: str) -> MessagePage:
        """Messages in the room that mention the bot."""
        bot = self._bot(channel)
        room_id, events, token, more = self._timeline(channel, cursor)
        matched = [e for e in events if listening.is_mention(e, bot)]
        return self._page(channel, room_id, matched, token, more)

    def _search_pages(
        self, channel: ChannelContext, term: str, floor: str, ceiling: str
    ) -> Iterator[list[Any]]:
        """The room events holding ``term`` in the rooms the bot has joined, newest first
        (``order_by: recent``), page by page through ``next_batch``. The API has no time bounds:
        pages wholly at or above ``ceiling`` are passed over (they were read), and
        :func:`~publishers.listening.read_back` stops at ``floor``."""
        body = {
            "search_categories": {
                "room_events": {
                    "search_term": term.lstrip("#"),
                    "keys": ["content.body"],
                    "order_by": "recent",
                    "filter": {"types": ["m.room.message"], "limit": SEARCH_PAGE},
                }
            }
        }
        batch, passed = "", 0
        while True:
            path = f"{CLIENT}/search" + (f"?next_batch={quote(batch, safe='')}" if batch else "")
            data = self._answer(self._request(channel, "POST", path, json=body), "searching")
            found = ((data.get("search_categories") or {}).get("room_events")) or {}
            results = found.get("results") if isinstance(found, dict) else None
            events = [
                r.get("result") if isinstance(r, dict) else r
                for r in (results if isinstance(results, list) else [])
            ]
            above = ceiling and all(
                listening.event_time(e) is not None and listening.event_time(e) >= int(ceiling)
                for e in events
            )
            if above and events and passed < SEARCH_SKIP_PAGES:
                passed += 1
            else:
                yield events
            batch = str(found.get("next_batch") or "") if isinstance(found, dict) else ""
            if not batch or not events:
                return

    def search_posts(
        self, channel: ChannelContext, terms: Sequence[str], cursor: str
    ) -> MessagePage:
        """Messages holding any of ``terms`` in the rooms the bot has joined (the
        client-server ``/search``, newest first, down to the cursor: an ``origin_server_ts``),
        whole terms only, never the bot's own."""
        position = SearchPosition.parse(cursor)
        for value in [position.floor, position.newest, *position.pending.values()]:
            if value and not _ascii_digits(value):
                raise StaleCursor("The Matrix search cursor is not a time stamp.")
        bot = self._bot(channel)

        def stamp(event: Any) -> str | None:
            when = listening.event_time(event)
            return None if when is None else str(when)

        found, next_cursor, more = read_back(
            terms,
            cursor,
            lambda term, floor, ceiling: self._search_pages(channel, term, floor, ceiling),
            stamp,
            int,
            max_pages=SEARCH_PAGES,
            # Events of the same millisecond as the floor are read again, not lost.
            reached=lambda value, floor: int(value) < int(floor),
        )
        kept: list[Any] = []
        for term, event in found:
            if not isinstance(event, Mapping):
                kept.append(event)  # counted as skipped
            elif listening.readable(event, bot) and contains_term(
                listening.strip_reply_fallback(str(event["content"].get("body") or "")), term
            ):
                kept.append(event)
        names: dict[str, dict[str, str]] = {}

        def build(event: Any) -> InboundMessage:
            room_id = str(event["room_id"])
            if room_id not in names:
                names[room_id] = self._names(channel, room_id)
            return listening.message_from_event(event, room_id, names[room_id])

        messages, skipped = messages_from(kept, build)
        return MessagePage(tuple(messages), next_cursor, more=more, skipped=skipped)

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        """Redact the message, its media events and, for a thread, every later part."""
        room_id = self._room_of(ref, channel)
        events = [ref.external_id, *_media_events(ref.extra)]
        for part in ref.thread:
            events += [part.external_id, *_media_events(part.extra)]
        for event_id in events:
            txn = "kairos-redact-" + hashlib.sha256(event_id.encode()).hexdigest()[:24]
            response = self._request(
                channel,
                "PUT",
                f"{CLIENT}/rooms/{_room_path(room_id)}/redact/{quote(event_id, safe='')}/{txn}",
                json={"reason": "Withdrawn from Kairos"},
            )
            self._answer(response, "withdrawing the message")

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        problems = [
            p for p in super().test_connection(channel) if not p.field or "secrets." not in p.field
        ]
        problems += [p for p in self.validate(Post(body="-"), channel) if p.code != "empty_post"]
        if problems:
            return problems
        try:
            whoami = self._answer(
                self._request(channel, "GET", f"{CLIENT}/account/whoami"), "checking the bot"
            )
            room_id = self._room_id(channel)
            members = self._answer(
                self._request(
                    channel, "GET", f"{CLIENT}/rooms/{_room_path(room_id)}/joined_members"
                ),
                "checking the room",
            )
        except CredentialsExpired as exc:
            return [Problem("credentials_refused", exc.reason, "secrets.access_token")]
        except PublisherError as exc:
            return [Problem(exc.code, exc.reason, "settings.room")]
        if whoami.get("user_id") not in (members.get("joined") or {}):
            problems.append(
                Problem(
                    "not_in_room", "The bot has not joined the room: invite it.", "settings.room"
                )
            )
        return problems
