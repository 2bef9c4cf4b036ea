"""The Pigeon network: a small HTTP API with idempotency keys, search, metrics and deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx

from publishers import (
    Capabilities,
    ChannelContext,
    ClientPool,
    CredentialsExpired,
    MetricSnapshot,
    Network,
    PermanentError,
    Post,
    Problem,
    PublicationRef,
    PublishResult,
    SettingField,
    TransientError,
    capability_problems,
    send_request,
)

TIMEOUT = httpx.Timeout(5.0, read=10.0)


class PigeonNetwork(Network):
    key = "pigeon"
    display_name = "Pigeon"
    capabilities = Capabilities(
        max_text_length=280,
        max_links=1,
        supports_links=True,
        supports_idempotency_key=True,
        can_find_existing=True,
        can_delete=True,
        metrics=("impressions", "clicks"),
    )
    settings_schema = (
        SettingField(
            "base_url", "API URL", "e.g. https://api.pigeon.example", "url", required=True
        ),
    )
    secret_fields = (
        SettingField("api_token", "API token", "From Pigeon's settings.", "secret", required=True),
    )

    def __init__(self) -> None:
        # One pool per network object: posts to the same Pigeon server reuse a kept-alive
        # connection, and every request is checked against private addresses first.
        self._pool = ClientPool()

    def close(self) -> None:
        """Close the kept connections (Kairos calls it when the plugin is unloaded)."""
        self._pool.close()

    # --- helpers -----------------------------------------------------------------------

    def _call(
        self,
        channel: ChannelContext,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request, with transport and status errors turned into Kairos errors."""
        url = str(channel.settings["base_url"]).rstrip("/") + path
        if params:
            url = f"{url}?{urlencode(params)}"
        # send_request refuses private addresses unless the operator allows them
        # (KAIROS_ALLOW_PRIVATE_NETWORKS=pigeon) and turns a failed connection or a time-out
        # into a TransientError that says whether the post may have gone through.
        response = send_request(
            self._pool,
            method,
            url,
            network=self.key,
            peer="Pigeon",
            headers={
                "Authorization": f"Bearer {channel.secrets.get('api_token', '')}",
                **(headers or {}),
            },
            timeout=TIMEOUT,
            json=json,
        )
        if response.status_code in (401, 403):
            raise CredentialsExpired("Pigeon refused the API token; reconnect the channel.")
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise TransientError(
                f"Pigeon answered HTTP {response.status_code}.",
                code=f"http_{response.status_code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code >= 400 and response.status_code != 404:
            raise PermanentError(
                f"Pigeon refused the request (HTTP {response.status_code}).",
                code=f"http_{response.status_code}",
                detail=response.text,
            )
        return response

    @staticmethod
    def _result(data: dict) -> PublishResult:
        return PublishResult(str(data["id"]), data.get("url", ""), datetime.now(UTC))

    # --- the contract ----------------------------------------------------------------------

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        return capability_problems(post, self.capabilities)

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        response = self._call(
            channel,
            "POST",
            "/posts",
            json={"text": post.body, "link": post.links[0] if post.links else None},
            headers={"Idempotency-Key": idempotency_key},
        )
        if response.status_code == 404:
            raise PermanentError("Pigeon's API URL is wrong.", code="http_404")
        return self._result(response.json())

    def find_existing(self, idempotency_key: str, channel: ChannelContext) -> PublishResult | None:
        response = self._call(channel, "GET", "/posts", params={"idempotency_key": idempotency_key})
        items = response.json() if response.status_code == 200 else []
        return self._result(items[0]) if items else None

    def delete(self, ref: PublicationRef, channel: ChannelContext) -> None:
        self._call(channel, "DELETE", f"/posts/{ref.external_id}")

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        response = self._call(channel, "GET", f"/posts/{ref.external_id}/metrics")
        if response.status_code == 404:
            raise PermanentError("Pigeon has no such post.", code="not_found")
        data = response.json()
        return MetricSnapshot(impressions=data.get("views"), clicks=data.get("clicks"))
