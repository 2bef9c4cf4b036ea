"""``WorkspacePermission``: the workspace comes from the URL, the role from the caller.

Views declare the role each kind of call needs (pretix's ``permission`` / ``write_permission``)::

    permission = Role.VIEWER          # safe methods
    write_permission = Role.EDITOR    # everything else
    action_permissions = {"approve": Role.APPROVER}   # per viewset action, wins over both

A workspace the caller cannot see is answered 404, exactly like one that does not exist, so ids
and slugs of other tenants leak nothing. A token only works in its own workspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from calendar_app.models import ApiToken, Role, Workspace
from calendar_app.workflow import Actor

if TYPE_CHECKING:
    from rest_framework.views import APIView

WORKSPACE_KWARG = "workspace_slug"


def is_authenticated(request: Request) -> bool:
    return isinstance(request.auth, ApiToken) or bool(
        request.user
        and not isinstance(request.user, AnonymousUser)
        and request.user.is_authenticated
    )


def required_role(request: Request, view: APIView) -> str:
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_permissions", {})
    if action in per_action:
        return per_action[action]
    if request.method in SAFE_METHODS:
        return getattr(view, "permission", Role.VIEWER)
    return getattr(view, "write_permission", Role.ADMIN)


def resolve_workspace(request: Request, slug: str) -> tuple[Workspace, Actor]:
    """The workspace named ``slug`` and the caller's actor in it; 404 when out of reach."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    if token is not None:
        if token.workspace.slug != slug:
            raise NotFound()
        workspace, actor = token.workspace, Actor.for_token(token)
    else:
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise NotFound()
        actor = Actor.for_user(request.user, workspace)
    if actor.role is None:
        raise NotFound()
    return workspace, actor


class WorkspacePermission(BasePermission):
    """Resolves ``request.workspace`` and ``request.actor`` and checks the role the view needs."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not is_authenticated(request):
            return False
        slug = view.kwargs.get(WORKSPACE_KWARG)
        if slug is None:
            return True  # workspace-less views (the workspace list, networks) scope themselves
        workspace, actor = resolve_workspace(request, slug)
        request.workspace = workspace
        request.actor = actor
        needed = required_role(request, view)
        if not actor.may(needed):
            raise PermissionDenied(
                f"This needs the {needed} role in {workspace.slug}; {actor.label} has {actor.role}.",
                code="permission_denied",
            )
        return True


def role_at_least(role: str | None, needed: str) -> bool:
    return role is not None and Role.at_least(role, needed)
