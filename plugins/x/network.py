"""The X network: a post is a Post (once a tweet) made through the X API v2 for the connected
account, with OAuth 2.0 user-context tokens (authorisation code with PKCE, refreshed by Kairos).

Endpoints used (https://docs.x.com/x-api):

* ``POST /2/tweets`` - create a post: ``text``, ``media.media_ids``, and
  ``reply.in_reply_to_tweet_id`` for the later parts of a thread; answers 201 with
  ``data.id``.
* ``POST /2/media/upload`` - upload a picture (multipart ``media`` and ``media_category``);
  answers ``data.id``. Alt text goes through ``POST /2/media/metadata``.
* ``DELETE /2/tweets/:id``; ``GET /2/tweets/:id?tweet.fields=public_metrics`` for metrics;
  ``GET /2/users/:id/tweets`` to reconcile after an ambiguous failure; ``GET /2/users/me`` to
  read the account when connecting.

Errors: 401 means the token is no longer valid (the channel expires); 429 is a rate limit, with
``x-rate-limit-reset`` (epoch seconds) for the endpoint's window and ``x-user-limit-24hour-*``
for the account's daily posting cap; 5xx is transient (a 500/502/504 on a create may have
posted, so Kairos reconciles first); any other 4xx is a refusal, with X's own ``detail``.

X keeps no idempotency key, so ``find_existing`` looks for a post with the same text made by
the account since the first attempt.

Configuration (the operator's, never a workspace's): ``KAIROS_OAUTH_X_CLIENT_ID`` and
``KAIROS_OAUTH_X_CLIENT_SECRET`` (a confidential client of an app in the X developer portal),
and ``KAIROS_X_API_URL`` / ``KAIROS_X_AUTHORIZE_URL`` to aim at another server (the contract
tests' loopback one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from plugins.x.text import MAX_WEIGHTED_LENGTH, weighted_length
from publishers import (
    Capabilities,
    ChannelContext,
    ClientPool,
    ConnectedAccount,
    CredentialsExpired,
    MediaRef,
    MetricSnapshot,
    Network,
    OAuthApp,
    PermanentError,
    Post,
    PostPreview,
    Problem,
    PublicationRef,
    PublishResult,
    RetryPolicy,
    SettingField,
    TransientError,
    capability_problems,
    send_request,
    text_with_links,
)

__all__ = ["XNetwork"]

USER_AGENT = "Kairos-X/1"
API_URL = "https://api.x.com"
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
#: Post, read what was posted (metrics, reconciliation), read the account, upload media, and
#: ``offline.access`` for a refresh token (access tokens last two hours).
OAUTH_SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


def _api() -> str:
    return os.environ.get("KAIROS_X_API_URL", API_URL).rstrip("/")


def _seconds_until(epoch: str | None) -> float | None:
    if not epoch or not epoch.strip().isascii() or not epoch.strip().isdigit():
        return None
    return max(float(epoch) - time.time(), 0.0)


class XNetwork(Network):
    """Posts to X for one connected account."""

    key = "x"
    display_name = "X"
    capabilities = Capabilities(
        max_text_length=MAX_WEIGHTED_LENGTH,
        supports_media=True,
        supports_links=True,
        supports_threads=True,
        max_thread_parts=25,
        can_find_existing=True,
        can_delete=True,
        metrics=("impressions", "reactions", "shares", "replies"),
        max_media=4,
        media_types=IMAGE_TYPES,
        max_media_bytes=MAX_IMAGE_BYTES,
        characters_per_url=23,
        max_posts_per_day=100,  # the Basic tier's; the operator sets theirs (below)
    )
    settings_schema = (
        SettingField(
            "user_id",
            "User id",
            "The account's numeric id on X; set when the channel is connected.",
        ),
    )
    secret_fields = (
        SettingField("access_token", "Access token", "Set by connecting.", "secret", True),
        SettingField("refresh_token", "Refresh token", "Set by connecting.", "secret"),
    )
    # The write limits are per 15 minutes and per 24 hours: retry late rather than often.
    # The daily cap resets within 24 hours: waiting for it is better than failing the post.
    retry_policy = RetryPolicy(base=30.0, cap=900.0, max_attempts=6, max_retry_after=86_400.0)

    def __init__(self) -> None:
        # Kept connections, one client per server host (publishers.ClientPool): posts reuse a
        # connection, and one opened for a host never serves another host at its address.
        self._http = ClientPool(follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self._http.close()

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(
        self,
        access_token: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        if not access_token:
            raise CredentialsExpired("The X channel has no access token; reconnect it.")
        return send_request(
            self._http,
            method,
            _api() + path,
            network=self.key,
            peer="X",
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Authorization": f"Bearer {access_token}",
                **(headers or {}),
            },
            json=json,
            content=content,
            timeout=_TIMEOUT,
        )

    @staticmethod
    def _answer(response: httpx.Response, doing: str, *, creating: bool = False) -> Any:
        """The JSON of a 2xx answer, or the error that says what Kairos should do next."""
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if 200 <= status < 300:
            return data
        message = ""
        if isinstance(data, dict):
            message = str(data.get("detail") or data.get("title") or "")
            errors = data.get("errors")
            if not message and isinstance(errors, list) and errors and isinstance(errors[0], dict):
                message = str(errors[0].get("message") or errors[0].get("detail") or "")
        message = message or response.reason_phrase
        detail = f"HTTP {status}: {response.text[:1000]}"
        headers = response.headers
        if status == 401:
            raise CredentialsExpired(
                f"X no longer accepts the channel's access ({message}); reconnect it.",
                code="credentials_expired",
                detail=detail,
            )
        if status == 429:
            daily_left = headers.get("x-user-limit-24hour-remaining")
            if daily_left is not None and daily_left.strip() == "0":
                raise TransientError(
                    "The account reached X's daily posting limit; the post goes out when the "
                    "limit resets.",
                    code="daily_cap_reached",
                    detail=detail,
                    retry_after=_seconds_until(headers.get("x-user-limit-24hour-reset")),
                )
            raise TransientError(
                f"X is rate-limiting this account while {doing}.",
                code="rate_limited",
                detail=detail,
                retry_after=_seconds_until(headers.get("x-rate-limit-reset")),
            )
        if status >= 500:
            raise TransientError(
                f"X failed while {doing} (HTTP {status}).",
                code=f"http_{status}",
                detail=detail,
                may_have_posted=creating and status in (500, 502, 504),
            )
        if status == 404:
            raise PermanentError(f"X has no such post ({doing}).", code="not_found", detail=detail)
        if status == 403:
            raise PermanentError(f"X refused {doing}: {message}.", code="forbidden", detail=detail)
        raise PermanentError(
            f"X refused {doing} (HTTP {status}: {message}).", code=f"http_{status}", detail=detail
        )

    def capabilities_for(self, channel: ChannelContext) -> Capabilities:
        """X's posts-per-24-hours cap depends on the app's access tier (Free 17, Basic 100...):
        the operator says which in ``KAIROS_X_POSTS_PER_DAY``."""
        raw = os.environ.get("KAIROS_X_POSTS_PER_DAY", "")
        if raw.isascii() and raw.isdigit() and int(raw) > 0:
            return self.capabilities.replace(max_posts_per_day=int(raw))
        return self.capabilities

    # --- counting --------------------------------------------------------------------------------

    def preview(self, post: Post, channel: ChannelContext) -> PostPreview:
        text = text_with_links(post)
        return PostPreview(text=text, length=weighted_length(text), limit=MAX_WEIGHTED_LENGTH)

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = [
            p for p in capability_problems(post, self.capabilities) if p.code != "text_too_long"
        ]
        length = weighted_length(text_with_links(post))
        if length > MAX_WEIGHTED_LENGTH:
            problems.append(
                Problem(
                    "text_too_long",
                    f"The post is {length} characters as X counts them (links count 23, most "
                    f"CJK characters and emoji 2); X allows {MAX_WEIGHTED_LENGTH}.",
                    "body",
                )
            )
        return problems

    # --- connecting ------------------------------------------------------------------------------

    def oauth_app(self, settings: Mapping[str, Any]) -> OAuthApp:
        return OAuthApp(
            authorize_url=os.environ.get("KAIROS_X_AUTHORIZE_URL", AUTHORIZE_URL),
            token_url=f"{_api()}/2/oauth2/token",
            scopes=OAUTH_SCOPES,
            pkce=True,
            refreshable=True,
            token_auth_method="client_secret_basic",
        )

    def oauth_account(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> ConnectedAccount:
        data = self._answer(
            self._request(
                str(token.get("access_token") or ""),
                "GET",
                "/2/users/me?user.fields=profile_image_url",
            ),
            "reading the connected account",
        )
        user = (data or {}).get("data") or {}
        return ConnectedAccount.from_token(
            token,
            handle="@" + str(user["username"]),
            account_id=str(user["id"]),
            display_name=str(user.get("name") or ""),
            avatar_url=str(user.get("profile_image_url") or ""),
            settings={"user_id": str(user["id"])},
        )

    # --- posting ---------------------------------------------------------------------------------

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        """``POST /2/media/upload`` (one request for a picture), then its alt text."""
        token = channel.secrets.get("access_token", "")
        form = httpx.Request(
            "POST",
            "http://multipart.invalid/",
            files={"media": (media.name or "upload", content, media.mime_type or None)},
            data={
                "media_category": "tweet_gif" if media.mime_type == "image/gif" else "tweet_image"
            },
        )
        body = form.read()
        data = self._answer(
            self._request(
                token,
                "POST",
                "/2/media/upload",
                content=body,
                headers={"Content-Type": form.headers["Content-Type"]},
            ),
            "uploading a picture",
        )
        media_id = str(((data or {}).get("data") or {}).get("id") or "")
        if not media_id:
            raise TransientError("X did not say which id the picture got.", code="bad_answer")
        if media.alt_text:
            self._answer(
                self._request(
                    token,
                    "POST",
                    "/2/media/metadata",
                    json={
                        "id": media_id,
                        "metadata": {"alt_text": {"text": media.alt_text[:1000]}},
                    },
                ),
                "setting a picture's alt text",
            )
        return media_id

    def _url(self, channel: ChannelContext, post_id: str) -> str:
        handle = channel.handle.lstrip("@") or "i/web"
        return f"https://x.com/{handle}/status/{post_id}"

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        problems = self.validate(post, channel)
        if problems:
            raise PermanentError(problems[0].message, code=problems[0].code)
        body: dict[str, Any] = {"text": text_with_links(post)}
        media_ids = [m.network_id for m in post.media if m.network_id]
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if post.reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": post.reply_to.parent.external_id}
        data = self._answer(
            self._request(channel.secrets.get("access_token", ""), "POST", "/2/tweets", json=body),
            "creating the post",
            creating=True,
        )
        post_id = str(((data or {}).get("data") or {}).get("id") or "")
        if not post_id:
            raise TransientError(
                "X answered without the post's id.", code="bad_answer", may_have_posted=True
            )
        return PublishResult(external_id=post_id, url=self._url(channel, post_id))

    def find_existing(
        self,
        idempotency_key: str,
        channel: ChannelContext,
        post: Post | None = None,
        first_attempt_at: datetime | None = None,
    ) -> PublishResult | None:
        """The account's post with the same text since the first attempt, if X made it."""
        user_id = str(channel.settings.get("user_id") or "")
        if post is None or not user_id:
            return None
        since = (first_attempt_at or datetime.now(UTC)) - timedelta(seconds=60)
        data = self._answer(
            self._request(
                channel.secrets.get("access_token", ""),
                "GET",
                f"/2/users/{user_id}/tweets?max_results=20&tweet.fields=created_at"
                f"&start_time={since.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            ),
            "looking for the post",
        )
        text = text_with_links(post)
        for item in (data or {}).get("data") or []:
            if isinstance(item, dict) and item.get("text") == text and item.get("id"):
                return PublishResult(
                    external_id=str(item["id"]), url=self._url(channel, str(item["id"]))
                )
        return None

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        data = self._answer(
            self._request(
                channel.secrets.get("access_token", ""),
                "GET",
                f"/2/tweets/{ref.external_id}?tweet.fields=public_metrics",
            ),
            "reading the post's metrics",
        )
        metrics = ((data or {}).get("data") or {}).get("public_metrics") or {}

        def count(name: str) -> int | None:
            value = metrics.get(name)
            return int(value) if isinstance(value, int) and value >= 0 else None

        reposts, quotes = count("retweet_count"), count("quote_count")
        return MetricSnapshot(
            impressions=count("impression_count"),
            reactions=count("like_count"),
            shares=None if reposts is None else reposts + (quotes or 0),
            replies=count("reply_count"),
        )

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        """Delete the post and, for a thread, every later part (last first)."""
        token = channel.secrets.get("access_token", "")
        for external_id in [*(p.external_id for p in reversed(ref.thread)), ref.external_id]:
            response = self._request(token, "DELETE", f"/2/tweets/{external_id}")
            if response.status_code == 404:
                continue  # already gone: a recall is idempotent
            self._answer(response, "deleting the post")
