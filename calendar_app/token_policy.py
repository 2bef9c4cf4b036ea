"""Who may create API tokens for whom, and with which role: one rule for every door (the API,
the admin).

A token acts as the person it names, so only that person may create it: an admin who could mint
a token for someone else could approve, fire or delete in their name. The rules:

1. A *personal token* (it names a user) is created by that user only, and its role is at most
   the creator's current role in the workspace (a token creating a token counts with its own
   effective role, see :meth:`calendar_app.workflow.Actor.for_token`).
2. A *workspace API key* (no user: a service account for an integration) is created by a
   workspace admin only; it acts as itself and every record it writes names the key, never a
   person.
3. Whatever role a personal token was given, it acts with the lower of that role and its
   person's *current* role (a demotion or removal takes effect at once).
4. Admins list and revoke every token of their workspace; others list and revoke their own.

The server operator (``manage.py create_api_token``, run from a shell on the server) is outside
these rules: that is how the first token of a new workspace is made.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from calendar_app.models import Membership, Role, Workspace
from calendar_app.workflow import Actor


class TokenRefused(Exception):
    """A refused token creation. ``code`` is ``permission_denied`` (403) or a 400 code;
    ``field`` is the request field to show the message next to."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def member_named(workspace: Workspace, username: str) -> AbstractBaseUser:
    """The member of ``workspace`` called ``username``; a stranger, or another workspace's
    member, gets the same answer as a name nobody has."""
    membership = (
        Membership.objects.select_related("user")
        .filter(workspace=workspace, user__username=username, user__is_active=True)
        .first()
    )
    if membership is None:
        raise TokenRefused("invalid", "username", "Not a member of this workspace.")
    return membership.user


def check_issue(actor: Actor, *, user: AbstractBaseUser | None, role: str) -> None:
    """Refuse (:class:`TokenRefused`) unless ``actor`` may create a token for ``user`` (``None``:
    a workspace API key) with ``role``. ``user`` must already be a member of the workspace."""
    if user is not None:
        if actor.user is None or actor.user.pk != user.pk:
            raise TokenRefused(
                "permission_denied",
                "username",
                f"Only {user.get_username()} can create a token that acts as them: a token "
                "acts as the person it names. For an integration, an admin creates a workspace "
                "API key (leave username empty).",
            )
    elif not actor.may(Role.ADMIN):
        own = f" set username to {actor.user.get_username()!r}" if actor.user else ""
        raise TokenRefused(
            "permission_denied",
            "username",
            "Only workspace admins create workspace API keys (tokens without a person)."
            + (f" To create your own token,{own}." if own else ""),
        )
    if actor.role is None or not Role.at_least(actor.role, role):
        raise TokenRefused(
            "role_too_high",
            "role",
            f"A token cannot have more rights than whoever creates it: {actor.label} has "
            f"{actor.role or 'no role'}, the token asked for {role}.",
        )


def may_manage_all(actor: Actor) -> bool:
    """Admins see and revoke every token of the workspace; others only their own."""
    return actor.may(Role.ADMIN)
