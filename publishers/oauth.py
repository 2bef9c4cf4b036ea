"""Connecting a channel with OAuth 2.0: what a network declares, what the host does with it.

A network that connects accounts with a button instead of a pasted token returns an
:class:`OAuthApp` from :meth:`~publishers.Network.oauth_app` (its authorisation and token
endpoints, scopes, PKCE), and reads the account after the exchange in
:meth:`~publishers.Network.oauth_account`. Networks whose servers each need their own client
(Mastodon registers an app per instance) also implement
:meth:`~publishers.Network.register_oauth_client`; the others get their client id and secret
from the operator's environment (``KAIROS_OAUTH_<NETWORK>_CLIENT_ID`` / ``_SECRET``), never
from a workspace. The host runs the flow itself - state, PKCE verifier, code exchange - with
Authlib, so a plugin never handles a browser redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["ConnectedAccount", "OAuthApp", "OAuthClient"]


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

    def __post_init__(self) -> None:
        if not isinstance(self.handle, str) or not self.handle:
            raise ValueError("a connected account needs a handle")
        object.__setattr__(
            self, "secrets", MappingProxyType({str(k): str(v) for k, v in self.secrets.items()})
        )
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
