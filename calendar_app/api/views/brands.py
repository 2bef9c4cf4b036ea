"""Brands and channels (channel credentials are write-only; a test-connection action)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.filters import BrandFilter, ChannelFilter
from calendar_app.api.serializers.brands import (
    BrandSerializer,
    ChannelSerializer,
    ConnectionTestSerializer,
)
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.models import Brand, Channel, Role


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "A snack brand",
                value={
                    "name": "Crunchy Co",
                    "slug": "crunchy",
                    "time_zone": "America/New_York",
                    "language": "en",
                    "profile": {
                        "themes": ["snacks", "sport"],
                        "values": ["fun"],
                        "audience": ["young adults", "families"],
                        "avoid": ["politics"],
                    },
                },
                request_only=True,
            )
        ]
    )
)
class BrandViewSet(WorkspaceViewSet):
    """The workspace's brands. Admins create and change them; everyone can read."""

    model = Brand
    serializer_class = BrandSerializer
    write_permission = Role.ADMIN
    filterset_class = BrandFilter
    ordering_fields = ["name", "slug", "created_at", "id"]
    ordering = ["name", "id"]

    def perform_create(self, serializer: BrandSerializer) -> None:
        serializer.save(workspace=self.workspace)


class ChannelViewSet(WorkspaceViewSet):
    """A brand's accounts on networks. Credentials are write-only (``has_secrets`` tells whether
    some are stored); admins manage channels."""

    model = Channel
    serializer_class = ChannelSerializer
    write_permission = Role.ADMIN
    action_permissions = {"test_connection": Role.ADMIN}
    filterset_class = ChannelFilter
    ordering_fields = ["network", "handle", "created_at", "id"]
    ordering = ["id"]

    def base_queryset(self) -> QuerySet:
        return Channel.objects.filter(workspace=self.workspace)

    def perform_create(self, serializer: ChannelSerializer) -> None:
        serializer.save(workspace=self.workspace)

    @extend_schema(request=None, responses={200: ConnectionTestSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Ask the channel's network whether its settings and credentials work (nothing is posted)."""
        from calendar_app.api.networks import test_connection

        problems = test_connection(self.get_object())
        return Response({"ok": not problems, "problems": problems})
