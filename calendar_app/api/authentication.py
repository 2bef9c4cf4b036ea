"""``Authorization: Token <prefix.secret>``: member tokens and workspace API keys.

The token is looked up by its visible prefix and the secret compared with the stored hash in
constant time; revoked and expired tokens are refused. ``last_used_at`` is written at most once a
minute, so a busy integration does not turn every read into a write.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from calendar_app.models import ApiToken

KEYWORD = "Token"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def touch(token: ApiToken) -> None:
    """Record use, at most once per :data:`LAST_USED_RESOLUTION`."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


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
        token = None
        if prefix and secret:
            # The prefix is unique: no ORDER BY (``first()`` adds one, and the sort of the
            # joined row cost more to compile than the lookup), on every authenticated request.
            rows = ApiToken.objects.select_related("workspace", "user").filter(prefix=prefix)
            token = next(iter(rows.order_by()[:1]), None)
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
