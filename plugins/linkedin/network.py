"""LinkedIn: posts for a member or an organisation through the versioned Posts API.

Every call to ``https://api.linkedin.com/rest/`` carries ``LinkedIn-Version: <YYYYMM>`` (pinned
below as :data:`API_VERSION`; the operator can move it with ``KAIROS_LINKEDIN_VERSION``) and
``X-Restli-Protocol-Version: 2.0.0``. LinkedIn keeps each monthly version at least a year and
then answers 426 to it: Kairos then fails the post with a reason that says to move the version.

* connect: "Sign In with LinkedIn" (OpenID Connect) with ``w_member_social`` for the member,
  and ``w_organization_social r_organization_social rw_organization_admin`` for the
  organisations they administer (``GET /rest/organizationAcls``): the person picks the member
  or one organisation. Access tokens last 60 days; refresh tokens (365 days) exist for
  approved apps only, and Kairos uses them when LinkedIn sends one;
* post: ``POST /rest/posts`` (``author``, ``commentary``, ``visibility``, ``distribution``,
  ``lifecycleState``), answered 201 with the post's URN in ``x-restli-id``; a picture or a PDF
  document is uploaded first (``POST /rest/images|documents?action=initializeUpload``, then
  ``PUT`` of the bytes to the ``uploadUrl``) and attached as ``content.media``;
* metrics: organisation posts through ``GET /rest/organizationalEntityShareStatistics``
  (impressions, clicks, likes, comments, shares), member posts through
  ``GET /rest/socialActions/{urn}`` (likes, comments);
* delete: ``DELETE /rest/posts/{urn}``; reconcile: ``GET /rest/posts?q=author`` by text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

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
    Problem,
    PublicationRef,
    PublishResult,
    SettingField,
    TransientError,
    capability_problems,
    send_request,
    text_with_links,
)

__all__ = ["API_VERSION", "LinkedInNetwork"]

#: The Posts API version Kairos is written against (``LinkedIn-Version``).
API_VERSION = "202609"
API_URL = "https://api.linkedin.com"
AUTHORIZE_URL = "https://www.linkedin.com/oauth/v2/authorization"
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
SCOPES = (
    "openid",
    "profile",
    "w_member_social",
    "w_organization_social",
    "r_organization_social",
    "rw_organization_admin",
)
USER_AGENT = "Kairos-LinkedIn/1"
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _api() -> str:
    return os.environ.get("KAIROS_LINKEDIN_API_URL", API_URL).rstrip("/")


def _version() -> str:
    return os.environ.get("KAIROS_LINKEDIN_VERSION", API_VERSION)


class LinkedInNetwork(Network):
    key = "linkedin"
    display_name = "LinkedIn"
    capabilities = Capabilities(
        max_text_length=3000,
        supports_media=True,
        supports_links=True,
        can_find_existing=True,
        can_delete=True,
        metrics=("impressions", "clicks", "reactions", "shares", "replies"),
        max_media=1,
        media_types=("image/jpeg", "image/png", "image/gif", "application/pdf"),
        max_media_bytes=100 * 1024 * 1024,
    )
    settings_schema = (
        SettingField(
            "author",
            "Author",
            "The member (urn:li:person:...) or organisation (urn:li:organization:...) that posts; "
            "set when the channel is connected.",
        ),
        SettingField(
            "visibility", "Visibility", "PUBLIC (default) or CONNECTIONS.", default="PUBLIC"
        ),
    )
    secret_fields = (
        SettingField("access_token", "Access token", "Set by connecting.", "secret", True),
        SettingField("refresh_token", "Refresh token", "Set by connecting.", "secret"),
    )

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
        token: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        if not token:
            raise CredentialsExpired("The LinkedIn channel has no access token; reconnect it.")
        headers = {
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": _version(),
            "X-Restli-Protocol-Version": "2.0.0",
        }
        if content_type:
            headers["Content-Type"] = content_type
        return send_request(
            self._http,
            method,
            url if url.startswith("http") else _api() + url,
            network=self.key,
            peer="LinkedIn",
            headers=headers,
            json=json,
            content=content,
            timeout=_TIMEOUT,
        )

    def _answer(self, response: httpx.Response, doing: str, *, creating: bool = False) -> Any:
        status = response.status_code
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if 200 <= status < 300:
            return data
        body = data if isinstance(data, dict) else {}
        message = str(body.get("message") or response.reason_phrase)[:300]
        code = str(body.get("code") or "")
        detail = f"HTTP {status}: {response.text[:1000]}"
        if status == 426 or code in ("NONEXISTENT_VERSION", "VERSION_MISSING"):
            raise PermanentError(
                f"LinkedIn no longer serves API version {_version()} ({message}). Update Kairos, "
                "or set KAIROS_LINKEDIN_VERSION to a version LinkedIn supports, then retry.",
                code="linkedin_version_sunset",
                detail=detail,
            )
        if status == 401:
            raise CredentialsExpired(
                f"LinkedIn no longer accepts the channel's access ({message}); reconnect it.",
                code="credentials_expired",
                detail=detail,
            )
        if status == 429:
            wait = response.headers.get("Retry-After", "")
            raise TransientError(
                f"LinkedIn is throttling this account while {doing} (its limits are daily).",
                code="rate_limited",
                detail=detail,
                retry_after=float(wait) if wait.isascii() and wait.isdigit() else 3600.0,
            )
        if status >= 500:
            raise TransientError(
                f"LinkedIn failed while {doing} (HTTP {status}).",
                code=f"http_{status}",
                detail=detail,
                may_have_posted=creating and status in (500, 502, 504),
            )
        if status == 404:
            raise PermanentError(f"LinkedIn has no such post ({doing}).", code="not_found")
        raise PermanentError(
            f"LinkedIn refused {doing}: {message}.", code=f"http_{status}", detail=detail
        )

    # --- connecting ----------------------------------------------------------------------------

    def oauth_app(self, settings: Mapping[str, Any]) -> OAuthApp:
        return OAuthApp(
            authorize_url=os.environ.get("KAIROS_LINKEDIN_AUTHORIZE_URL", AUTHORIZE_URL),
            token_url=os.environ.get("KAIROS_LINKEDIN_TOKEN_URL", TOKEN_URL),
            scopes=SCOPES,
            pkce=False,  # LinkedIn's web flow authenticates the client with its secret
            refreshable=True,
        )

    def oauth_accounts(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> Sequence[ConnectedAccount]:
        access = str(token["access_token"])
        me = self._answer(self._request(access, "GET", "/v2/userinfo"), "reading your profile")
        member = ConnectedAccount.from_token(
            token,
            handle=str(me.get("name") or me["sub"]),
            account_id=f"urn:li:person:{me['sub']}",
            display_name=str(me.get("name") or ""),
            avatar_url=str(me.get("picture") or ""),
            settings={"author": f"urn:li:person:{me['sub']}"},
            kind="Member",
        )
        acls = self._answer(
            self._request(
                access,
                "GET",
                "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED",
            ),
            "listing the organisations you administer",
        )
        accounts = [member]
        for element in (acls or {}).get("elements") or []:
            urn = str(element.get("organization") or "")
            if not urn.startswith("urn:li:organization:"):
                continue
            org = self._answer(
                self._request(access, "GET", f"/rest/organizations/{urn.rsplit(':', 1)[1]}"),
                "reading an organisation",
            )
            name = str((org or {}).get("localizedName") or urn)
            accounts.append(
                ConnectedAccount.from_token(
                    token,
                    handle=name,
                    account_id=urn,
                    display_name=name,
                    settings={"author": urn},
                    kind="Organisation",
                )
            )
        return accounts

    # --- posting -------------------------------------------------------------------------------

    @staticmethod
    def _author(channel: ChannelContext) -> str:
        author = str(channel.settings.get("author") or "")
        if not author.startswith(("urn:li:person:", "urn:li:organization:")):
            raise PermanentError(
                "The channel names no LinkedIn member or organisation; connect it again.",
                code="no_author",
            )
        return author

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = capability_problems(post, self.capabilities)
        visibility = channel.settings.get("visibility") or "PUBLIC"
        if visibility not in ("PUBLIC", "CONNECTIONS"):
            problems.append(
                Problem(
                    "invalid_setting",
                    "Visibility must be PUBLIC or CONNECTIONS.",
                    "settings.visibility",
                )
            )
        return problems

    def upload_media(self, media: MediaRef, content: bytes, channel: ChannelContext) -> str:
        """Initialise an upload (image or document), then PUT the bytes where LinkedIn says."""
        token = channel.secrets.get("access_token", "")
        kind = "documents" if media.mime_type == "application/pdf" else "images"
        data = self._answer(
            self._request(
                token,
                "POST",
                f"/rest/{kind}?action=initializeUpload",
                json={"initializeUploadRequest": {"owner": self._author(channel)}},
            ),
            "starting an upload",
        )
        value = (data or {}).get("value") or {}
        urn = str(value.get("image") or value.get("document") or "")
        upload_url = str(value.get("uploadUrl") or "")
        if not urn or not upload_url:
            raise TransientError("LinkedIn did not say where to upload.", code="bad_answer")
        self._answer(
            self._request(
                token,
                "PUT",
                upload_url,
                content=content,
                content_type=media.mime_type or "application/octet-stream",
            ),
            "uploading the file",
        )
        return urn

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        body: dict[str, Any] = {
            "author": self._author(channel),
            "commentary": text_with_links(post),
            "visibility": channel.settings.get("visibility") or "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        media = [m for m in post.media if m.network_id]
        if media:
            attached: dict[str, Any] = {"id": media[0].network_id}
            if media[0].network_id.startswith("urn:li:document:"):
                attached["title"] = media[0].name or "Document"
            elif media[0].alt_text:
                attached["altText"] = media[0].alt_text[:4086]
            body["content"] = {"media": attached}
        response = self._request(
            channel.secrets.get("access_token", ""), "POST", "/rest/posts", json=body
        )
        self._answer(response, "creating the post", creating=True)
        urn = response.headers.get("x-restli-id", "")
        if not urn:
            raise TransientError(
                "LinkedIn answered without the post's id.", code="bad_answer", may_have_posted=True
            )
        return PublishResult(external_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/")

    def find_existing(
        self,
        idempotency_key: str,
        channel: ChannelContext,
        post: Post | None = None,
        first_attempt_at: datetime | None = None,
    ) -> PublishResult | None:
        if post is None:
            return None
        since = (first_attempt_at or datetime.now(UTC)) - timedelta(minutes=2)
        author = self._author(channel)
        data = self._answer(
            self._request(
                channel.secrets.get("access_token", ""),
                "GET",
                f"/rest/posts?q=author&author={quote(author, safe='')}&count=20"
                "&sortBy=LAST_MODIFIED",
            ),
            "looking for the post",
        )
        text = text_with_links(post)
        for element in (data or {}).get("elements") or []:
            created = element.get("createdAt")
            recent = not isinstance(created, int) or created / 1000 >= since.timestamp()
            if element.get("commentary") == text and recent and element.get("id"):
                urn = str(element["id"])
                return PublishResult(
                    external_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/"
                )
        return None

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        token, author = channel.secrets.get("access_token", ""), self._author(channel)
        if author.startswith("urn:li:organization:"):
            kind = "ugcPosts" if ":ugcPost:" in ref.external_id else "shares"
            data = self._answer(
                self._request(
                    token,
                    "GET",
                    "/rest/organizationalEntityShareStatistics?q=organizationalEntity"
                    f"&organizationalEntity={quote(author, safe='')}"
                    f"&{kind}=List({quote(ref.external_id, safe='')})",
                ),
                "reading the share statistics",
            )
            elements = (data or {}).get("elements") or [{}]
            stats = elements[0].get("totalShareStatistics") or {}

            def count(name: str) -> int | None:
                value = stats.get(name)
                return value if isinstance(value, int) else None

            return MetricSnapshot(
                impressions=count("impressionCount"),
                clicks=count("clickCount"),
                reactions=count("likeCount"),
                shares=count("shareCount"),
                replies=count("commentCount"),
            )
        data = self._answer(
            self._request(token, "GET", f"/rest/socialActions/{quote(ref.external_id, safe='')}"),
            "reading the post's reactions",
        )
        likes = ((data or {}).get("likesSummary") or {}).get("totalLikes")
        comments = ((data or {}).get("commentsSummary") or {}).get("aggregatedTotalComments")
        return MetricSnapshot(
            reactions=likes if isinstance(likes, int) else None,
            replies=comments if isinstance(comments, int) else None,
        )

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        response = self._request(
            channel.secrets.get("access_token", ""),
            "DELETE",
            f"/rest/posts/{quote(ref.external_id, safe='')}",
        )
        if response.status_code == 404:
            return
        self._answer(response, "deleting the post")
