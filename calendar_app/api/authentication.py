"""``Authorization: Token <prefix.secret>``: member tokens and workspace API keys.

The token is looked up by its visible prefix and the secret compared with the stored hash in
constant time; revoked and expired tokens are refused. ``last_used_at`` is written at most once a
minute, so a busy integration does not turn every read into a write.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from calendar_app.models import ApiToken, Workspace
from calendar_app.models.tenancy import TOKEN_PREFIX_LENGTH
from calendar_app.sql.prepared import PreparedRows

KEYWORD = "Token"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def touch(token: ApiToken) -> None:
    """Record use, at most once per :data:`LAST_USED_RESOLUTION`."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def _columns(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


_TOKEN, _WORKSPACE, _USER = (
    _columns(ApiToken),
    _columns(Workspace),
    _columns(get_user_model()),
)

#: The token with its workspace and user (``select_related``'s columns, read as one row), on
#: every authenticated request: compiled once (calendar_app.sql.prepared). The prefix is
#: unique: no ORDER BY.
_BY_PREFIX = PreparedRows(
    lambda prefix: (
        ApiToken.objects.filter(prefix=prefix)
        .order_by()
        .values_list(
            *_TOKEN,
            *(f"workspace__{name}" for name in _WORKSPACE),
            *(f"user__{name}" for name in _USER),
        )[:1]
    ),
    stand_ins=["\x00Stand-in%_\\\x00"],
)


_HEX = frozenset("0123456789abcdef")


def _could_be_prefix(prefix: str) -> bool:
    """Issued prefixes are hex of one length: anything else is refused without a query (and
    never reaches the database, where a NUL byte would be an error on PostgreSQL)."""
    return len(prefix) == TOKEN_PREFIX_LENGTH and _HEX.issuperset(prefix)


def token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with this prefix, its workspace and user loaded; None if there is none."""
    found = _BY_PREFIX.rows(prefix)
    if not found:
        return None
    row = found[0]
    ends = (len(_TOKEN), len(_TOKEN) + len(_WORKSPACE))
    token = ApiToken.from_db(DEFAULT_DB_ALIAS, _TOKEN, row[: ends[0]])
    token.workspace = Workspace.from_db(DEFAULT_DB_ALIAS, _WORKSPACE, row[ends[0] : ends[1]])
    token.user = (
        get_user_model().from_db(DEFAULT_DB_ALIAS, _USER, row[ends[1] :])
        if token.user_id is not None
        else None
    )
    return token


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates a request by API token; ``request.auth`` is the :class:`ApiToken`.

    A workspace key has no user: ``request.user`` is then anonymous and the token alone carries
    the role (see :meth:`calendar_app.workflow.Actor.for_token`).
    """

    def authenticate(self, request: Request) -> tuple[object, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the header as 'Authorization: Token <prefix.secret>'.")
        try:
            prefix, _, secret = parts[1].decode("ascii").partition(".")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token contains characters it cannot have.") from None
        token = token_by_prefix(prefix) if _could_be_prefix(prefix) and secret else None
        if token is None or not token.matches(secret):
            raise AuthenticationFailed("Invalid token.")
        if not token.is_usable:
            raise AuthenticationFailed("This token has been revoked or has expired.")
        if token.user_id is not None and not token.user.is_active:
            raise AuthenticationFailed("The token's user is deactivated.")
        touch(token)
        return (token.user if token.user_id else AnonymousUser()), token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token scheme in the OpenAPI schema."""

    target_class = "calendar_app.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <prefix.secret>`, from `manage.py create_api_token` "
            "or POST /api/v1/workspaces/{workspace_slug}/tokens/. A personal token acts as its "
            "person with the lower of its role and their current role, and only that person "
            "creates it; a workspace API key (created by an admin) acts as itself.",
        }
