"""Connecting a channel with OAuth 2.0: what a network declares, what the host does with it.

A network that connects accounts with a button instead of a pasted token returns an
:class:`OAuthApp` from :meth:`~publishers.Network.oauth_app` (its authorisation and token
endpoints, scopes, PKCE), and reads the account after the exchange in
:meth:`~publishers.Network.oauth_account`. Networks whose servers each need their own client
(Mastodon registers an app per instance) also implement
:meth:`~publishers.Network.register_oauth_client`; the others get their client id and secret
from the operator's environment (``KAIROS_OAUTH_<NETWORK>_CLIENT_ID`` / ``_SECRET``), never
from a workspace. The host runs the flow itself - state, PKCE verifier, code exchange, refresh -
with Authlib, so a plugin never handles a browser redirect nor a refresh token's rotation.

Some logins give access to several accounts (the Facebook Pages a person manages, the LinkedIn
organisations they administer): :meth:`~publishers.Network.oauth_accounts` then returns each,
and the person picks one after signing in.

Access tokens that expire are renewed by the host before they do, when the app says
``refreshable`` and the token came with a refresh token: a plugin sets
:attr:`ConnectedAccount.expires_at` (usually through :meth:`ConnectedAccount.from_token`) and
the host keeps the rest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ConnectedAccount",
    "OAuthApp",
    "OAuthClient",
    "operator_client",
    "token_expiry",
    "token_secrets",
]


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """A network's authorisation-code flow for one server."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    pkce: bool = True
    #: Where the account to connect lives, for the address rules (an instance's URL); the
    #: host checks the token endpoint against the operator's private-address setting.
    server: str = ""
    #: The token endpoint renews access with ``grant_type=refresh_token`` (RFC 6749 section
    #: 6); the host does it before the access token expires.
    refreshable: bool = False
    #: How the client authenticates at the token endpoint when it has a secret:
    #: ``client_secret_post`` (in the form) or ``client_secret_basic`` (HTTP Basic, X's way).
    token_auth_method: str = "client_secret_post"
    #: Extra query parameters of the authorisation URL (a network's ``prompt``, ``audience``).
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """The client a network knows Kairos by (registered on the server, or the operator's)."""

    client_id: str
    client_secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    """The account behind the tokens: what the channel shows, and the secrets it keeps."""

    handle: str
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    display_name: str = ""
    account_id: str = ""
    avatar_url: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: When the access token in ``secrets`` stops working (epoch seconds), or ``None`` when it
    #: does not expire (a Facebook Page token); the host refreshes it before then.
    expires_at: float | None = None
    #: What the person is choosing when a login gives several accounts ("Page",
    #: "Organisation", "Member"), shown in the picker.
    kind: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.handle, str) or not self.handle:
            raise ValueError("a connected account needs a handle")
        object.__setattr__(
            self, "secrets", MappingProxyType({str(k): str(v) for k, v in self.secrets.items()})
        )
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @classmethod
    def from_token(cls, token: Mapping[str, Any], handle: str, **fields: Any) -> ConnectedAccount:
        """An account whose channel posts with the user's own token (and refresh token)."""
        return cls(
            handle=handle, secrets=token_secrets(token), expires_at=token_expiry(token), **fields
        )

    def public(self) -> dict[str, str]:
        """What a picker shows of this account: never its secrets."""
        return {
            "id": self.account_id or self.handle,
            "handle": self.handle,
            "display_name": self.display_name,
            "avatar_url": self.avatar_url,
            "kind": self.kind,
        }


def token_secrets(token: Mapping[str, Any]) -> dict[str, str]:
    """The secrets a channel keeps from a token answer: the access token, and the refresh
    token when there is one.

    :raises ValueError: the answer holds no access token (a malformed token response).
    """
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise ValueError("the token response holds no access_token")
    secrets = {"access_token": access}
    refresh = token.get("refresh_token")
    if isinstance(refresh, str) and refresh:
        secrets["refresh_token"] = refresh
    return secrets


def token_expiry(token: Mapping[str, Any]) -> float | None:
    """When the token's access expires (epoch seconds): ``expires_at`` as Authlib computes it
    from ``expires_in``, or ``None`` for a token without a lifetime."""
    value = token.get("expires_at")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def operator_client(network_key: str) -> OAuthClient | None:
    """The client the operator configured for ``network_key`` in the environment
    (``KAIROS_OAUTH_<NETWORK>_CLIENT_ID`` / ``_CLIENT_SECRET``), or ``None``. A plugin needs it
    only for a network-specific exchange beyond the standard flow (Facebook's long-lived token)."""
    prefix = f"KAIROS_OAUTH_{network_key.upper().replace('-', '_')}"
    client_id = os.environ.get(f"{prefix}_CLIENT_ID", "")
    if not client_id:
        return None
    return OAuthClient(client_id, os.environ.get(f"{prefix}_CLIENT_SECRET", ""))
