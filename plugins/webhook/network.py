"""The webhook network: each post is POSTed as signed JSON to the channel's URL.

Receivers get ``Content-Type: application/json``, ``Idempotency-Key`` (the same for every attempt
of one publication: receivers must deduplicate on it) and ``Kairos-Signature`` (see
:mod:`plugins.webhook.signing`). A 2xx answer may carry ``{"id": ..., "url": ...}``; without an
``id`` the idempotency key is the external id.

Answers map to errors as the contract requires: 401/403 expire the channel's credentials; 408,
425, 429 and 5xx are transient (``Retry-After`` honoured, in seconds or as an HTTP date); other
3xx/4xx are permanent (redirects are not followed). A read time-out, after the request was sent,
is transient with ``may_have_posted``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from plugins.webhook.addresses import resolve_target
from plugins.webhook.signing import SIGNATURE_HEADER, signature_header
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
    private_allowed,
    send_request,
)

__all__ = ["WebhookNetwork", "parse_retry_after"]

USER_AGENT = "Kairos-Webhook/1"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


class WebhookNetwork(Network):
    """Delivers posts to an HTTP endpoint the customer runs."""

    key = "webhook"
    display_name = "Webhook"
    capabilities = Capabilities(
        max_text_length=20000,
        max_links=50,
        supports_media=True,
        supports_links=True,
        supports_threads=False,
        supports_idempotency_key=True,
        can_find_existing=False,
        can_delete=False,
        metrics=(),
        per_recipient_split=False,
    )
    settings_schema = (
        SettingField("url", "URL", "Where posts are POSTed (http or https).", "url", required=True),
        SettingField("connect_timeout", "Connect time-out", "Seconds.", "number", default=5.0),
        SettingField("read_timeout", "Read time-out", "Seconds.", "number", default=15.0),
    )
    secret_fields = (
        SettingField(
            "signing_secret",
            "Signing secret",
            "Shared secret for the Kairos-Signature HMAC.",
            "secret",
            required=True,
        ),
    )

    def __init__(self) -> None:
        # Kept connections, one client per receiver host (see publishers.http.ClientPool): a new
        # client per post cost 16 ms of a 19 ms delivery.
        self._http = ClientPool(follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self._http.close()

    def validate(self, post: Post, channel: ChannelContext) -> list[Problem]:
        problems = capability_problems(post, self.capabilities)
        url = str(channel.settings.get("url") or "")
        if not url:
            problems.append(
                Problem("missing_setting", "The webhook URL is required.", "settings.url")
            )
        elif urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
            problems.append(
                Problem("invalid_url", "The webhook URL must be an http(s) URL.", "settings.url")
            )
        return problems

    def test_connection(self, channel: ChannelContext) -> list[Problem]:
        problems = super().test_connection(channel)
        url = str(channel.settings.get("url") or "")
        if url:
            try:
                resolve_target(url, allow_private=self._allow_private(channel))
            except (PermanentError, TransientError) as exc:
                problems.append(Problem(exc.code, exc.reason, "settings.url"))
        return problems

    def _allow_private(self, channel: ChannelContext) -> bool:
        """Loopback and private targets are the operator's decision (an on-premises receiver, a
        test rig: ``KAIROS_ALLOW_PRIVATE_NETWORKS``); a channel's settings cannot grant it."""
        return private_allowed(self.key)

    @staticmethod
    def _timeout(channel: ChannelContext) -> httpx.Timeout:
        connect = float(channel.settings.get("connect_timeout", 5.0))
        read = float(channel.settings.get("read_timeout", 15.0))
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    @staticmethod
    def payload(post: Post, channel: ChannelContext, idempotency_key: str) -> bytes:
        """The JSON body sent to receivers."""
        document = {
            "type": "kairos.post",
            "idempotency_key": idempotency_key,
            "channel": {"id": channel.id, "handle": channel.handle},
            "post": post.to_dict(),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def publish(self, post: Post, channel: ChannelContext, idempotency_key: str) -> PublishResult:
        secret = channel.secrets.get("signing_secret")
        if not secret:
            raise CredentialsExpired("The webhook channel has no signing secret; reconnect it.")
        url = str(channel.settings.get("url") or "")
        body = self.payload(post, channel, idempotency_key)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": idempotency_key,
            SIGNATURE_HEADER: signature_header(secret, body),
        }
        response = send_request(
            self._http,
            "POST",
            url,
            network=self.key,
            peer="the webhook receiver",
            headers=headers,
            content=body,
            timeout=self._timeout(channel),
        )
        return self._interpret(response, idempotency_key)

    @staticmethod
    def _interpret(response: httpx.Response, idempotency_key: str) -> PublishResult:
        status = response.status_code
        detail = f"HTTP {status}: {response.text[:1000]}"
        if 200 <= status < 300:
            data: dict[str, Any] = {}
            try:
                parsed = response.json()
                data = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                pass
            return PublishResult(
                external_id=str(data.get("id") or idempotency_key),
                url=str(data.get("url") or ""),
                published_at=datetime.now(UTC),
            )
        if status in (401, 403):
            raise CredentialsExpired(
                f"The webhook receiver refused the signature (HTTP {status}); check the secret.",
                detail=detail,
            )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (408, 425, 429) or status >= 500:
            raise TransientError(
                f"The webhook receiver answered HTTP {status}.",
                code="rate_limited" if status == 429 else f"http_{status}",
                detail=detail,
                retry_after=retry_after,
                may_have_posted=status in (500, 502, 504),
            )
        if 300 <= status < 400:
            raise PermanentError(
                f"The webhook receiver redirected (HTTP {status}); use the final URL.",
                code="redirect_refused",
                detail=detail,
            )
        raise PermanentError(
            f"The webhook receiver refused the post (HTTP {status}).",
            code=f"http_{status}",
            detail=detail,
        )

    def fetch_metrics(self, ref: PublicationRef, channel: ChannelContext) -> MetricSnapshot:
        """Webhook receivers report nothing back; clicks come from Kairos' tracked links."""
        return MetricSnapshot(collected_at=datetime.now(UTC))
