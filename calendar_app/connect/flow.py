"""Starting and finishing an OAuth 2.0 connection, all or nothing.

Why it is built this way:

* ``state`` names the flow and is single use: it is marked used in its own transaction *before*
  the code is exchanged, so a replayed callback (a double click, a leaked URL) is refused even
  while the first one is still talking to the network.
* The PKCE verifier and any client secret stay in the database (encrypted); the browser only
  ever carries the state and the code.
* The token endpoint is checked against the operator's private-address rule, like every request
  a network plugin makes; a workspace cannot aim Kairos at an internal address through an
  "instance" setting.
* The channel is created (or, for an account already connected to the brand, updated - a
  reconnect, which releases its held publications) only once the account has been read: a
  refused consent, an expired flow or a network error leave no half-made channel.
"""

from __future__ import annotations

import logging
import secrets as pysecrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning  # installs Authlib's "always" filter
from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from calendar_app.connect.models import ChannelToken, FlowStatus, OAuthFlow, OAuthRegistration
from calendar_app.models import Brand, Channel, ChannelStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import (
    AddressRefused,
    ConnectedAccount,
    Network,
    OAuthApp,
    OAuthClient,
    PublisherError,
    UnknownNetworkError,
    operator_client,
    private_allowed,
    resolve_target,
    settings_problems,
)
from publishers.errors import excerpt

with warnings.catch_warnings():  # ...then Authlib announces a future httpx2 port on import
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

__all__ = [
    "FLOW_TTL",
    "ConnectError",
    "callback_url",
    "choices",
    "choose_account",
    "finish_flow",
    "start_flow",
]

logger = logging.getLogger("kairos.connect")
FLOW_TTL = timedelta(minutes=10)
_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


@dataclass
class ConnectError(Exception):
    """Why a connection cannot start or finish, for the person trying (``field`` names what to
    fix when it is theirs to fix)."""

    code: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return self.message


def callback_url() -> str:
    """Where the network sends the person back: a public address of this deployment."""
    base = django_settings.KAIROS_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{reverse('connect-callback')}"


def _network(key: str) -> Network:
    try:
        return get_plugins().network(key)
    except UnknownNetworkError:
        raise ConnectError(
            "unknown_network", f"No network {key!r} is installed.", "network"
        ) from None


def _app(network: Network, settings: Mapping[str, Any]) -> OAuthApp:
    app = network.oauth_app(settings)
    if app is None:
        raise ConnectError(
            "oauth_not_supported",
            f"{network.display_name} channels are connected by pasting credentials, not by "
            "signing in (or its settings do not say which server).",
            "network",
        )
    try:
        resolve_target(app.token_url, allow_private=private_allowed(network.key))
    except AddressRefused:
        raise ConnectError(
            "address_refused",
            "The server's address is private or reserved; Kairos does not connect to it.",
            "settings",
        ) from None
    except PublisherError as exc:  # the name does not resolve: nothing to connect to now
        raise ConnectError(
            "server_unreachable",
            f"{network.display_name}'s sign-in server could not be reached ({exc.reason}); "
            "try again later.",
            "network",
        ) from None
    return app


def _operator_client(network: Network) -> OAuthClient | None:
    return operator_client(network.key)


def _client(
    network: Network, app: OAuthApp, settings: Mapping[str, Any], redirect: str
) -> OAuthClient:
    """The operator's client, else the one registered on this server earlier, else a new one."""
    configured = _operator_client(network)
    if configured is not None:
        return configured
    server = app.server or app.token_url
    wanted = " ".join(app.scopes)
    known = OAuthRegistration.objects.filter(
        network=network.key, server=server, redirect_uri=redirect
    ).first()
    if known is not None and set(app.scopes) <= set(known.scopes.split()):
        return OAuthClient(known.client_id, str(known.secrets.get("client_secret", "")))
    # New, or registered for fewer scopes than Kairos now asks (the server would refuse them).
    try:
        client = network.register_oauth_client(settings, redirect)
    except PublisherError as exc:
        raise ConnectError(exc.code, exc.reason, "settings") from exc
    if known is not None:
        known.client_id, known.scopes = client.client_id, wanted
        known.secrets = {"client_secret": client.client_secret}
        known.save(update_fields=["client_id", "secrets", "scopes", "updated_at"])
        return client
    try:
        with transaction.atomic():
            OAuthRegistration.objects.create(
                network=network.key,
                server=server,
                redirect_uri=redirect,
                client_id=client.client_id,
                secrets={"client_secret": client.client_secret},
                scopes=wanted,
            )
    except IntegrityError:  # two people registered at once: keep the first, use ours anyway
        pass
    return client


def _oauth(client: OAuthClient, app: OAuthApp, redirect: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret or None,
        scope=" ".join(app.scopes) or None,
        redirect_uri=redirect,
        code_challenge_method="S256" if app.pkce else None,
        token_endpoint_auth_method=app.token_auth_method if client.client_secret else "none",
        trust_env=False,
        follow_redirects=False,
        timeout=_TIMEOUT,
    )


def start_flow(
    brand: Brand, network_key: str, settings: Mapping[str, Any], user: Any
) -> tuple[OAuthFlow, str]:
    """Begin connecting an account of ``network_key`` to ``brand``; returns the flow and the
    URL to send the person to."""
    network = _network(network_key)
    problems = settings_problems(network, settings)
    if problems:
        first = problems[0]
        raise ConnectError(first.code, first.message, first.field)
    app = _app(network, settings)
    redirect = callback_url()
    client = _client(network, app, settings, redirect)
    state = pysecrets.token_urlsafe(32)
    verifier = generate_token(64) if app.pkce else ""
    with _oauth(client, app, redirect) as oauth:
        url, _ = oauth.create_authorization_url(
            app.authorize_url,
            state=state,
            code_verifier=verifier or None,
            **dict(app.extra_authorize_params),
        )
    flow = OAuthFlow.objects.create(
        workspace=brand.workspace,
        brand=brand,
        network=network.key,
        settings=dict(settings),
        state=state,
        redirect_uri=redirect,
        client_id=client.client_id,
        secrets={"code_verifier": verifier, "client_secret": client.client_secret},
        created_by=user if getattr(user, "pk", None) else None,
        expires_at=timezone.now() + FLOW_TTL,
    )
    return flow, url


def _claim(state: str) -> OAuthFlow:
    """Take the flow named by ``state`` for this callback, once."""
    with transaction.atomic():
        flow = OAuthFlow.objects.select_for_update().filter(state=state).first() if state else None
        if flow is None:
            raise ConnectError(
                "unknown_state", "This connection link is not known here; start again.", "state"
            )
        if flow.used_at is not None:
            raise ConnectError(
                "state_used",
                "This connection link was already used; start again to connect an account.",
                "state",
            )
        flow.used_at = timezone.now()
        flow.save(update_fields=["used_at", "updated_at"])
        return flow


def _fail(flow: OAuthFlow, code: str, message: str) -> ConnectError:
    OAuthFlow.objects.filter(pk=flow.pk).update(
        status=FlowStatus.FAILED,
        reason=excerpt(f"{code}: {message}", 500),
        updated_at=timezone.now(),
    )
    return ConnectError(code, message)


def finish_flow(
    state: str, code: str = "", error: str = "", error_description: str = ""
) -> OAuthFlow:
    """Complete the flow the network sent the person back with; returns it connected, or
    waiting for the person to pick one of several accounts (``choosing``).

    :raises ConnectError: unknown or used state, expired flow, refused consent, a network that
        refused the code - with nothing created.
    """
    flow = _claim(state)
    if flow.used_at and flow.expires_at < flow.used_at:
        raise _fail(flow, "flow_expired", "The connection took more than 10 minutes; start again.")
    if error:
        if error == "access_denied":
            raise _fail(flow, "consent_refused", "The account's owner did not allow Kairos.")
        raise _fail(
            flow,
            "oauth_error",
            # Whoever holds the state can put anything in these two: keep a clean excerpt.
            f"The network answered {excerpt(error, 60)!r}: {excerpt(error_description, 200)}".rstrip(
                ": "
            ),
        )
    if not code:
        raise _fail(flow, "missing_code", "The network sent no authorisation code back.")
    network = _network(flow.network)
    try:
        app = _app(network, flow.settings)
    except ConnectError as exc:
        raise _fail(flow, exc.code, exc.message) from exc
    client = OAuthClient(flow.client_id, str(flow.secrets.get("client_secret", "")))
    verifier = str(flow.secrets.get("code_verifier", "")) or None
    try:
        with _oauth(client, app, flow.redirect_uri) as oauth:
            token = oauth.fetch_token(app.token_url, code=code, code_verifier=verifier)
        if not isinstance(token.get("access_token"), str) or not token["access_token"]:
            raise ValueError("the token response holds no access_token")
    except OAuthError as exc:
        logger.warning("code exchange for flow %s refused: %r", flow.pk, exc)
        raise _fail(
            flow, "token_refused", "The network refused the authorisation code; start again."
        ) from exc
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        logger.warning("code exchange for flow %s failed: %r", flow.pk, exc)
        raise _fail(
            flow,
            "token_malformed",
            "The network's answer to the code exchange could not be read; start again.",
        ) from exc
    try:
        accounts = list(network.oauth_accounts(flow.settings, token))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        logger.warning("reading the account of flow %s failed: %r", flow.pk, exc)
        raise _fail(
            flow,
            "account_unreadable",
            "Signed in, but the network did not say which account; start again.",
        ) from exc
    except PublisherError as exc:
        raise _fail(flow, exc.code, exc.reason) from exc
    if not accounts:
        raise _fail(
            flow,
            "no_account",
            f"This login gives access to no {network.display_name} account Kairos can post to.",
        )
    if len(accounts) == 1:
        return _connect(flow, accounts[0])
    return _offer_choices(flow, accounts)


def _account_to_json(account: ConnectedAccount) -> dict[str, Any]:
    return {
        "handle": account.handle,
        "secrets": dict(account.secrets),
        "display_name": account.display_name,
        "account_id": account.account_id,
        "avatar_url": account.avatar_url,
        "settings": dict(account.settings),
        "expires_at": account.expires_at,
        "kind": account.kind,
    }


def _offer_choices(flow: OAuthFlow, accounts: list[ConnectedAccount]) -> OAuthFlow:
    """Several accounts behind one login: keep them (their tokens encrypted, with the flow)
    until the person picks one, for another ten minutes."""
    flow.secrets = {**flow.secrets, "choices": [_account_to_json(a) for a in accounts[:200]]}
    flow.status = FlowStatus.CHOOSING
    flow.expires_at = timezone.now() + FLOW_TTL
    flow.save(update_fields=["secrets", "status", "expires_at", "updated_at"])
    return flow


def choices(flow: OAuthFlow) -> list[dict[str, str]]:
    """What the picker shows for a flow waiting for a choice (never a token)."""
    if flow.status != FlowStatus.CHOOSING:
        return []
    return [ConnectedAccount(**item).public() for item in (flow.secrets or {}).get("choices", [])]


def choose_account(flow_id: int, workspace_id: int, account: str) -> OAuthFlow:
    """Connect the account the person picked after signing in.

    :raises ConnectError: the flow is not waiting for a choice, it expired, or ``account`` is
        not one it offered.
    """
    with transaction.atomic():
        flow = (
            OAuthFlow.objects.select_for_update()
            .filter(pk=flow_id, workspace_id=workspace_id)
            .first()
        )
        if flow is None or flow.status != FlowStatus.CHOOSING:
            raise ConnectError(
                "not_choosing", "This connection is not waiting for an account to be picked."
            )
        if flow.expires_at < timezone.now():
            raise _fail(
                flow, "flow_expired", "The connection took more than 10 minutes; start again."
            )
        offered = [ConnectedAccount(**item) for item in flow.secrets.get("choices", [])]
        picked = next((a for a in offered if (a.account_id or a.handle) == account), None)
        if picked is None:
            known = ", ".join(a.account_id or a.handle for a in offered)
            raise ConnectError(
                "unknown_account", f"Pick one of the accounts offered ({known}).", "account"
            )
        return _connect(flow, picked)


def _connect(flow: OAuthFlow, account: ConnectedAccount) -> OAuthFlow:
    """Create or update the brand's channel for ``account``, all at once; a reconnect of an
    expired channel releases its held publications (``delivery.held``)."""
    expires_at = datetime.fromtimestamp(account.expires_at, tz=UTC) if account.expires_at else None
    with transaction.atomic():
        channel = Channel.objects.filter(
            brand=flow.brand_id, network=flow.network, handle=account.handle
        ).first()
        if channel is None:
            channel = Channel(
                workspace_id=flow.workspace_id,
                brand_id=flow.brand_id,
                network=flow.network,
                handle=account.handle,
            )
        channel.settings = {**flow.settings, **account.settings}
        channel.secrets = dict(account.secrets)
        channel.display_name = (account.display_name or account.handle)[:120]
        if channel.status != ChannelStatus.CONNECTED:
            channel.status_changed_at = timezone.now()
        channel.status = ChannelStatus.CONNECTED
        channel.status_reason = ""
        channel.save()
        ChannelToken.objects.update_or_create(
            channel=channel,
            defaults={
                "workspace_id": flow.workspace_id,
                "expires_at": expires_at,
                "refreshing_until": None,
                "last_error": "",
            },
        )
        flow.status, flow.channel, flow.reason = FlowStatus.CONNECTED, channel, ""
        # The other accounts' tokens are not kept once one is picked.
        flow.secrets = {k: v for k, v in flow.secrets.items() if k != "choices"}
        flow.save(update_fields=["status", "channel", "reason", "secrets", "updated_at"])
    return flow
