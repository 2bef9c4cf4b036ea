"""Workspaces (the caller's), members and API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.permissions import WorkspacePermission, resolve_workspace
from calendar_app.api.serializers.tenancy import (
    ApiTokenSerializer,
    IssuedTokenSerializer,
    MemberSerializer,
    WorkspaceSerializer,
)
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin, WorkspaceViewSet
from calendar_app.models import ApiToken, Membership, Role, Workspace
from calendar_app.token_policy import may_manage_all


class WorkspaceListViewSet(viewsets.ReadOnlyModelViewSet):
    """The workspaces you can reach: a token's own, or every workspace you are a member of."""

    serializer_class = WorkspaceSerializer
    lookup_field = "slug"
    lookup_url_kwarg = "workspace_slug"
    queryset = Workspace.objects.none()
    filter_backends: list = []

    def _roles(self) -> dict[int, str]:
        request = self.request
        if isinstance(request.auth, ApiToken):
            _, actor = _token_actor(request)
            return {request.auth.workspace_id: actor.role} if actor.role else {}
        if request.user.is_superuser:
            return {pk: Role.ADMIN for pk in Workspace.objects.values_list("pk", flat=True)}
        return dict(
            Membership.objects.filter(user=request.user).values_list("workspace_id", "role")
        )

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Workspace.objects.none()
        self._role_map = self._roles()
        return Workspace.objects.filter(pk__in=list(self._role_map)).order_by("name", "pk")

    def get_object(self) -> Workspace:
        workspace, actor = resolve_workspace(self.request, self.kwargs["workspace_slug"])
        self._role_map = {workspace.pk: actor.role}
        return workspace

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "roles": getattr(self, "_role_map", {})}


def _token_actor(request: Request) -> tuple[Workspace, Any]:
    from calendar_app.workflow import Actor

    return request.auth.workspace, Actor.for_token(request.auth)


class MemberViewSet(WorkspaceViewSet):
    """Who belongs to the workspace, with which role. Admins add, change and remove members."""

    model = Membership
    serializer_class = MemberSerializer
    write_permission = Role.ADMIN
    ordering_fields = ["created_at", "role", "id"]
    ordering = ["id"]

    def base_queryset(self) -> QuerySet:
        return Membership.objects.filter(workspace=self.workspace).select_related("user")

    def perform_create(self, serializer: MemberSerializer) -> None:
        serializer.save(workspace=self.workspace)


TOKEN_RULES = (
    "Who may create tokens for whom: any member creates **personal tokens for themselves** "
    "(`username` = your own), with a `role` no higher than their own; only an **admin** creates "
    "**workspace API keys** (`username` empty), which act as themselves. Nobody creates a token "
    "for another person: that is `403 permission_denied`; a role above yours is `400 "
    "role_too_high`; a username that is not a member here is `400`. A personal token acts with "
    "the lower of its role and its person's current role."
)


class TokenManagerPermission(BasePermission):
    """Tokens are for every member (their own); a workspace API key manages tokens only if it
    has the admin role, since it has no person to own tokens."""

    def has_permission(self, request: Request, view: Any) -> bool:
        actor = getattr(request, "actor", None)
        if actor is not None and actor.user is None and not actor.may(Role.ADMIN):
            raise PermissionDenied(
                f"This needs the admin role: {actor.label} is a workspace API key with "
                f"{actor.role}, and only admins manage the workspace's keys.",
                code="permission_denied",
            )
        return True


@extend_schema_view(
    list=extend_schema(description="Admins see every token of the workspace; others their own."),
    create=extend_schema(
        responses={201: IssuedTokenSerializer},
        examples=[
            OpenApiExample(
                "A workspace API key for an integration (admins)",
                value={"name": "Agency dashboard", "role": "editor", "username": None},
                request_only=True,
            ),
            OpenApiExample(
                "Your own token for a script",
                value={"name": "My script", "role": "editor", "username": "alice"},
                request_only=True,
            ),
        ],
        description="Issue a token. The response holds the full token once; only a hash is kept, "
        "and an answer replayed for a repeated `Idempotency-Key` has `token: null` "
        "(`Idempotent-Redacted: token`). " + TOKEN_RULES,
    ),
    destroy=extend_schema(
        description="Revoke the token (it stops working at once, replays included). Admins "
        "revoke any token of the workspace; others their own."
    ),
)
class ApiTokenViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Personal tokens (every member, for themselves) and workspace API keys (admins); see
    :mod:`calendar_app.token_policy`."""

    model = ApiToken
    serializer_class = ApiTokenSerializer
    permission = Role.VIEWER
    write_permission = Role.VIEWER
    permission_classes = [WorkspacePermission, TokenManagerPermission]
    ordering_fields = ["created_at", "last_used_at", "id"]
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        tokens = ApiToken.objects.filter(workspace=self.workspace).select_related("user")
        if may_manage_all(self.actor):
            return tokens
        return tokens.filter(user=self.actor.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, clear = ApiToken.issue(
            workspace=self.workspace, created_by=self.actor.user, **serializer.validated_data
        )
        token.token = clear
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        instance.revoke()
