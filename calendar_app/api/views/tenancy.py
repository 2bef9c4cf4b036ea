"""Workspaces (the caller's), members and API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.permissions import resolve_workspace
from calendar_app.api.serializers.tenancy import (
    ApiTokenSerializer,
    IssuedTokenSerializer,
    MemberSerializer,
    WorkspaceSerializer,
)
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin, WorkspaceViewSet
from calendar_app.models import ApiToken, Membership, Role, Workspace


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


@extend_schema_view(
    create=extend_schema(
        responses={201: IssuedTokenSerializer},
        examples=[
            OpenApiExample(
                "A workspace API key for an integration",
                value={"name": "Agency dashboard", "role": "editor", "username": None},
                request_only=True,
            )
        ],
        description="Issue a token. The response holds the full token once; only a hash is kept.",
    ),
    destroy=extend_schema(description="Revoke the token (it stops working at once)."),
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
    """Member tokens and workspace API keys: admins issue, list and revoke them."""

    model = ApiToken
    serializer_class = ApiTokenSerializer
    permission = Role.ADMIN
    write_permission = Role.ADMIN
    ordering_fields = ["created_at", "last_used_at", "id"]
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return ApiToken.objects.filter(workspace=self.workspace).select_related("user")

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
