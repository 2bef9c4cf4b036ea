"""REST API of recurring content and evergreen items, under ``/api/v1/workspaces/<slug>/``.

content-series/                 series (list; create from an approved item: rule, start, EXDATEs)
content-series/<id>/            one series with its occurrences (read; DELETE stops it: every
                                occurrence still to come is cancelled, 200 with the count)
content-series/<id>/edit-all/   POST the new words: the source and every occurrence still to come
                                that was not edited on its own (edit one: PATCH its content item)
evergreen-items/                approved items that repeat in free slots, ``min_gap`` apart
evergreen-items/refill/         POST ``{"brand": <id>}``: plan repeats in the next 14 days' free slots

Roles: reading needs ``viewer``; writing ``editor`` (as scheduling does).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import WorkflowConflict
from calendar_app.api.serializers.common import (
    BoundedDurationField,
    EventInstantField,
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
    StringListField,
    to_utc,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin, WorkspaceViewSet
from calendar_app.models import Brand, ContentItem, Role
from calendar_app.recurring import services
from calendar_app.recurring.models import ContentSeries, EvergreenItem, SeriesOccurrence


def refuse(exc: services.SeriesError) -> Exception:
    if exc.code == "permission_denied":
        return PermissionDenied(str(exc))
    if exc.field:
        return ValidationError({exc.field: [serializers.ErrorDetail(str(exc), code=exc.code)]})
    return WorkflowConflict(str(exc), code=exc.code)


class OccurrenceSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="content_item.status")

    class Meta:
        model = SeriesOccurrence
        fields = ["id", "content_item", "occurs_at", "status"]


class ContentSeriesSerializer(KairosModelSerializer):
    source = ScopedPrimaryKeyRelatedField(
        model=ContentItem, help_text="An approved item: its words and channels repeat."
    )
    starts_at = EventInstantField(
        help_text="The first occurrence; a time without offset is read in the brand's zone."
    )
    rrule = serializers.CharField(
        max_length=500,
        help_text="RFC 5545 RRULE part with COUNT or UNTIL, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=8.",
    )
    exdates = StringListField(
        required=False,
        max_length=services.MAX_EXDATES,
        help_text="Skipped occurrences, local YYYY-MM-DDTHH:MM in the brand's zone.",
    )
    occurrences = OccurrenceSerializer(many=True, read_only=True)

    class Meta:
        model = ContentSeries
        fields = ["id", "source", "rrule", "starts_at", "exdates", "occurrences", "created_at"]
        read_only_fields = ["id", "occurrences", "created_at"]


class EditAllSerializer(KairosSerializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(max_length=10000, required=False)
    cta_text = serializers.CharField(max_length=200, required=False, allow_blank=True)
    cta_url = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    cta_button = serializers.CharField(max_length=60, required=False, allow_blank=True)
    links = StringListField(required=False, max_length=20)


class EditAllResultSerializer(serializers.Serializer):
    series = serializers.IntegerField()
    changed = serializers.ListField(child=serializers.IntegerField())


class StoppedSerializer(serializers.Serializer):
    series = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class ContentSeriesViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Recurring content: each occurrence its own item, with its own state."""

    model = ContentSeries
    serializer_class = ContentSeriesSerializer
    write_permission = Role.EDITOR
    action_permissions = {"edit_all": Role.EDITOR}
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return (
            ContentSeries.objects.filter(workspace=self.workspace)
            .select_related("source__brand")
            .prefetch_related(
                Prefetch(
                    "occurrences",
                    queryset=SeriesOccurrence.objects.select_related("content_item"),
                )
            )
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        source = values["source"]
        starts = to_utc(dict(values), ("starts_at",), source.brand.time_zone)["starts_at"]
        try:
            series = services.create_series(
                source,
                self.actor,
                rrule=values["rrule"],
                starts_at=starts,
                exdates=values.get("exdates", []),
            )
        except services.SeriesError as exc:
            raise refuse(exc) from None
        series = self.get_queryset().get(pk=series.pk)
        return Response(self.get_serializer(series).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: StoppedSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stop the series: every occurrence still to come is cancelled (the record stays)."""
        series = self.get_object()
        cancelled = services.stop_series(series, self.actor)
        return Response(StoppedSerializer({"series": series.pk, "cancelled": cancelled}).data)

    @extend_schema(request=EditAllSerializer, responses={200: EditAllResultSerializer})
    @action(detail=True, methods=["post"], url_path="edit-all")
    def edit_all(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Edit every occurrence still to come that was not edited on its own, and the source.
        Changed approved words go back to review. To edit one occurrence, edit its item."""
        series = self.get_object()
        data = EditAllSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:  # nothing to change: nothing changes
            return Response(EditAllResultSerializer({"series": series.pk, "changed": []}).data)
        changed = services.edit_all(series, self.actor, dict(data.validated_data))
        return Response(EditAllResultSerializer({"series": series.pk, "changed": changed}).data)


class EvergreenItemSerializer(KairosModelSerializer):
    content_item = ScopedPrimaryKeyRelatedField(model=ContentItem)
    min_gap = BoundedDurationField(
        required=False, help_text="The shortest time between two repeats (at least an hour)."
    )

    class Meta:
        model = EvergreenItem
        fields = [
            "id",
            "content_item",
            "min_gap",
            "active",
            "last_planned_at",
            "repeats",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_planned_at", "repeats", "created_at", "updated_at"]
        validators: list = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        gap = attrs.get("min_gap")
        if gap is not None and gap.total_seconds() < 3600:
            raise ValidationError({"min_gap": ["At least an hour between repeats."]})
        item = attrs.get("content_item")
        current = self.instance
        if current is not None and item is not None and item.pk != current.content_item_id:
            raise ValidationError({"content_item": ["An evergreen entry's item cannot change."]})
        if item is not None and current is None:
            if EvergreenItem.objects.filter(content_item=item).exists():
                raise ValidationError({"content_item": ["This item is already evergreen."]})
            if item.status not in ("approved", "scheduled", "published", "partly_failed"):
                raise ValidationError({"content_item": ["Only approved content can be evergreen."]})
        return attrs


class RefillSerializer(KairosSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)


class RefillResultSerializer(serializers.Serializer):
    content_item = serializers.IntegerField()
    scheduled_at = serializers.DateTimeField()


class RefillAnswerSerializer(serializers.Serializer):
    planned = RefillResultSerializer(many=True)


class EvergreenItemViewSet(WorkspaceViewSet):
    """Evergreen items: approved posts repeated in free slots, at least ``min_gap`` apart."""

    model = EvergreenItem
    serializer_class = EvergreenItemSerializer
    write_permission = Role.EDITOR
    action_permissions = {"refill": Role.EDITOR}
    ordering = ["last_planned_at", "id"]

    def perform_create(self, serializer: EvergreenItemSerializer) -> None:
        serializer.save(workspace=self.workspace)

    @extend_schema(request=RefillSerializer, responses={200: RefillAnswerSerializer})
    @action(detail=False, methods=["post"])
    def refill(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Plan the brand's evergreen repeats in its free slots of the next 14 days."""
        data = RefillSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        try:
            planned = services.refill_evergreen(data.validated_data["brand"], self.actor)
        except services.SeriesError as exc:
            raise refuse(exc) from None
        body = [{"content_item": pk, "scheduled_at": at} for pk, at in planned]
        return Response(RefillAnswerSerializer({"planned": body}).data)
