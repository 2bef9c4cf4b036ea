"""The Bluesky network: a post is an ``app.bsky.feed.post`` record in the account's repository,
written through the XRPC API of its Personal Data Server (PDS).

Settings: ``service`` (the PDS or entryway, ``https://bsky.social``), ``handle`` (the account's
handle, DID or e-mail), optionally ``appview`` (where metrics are read), ``link_cards`` and
``shorten_links``. Secret: ``app_password`` (Settings -> Privacy and security -> App passwords;
never the account's own password).

* Session: ``createSession`` once, then ``refreshSession`` shortly before the access token's
  ``exp`` (:mod:`plugins.bluesky.session`); an ``ExpiredToken`` answer renews and retries once;
  a refused app password expires the channel.
* Text: the 300-grapheme and 3,000-byte limits as the PDS counts them, links shown shortened
  with a facet on the full URL, mentions and hashtags as facets on UTF-8 byte ranges
  (:mod:`plugins.bluesky.text`, :mod:`plugins.bluesky.facets`).
* Embeds: up to four images as blobs (``uploadBlob``, 1,000,000 bytes each, with alt text), else
  a link card for the first link (:mod:`plugins.bluesky.cards`).
* Threads: each part replies to the thread's root and to the part before it (strong refs: URI
  and CID, kept in :attr:`PublishResult.extra`).
* Exactly once: the record key is derived from the idempotency key
  (:func:`plugins.bluesky.records.rkey_for`), so a retry cannot make a second post and
  :meth:`find_existing` finds the first by its key.
* Metrics: likes (``reactions``), reposts and quotes (``shares``), replies - from an AppView
  when there is one, else counted on the PDS (:mod:`plugins.bluesky.metrics`).
* Listening: replies to our posts and posts mentioning the account, read from the records of
  the accounts on the channel's PDS (:mod:`plugins.bluesky.listening`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from plugins.bluesky import cards, listening, metrics, xrpc
from plugins.bluesky.facets import build_facets
from plugins.bluesky.records import (
    POST,
    at_uri,
    created_at,
    parse_at_uri,
    post_url,
    rkey_for,
)
from plugins.bluesky.session import Session, SessionStore
from plugins.bluesky.text import MAX_BYTES, MAX_GRAPHEMES, Composed, compose
from publishers import (
    Capabilities,
    ChannelContext,
    ClientPool,
    CredentialsExpired,
    MediaRef,
    MessagePage,
    MetricSnapshot,
    Network,
    PermanentError,
    Post,
    PostPreview,
    Problem,
    PublicationRef,
    PublisherError,
    PublishResult,
    SettingField,
    capability_problems,
    fetch_media,
)

__all__ = ["BlueskyNetwork"]

DEFAULT_SERVICE = "https://bsky.social"
#: The AppView Bluesky runs for everyone, used when the channel's server is Bluesky's own.
PUBLIC_APPVIEW = "https://public.api.bsky.app"
_BLUESKY_HOSTS = ("bsky.social", "bsky.network")
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def _is_bluesky_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in _BLUESKY_HOSTS)


class BlueskyNetwork(Network):
    """Posts to one Bluesky (AT Protocol) account."""

    key = "bluesky"
    display_name = "Bluesky"
    capabilities = Capabilities(
        max_text_length=MAX_GRAPHEMES,  # graphemes, as Bluesky counts them (see validate)
        max_links=None,
        supports_media=True,
        supports_links=True,
        supports_threads=True,
        supports_idempotency_key=True,
        # The record key is the idempotency key: it holds for as long as the post exists.
        idempotency_window=None,
        can_find_existing=True,
        can_delete=True,
        metrics=("reactions", "shares", "replies"),
        # "search" needs an AppView (see capabilities_for): a PDS alone has no search.
        listening=("replies", "mentions", "search"),
        max_media=MAX_IMAGES,
        media_types=IMAGE_TYPES,
        max_media_bytes=MAX_IMAGE_BYTES,
    )
    settings_schema = (
        SettingField(
            "service",
            "Server",
            "The account's server (PDS), e.g. https://bsky.social.",
            "url",
            required=True,
            default=DEFAULT_SERVICE,
        ),
        SettingField(
            "handle",
            "Handle",
            "The account's handle (brand.bsky.social), DID or e-mail address.",
            required=True,
        ),
        SettingField(
            "appview",
            "AppView",
            "Where likes, reposts and replies are read (default: Bluesky's public AppView for "
            "accounts on Bluesky's servers; counted on the server itself otherwise).",
            "url",
        ),
        SettingField(
            "link_cards",
            "Link cards",
            "Show a preview card for the post's first link.",
            "boolean",
            default=True,
        ),
        SettingField(
            "shorten_links",
            "Shorten links",
            "Show links shortened, as Bluesky's apps do (the full URL stays the link).",
            "boolean",
            default=True,
        ),
        SettingField("connect_timeout", "Connect time-out", "Seconds.", "number", default=5.0),
        SettingField("read_timeout", "Read time-out", "Seconds.", "number", default=15.0),
    )
    secret_fields = (
        SettingField(
            "app_password",
            "App password",
            "An app password (Settings > Privacy and security > App passwords).",
            "secret",
            required=True,
        ),
    )

    #: Renew the access token this many seconds before its ``exp``.
    refresh_margin = 300.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # Kept connections, one client per server host (publishers.ClientPool): posts reuse a
        # connection, and one opened for a host never serves another host at its address.
        self._http = ClientPool(follow_redirects=False, trust_env=False)
        self._sessions = SessionStore()
        #: The wall clock the token expiries are compared with (a test sets a skewed one).
        self._clock = clock

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self._http.close()

    # --- the channel's settings ----------------------------------------------------------------

    @staticmethod
    def _service(channel: ChannelContext) -> str:
        return str(channel.settings.get("service") or DEFAULT_SERVICE).rstrip("/")

    @staticmethod
    def _identifier(channel: ChannelContext) -> str:
        return str(channel.settings.get("handle") or channel.handle or "").strip().lstrip("@")

    @staticmethod
    def _timeout(channel: ChannelContext) -> httpx.Timeout:
        connect = float(channel.settings.get("connect_timeout", 5.0))
        read = float(channel.settings.get("read_timeout", 15.0))
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _appview(self, channel: ChannelContext) -> str:
        appview = str(channel.settings.get("appview") or "").rstrip("/")
        if appview:
            return appview
        return PUBLIC_APPVIEW if _is_bluesky_host(self._service(channel)) else ""

    def _session_key(self, channel: ChannelContext) -> tuple[str, ...]:
        return SessionStore.key(
            channel.id,
            self._service(channel),
            self._identifier(channel),
            channel.secrets.get("app_password", ""),
        )

    # --- HTTP and the session ------------------------------------------------------------------

    def _send(
        self, channel: ChannelContext, method: str, nsid: str, *, base: str | None = None, **kw: Any
    ) -> httpx.Response:
        return xrpc.send(
            self._http,
            base or self._service(channel),
            method,
            nsid,
            timeout=self._timeout(channel),
            **kw,
        )

    def _query(self, channel: ChannelContext, base: str, doing: str) -> metrics.Query:
        """An unauthenticated ``GET`` against ``base`` (public reads need no session)."""

        def query(nsid: str, params: dict[str, Any]) -> dict[str, Any]:
            return xrpc.answer(self._send(channel, "GET", nsid, base=base, params=params), doing)

        return query

    def _login(self, channel: ChannelContext) -> Session:
        password = channel.secrets.get("app_password", "")
        identifier = self._identifier(channel)
        if not password or not identifier:
            raise CredentialsExpired("The Bluesky channel has no handle or no app password.")
        response = self._send(
            channel,
            "POST",
            "com.atproto.server.createSession",
            json={"identifier": identifier, "password": password},
        )
        if response.status_code == 401:
            name = xrpc.error_name(response)
            reason = {
                "AuthFactorTokenRequired": "the account asks for a sign-in code: use an app "
                "password, not the account's password",
                "AccountTakedown": "the account has been taken down",
            }.get(name, "the handle or the app password is wrong, or the app password was revoked")
            raise CredentialsExpired(
                f"Bluesky refused to log in: {reason}; reconnect the channel.",
                detail=f"HTTP 401 {name}",
            )
        return Session.from_answer(xrpc.answer(response, "logging in"))

    def _refresh(self, channel: ChannelContext, session: Session) -> Session:
        """A renewed session; a new login when the refresh token itself is no longer good.
        A failure in transit raises and leaves the stored session (and its refresh token)."""
        response = self._send(
            channel, "POST", "com.atproto.server.refreshSession", token=session.refresh_jwt
        )
        if response.status_code in (400, 401):
            return self._login(channel)  # refresh token expired or revoked
        return Session.from_answer(xrpc.answer(response, "renewing the session"))

    def _session(self, channel: ChannelContext) -> Session:
        key = self._session_key(channel)
        with self._sessions.lock(key):
            session = self._sessions.get(key)
            if session is None:
                session = self._login(channel)
            else:
                expires = session.access_expires
                if expires is None or expires - self.refresh_margin <= self._clock():
                    session = self._refresh(channel, session)
            self._sessions.put(key, session)
            return session

    def _renew(self, channel: ChannelContext, used: Session) -> Session:
        """After the server refused ``used``'s access token: renew it (once per token, however
        many threads saw the refusal)."""
        key = self._session_key(channel)
        with self._sessions.lock(key):
            current = self._sessions.get(key)
            if current is not None and current.access_jwt != used.access_jwt:
                return current
            session = self._refresh(channel, current or used)
            self._sessions.put(key, session)
            return session

    def _authed(
        self,
        channel: ChannelContext,
        method: str,
        nsid: str,
        *,
        session: Session | None = None,
        **kw: Any,
    ) -> tuple[Session, httpx.Response]:
        """Send with the channel's session; on ``ExpiredToken``/``InvalidToken`` renew the
        session and send once more."""
        session = session or self._session(channel)
        response = self._send(channel, method, nsid, token=session.access_jwt, **kw)
        if response.status_code in (400, 401) and xrpc.error_name(response) in xrpc.TOKEN_ERRORS:
            session = self._renew(channel, session)
            response = self._send(channel, method, nsid, token=session.access_jwt, **kw)
        return session, response

    def _call(
        self, channel: ChannelContext, method: str, nsid: str, doing: str, **kw: Any
    ) -> tuple[Session, dict[str, Any]]:
        session, response = self._authed(channel, method, nsid, **kw)
        return session, xrpc.answer(response, doing)

    # --- building the record -------------------------------------------------------------------

    def _resolver(self, channel: ChannelContext) -> Callable[[str], str | None]:
        known: dict[str, str | None] = {}

        def resolve(handle: str) -> str | None:
            if handle not in known:
                try:
                    data = xrpc.answer(
                        self._send(
                            channel,
                            "GET",
                            "com.atproto.identity.resolveHandle",
                            params={"handle": handle},
                        ),
                        f"resolving @{handle}",
                    )
                    known[handle] = str(data.get("did") or "") or None
                except PublisherError:
                    known[handle] = None  # an unknown handle stays plain text
            return known[handle]

        return resolve

    def _strong_ref(self, channel: ChannelContext, result: PublishResult) -> dict[str, str]:
        """``{uri, cid}`` of an earlier post: from its ``extra``, else read from its repo."""
        extra = getattr(result, "extra", None) or {}
        uri = str(extra.get("uri") or result.external_id)
        cid = str(extra.get("cid") or "")
        if not cid:
            repo, collection, rkey = parse_at_uri(uri)
            data = xrpc.answer(
                self._send(
                    channel,
                    "GET",
                    "com.atproto.repo.getRecord",
                    params={"repo": repo, "collection": collection, "rkey": rkey},
                ),
                "reading the post replied to",
            )
            cid = str(data["cid"])
        return {"uri": uri, "cid": cid}

    def _blob(self, channel: ChannelContext, media: MediaRef) -> dict[str, Any]:
        if media.network_id:
            return json.loads(media.network_id)
        # Not uploaded by the host (a remote medium handed over directly): fetch and upload.
        content = fetch_media(media, network=self.key, max_bytes=MAX_IMAGE_BYTES)
        return json.loads(self.upload_media(media, content, channel))

    def _embed(self, post: Post, channel: ChannelContext, composed: Composed) -> dict | None:
        if post.media:
            return {
                "$type": "app.bsky.embed.images",
                "images": [
                    {"alt": media.alt_text or "", "image": self._blob(channel, media)}
                    for media in post.media
                ],
            }
        if channel.settings.get("link_cards", True) is False:
            return None
        links = list(post.links) or [span.uri for span in composed.links]
        if not links:
            return None
        page = cards.read_page_head(self._http, links[0], self.key)
        return cards.external_embed(links[0], page)

    def _compose(self, post: Post, channel: ChannelContext) -> Composed:
        return compose(post, shorten_links=channel.settings.get("shorten_links", True) is not False)

    def record(self, post: Post, channel: ChannelContext) -> dict[str, Any]:
        """The ``app.bsky.feed.post`` record for ``post`` (asks the server about mentions, the
        page of the first link and the posts replied to)."""
        composed = self._compose(post, channel)
        record: dict[str, Any] = {"$type": POST, "text": composed.text, "createdAt": created_at()}
        facets = build_facets(composed, self._resolver(channel))
        if facets:
            record["facets"] = facets
        if post.language:
            record["langs"] = [post.language]
        embed = self._embed(post, channel, composed)
        if embed:
            record["embed"] = embed
        reply_to = getattr(post, "reply_to", None)
        if reply_to is not None:
            record["reply"] = {
                "root": self._strong_ref(channel, reply_to.root),
                "parent": self._strong_ref(channel, reply_to.parent),
            }
        return record

    @staticmethod
    def _result(did: str, rkey: str, data: dict[str, Any], when: datetime | None) -> PublishResult:
        uri = str(data.get("uri") or at_uri(did, rkey))
        return PublishResult(
            external_id=uri,
            url=post_url(did, rkey),
            published_at=when or datetime.now(UTC),
            extra={"uri": uri, "cid": str(data.get("cid") or "")},
        )

    def _existing(self, channel: ChannelContext, did: str, rkey: str) -> PublishResult | None:
        _, response = self._authed(
            channel,
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": did, "collection": POST, "rkey": rkey},
        )
        if response.status_code in (400, 404) and xrpc.error_name(response) in (
            "RecordNotFound",
            "NotFound",
        ):
            return None
        data = xrpc.answer(response, "looking for the post")
        written = str((data.get("value") or {}).get("createdAt") or "")
        try:
            when = datetime.fromisoformat(written.replace("Z", "+00:00"))
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        except ValueError:
            when = None
        return self._result(did, rkey, data, when)

    # --- the Network contract ------------------------------------------------------------------

    def text_problems(self, post: Post, channel: ChannelContext) -> list[Problem]:
        """The length problems of ``post`` as Bluesky counts them (no network I/O)."""
        composed = self._compose(post, channel)
        problems = []
        if composed.graphemes > MAX_GRAPHEMES:
            problems.append(
                Problem(
                    "text_too_long",
                    f"The post is {composed.graphemes} characters long as Bluesky counts them "
                    f"(emoji and accented letters count once, links as shown shortened); "
                    f"Bluesky allows {MAX_GRAPHEMES}.",
                    "body",
                )
            )
        if composed.size > MAX_BYTES:
            problems.append(
                Problem(
                    "text_too_large",
                    f"The post is {composed.size:,} bytes long in UTF-8; Bluesky allows "
                    f"{MAX_BYTES:,}.",
                    "body",
                )
            )
        return problems

    def preview(self, post: Post, channel: ChannelContext) -> PostPreview:
        # Links are shown shortened, and Bluesky counts graphemes.
        composed = self._compose(post, channel)
        return PostPreview(
            text=composed.text, length=composed.graphemes, limit=MAX_GRAPHEMES, unit="graphemes"
        )

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        # Length is Bluesky's (graphemes), not the generic check's code points.
        problems = [
            p for p in capability_problems(post, self.capabilities) if p.code != "text_too_long"
        ]
        problems += self.text_problems(post, channel)
        service = self._service(channel)
        if urlsplit(service).scheme not in ("http", "https") or not urlsplit(service).hostname:
            problems.append(
                Problem("invalid_setting", "The server must be an http(s) URL.", "settings.service")
            )
        if not self._identifier(channel):
            problems.append(
                Problem("missing_setting", "The account's handle is required.", "settings.handle")
            )
        if not channel.secrets.get("app_password"):
            problems.append(
                Problem(
                    "missing_secret",
                    "Give an app password of the account.",
                    "secrets.app_password",
                )
            )
        return problems

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        """Upload one image as a blob; returns the blob reference (JSON) to put in the record."""
        if len(content) > MAX_IMAGE_BYTES:
            raise PermanentError(
                f"{media.name or 'The image'} is {len(content):,} bytes; Bluesky takes images of "
                f"at most {MAX_IMAGE_BYTES:,} bytes.",
                code="media_too_large",
            )
        mime = media.mime_type or "application/octet-stream"
        if mime not in IMAGE_TYPES:
            raise PermanentError(
                f"Bluesky takes JPEG, PNG, WebP and GIF images, not {mime}.",
                code="media_type_not_supported",
            )
        _, data = self._call(
            channel,
            "POST",
            "com.atproto.repo.uploadBlob",
            "uploading an image",
            content=content,
            content_type=mime,
        )
        return json.dumps(data["blob"], sort_keys=True)

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        problems = self.text_problems(post, channel)
        if problems:
            raise PermanentError(problems[0].message, code=problems[0].code)
        record = self.record(post, channel)
        rkey = rkey_for(idempotency_key)
        session = self._session(channel)
        session, response = self._authed(
            channel,
            "POST",
            "com.atproto.repo.createRecord",
            session=session,
            json={"repo": session.did, "collection": POST, "rkey": rkey, "record": record},
        )
        if not response.is_success and response.status_code not in (401, 403, 429):
            # The rkey may exist already: an earlier attempt went through (the PDS answers a
            # second create of one rkey with an error, not with the first record).
            existing = self._existing(channel, session.did, rkey)
            if existing is not None:
                return existing
        return self._result(session.did, rkey, xrpc.answer(response, "posting"), None)

    def find_existing(self, idempotency_key: str, channel: ChannelContext) -> PublishResult | None:
        session = self._session(channel)
        return self._existing(channel, session.did, rkey_for(idempotency_key))

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        uri = ref.external_id
        appview = self._appview(channel)
        if appview:
            counts = metrics.counts_from_appview(
                self._query(channel, appview, "reading the post's counts"), uri
            )
        else:
            counts = metrics.count_in_repos(
                self._query(channel, self._service(channel), "counting likes and reposts"), uri
            )
        if counts is None:
            return MetricSnapshot(collected_at=datetime.now(UTC))
        return MetricSnapshot(
            reactions=counts.likes,
            shares=counts.reposts + counts.quotes,
            replies=counts.replies,
            collected_at=datetime.now(UTC),
        )

    # --- listening ------------------------------------------------------------------------------

    def capabilities_for(self, channel: ChannelContext) -> Capabilities:
        """Watches (``search``) only with an AppView: a self-hosted PDS alone cannot search."""
        if self._appview(channel):
            return self.capabilities
        listening = tuple(s for s in self.capabilities.listening if s != "search")
        return self.capabilities.replace(listening=listening)

    def _notifications(
        self, channel: ChannelContext, doing: str = "reading the notifications"
    ) -> metrics.Query | None:
        """An authenticated query forwarded by the PDS to the channel's AppView (``None``
        without one: then the PDS's own records are read)."""
        appview = self._appview(channel)
        if not appview:
            return None
        host = (urlsplit(appview).hostname or "").lower()
        # Bluesky's public AppView answers for the service did:web:api.bsky.app.
        service = "api.bsky.app" if host == urlsplit(PUBLIC_APPVIEW).hostname else host
        proxy = f"did:web:{service}#bsky_appview"

        def query(nsid: str, params: dict[str, Any]) -> dict[str, Any]:
            _, data = self._call(channel, "GET", nsid, doing, params=params, proxy=proxy)
            return data

        return query

    def _scan(self, channel: ChannelContext, cursor: str) -> tuple[str, listening.Scan, Any]:
        did = self._session(channel).did
        query = self._query(channel, self._service(channel), "reading the conversation")
        return did, listening.scan(query, did, cursor), listening.handle_reader(query)

    def fetch_replies(
        self, channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef]
    ) -> MessagePage:
        """Replies to (or below) one of ``posts`` newer than ``cursor``: the AppView's reply
        notifications, or the posts of the accounts on a self-hosted PDS."""
        notifications = self._notifications(channel)
        if notifications is not None:
            return listening.from_notifications(notifications, "reply", cursor, posts)
        _, found, handles = self._scan(channel, cursor)
        return listening.page_of(listening.replies_in(found, posts), cursor, found, handles)

    def fetch_mentions(self, channel: ChannelContext, cursor: str) -> MessagePage:
        """Posts mentioning the account newer than ``cursor``: the AppView's mention
        notifications, or the facets of the posts on a self-hosted PDS."""
        notifications = self._notifications(channel)
        if notifications is not None:
            return listening.from_notifications(notifications, "mention", cursor)
        did, found, handles = self._scan(channel, cursor)
        handle = self._identifier(channel)
        matched = [
            (author, item)
            for author, item in found.records
            if isinstance(item.get("value"), dict)
            and listening.mentions_did(item["value"], did, handle)
        ]
        return listening.page_of(matched, cursor, found, handles)

    def search_posts(
        self, channel: ChannelContext, terms: Sequence[str], cursor: str
    ) -> MessagePage:
        """Public posts holding any of ``terms`` indexed after ``cursor``: the AppView's
        ``searchPosts``, asked through the PDS. Without an AppView there is no search."""
        query = self._notifications(channel, "searching posts")
        if query is None:
            raise PermanentError(
                "Searching Bluesky needs an AppView; this server has none.", code="not_supported"
            )
        return listening.search(query, terms, cursor, self._session(channel).did)

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        later = [part.external_id for part in getattr(ref, "thread", ())]
        session = self._session(channel)
        for uri in [*reversed(later), ref.external_id]:
            repo, collection, rkey = parse_at_uri(uri)
            if repo != session.did:
                raise PermanentError(
                    "The post belongs to another account than the channel's.", code="not_owner"
                )
            self._call(
                channel,
                "POST",
                "com.atproto.repo.deleteRecord",
                "deleting the post",
                json={"repo": repo, "collection": collection, "rkey": rkey},
            )

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        problems = super().test_connection(channel)
        problems += [
            p
            for p in self.validate(Post(body="-"), channel)
            if p.code != "empty_post" and p not in problems
        ]
        if problems:
            return problems
        self._sessions.drop(self._session_key(channel))  # a real login, not a cached session
        try:
            session = self._session(channel)
            self._call(
                channel,
                "GET",
                "com.atproto.repo.describeRepo",
                "reading the account",
                params={"repo": session.did},
            )
        except CredentialsExpired as exc:
            return [Problem("credentials_refused", exc.reason, "secrets.app_password")]
        except PublisherError as exc:
            return [Problem(exc.code, exc.reason, "settings.service")]
        return []
