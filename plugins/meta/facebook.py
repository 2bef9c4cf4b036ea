"""Facebook Pages: feed posts and photos on a Page, with the Page token picked after Facebook
Login, through the Graph API (version pinned in :mod:`plugins.meta.graph`).

* connect: Facebook Login (scopes ``pages_show_list pages_read_engagement
  pages_manage_posts``), the user token made long-lived, then ``GET /me/accounts`` lists the
  Pages the person manages - each a choice with its own Page token, which does not expire;
* post: ``POST /{page-id}/feed`` with ``message`` (and ``link`` for a post with one link);
  pictures are uploaded first as unpublished photos (``POST /{page-id}/photos``,
  ``published=false``) and attached with ``attached_media``;
* metrics: ``GET /{post-id}?fields=shares,comments.summary(true),reactions.summary(true)`` and
  ``GET /{post-id}/insights?metric=post_impressions``;
* delete: ``DELETE /{post-id}``; reconcile: ``GET /{page-id}/feed?since=...`` by message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from plugins.meta.graph import Graph, facebook_login
from publishers import (
    Capabilities,
    ChannelContext,
    ConnectedAccount,
    MediaRef,
    MetricSnapshot,
    Network,
    OAuthApp,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    SettingField,
    TransientError,
    capability_problems,
    text_with_links,
)

__all__ = ["FacebookPagesNetwork"]

SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_posts")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff")


class FacebookPagesNetwork(Network):
    key = "facebook"
    display_name = "Facebook Pages"
    capabilities = Capabilities(
        max_text_length=63_206,
        supports_media=True,
        supports_links=True,
        can_find_existing=True,
        can_delete=True,
        metrics=("impressions", "reactions", "shares", "replies"),
        max_media=10,
        media_types=IMAGE_TYPES,
        max_media_bytes=4 * 1024 * 1024,
    )
    settings_schema = (
        SettingField("page_id", "Page id", "The Page's id; set when the channel is connected."),
    )
    secret_fields = (
        SettingField("access_token", "Page token", "Set by connecting.", "secret", True),
    )

    def __init__(self) -> None:
        self.graph = Graph(self.key, "Facebook")

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self.graph.close()

    # --- connecting ----------------------------------------------------------------------------

    def oauth_app(self, settings: Mapping[str, Any]) -> OAuthApp:
        return facebook_login(SCOPES)

    def oauth_accounts(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> Sequence[ConnectedAccount]:
        user_token = self.graph.long_lived_user_token(self.key, str(token["access_token"]))
        data = self.graph.call(
            "GET",
            "/me/accounts",
            user_token,
            params={"fields": "id,name,access_token,picture{url},tasks", "limit": "100"},
            doing="listing the Pages you manage",
        )
        pages = [p for p in (data or {}).get("data") or [] if isinstance(p, dict)]
        postable = [p for p in pages if "CREATE_CONTENT" in (p.get("tasks") or ["CREATE_CONTENT"])]
        if not postable:
            raise PermanentError(
                "This Facebook login manages no Page it may post to; sign in as a Page admin "
                "and allow Kairos the Pages.",
                code="no_page",
            )
        return [
            ConnectedAccount(
                handle=str(page["name"]),
                account_id=str(page["id"]),
                display_name=str(page["name"]),
                avatar_url=str(((page.get("picture") or {}).get("data") or {}).get("url") or ""),
                secrets={"access_token": str(page["access_token"])},
                settings={"page_id": str(page["id"])},
                kind="Page",
            )
            for page in postable
        ]

    # --- posting -------------------------------------------------------------------------------

    @staticmethod
    def _page(channel: ChannelContext) -> str:
        page = str(channel.settings.get("page_id") or "")
        if not page.isdigit():
            raise PermanentError("The channel names no Page; connect it again.", code="no_page")
        return page

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        return capability_problems(post, self.capabilities)

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        form = httpx.Request(
            "POST",
            "http://multipart.invalid/",
            files={"source": (media.name or "photo", content, media.mime_type or None)},
            data={
                "published": "false",
                **({"alt_text_custom": media.alt_text} if media.alt_text else {}),
            },
        )
        data = self.graph.call(
            "POST",
            f"/{self._page(channel)}/photos",
            channel.secrets.get("access_token", ""),
            content=form.read(),
            content_type=form.headers["Content-Type"],
            doing="uploading a photo",
        )
        photo = str((data or {}).get("id") or "")
        if not photo:
            raise TransientError("Facebook did not say which id the photo got.", code="bad_answer")
        return photo

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        params: dict[str, Any] = {"message": text_with_links(post)}
        photos = [m.network_id for m in post.media if m.network_id]
        for index, photo in enumerate(photos):
            params[f"attached_media[{index}]"] = f'{{"media_fbid":"{photo}"}}'
        if len(post.links) == 1 and not photos:
            params["link"] = post.links[0]
        data = self.graph.call(
            "POST",
            f"/{self._page(channel)}/feed",
            channel.secrets.get("access_token", ""),
            params=params,
            doing="posting to the Page",
            creating=True,
        )
        post_id = str((data or {}).get("id") or "")
        if not post_id:
            raise TransientError(
                "Facebook answered without the post's id.", code="bad_answer", may_have_posted=True
            )
        return PublishResult(external_id=post_id, url=f"https://www.facebook.com/{post_id}")

    def find_existing(
        self,
        idempotency_key: str,
        channel: ChannelContext,
        post: Post | None = None,
        first_attempt_at: datetime | None = None,
    ) -> PublishResult | None:
        if post is None:
            return None
        since = (first_attempt_at or datetime.now(UTC)) - timedelta(seconds=60)
        data = self.graph.call(
            "GET",
            f"/{self._page(channel)}/feed",
            channel.secrets.get("access_token", ""),
            params={"fields": "id,message,created_time", "since": str(int(since.timestamp()))},
            doing="looking for the post",
        )
        text = text_with_links(post)
        for item in (data or {}).get("data") or []:
            if isinstance(item, dict) and item.get("message") == text and item.get("id"):
                return PublishResult(
                    external_id=str(item["id"]), url=f"https://www.facebook.com/{item['id']}"
                )
        return None

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        token = channel.secrets.get("access_token", "")
        data = self.graph.call(
            "GET",
            f"/{ref.external_id}",
            token,
            params={
                "fields": "shares,comments.limit(0).summary(true),reactions.limit(0).summary(true)"
            },
            doing="reading the post",
        )
        insights = self.graph.call(
            "GET",
            f"/{ref.external_id}/insights",
            token,
            params={"metric": "post_impressions"},
            doing="reading the post's insights",
        )
        impressions = None
        for metric in (insights or {}).get("data") or []:
            values = metric.get("values") or [{}]
            if metric.get("name") == "post_impressions" and isinstance(values[0].get("value"), int):
                impressions = values[0]["value"]

        def total(name: str) -> int | None:
            value = (((data or {}).get(name) or {}).get("summary") or {}).get("total_count")
            return value if isinstance(value, int) else None

        shares = ((data or {}).get("shares") or {}).get("count", 0)
        return MetricSnapshot(
            impressions=impressions,
            reactions=total("reactions"),
            shares=shares if isinstance(shares, int) else None,
            replies=total("comments"),
        )

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        try:
            self.graph.call(
                "DELETE",
                f"/{ref.external_id}",
                channel.secrets.get("access_token", ""),
                doing="deleting the post",
            )
        except PermanentError as exc:
            if exc.code != "graph_100":  # 100: the post does not exist (any more)
                raise
