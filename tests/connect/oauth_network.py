"""A network plugin that connects through the loopback Authlib server (``oauth_server``): what
any commercial network's plugin declares for the generic flow - endpoints, scopes, PKCE, the
refresh grant and how to read the account (or the several accounts a login manages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from publishers import (
    Capabilities,
    ChannelContext,
    ConnectedAccount,
    CredentialsExpired,
    MetricSnapshot,
    Network,
    OAuthApp,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    capability_problems,
    hookimpl,
    send_request,
)

KEY = "oauthdemo"
_TIMEOUT = httpx.Timeout(5.0)


class LoopbackOAuthNetwork(Network):
    key = KEY
    display_name = "OAuth demo"
    capabilities = Capabilities(max_text_length=500)

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def oauth_app(self, settings: Mapping[str, Any]) -> OAuthApp:
        return OAuthApp(
            authorize_url=f"{self.base_url}/authorize",
            token_url=f"{self.base_url}/token",
            scopes=("post", "read", "offline"),
            pkce=True,
            refreshable=True,
        )

    def _get(self, path: str, access_token: str) -> Any:
        with httpx.Client() as client:
            answer = send_request(
                client,
                "GET",
                f"{self.base_url}{path}",
                network=KEY,
                peer="the demo network",
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=_TIMEOUT,
            )
        answer.raise_for_status()
        return answer.json()

    def oauth_accounts(
        self, settings: Mapping[str, Any], token: Mapping[str, Any]
    ) -> Sequence[ConnectedAccount]:
        me = self._get("/me", str(token.get("access_token", "")))
        managed = self._get("/me/managed", str(token["access_token"]))["data"]
        if managed:  # pages: each posts with its own token, which does not expire
            return [
                ConnectedAccount(
                    handle=page["name"],
                    account_id=page["id"],
                    display_name=page["name"],
                    secrets={"access_token": page["access_token"]},
                    settings={"page_id": page["id"]},
                    kind="Page",
                )
                for page in managed
            ]
        return [
            ConnectedAccount.from_token(
                token,
                handle=f"@{me['username']}",
                account_id=str(me["id"]),
                display_name=me["name"],
                avatar_url=me["avatar"],
            )
        ]

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        return capability_problems(post, self.capabilities)

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        with httpx.Client() as client:
            answer = send_request(
                client,
                "POST",
                f"{self.base_url}/posts",
                network=KEY,
                peer="the demo network",
                headers={"Authorization": f"Bearer {channel.secrets.get('access_token', '')}"},
                timeout=_TIMEOUT,
                json={"text": post.body},
            )
        if answer.status_code == 401:
            raise CredentialsExpired("The demo network refused the token.", code="unauthorized")
        if answer.status_code != 201:
            raise PermanentError("The demo network refused the post.", detail=answer.text)
        body = answer.json()
        return PublishResult(external_id=body["id"], url=body["url"])

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        return MetricSnapshot()


class Plugin:
    def __init__(self, base_url: str) -> None:
        self.network = LoopbackOAuthNetwork(base_url)

    @hookimpl
    def register_networks(self) -> list[Network]:
        return [self.network]
