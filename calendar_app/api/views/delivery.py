"""Publications (with a retry action for failed ones) and metric snapshots; both read-only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import NotAvailable
from calendar_app.api.filters import MetricSnapshotFilter, PublicationFilter
from calendar_app.api.pagination import cursor_pagination
from calendar_app.api.serializers.delivery import (
    MetricSnapshotSerializer,
    PublicationSerializer,
    RetrySerializer,
)
from calendar_app.api.views.base import ReadOnlyWorkspaceViewSet
from calendar_app.models import MetricSnapshot, Publication, Role


class PublicationViewSet(ReadOnlyWorkspaceViewSet):
    """Deliveries (item × channel × variant) with status, attempts and the network's URL."""

    model = Publication
    serializer_class = PublicationSerializer
    action_permissions = {"retry": Role.APPROVER}
    filterset_class = PublicationFilter
    pagination_class = cursor_pagination("due_at")
    ordering_fields = ["due_at", "created_at", "id"]
    ordering = ["due_at"]
    may_be_unavailable = ("retry",)

    def base_queryset(self) -> QuerySet:
        return Publication.objects.filter(workspace=self.workspace).select_related(
            "channel", "content_item__brand"
        )

    @extend_schema(request=RetrySerializer, responses={200: PublicationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send a failed, skipped or unconfirmed publication again (same idempotency key). For an
        unconfirmed one, say what you found on the network: ``not_posted`` or ``posted``.
        Needs the approver role."""
        try:
            from calendar_app.delivery import retry_publication
        except ImportError:
            raise NotAvailable(
                "Retrying publications is not available on this server yet."
            ) from None
        publication = self.get_object()
        data = RetrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        retry_publication(
            publication,
            self.actor,
            resolved_unconfirmed=data.validated_data["resolved_unconfirmed"],
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=publication.pk)).data)


class MetricSnapshotViewSet(ReadOnlyWorkspaceViewSet):
    """Engagement read back from the networks; cumulative counts, ``null`` = not readable."""

    model = MetricSnapshot
    serializer_class = MetricSnapshotSerializer
    filterset_class = MetricSnapshotFilter
    pagination_class = cursor_pagination("-collected_at")
    ordering_fields = ["collected_at", "id"]
    ordering = ["-collected_at"]

    def base_queryset(self) -> QuerySet:
        return MetricSnapshot.objects.filter(workspace=self.workspace).select_related("publication")
