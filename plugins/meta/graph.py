"""Meta's Graph API, shared by the Facebook Pages and Instagram networks: the pinned version,
Facebook Login, the error codes and the usage headers.

Errors come as ``{"error": {"message", "type", "code", "error_subcode", "is_transient"}}``:

* code 190 (and 102, 463, 467): the access token is invalid or expired - the channel expires;
* codes 4, 17, 32, 613 and 80001-80014 (the ``*-use-case`` ones): a rate limit - retried after
  the ``estimated_time_to_regain_access`` of ``X-Business-Use-Case-Usage``, else in 15 minutes;
* codes 1, 2, ``is_transient``, and any 5xx: transient;
* code 368 (blocked for a policy), 10 and 200-299 (a permission is missing), 100 (a bad
  parameter) and the rest: permanent, with Meta's own message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import httpx

from publishers import (
    ClientPool,
    CredentialsExpired,
    OAuthApp,
    PermanentError,
    RateLimit,
    TransientError,
    observe_rate_limit,
    operator_client,
    send_request,
)

__all__ = ["GRAPH_VERSION", "Graph", "facebook_login"]

#: The Graph API version every call names; Meta keeps a version for about two years.
GRAPH_VERSION = "v23.0"
GRAPH_URL = "https://graph.facebook.com"
AUTHORIZE_URL = f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth"
USER_AGENT = "Kairos-Meta/1"
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_EXPIRED = {190, 102, 463, 467}
_RATE_LIMITED = {4, 17, 32, 613, *range(80001, 80015)}


def graph_url() -> str:
    return os.environ.get("KAIROS_META_GRAPH_URL", GRAPH_URL).rstrip("/") + f"/{GRAPH_VERSION}"


def facebook_login(scopes: tuple[str, ...]) -> OAuthApp:
    """Facebook Login's authorisation-code flow (with PKCE), for Pages and Instagram alike."""
    return OAuthApp(
        authorize_url=os.environ.get("KAIROS_META_AUTHORIZE_URL", AUTHORIZE_URL),
        token_url=f"{graph_url()}/oauth/access_token",
        scopes=scopes,
        pkce=True,
        refreshable=False,  # Page tokens from a long-lived user token do not expire
    )


def _regain_seconds(headers: httpx.Headers) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) in the usage headers."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    known = [m for m in minutes if isinstance(m, int | float) and m > 0]
    return max(known) * 60.0 if known else None


def _observe_usage(headers: httpx.Headers) -> None:
    """Report the app's usage (``X-App-Usage``: percentages of the budget) as a budget."""
    raw = headers.get("x-app-usage")
    if not raw:
        return
    try:
        usage = json.loads(raw)
        used = max(int(usage.get(k, 0)) for k in ("call_count", "total_time", "total_cputime"))
    except (ValueError, TypeError, AttributeError):
        return
    observe_rate_limit(RateLimit(limit=100, remaining=max(100 - used, 0)))


class Graph:
    """Graph API calls for one network (``network`` names it in reasons and address rules)."""

    def __init__(self, network: str, peer: str) -> None:
        self.network, self.peer = network, peer
        # Kept connections, one client per server host (publishers.ClientPool): posts reuse a
        # connection, and one opened for a host never serves another host at its address.
        self._http = ClientPool(follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Close the kept connections (also done at process exit)."""
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        doing: str,
        creating: bool = False,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """One Graph call; its JSON answer, or the error that says what to do next."""
        if not token:
            raise CredentialsExpired(f"The {self.peer} channel has no access token; reconnect it.")
        query = httpx.QueryParams(params or {})
        url = f"{graph_url()}{path}"
        headers = {"User-Agent": USER_AGENT, "Authorization": f"Bearer {token}"}
        body = content
        if method == "GET" or method == "DELETE":
            url = f"{url}?{query}" if params else url
        elif content is None:
            body = str(query).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        response = send_request(
            self._http,
            method,
            url,
            network=self.network,
            peer=self.peer,
            headers=headers,
            content=body,
            timeout=_TIMEOUT,
        )
        _observe_usage(response.headers)
        return self.answer(response, doing, creating=creating)

    def answer(self, response: httpx.Response, doing: str, *, creating: bool = False) -> Any:
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if 200 <= status < 300 and not error:
            return data
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        message = str(error.get("message") or response.reason_phrase)[:300]
        detail = f"HTTP {status}: {response.text[:1000]}"
        if code in _EXPIRED or (status == 401 and code is None):
            raise CredentialsExpired(
                f"{self.peer} no longer accepts the channel's access ({message}); reconnect it.",
                code="credentials_expired",
                detail=detail,
            )
        if code in _RATE_LIMITED or status == 429:
            raise TransientError(
                f"{self.peer} is rate-limiting this account while {doing} ({message}).",
                code="rate_limited",
                detail=detail,
                retry_after=_regain_seconds(response.headers) or 900.0,
            )
        if code in (1, 2) or error.get("is_transient") is True or status >= 500:
            raise TransientError(
                f"{self.peer} failed while {doing} ({message}).",
                code=f"graph_{code or status}",
                detail=detail,
                may_have_posted=creating,
            )
        raise PermanentError(
            f"{self.peer} refused {doing}: {message}.",
            code=f"graph_{code or status}",
            detail=detail,
        )

    def long_lived_user_token(self, network_key: str, short_lived: str) -> str:
        """Exchange the login's short-lived user token for a long-lived one (60 days), so the
        Page tokens read with it never expire. Needs the operator's app secret."""
        client = operator_client(network_key)
        if client is None or not client.client_secret:
            return short_lived
        data = self.call(
            "GET",
            "/oauth/access_token",
            short_lived,
            params={
                "grant_type": "fb_exchange_token",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "fb_exchange_token": short_lived,
            },
            doing="exchanging the login for a long-lived token",
        )
        return str((data or {}).get("access_token") or short_lived)
