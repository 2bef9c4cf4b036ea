"""Instagram business and creator accounts through the Instagram Graph API (Facebook Login).

Publishing is the documented two-step container flow:

1. ``POST /{ig-user-id}/media`` with ``image_url`` and ``caption`` creates a container (for a
   carousel: one ``is_carousel_item`` container per picture, then a ``CAROUSEL`` container with
   their ids as ``children``);
2. ``GET /{container-id}?fields=status_code`` until ``FINISHED`` (``IN_PROGRESS`` meanwhile;
   ``ERROR`` and ``EXPIRED`` end it);
3. ``POST /{ig-user-id}/media_publish`` with ``creation_id`` publishes it, once.

Waiting never holds a worker: while the container is ``IN_PROGRESS`` the attempt ends with a
short ``retry_after`` and Kairos comes back. Every container id is recorded (``checkpoint``)
before the next call, so the next attempt - or the one after a crash - continues with the same
containers, and a container that reports ``PUBLISHED`` is looked up, never published again: one
publication, one Instagram post.

Captions are counted as Instagram counts them: 2,200 characters, at most 30 hashtags and 20
@mentions. Posts need a picture (JPEG, as the API takes; up to 8 MB), fetched by Instagram from
Kairos' public media address. Metrics: ``GET /{media-id}/insights`` (``views``, ``likes``,
``comments``, ``shares``). The API publishes at most 100 posts per account per 24 hours
(``GET /{ig-user-id}/content_publishing_limit``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from plugins.meta.graph import Graph, facebook_login
from publishers import (
    Capabilities,
    ChannelContext,
    Checkpoint,
    ConnectedAccount,
    MetricSnapshot,
    Network,
    OAuthApp,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    RetryPolicy,
    SettingField,
    TransientError,
    capability_problems,
    text_with_links,
)

__all__ = ["InstagramNetwork", "caption_problems"]

SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
)
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
DAILY_CAP = 100
POLL_SECONDS = 15.0
_HASHTAG = re.compile(r"(?<![\w&])#\w+", re.UNICODE)
_MENTION = re.compile(r"(?<![\w.])@[\w.]+", re.UNICODE)


def caption_problems(caption: str) -> list[Problem]:
    """What Instagram refuses in a caption: its length, hashtag and mention counts."""
    problems = []
    if len(caption) > MAX_CAPTION:
        problems.append(
            Problem(
                "text_too_long",
                f"The caption is {len(caption)} characters; Instagram allows {MAX_CAPTION}.",
                "body",
            )
        )
    tags = len(_HASHTAG.findall(caption))
    if tags > MAX_HASHTAGS:
        problems.append(
            Problem(
                "too_many_hashtags",
                f"The caption has {tags} hashtags; Instagram allows {MAX_HASHTAGS}.",
                "body",
            )
        )
    mentions = len(_MENTION.findall(caption))
    if mentions > MAX_MENTIONS:
        problems.append(
            Problem(
                "too_many_mentions",
                f"The caption mentions {mentions} accounts; Instagram allows {MAX_MENTIONS}.",
                "body",
            )
        )
    return problems


class InstagramNetwork(Network):
    key = "instagram"
    display_name = "Instagram"
    capabilities = Capabilities(
        max_text_length=MAX_CAPTION,
        supports_media=True,
        supports_links=True,  # in the caption, not clickable
        can_find_existing=True,
        metrics=("impressions", "reactions", "shares", "replies"),
        max_media=10,
        media_types=("image/jpeg",),
        max_media_bytes=8 * 1024 * 1024,
        max_posts_per_day=DAILY_CAP,
    )
    settings_schema = (
        SettingField("ig_user_id", "Instagram account id", "Set when the channel is connected."),
    )
    secret_fields = (
        SettingField("access_token", "Page token", "Set by connecting.", "secret", True),
    )
    # Polling a container: come back every 15 seconds or so, for up to about 10 minutes.
    retry_policy = RetryPolicy(base=15.0, factor=1.2, cap=60.0, max_attempts=30, jitter=0.2)

    def __init__(self) -> None:
        self.graph = Graph(self.key, "Instagram")

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
            params={
                "fields": "id,name,access_token,"
                "instagram_business_account{id,username,name,profile_picture_url}",
                "limit": "100",
            },
            doing="listing the Instagram accounts of your Pages",
        )
        accounts = []
        for page in (data or {}).get("data") or []:
            ig = page.get("instagram_business_account") if isinstance(page, dict) else None
            if not isinstance(ig, dict) or not ig.get("id"):
                continue
            accounts.append(
                ConnectedAccount(
                    handle="@" + str(ig.get("username") or ig["id"]),
                    account_id=str(ig["id"]),
                    display_name=str(ig.get("name") or ig.get("username") or ""),
                    avatar_url=str(ig.get("profile_picture_url") or ""),
                    secrets={"access_token": str(page["access_token"])},
                    settings={"ig_user_id": str(ig["id"])},
                    kind="Instagram business account",
                )
            )
        if not accounts:
            raise PermanentError(
                "None of the Pages this login manages has an Instagram business or creator "
                "account; link one to a Page in Instagram's settings, then connect again.",
                code="no_instagram_account",
            )
        return accounts

    # --- validating ----------------------------------------------------------------------------

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = [
            p for p in capability_problems(post, self.capabilities) if p.code != "text_too_long"
        ]
        if not post.media:
            problems.append(
                Problem("media_required", "An Instagram post needs at least one picture.", "media")
            )
        return problems + caption_problems(text_with_links(post))

    # --- publishing ----------------------------------------------------------------------------

    @staticmethod
    def _account(channel: ChannelContext) -> str:
        account = str(channel.settings.get("ig_user_id") or "")
        if not account.isdigit():
            raise PermanentError(
                "The channel names no Instagram account; connect it again.", code="no_account"
            )
        return account

    def _create(self, token: str, account: str, params: dict[str, str]) -> str:
        data = self.graph.call(
            "POST",
            f"/{account}/media",
            token,
            params=params,
            doing="preparing the post (media container)",
        )
        container = str((data or {}).get("id") or "")
        if not container:
            raise TransientError(
                "Instagram did not say which container it made.", code="bad_answer"
            )
        return container

    def _containers(self, post: Post, channel: ChannelContext, checkpoint: Checkpoint) -> str:
        """The post's container, made now or by an earlier attempt (never made twice)."""
        existing = checkpoint.get("container")
        if existing:
            return existing
        token, account = channel.secrets.get("access_token", ""), self._account(channel)
        caption = text_with_links(post)
        if len(post.media) == 1:
            container = self._create(
                token, account, {"image_url": post.media[0].url, "caption": caption}
            )
        else:
            children = []
            for index, medium in enumerate(post.media):
                child = checkpoint.get(f"child.{index}")
                if not child:
                    child = self._create(
                        token, account, {"image_url": medium.url, "is_carousel_item": "true"}
                    )
                    checkpoint.set(f"child.{index}", child)
                children.append(child)
            container = self._create(
                token,
                account,
                {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption},
            )
        checkpoint.set("container", container)
        return container

    def publish(
        self,
        post: Post,
        channel: ChannelContext,
        idempotency_key: str,
        checkpoint: Checkpoint | None = None,
    ) -> PublishResult:
        problems = self.validate(post, channel)
        if problems:
            raise PermanentError(problems[0].message, code=problems[0].code)
        if checkpoint is None:  # called outside the pipeline: keep the steps for this call
            from publishers import MemoryProgress

            checkpoint = Checkpoint(MemoryProgress())
        token, account = channel.secrets.get("access_token", ""), self._account(channel)
        container = self._containers(post, channel, checkpoint)
        status = self.graph.call(
            "GET",
            f"/{container}",
            token,
            params={"fields": "status_code,status"},
            doing="checking the prepared post",
        )
        code = str((status or {}).get("status_code") or "")
        if code == "IN_PROGRESS":
            raise TransientError(
                "Instagram is still processing the picture; Kairos checks again shortly.",
                code="container_in_progress",
                retry_after=POLL_SECONDS,
            )
        if code == "PUBLISHED":  # an earlier attempt published it and its answer was lost
            found = self.find_existing(idempotency_key, channel, post=post)
            if found is None:
                raise TransientError(
                    "Instagram published the post but does not list it yet.",
                    code="published_not_listed",
                    retry_after=POLL_SECONDS,
                )
            return found
        if code == "EXPIRED":
            checkpoint.set("container", "")  # a new container next time (nothing was published)
            raise TransientError(
                "The prepared post expired before it was published; Kairos prepares it again.",
                code="container_expired",
                retry_after=1.0,
            )
        if code != "FINISHED":
            raise PermanentError(
                f"Instagram could not prepare the post: {(status or {}).get('status') or code}.",
                code="container_error",
            )
        data = self.graph.call(
            "POST",
            f"/{account}/media_publish",
            token,
            params={"creation_id": container},
            doing="publishing the post",
            creating=True,
        )
        media_id = str((data or {}).get("id") or "")
        if not media_id:
            raise TransientError(
                "Instagram answered without the post's id.", code="bad_answer", may_have_posted=True
            )
        return PublishResult(external_id=media_id, url=self._permalink(token, media_id))

    def _permalink(self, token: str, media_id: str) -> str:
        try:
            data = self.graph.call(
                "GET",
                f"/{media_id}",
                token,
                params={"fields": "permalink"},
                doing="reading the post's address",
            )
        except (TransientError, PermanentError):
            return ""  # the post is out; its address is a nicety
        return str((data or {}).get("permalink") or "")

    def find_existing(
        self,
        idempotency_key: str,
        channel: ChannelContext,
        post: Post | None = None,
        first_attempt_at: datetime | None = None,
    ) -> PublishResult | None:
        """The account's recent post with this caption (Instagram keeps no key)."""
        if post is None:
            return None
        since = (first_attempt_at or datetime.now(UTC)) - timedelta(minutes=10)
        token = channel.secrets.get("access_token", "")
        data = self.graph.call(
            "GET",
            f"/{self._account(channel)}/media",
            token,
            params={"fields": "id,caption,permalink,timestamp", "limit": "25"},
            doing="looking for the post",
        )
        caption = text_with_links(post)
        for item in (data or {}).get("data") or []:
            if not isinstance(item, dict) or item.get("caption") != caption:
                continue
            try:
                when = datetime.strptime(str(item.get("timestamp")), "%Y-%m-%dT%H:%M:%S%z")
            except ValueError:
                when = datetime.now(UTC)
            if when >= since:
                return PublishResult(
                    external_id=str(item["id"]), url=str(item.get("permalink") or "")
                )
        return None

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        data = self.graph.call(
            "GET",
            f"/{ref.external_id}/insights",
            channel.secrets.get("access_token", ""),
            params={"metric": "views,likes,comments,shares"},
            doing="reading the post's insights",
        )
        values: dict[str, int] = {}
        for metric in (data or {}).get("data") or []:
            found = (metric.get("values") or [{}])[0].get("value")
            if isinstance(found, int):
                values[str(metric.get("name"))] = found
        return MetricSnapshot(
            impressions=values.get("views"),
            reactions=values.get("likes"),
            shares=values.get("shares"),
            replies=values.get("comments"),
        )
