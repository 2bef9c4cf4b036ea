"""A real OAuth 2.0 authorisation server on 127.0.0.1 for the connection tests: Authlib's own
server (its Flask integration), with the authorisation-code grant (PKCE S256 required) and the
refresh-token grant (rotating refresh tokens), and a small account API behind the tokens.

Kairos' side of the flow runs Authlib's *client*; running Authlib's *server* against it checks
the exchange as the RFCs describe it (state, PKCE, code reuse, refresh), not as a hand-written
fake would. Knobs on :class:`OAuthServer` make it misbehave the ways real networks do: refuse
refreshes, answer a malformed token response, fail with a 503, leave out the new refresh token.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

REDIRECT_URI = "https://kairos.example/connect/callback"


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,)
    scope: str = "post read offline"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    auth_method: str = "client_secret_post"

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> float:
        return self.auth_time


@dataclass
class Token:
    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> Client:
        raise NotImplementedError


@dataclass
class Account:
    id: str
    username: str
    name: str
    #: Further accounts this person manages (pages, organisations), each with its own token.
    managed: list[dict[str, str]] = field(default_factory=list)


class OAuthServer:
    """The server and its state; a context manager that serves on an ephemeral port."""

    def __init__(
        self,
        client_id: str = "kairos-client",
        client_secret: str = "s3cret",
        *,
        authorize_path: str = "/authorize",
        token_path: str = "/token",
        auth_method: str = "client_secret_post",
        scope: str = "post read offline",
        pkce_required: bool = True,
    ) -> None:
        self.client = Client(client_id, client_secret, scope=scope, auth_method=auth_method)
        self.authorize_path, self.token_path = authorize_path, token_path
        self.pkce_required = pkce_required
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, Token] = {}
        self.accounts: dict[str, Account] = {
            "alice": Account("1001", "alice", "Alice Example"),
        }
        self.expires_in = 7200
        #: Misbehaviours: "malformed" (200 with a body that is not JSON), "no_access_token",
        #: "unavailable" (503), or "" for none.
        self.token_mode = ""
        self.rotate_refresh_tokens = True
        self.posts: list[dict[str, str]] = []
        self.token_requests = 0
        self.refresh_requests = 0
        self.lock = threading.Lock()
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OAuthServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    # -- what the tests do as the person and the network's staff ----------------------------

    def revoke_all(self) -> None:
        """The person removed the app from their account: every token stops working."""
        with self.lock:
            for token in self.tokens.values():
                token.revoked = True

    def issue(self, user: str) -> dict[str, str]:
        """Tokens as if ``user`` had signed in earlier (for channels made by a factory)."""
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[access] = Token(
                self.client.client_id, user, self.client.scope, access, refresh, self.expires_in
            )
        return {"access_token": access, "refresh_token": refresh}

    # -- the Authlib server ------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("kairos-test-oauth")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
        owner = self

        def query_client(client_id: str) -> Client | None:
            return owner.client if client_id == owner.client.client_id else None

        def save_token(token: dict[str, Any], req: Any) -> None:
            with owner.lock:
                owner.tokens[token["access_token"]] = Token(
                    client_id=req.client.client_id,
                    user=req.user,
                    scope=token.get("scope", ""),
                    access_token=token["access_token"],
                    refresh_token=token.get("refresh_token"),
                    expires_in=int(token.get("expires_in", owner.expires_in)),
                )

        server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
        server.register_token_generator(
            "default",
            _generator(lambda: owner.expires_in, lambda: owner.rotate_refresh_tokens),
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = [owner.client.auth_method]

            def save_authorization_code(self, code: str, req: Any) -> None:
                payload = req.payload
                owner.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=payload.redirect_uri,
                    scope=payload.scope or "",
                    user=req.user,
                    code_challenge=payload.data.get("code_challenge"),
                    code_challenge_method=payload.data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Any:
                item = owner.codes.get(code)
                return item if item and item.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
                owner.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
                return authorization_code.user

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = [owner.client.auth_method]
            INCLUDE_NEW_REFRESH_TOKEN = True

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                owner.refresh_requests += 1
                for token in owner.tokens.values():
                    if token.refresh_token == refresh_token and not token.revoked:
                        return token
                return None

            def authenticate_user(self, refresh_token: Token) -> str:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: Token) -> None:
                if owner.rotate_refresh_tokens:
                    refresh_token.revoked = True

        server.register_grant(CodeGrant, [CodeChallenge(required=owner.pkce_required)])
        server.register_grant(RefreshGrant)

        class Validator(BearerTokenValidator):
            def authenticate_token(self, token_string: str) -> Token | None:
                return owner.tokens.get(token_string)

        protect = ResourceProtector()
        protect.register_token_validator(Validator())

        @app.route(self.authorize_path, methods=["GET", "POST"])
        def authorize() -> Any:
            if request.method == "GET":
                grant = server.get_consent_grant(end_user=None)
                return jsonify(client=grant.client.client_id, scope=grant.request.payload.scope)
            user = request.form.get("user", "")
            grant = server.get_consent_grant(end_user=user)
            allowed = request.form.get("confirm") == "yes" and user in owner.accounts
            return server.create_authorization_response(
                grant_user=user if allowed else None, grant=grant
            )

        @app.route(self.token_path, methods=["POST"])
        def issue_token() -> Any:
            owner.token_requests += 1
            if owner.token_mode == "malformed":
                return Response("<html>welcome</html>", 200, {"Content-Type": "text/html"})
            if owner.token_mode == "unavailable":
                return Response("down for maintenance", 503)
            if owner.token_mode == "no_access_token":
                return jsonify(token_type="Bearer", expires_in=3600)
            return server.create_token_response()

        @app.route("/me")
        @protect("read")
        def me() -> Any:
            account = owner.accounts[current_token.user]
            return jsonify(
                id=account.id,
                username=account.username,
                name=account.name,
                avatar=f"https://cdn.example/{account.username}.png",
            )

        @app.route("/posts", methods=["POST"])
        @protect("post")
        def post() -> Any:
            body = request.get_json(silent=True) or {}
            with owner.lock:
                owner.posts.append({"user": current_token.user, "text": body.get("text", "")})
                number = len(owner.posts)
            return jsonify(id=str(number), url=f"https://social.example/p/{number}"), 201

        @app.route("/me/managed")
        @protect("read")
        def managed() -> Any:
            return jsonify(data=owner.accounts[current_token.user].managed)

        return app

    def sign_in(self, authorize_url: str, user: str = "alice", confirm: str = "yes") -> dict:
        """What the person does on the network: open the consent page, allow (or refuse).
        Returns the query the network sends the browser back to Kairos with."""
        page = httpx.get(authorize_url)
        assert page.status_code == 200, page.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        answer = httpx.post(
            f"{self.base_url}{self.authorize_path}?{urlencode(query)}",
            data={"user": user, "confirm": confirm},
        )
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI)
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _generator(lifetime: Any, rotate: Any) -> Any:
    """Opaque tokens; the refresh token is left out when rotation is off (some networks only
    send one back when it changed)."""

    def generate(
        grant_type: str,
        client: Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(24),
            "expires_in": lifetime(),
            "scope": scope or "",
        }
        if include_refresh_token and (grant_type == "authorization_code" or rotate()):
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    return generate
