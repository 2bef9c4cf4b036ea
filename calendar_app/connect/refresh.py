"""Keeping OAuth access alive: renew tokens before they expire, expire channels whose renewal
the network refuses.

Why it is built this way:

* A schedule (``kairos.refresh_tokens``, every minute) renews each token that expires within
  ``KAIROS_TOKEN_REFRESH_MARGIN_SECONDS``; renewing early leaves room for a network that is down
  for a while, and posting never waits on a refresh.
* Refresh tokens rotate on most networks: spending one twice gets the second attempt refused,
  which must not expire a healthy channel. A short lease (``ChannelToken.refreshing_until``),
  taken with one conditional UPDATE, lets exactly one worker spend it.
* Only a refusal of the grant itself (``invalid_grant``, a revoked or unknown client) expires the
  channel - with the network's own words as the reason, the ``channel.expired`` webhook and the
  admin's status - and holds its publications until the person reconnects (which releases them:
  :mod:`calendar_app.delivery.held`). A network that is down, answers a 5xx or something that is
  not a token is tried again on the next run; the stored tokens stay as they were.
* A refresh token is never replaced with an empty one (:meth:`publishers.Network.oauth_refreshed`).
"""

from __future__ import annotations

import logging
import time
import warnings
from datetime import UTC, datetime, timedelta

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calendar_app.connect.flow import _oauth, _operator_client
from calendar_app.connect.models import ChannelToken, OAuthRegistration
from calendar_app.delivery.held import hold
from calendar_app.models import Channel, ChannelStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import OAuthClient, UnknownNetworkError
from publishers.errors import excerpt

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuthError

__all__ = ["RefreshOutcome", "refresh_channel_token", "refresh_due_tokens"]

logger = logging.getLogger("kairos.connect")
LEASE = timedelta(seconds=90)
#: OAuth error codes that mean the grant is gone for good (RFC 6749 section 5.2).
_REFUSED = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope"}


class RefreshOutcome:
    REFRESHED = "refreshed"
    EXPIRED = "expired"
    RETRY = "retry"
    SKIPPED = "skipped"


def margin() -> timedelta:
    return timedelta(seconds=getattr(django_settings, "KAIROS_TOKEN_REFRESH_MARGIN_SECONDS", 900))


def _due() -> Q:
    now = timezone.now()
    return Q(
        channel__status=ChannelStatus.CONNECTED,
        expires_at__isnull=False,
        expires_at__lte=now + margin(),
    ) & (Q(refreshing_until__isnull=True) | Q(refreshing_until__lt=now))


def _lease(token_id: int) -> bool:
    """Take the right to spend this channel's refresh token for a short while; ``False`` when
    another worker holds it or the token is no longer due."""
    until = timezone.now() + LEASE
    return bool(ChannelToken.objects.filter(_due(), pk=token_id).update(refreshing_until=until))


def _client_for(network_key: str, server: str) -> OAuthClient | None:
    network = get_plugins().network(network_key)
    configured = _operator_client(network)
    if configured is not None:
        return configured
    known = OAuthRegistration.objects.filter(network=network_key, server=server).first()
    if known is None:
        return None
    return OAuthClient(known.client_id, str(known.secrets.get("client_secret", "")))


def _settle(token: ChannelToken, **fields: object) -> None:
    ChannelToken.objects.filter(pk=token.pk).update(
        refreshing_until=None, updated_at=timezone.now(), **fields
    )


def _expire(channel: Channel, token: ChannelToken, reason: str) -> str:
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        if locked.status == ChannelStatus.CONNECTED:
            hold(locked, excerpt(reason, 480))
        _settle(token, last_error=excerpt(reason, 480))
    return RefreshOutcome.EXPIRED


def refresh_channel_token(token: ChannelToken) -> str:
    """Renew one channel's access token if it is due and nobody else is renewing it; returns
    what happened (:class:`RefreshOutcome`)."""
    if not _lease(token.pk):
        return RefreshOutcome.SKIPPED
    channel = Channel.objects.get(pk=token.channel_id)
    try:
        network = get_plugins().network(channel.network)
    except UnknownNetworkError:
        _settle(token, last_error="The channel's network is not installed.")
        return RefreshOutcome.RETRY
    app = network.oauth_app(channel.settings)
    refresh_token = str(channel.secrets.get("refresh_token", ""))
    if app is None or not app.refreshable or not refresh_token:
        if token.expires_at and token.expires_at <= timezone.now():
            return _expire(
                channel,
                token,
                f"The {network.display_name} access expired and the network gives no way to "
                "renew it; reconnect the channel.",
            )
        _settle(token)
        return RefreshOutcome.SKIPPED
    client = _client_for(network.key, app.server or app.token_url)
    if client is None:
        _settle(token, last_error="No OAuth client is configured for this network.")
        return RefreshOutcome.RETRY
    try:
        with _oauth(client, app, "") as oauth:
            answer = oauth.refresh_token(app.token_url, refresh_token=refresh_token)
        secrets = network.oauth_refreshed(channel.secrets, answer)
    except OAuthError as exc:
        if exc.error in _REFUSED:
            words = exc.description or exc.error
            return _expire(
                channel,
                token,
                f"{network.display_name} refused to renew the access ({excerpt(words, 200)}); "
                "reconnect the channel.",
            )
        _settle(token, last_error=excerpt(f"{exc.error}: {exc.description}", 480))
        return RefreshOutcome.RETRY
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        logger.info("refreshing channel %s failed, will retry: %r", channel.pk, exc)
        _settle(token, last_error=excerpt(f"The network could not renew the access: {exc!r}", 480))
        return RefreshOutcome.RETRY
    expires = answer.get("expires_at")
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        locked.secrets = secrets
        locked.save(update_fields=["secrets", "updated_at"])
        _settle(
            token,
            expires_at=datetime.fromtimestamp(expires, tz=UTC)
            if isinstance(expires, int | float) and expires > 0
            else None,
            refreshed_at=timezone.now(),
            last_error="",
        )
    return RefreshOutcome.REFRESHED


def refresh_due_tokens(limit: int = 500) -> dict[str, float]:
    """The scheduled run: renew every token that expires within the margin. Returns the count
    per outcome and the rate (channels handled per second) for the logs and the benchmark."""
    started = time.monotonic()
    counts: dict[str, float] = {}
    due = ChannelToken.objects.filter(_due()).order_by("expires_at")[:limit]
    for token in list(due):
        try:
            outcome = refresh_channel_token(token)
        except Exception:  # one plugin's bug must not stop the others' renewals
            logger.exception("refreshing the token of channel %s failed", token.channel_id)
            _settle(token, last_error="Kairos failed to renew the access; see the logs.")
            outcome = RefreshOutcome.RETRY
        counts[outcome] = counts.get(outcome, 0) + 1
    elapsed = max(time.monotonic() - started, 1e-9)
    handled = sum(counts.values())
    counts["per_second"] = handled / elapsed if handled else 0.0
    if handled:
        logger.info("token refresh run: %s", counts)
    return counts
