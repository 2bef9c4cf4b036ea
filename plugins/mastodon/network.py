"""The Mastodon network: a post is a status on any Mastodon instance, through its REST API.

Settings: ``instance`` (``https://mastodon.social``), and the status options ``visibility``
(``public``, ``unlisted``, ``private``, ``direct``), ``language`` (default: the brand's),
``spoiler_text`` (a content warning) and ``sensitive``. Secret: ``access_token`` (an app's token
with the ``write:statuses`` and ``read:statuses`` scopes).

Exactly once: the publication's idempotency key goes in the ``Idempotency-Key`` header; Mastodon
answers a repeated key from the same account with the first status for an hour, which the
network declares as its idempotency window (Kairos does not retry an attempt that may have posted
after it).

Length is counted the way Mastodon counts: every URL as ``characters_reserved_per_url`` (23),
a remote mention by its local part only; the limits are the instance's own, read from
``/api/v2/instance`` (some instances allow 5,000 characters) and cached for an hour per process.

Metrics: favourites (``reactions``), boosts (``shares``), replies. Delete: the status.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from plugins.mastodon.listening import (
    contains_term,
    message_from_status,
    plain_text,
    status_id_key,
)
from publishers import (
    Capabilities,
    ChannelContext,
    ClientPool,
    ConnectedAccount,
    CredentialsExpired,
    MediaRef,
    MessagePage,
    MetricSnapshot,
    Network,
    OAuthApp,
    OAuthClient,
    PermanentError,
    Post,
    PostPreview,
    Problem,
    PublicationRef,
    PublisherError,
    PublishResult,
    SearchPosition,
    SettingField,
    StaleCursor,
    TransientError,
    capability_problems,
    messages_from,
    read_back,
    send_request,
    text_with_links,
)

__all__ = ["MastodonNetwork", "mastodon_length"]

USER_AGENT = "Kairos-Mastodon/1"
#: What a connected channel may do: post and read its statuses and media, read the account,
#: read its mentions and search words for watches (listening).
OAUTH_SCOPES = (
    "read:accounts",
    "read:statuses",
    "read:notifications",
    "read:search",
    "write:statuses",
    "write:media",
)
#: What Mastodon answers (403) to a token without the scope a call needs.
_OUTSIDE_SCOPES = "outside the authorized scopes"
VISIBILITIES = ("public", "unlisted", "private", "direct")
DEFAULT_LIMITS = {"max_characters": 500, "characters_reserved_per_url": 23}
LIMITS_TTL = 3600.0
#: What a stock Mastodon (4.x) takes when the instance does not say otherwise.
DEFAULT_MEDIA_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/quicktime",
    "video/webm",
)
DEFAULT_IMAGE_BYTES = 16 * 1024 * 1024
DEFAULT_VIDEO_BYTES = 99 * 1024 * 1024
#: How long an upload may take to be processed before the attempt is retried later (the
#: upload is remembered: the retry only waits for it).
MEDIA_PROCESSING_WAIT = 30.0
# What Mastodon's own counter treats as a URL, and as a remote mention (@user@domain).
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"@(\w+)@[\w.-]+\w", re.UNICODE)


def _ascii_digits(text: str) -> bool:
    """``"120"`` yes; ``"²"`` no (``str.isdigit`` says yes, then ``float()`` raises)."""
    return text.isascii() and text.isdigit()


def mastodon_length(text: str, characters_per_url: int = 23) -> int:
    """Characters as Mastodon counts them: each URL as ``characters_per_url``, each remote
    mention as its local part (``@user``), everything else by code point."""
    text = _URL.sub("x" * characters_per_url, text)
    text = _REMOTE_MENTION.sub(lambda m: "@" + m.group(1), text)
    return len(text)


def _reset_seconds(value: str | None) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (ISO 8601 as Mastodon sends it, or epoch seconds)."""
    if not value:
        return None
    try:
        if value.strip().isascii() and value.strip().isdigit():
            return max(float(value) - time.time(), 0.0)
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class MastodonNetwork(Network):
    """Posts statuses to a Mastodon instance."""

    key = "mastodon"
    display_name = "Mastodon"
    capabilities = Capabilities(
        max_text_length=500,  # the default instance's; the channel's instance may allow more
        max_links=None,
        supports_media=True,
        supports_links=True,
        supports_threads=True,
        supports_idempotency_key=True,
        idempotency_window=3600,
        can_find_existing=False,
        can_delete=True,
        metrics=("reactions", "shares", "replies"),
        max_media=4,
        media_types=DEFAULT_MEDIA_TYPES,
        max_media_bytes=DEFAULT_VIDEO_BYTES,
        characters_per_url=23,
        listening=("replies", "mentions", "search"),
    )
    settings_schema = (
        SettingField(
            "instance",
            "Instance",
            "The instance's address, e.g. https://mastodon.social.",
            "url",
            required=True,
        ),
        SettingField(
            "visibility", "Visibility", f"One of {', '.join(VISIBILITIES)}.", default="public"
        ),
        SettingField("language", "Language", "ISO 639 code; default: the brand's language."),
        SettingField("spoiler_text", "Content warning", "Shown before the post is opened."),
        SettingField("sensitive", "Sensitive", "Mark every post as sensitive.", "boolean"),
        SettingField("connect_timeout", "Connect time-out", "Seconds.", "number", default=5.0),
        SettingField("read_timeout", "Read time-out", "Seconds.", "number", default=15.0),
    )
    secret_fields = (
        SettingField(
            "access_token",
            "Access token",
            "An app token with write:statuses and read:statuses.",
            "secret",
            required=True,
        ),
    )

    def __init__(self) -> None:
        # Kept connections, one client per server host (publishers.ClientPool): posts reuse a
        # connection, and one opened for a host never serves another host at its address.
        self._http = ClientPool(follow_redirects=False, trust_env=False)
        self._lock = threading.Lock()
        self._limits: dict[str, tuple[float, dict[str, int]]] = {}

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self._http.close()

    # --- HTTP ----------------------------------------------------------------------------------

    @staticmethod
    def _instance(channel: ChannelContext) -> str:
        return str(channel.settings.get("instance") or "").rstrip("/")

    @staticmethod
    def _timeout(channel: ChannelContext) -> httpx.Timeout:
        connect = float(channel.settings.get("connect_timeout", 5.0))
        read = float(channel.settings.get("read_timeout", 15.0))
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _request(
        self,
        channel: ChannelContext,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if authenticated:
            token = channel.secrets.get("access_token")
            if not token:
                raise CredentialsExpired("The Mastodon channel has no access token; reconnect it.")
            sent["Authorization"] = f"Bearer {token}"
        return send_request(
            self._http,
            method,
            self._instance(channel) + path,
            network=self.key,
            peer="the Mastodon instance",
            headers=sent,
            json=json,
            content=content,
            timeout=self._timeout(channel),
        )

    @staticmethod
    def _answer(response: httpx.Response, doing: str) -> Any:
        """The JSON of a 2xx answer, or the error that says what Kairos should do next."""
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if 200 <= status < 300:
            return data
        message = str(data.get("error") if isinstance(data, dict) else "") or response.reason_phrase
        detail = f"HTTP {status}: {response.text[:1000]}"
        if status in (401, 403):
            raise CredentialsExpired(
                f"Mastodon refused the channel's token while {doing} ({message}); reconnect it.",
                detail=detail,
            )
        if status == 429:
            wait = _reset_seconds(response.headers.get("X-RateLimit-Reset"))
            if wait is None and _ascii_digits(response.headers.get("Retry-After", "")):
                wait = float(response.headers["Retry-After"])
            raise TransientError(
                f"Mastodon is rate-limiting this account while {doing}.",
                code="rate_limited",
                detail=detail,
                retry_after=wait,
            )
        if status >= 500:
            raise TransientError(
                f"The Mastodon instance failed while {doing} (HTTP {status}).",
                code=f"http_{status}",
                detail=detail,
                may_have_posted=status in (500, 502, 504),
            )
        if status == 422 and "processing" in message.lower():
            raise TransientError(
                f"Mastodon has not finished processing a medium: {message}.",
                code="media_processing",
                detail=detail,
                retry_after=10.0,
            )
        if status == 422:
            raise PermanentError(
                f"Mastodon refused the status: {message}.", code="rejected", detail=detail
            )
        if status == 404:
            raise PermanentError(
                f"Mastodon has no such post ({doing}).", code="not_found", detail=detail
            )
        raise PermanentError(
            f"Mastodon refused {doing} (HTTP {status}: {message}).",
            code=f"http_{status}",
            detail=detail,
        )

    # --- the instance's own limits ---------------------------------------------------------------

    def discover(self, channel: ChannelContext) -> dict[str, Any]:
        """The instance's own limits, from ``/api/v2/instance``: what the host keeps as the
        channel's facts (and this process caches for an hour)."""
        data = self._answer(
            self._request(channel, "GET", "/api/v2/instance", authenticated=False),
            "reading the instance's limits",
        )
        config = (data or {}).get("configuration") or {}
        statuses = config.get("statuses") or {}
        media = config.get("media_attachments") or {}

        def number(source: dict, name: str, default: int) -> int:
            value = source.get(name)
            return int(value) if isinstance(value, int | float) and value > 0 else default

        facts: dict[str, Any] = {
            "max_characters": number(statuses, "max_characters", 500),
            "characters_reserved_per_url": number(statuses, "characters_reserved_per_url", 23),
            "max_media_attachments": number(statuses, "max_media_attachments", 4),
            "image_size_limit": number(media, "image_size_limit", DEFAULT_IMAGE_BYTES),
            "video_size_limit": number(media, "video_size_limit", DEFAULT_VIDEO_BYTES),
        }
        types = media.get("supported_mime_types")
        if isinstance(types, list) and types:
            facts["supported_mime_types"] = [str(t) for t in types][:200]
        if isinstance(media.get("description_limit"), int):
            facts["description_limit"] = media["description_limit"]
        with self._lock:
            self._limits[self._instance(channel)] = (time.monotonic(), facts)
        return facts

    def limits(self, channel: ChannelContext, *, fetch: bool = True) -> dict[str, Any]:
        """The instance's limits: the host's facts, else this process's cache, else (with
        ``fetch``) asked now; Mastodon's defaults when nothing is known."""
        if channel.facts.get("max_characters"):
            return {**DEFAULT_LIMITS, **channel.facts}
        with self._lock:
            known = self._limits.get(self._instance(channel))
        if known and (not fetch or time.monotonic() - known[0] < LIMITS_TTL):
            return known[1]
        if not fetch:
            return DEFAULT_LIMITS
        try:
            return self.discover(channel)
        except (PublisherError, AttributeError, TypeError, ValueError):
            return known[1] if known else DEFAULT_LIMITS

    def capabilities_for(self, channel: ChannelContext) -> Capabilities:
        limits = self.limits(channel, fetch=False)
        return self.capabilities.replace(
            max_text_length=int(limits["max_characters"]),
            characters_per_url=int(limits["characters_reserved_per_url"]),
            max_media=int(limits.get("max_media_attachments") or 4),
            media_types=tuple(
                t
                for t in limits.get("supported_mime_types") or DEFAULT_MEDIA_TYPES
                if t.split("/", 1)[0] in ("image", "video", "audio")
            ),
            max_media_bytes=max(
                int(limits.get("image_size_limit") or DEFAULT_IMAGE_BYTES),
                int(limits.get("video_size_limit") or DEFAULT_VIDEO_BYTES),
            ),
        )

    def _length_problems(self, post: Post, limits: dict[str, int]) -> list[Problem]:
        text = text_with_links(post)
        length = mastodon_length(text, limits["characters_reserved_per_url"])
        if length > limits["max_characters"]:
            return [
                Problem(
                    "text_too_long",
                    f"The status is {length} characters long as Mastodon counts them (each link "
                    f"counts {limits['characters_reserved_per_url']}); this instance allows "
                    f"{limits['max_characters']}.",
                    "body",
                )
            ]
        return []

    # --- the Network contract ------------------------------------------------------------------

    def preview(self, post: Post, channel: ChannelContext) -> PostPreview:
        limits = self.limits(channel, fetch=False)
        text = text_with_links(post)
        return PostPreview(
            text=text,
            length=mastodon_length(text, limits["characters_reserved_per_url"]),
            limit=int(limits["max_characters"]),
        )

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        # Length is Mastodon's, not the generic check's: drop that one, keep the others.
        limits = self.limits(channel, fetch=False)
        problems = [
            p
            for p in capability_problems(post, self.capabilities_for(channel))
            if p.code != "text_too_long"
        ]
        problems += self._length_problems(post, limits)
        problems += self._media_problems(post, limits)
        instance = self._instance(channel)
        if urlsplit(instance).scheme not in ("http", "https") or not urlsplit(instance).hostname:
            problems.append(
                Problem(
                    "invalid_setting", "The instance must be an http(s) URL.", "settings.instance"
                )
            )
        visibility = channel.settings.get("visibility") or "public"
        if visibility not in VISIBILITIES:
            problems.append(
                Problem(
                    "invalid_setting",
                    f"Visibility must be one of {', '.join(VISIBILITIES)}.",
                    "settings.visibility",
                )
            )
        return problems

    @staticmethod
    def _media_problems(post: Post, limits: dict[str, Any]) -> list[Problem]:
        """What Mastodon checks per attachment: pictures have a lower size cap than videos, and
        alt text has a length limit on recent versions."""
        problems = []
        image_cap = int(limits.get("image_size_limit") or DEFAULT_IMAGE_BYTES)
        described = limits.get("description_limit")
        for index, media in enumerate(post.media):
            if media.kind == "image" and media.size is not None and media.size > image_cap:
                problems.append(
                    Problem(
                        "media_too_large",
                        f"{media.name or 'This picture'} is {media.size:,} bytes; this instance "
                        f"takes pictures up to {image_cap:,}.",
                        f"media.{index}",
                    )
                )
            if described and len(media.alt_text) > int(described):
                problems.append(
                    Problem(
                        "alt_text_too_long",
                        f"The alt text is {len(media.alt_text)} characters; this instance "
                        f"allows {described}.",
                        f"media.{index}.alt_text",
                    )
                )
        return problems

    def _status(self, post: Post, channel: ChannelContext) -> dict[str, Any]:
        options = channel.settings
        status: dict[str, Any] = {
            "status": text_with_links(post),
            "visibility": options.get("visibility") or "public",
        }
        language = options.get("language") or post.language
        if language:
            status["language"] = language
        if options.get("spoiler_text"):
            status["spoiler_text"] = options["spoiler_text"]
        if options.get("sensitive") or options.get("spoiler_text"):
            status["sensitive"] = True
        media_ids = [m.network_id for m in post.media if m.network_id]
        if media_ids:
            status["media_ids"] = media_ids
        if post.reply_to is not None:
            status["in_reply_to_id"] = post.reply_to.parent.external_id
        return status

    # --- connecting by OAuth -------------------------------------------------------------------

    def oauth_app(self, settings: Mapping[str, Any]) -> OAuthApp | None:
        instance = str(settings.get("instance") or "").rstrip("/")
        if urlsplit(instance).scheme not in ("http", "https") or not urlsplit(instance).hostname:
            return None
        return OAuthApp(
            authorize_url=f"{instance}/oauth/authorize",
            token_url=f"{instance}/oauth/token",
            scopes=OAUTH_SCOPES,
            pkce=True,
            server=instance,
        )

    def register_oauth_client(self, settings: Mapping[str, Any], redirect_uri: str) -> OAuthClient:
        """Every instance is its own OAuth server: register Kairos there (``POST
        /api/v1/apps``). The host keeps the client per instance and redirect URI."""
        channel = ChannelContext(id="oauth", network=self.key, settings=dict(settings))
        data = self._answer(
            self._request(
                channel,
                "POST",
                "/api/v1/apps",
                json={
                    "client_name": "Kairos",
                    "redirect_uris": redirect_uri,
                    "scopes": " ".join(OAUTH_SCOPES),
                    "website": "https://github.com/kairos",
                },
                authenticated=False,
            ),
            "registering Kairos on the instance",
        )
        if not data or not data.get("client_id"):
            raise PermanentError(
                "The instance did not register Kairos (no client id).", code="oauth_refused"
            )
        return OAuthClient(str(data["client_id"]), str(data.get("client_secret") or ""))

    def oauth_account(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> ConnectedAccount:
        access = str(token.get("access_token") or "")
        channel = ChannelContext(
            id="oauth", network=self.key, settings=dict(settings), secrets={"access_token": access}
        )
        account = self._answer(
            self._request(channel, "GET", "/api/v1/accounts/verify_credentials"),
            "reading the connected account",
        )
        return ConnectedAccount(
            handle="@" + str(account.get("acct") or account.get("username")),
            secrets={"access_token": access},
            display_name=str(account.get("display_name") or ""),
            account_id=str(account.get("id") or ""),
            avatar_url=str(account.get("avatar") or ""),
        )

    # --- media ---------------------------------------------------------------------------------

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        """Upload through the asynchronous media endpoint, then wait until Mastodon has
        processed it (a video can take a while): ``POST /api/v2/media`` answers 200 when the
        file is ready, 202 while it is processed; ``GET /api/v1/media/:id`` then answers 206
        until it is done."""
        form = httpx.Request(
            "POST",
            "http://multipart.invalid/",
            files={"file": (media.name or "upload", content, media.mime_type or None)},
            data={"description": media.alt_text} if media.alt_text else None,
        )
        body = form.read()
        response = self._request(
            channel,
            "POST",
            "/api/v2/media",
            content=body,
            headers={"Content-Type": form.headers["Content-Type"]},
        )
        data = self._answer(response, "uploading a medium")
        media_id = str(data["id"])
        if response.status_code == 202 or not data.get("url"):
            self._wait_until_processed(channel, media_id)
        return media_id

    def _wait_until_processed(self, channel: ChannelContext, media_id: str) -> None:
        deadline = time.monotonic() + MEDIA_PROCESSING_WAIT
        pause = 0.5
        while True:
            response = self._request(channel, "GET", f"/api/v1/media/{media_id}")
            if response.status_code == 200 and (self._answer(response, "") or {}).get("url"):
                return
            if response.status_code not in (200, 206):
                self._answer(response, "waiting for a medium to be processed")
            if time.monotonic() + pause > deadline:
                raise TransientError(
                    "Mastodon is still processing a medium; the post will go out once it is ready.",
                    code="media_processing",
                    retry_after=MEDIA_PROCESSING_WAIT,
                )
            time.sleep(pause)
            pause = min(pause * 2, 4.0)

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        problems = self._length_problems(post, self.limits(channel))
        if problems:
            raise PermanentError(problems[0].message, code="text_too_long")
        response = self._request(
            channel,
            "POST",
            "/api/v1/statuses",
            json=self._status(post, channel),
            headers={"Idempotency-Key": idempotency_key},
        )
        data = self._answer(response, "posting the status")
        created = str(data.get("created_at") or "")
        try:
            published = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            published = datetime.now(UTC)
        return PublishResult(
            external_id=str(data["id"]),
            url=str(data.get("url") or data.get("uri") or ""),
            published_at=published if published.tzinfo else published.replace(tzinfo=UTC),
        )

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        data = self._answer(
            self._request(channel, "GET", f"/api/v1/statuses/{ref.external_id}"),
            "reading the status",
        )
        return MetricSnapshot(
            reactions=int(data.get("favourites_count") or 0),
            shares=int(data.get("reblogs_count") or 0),
            replies=int(data.get("replies_count") or 0),
            collected_at=datetime.now(UTC),
        )

    # --- listening ------------------------------------------------------------------------------

    #: Statuses per notifications page (Mastodon's maximum for notifications is 80).
    PAGE = 40

    def fetch_replies(
        self, channel: ChannelContext, cursor: str, posts: Sequence[PublicationRef]
    ) -> MessagePage:
        """Every reply below each recent post (its context's descendants, so replies to replies
        too). Mastodon's context has no cursor: every round reads the whole conversation and
        Kairos keeps each status once."""
        items: list[Any] = []
        for ref in posts:
            if not ref.external_id:
                continue
            response = self._request(channel, "GET", f"/api/v1/statuses/{ref.external_id}/context")
            if response.status_code == 404:
                continue  # the post was deleted: nothing to read below it
            data = self._answer(response, "reading the replies")
            items += list((data or {}).get("descendants") or [])
        messages, skipped = messages_from(items, message_from_status)
        return MessagePage(tuple(messages), cursor, skipped=skipped)

    def fetch_mentions(self, channel: ChannelContext, cursor: str) -> MessagePage:
        """Mention notifications after ``cursor`` (a notification id), oldest first."""
        query = f"?types[]=mention&limit={self.PAGE}" + (f"&min_id={cursor}" if cursor else "")
        data = self._answer(
            self._request(channel, "GET", "/api/v1/notifications" + query),
            "reading the mentions",
        )
        if not isinstance(data, list):
            raise TransientError("Mastodon answered the notifications with no list.")
        ids = [str(n.get("id")) for n in data if isinstance(n, dict) and n.get("id")]
        newest = max(ids, key=lambda i: (len(i), i)) if ids else cursor
        statuses = [n.get("status") for n in data if isinstance(n, dict)]
        messages, skipped = messages_from(statuses, message_from_status)
        return MessagePage(tuple(messages), newest, more=len(data) >= self.PAGE, skipped=skipped)

    def _own_account(self, channel: ChannelContext) -> str:
        data = self._answer(
            self._request(channel, "GET", "/api/v1/accounts/verify_credentials"),
            "reading the account",
        )
        return str((data or {}).get("id") or "")

    #: Pages of :attr:`PAGE` statuses read per term and call; a busier term is continued by the
    #: next call (the host makes it at once), never skipped.
    SEARCH_PAGES = 5

    def _search_pages(
        self, channel: ChannelContext, term: str, floor: str, ceiling: str
    ) -> Iterator[list[Any]]:
        """One term's statuses newest first, strictly between ``floor`` and ``ceiling`` (status
        ids; ``""``: unbounded), a page at a time, each page below the oldest of the last: a
        ``#tag`` from its hashtag timeline (``since_id``, ``max_id``), any other term from the
        full-text search (``min_id`` as its lower bound: Mastodon's search orders by id,
        newest first; ``max_id``)."""
        upper = ceiling
        while True:
            bounds = (f"&max_id={upper}" if upper else "") + (
                f"&{'since_id' if term.startswith('#') else 'min_id'}={floor}" if floor else ""
            )
            if term.startswith("#"):
                path = f"/api/v1/timelines/tag/{quote(term[1:].strip(), safe='')}"
                data = self._answer(
                    self._request(channel, "GET", f"{path}?limit={self.PAGE}{bounds}"),
                    "reading a hashtag",
                )
                found = data if isinstance(data, list) else []
            else:
                query = f"q={quote(term, safe='')}&type=statuses&resolve=false"
                response = self._request(
                    channel, "GET", f"/api/v2/search?{query}&limit={self.PAGE}{bounds}"
                )
                if response.status_code == 403 and _OUTSIDE_SCOPES in response.text:
                    # Connected before Kairos asked for read:search: the token still posts and
                    # reads replies; only word searches need the channel reconnected.
                    raise PermanentError(
                        "This channel was connected without permission to search Mastodon; "
                        "reconnect it to allow search (word terms of watches need read:search).",
                        code="search_not_allowed",
                        detail=f"HTTP 403: {response.text[:300]}",
                    )
                data = self._answer(response, "searching")
                found = list((data or {}).get("statuses") or []) if isinstance(data, dict) else []
            yield found
            ids = [
                str(s["id"])
                for s in found
                if isinstance(s, dict) and _ascii_digits(str(s.get("id") or ""))
            ]
            if len(found) < self.PAGE or not ids:
                return
            lowest = min(ids, key=status_id_key)
            if upper and status_id_key(lowest) >= status_id_key(upper):
                return  # a server that ignores max_id: another page would be the same
            upper = lowest

    def search_posts(
        self, channel: ChannelContext, terms: Sequence[str], cursor: str
    ) -> MessagePage:
        """Public statuses holding any of ``terms`` after ``cursor``: each term read newest
        first down to the newest status id the last round read, at most :attr:`SEARCH_PAGES`
        pages per call, a busier term continued by the next call
        (:func:`publishers.listening.read_back`). Results that hold the term only inside a
        word, and the account's own statuses, are left out."""
        position = SearchPosition.parse(cursor)
        for value in [position.floor, position.newest, *position.pending.values()]:
            if value and not _ascii_digits(value):
                raise StaleCursor("The Mastodon search cursor is not a status id.")
        own = self._own_account(channel)

        def status_id(status: Any) -> str | None:
            value = str(status.get("id") or "") if isinstance(status, dict) else ""
            return value if _ascii_digits(value) else None

        found, next_cursor, more = read_back(
            tuple(t for t in terms if t.strip().lstrip("#")),
            cursor,
            lambda term, floor, ceiling: self._search_pages(channel, term, floor, ceiling),
            status_id,
            status_id_key,
            max_pages=self.SEARCH_PAGES,
        )
        kept = []
        for term, status in found:
            if not isinstance(status, dict) or status_id(status) is None:
                kept.append(status)  # counted as skipped below
                continue
            if str((status.get("account") or {}).get("id") or "") == own:
                continue
            if contains_term(plain_text(str(status.get("content") or "")), term):
                kept.append(status)
        messages, skipped = messages_from(kept, message_from_status)
        return MessagePage(tuple(messages), next_cursor, more=more, skipped=skipped)

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        """Delete the status and, for a thread, every later part (last first)."""
        for external_id in [*(p.external_id for p in reversed(ref.thread)), ref.external_id]:
            response = self._request(channel, "DELETE", f"/api/v1/statuses/{external_id}")
            if response.status_code == 404:
                continue  # already gone: a recall is idempotent
            self._answer(response, "deleting the status")

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        problems = super().test_connection(channel)
        problems += [p for p in self.validate(Post(body="-"), channel) if p.code != "empty_post"]
        if problems:
            return problems
        try:
            self._answer(
                self._request(channel, "GET", "/api/v1/accounts/verify_credentials"),
                "checking the account",
            )
        except CredentialsExpired as exc:
            return [Problem("credentials_refused", exc.reason, "secrets.access_token")]
        except PublisherError as exc:
            return [Problem(exc.code, exc.reason, "settings.instance")]
        self.limits(channel)  # learn the instance's limits while we are here
        return []
