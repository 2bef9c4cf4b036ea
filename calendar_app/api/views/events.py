"""Events: the shared library plus the workspace's own, each with every brand's fit."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.filters import EventFilter
from calendar_app.api.pagination import cursor_pagination
from calendar_app.api.serializers.events import (
    BrandFitSerializer,
    EventSerializer,
    FitOverrideSerializer,
)
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.models import BrandFit, Event, Role


class EventViewSet(WorkspaceViewSet):
    """Events visible to the workspace. Library events (``is_global``) are read-only; filter by
    time range (``start``/``end``), ``theme``, ``brand`` (with ``min_fit``)."""

    model = Event
    serializer_class = EventSerializer
    write_permission = Role.EDITOR
    filterset_class = EventFilter
    pagination_class = cursor_pagination("starts_at")
    ordering_fields = ["starts_at", "created_at", "id"]
    ordering = ["starts_at"]

    def base_queryset(self) -> QuerySet:
        fits = BrandFit.objects.filter(workspace=self.workspace).select_related("brand")
        return Event.objects.visible_to(self.workspace).prefetch_related(
            Prefetch("fits", queryset=fits, to_attr="workspace_fits")
        )

    def get_object(self) -> Event:
        event = super().get_object()
        if (
            self.request.method not in ("GET", "HEAD", "OPTIONS")
            and self.action != "fit"
            and event.workspace_id is None
        ):
            raise PermissionDenied(
                "Events of the shared library are read-only; create your own event instead.",
                code="read_only_event",
            )
        return event

    def perform_create(self, serializer: EventSerializer) -> None:
        serializer.save(workspace=self.workspace)

    @extend_schema(request=FitOverrideSerializer, responses={200: BrandFitSerializer})
    @action(detail=True, methods=["post"])
    def fit(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Override (or with ``override_score: null``, restore) a brand's computed fit, with a note."""
        event = self.get_object()
        data = FitOverrideSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        brand = data.validated_data["brand"]
        fit = BrandFit.objects.filter(brand=brand, event=event).select_related("brand").first()
        if fit is None:
            from calendar_app.fit_records import refresh_fits

            refresh_fits(brands=[brand], events=[event])
            fit = BrandFit.objects.select_related("brand").get(brand=brand, event=event)
        score = data.validated_data["override_score"]
        fit.override_score = score
        fit.override_note = data.validated_data["override_note"] if score is not None else ""
        fit.overridden_by = self.actor.user if score is not None else None
        fit.overridden_at = timezone.now() if score is not None else None
        fit.save()
        return Response(BrandFitSerializer(fit).data)
