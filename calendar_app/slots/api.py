"""REST API of posting slots and the queue, under ``/api/v1/workspaces/<slug>/``.

posting-slots/                 weekly slots (list, create; ``?brand=`` ``?channel=``)
posting-slots/<id>/            one slot (read, update, delete); a change or a removal re-plans
                               what was queued in it and answers what moved in ``replanned``
posting-slots/next-free/       GET ``?brand=<id>[&channel=<id>][&after=<instant>]``: the next
                               free slot occurrence, or ``at: null``
posting-slots/queue/           POST ``{"content_item": <id>}``: schedule an approved item in the
                               next free slot of its channels

Roles: reading needs ``viewer``; slots and the queue ``editor`` (as scheduling does). Another
workspace's ids answer 404 (in the URL) or "does not exist" (in a body or a query).
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import WorkflowConflict
from calendar_app.api.serializers.common import (
    InstantField,
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
    local_iso,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.models import Brand, Channel, ContentItem, Role
from calendar_app.slots import services
from calendar_app.slots.models import PostingSlot

IF_MATCH_DOC = "Send the ETag you read as If-Match; a stale one is answered 412."


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"}
)
class WallClockField(serializers.TimeField):
    """``HH:MM`` (a wall-clock time, no offset: the zone is the brand's); seconds are dropped.

    JSON Schema's ``format: time`` is RFC 3339's, which requires an offset: the wrong promise."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"])
        super().__init__(**kwargs)


def refuse(exc: services.QueueError) -> Exception:
    if exc.field:
        return ValidationError({exc.field: [serializers.ErrorDetail(str(exc), code=exc.code)]})
    return WorkflowConflict(str(exc), code=exc.code)


class ReplannedSerializer(serializers.Serializer):
    content_item = serializers.IntegerField()
    title = serializers.CharField()
    slot = serializers.IntegerField(allow_null=True)
    planned_at = serializers.DateTimeField()
    moved_to = serializers.DateTimeField(allow_null=True)
    message = serializers.CharField()


class PostingSlotSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    channel = ScopedPrimaryKeyRelatedField(
        model=Channel,
        required=False,
        allow_null=True,
        help_text="A channel of the brand; absent or null: every channel of the brand.",
    )
    local_time = WallClockField(
        help_text="Wall-clock time in the brand's time zone, HH:MM (seconds are dropped).",
    )
    time_zone = serializers.CharField(source="brand.time_zone", read_only=True)
    replanned = serializers.SerializerMethodField(
        help_text="After a change: each queued item re-planned, where to and why."
    )

    class Meta:
        model = PostingSlot
        fields = [
            "id",
            "brand",
            "channel",
            "weekday",
            "local_time",
            "time_zone",
            "label",
            "replanned",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "time_zone", "replanned", "created_at", "updated_at"]
        validators: list = []  # uniqueness is checked below, by field

    @extend_schema_field(ReplannedSerializer(many=True))
    def get_replanned(self, obj: PostingSlot) -> list[dict[str, Any]]:
        return [r.as_dict() for r in getattr(obj, "_replanned", [])]

    def validate_local_time(self, value: Any) -> Any:
        return value.replace(second=0, microsecond=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance

        def value(name: str) -> Any:
            return attrs[name] if name in attrs else getattr(current, name, None)

        brand, channel = value("brand"), value("channel")
        if current is not None and "brand" in attrs and attrs["brand"].pk != current.brand_id:
            raise ValidationError({"brand": ["A slot's brand cannot change; add a new slot."]})
        if channel is not None and brand is not None and channel.brand_id != brand.pk:
            raise ValidationError({"channel": ["Pick a channel of the slot's brand."]})
        weekday, local_time = value("weekday"), value("local_time")
        if brand is not None and weekday is not None and local_time is not None:
            twins = PostingSlot.objects.filter(
                brand=brand, channel=channel, weekday=weekday, local_time=local_time
            )
            if current is not None:
                twins = twins.exclude(pk=current.pk)
            if twins.exists():
                raise ValidationError(
                    {"local_time": ["The brand already has this slot (same day, time, channel)."]}
                )
        return attrs


class NextFreeQuerySerializer(KairosSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    channel = ScopedPrimaryKeyRelatedField(model=Channel, required=False)
    after = InstantField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel = attrs.get("channel")
        if channel is not None and channel.brand_id != attrs["brand"].pk:
            raise ValidationError({"channel": ["Pick a channel of that brand."]})
        return attrs


class NextFreeSerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True, help_text="The slot's instant (UTC).")
    local = serializers.CharField(allow_null=True, help_text="The same, in the brand's zone.")
    time_zone = serializers.CharField()
    slot = serializers.IntegerField(allow_null=True)


class QueueSerializer(KairosSerializer):
    content_item = ScopedPrimaryKeyRelatedField(model=ContentItem)
    after = InstantField(required=False, help_text="Only slots after this instant (default: now).")


class QueuedSerializer(serializers.Serializer):
    content_item = serializers.IntegerField()
    slot = serializers.IntegerField()
    scheduled_at = serializers.DateTimeField()
    local = serializers.CharField()
    time_zone = serializers.CharField()
    message = serializers.CharField()


def _free_answer(free: services.FreeSlot | None, zone: str) -> dict[str, Any]:
    return {
        "at": free.at if free else None,
        "local": local_iso(free.at, zone) if free else None,
        "time_zone": zone,
        "slot": free.slot.pk if free else None,
    }


@extend_schema_view(
    update=extend_schema(description="Re-plans what was queued in the slot. " + IF_MATCH_DOC),
    partial_update=extend_schema(
        description="Re-plans what was queued in the slot. " + IF_MATCH_DOC
    ),
    destroy=extend_schema(
        responses={200: PostingSlotSerializer},
        description="Removes the slot; what was queued in it moves to the next free slots "
        "(`replanned` says where). " + IF_MATCH_DOC,
    ),
)
class PostingSlotViewSet(WorkspaceViewSet):
    """A brand's weekly posting slots, in its time zone; the queue fills them."""

    model = PostingSlot
    serializer_class = PostingSlotSerializer
    write_permission = Role.EDITOR
    action_permissions = {"next_free": Role.VIEWER, "queue": Role.EDITOR}
    filterset_fields = ["brand", "channel", "weekday"]
    ordering_fields = ["weekday", "local_time", "id"]
    ordering = ["brand", "weekday", "local_time", "id"]

    def base_queryset(self) -> QuerySet:
        return PostingSlot.objects.filter(workspace=self.workspace).select_related("brand")

    def perform_create(self, serializer: PostingSlotSerializer) -> None:
        serializer.save(workspace=self.workspace)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        slot = self.get_object()
        serializer = self.get_serializer(slot, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k != "brand"}
        report = services.change_slot(slot, self.actor, **changes)
        slot = self.get_queryset().get(pk=slot.pk)
        slot._replanned = report
        return Response(self.get_serializer(self.tag(slot)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        slot = self.get_object()
        answer = self.get_serializer(slot).data
        answer["replanned"] = ReplannedSerializer(
            [r.as_dict() for r in services.remove_slot(slot, self.actor)], many=True
        ).data
        return Response(answer, status=status.HTTP_200_OK)

    @extend_schema(
        parameters=[
            OpenApiParameter("brand", int, required=True, description="The brand's id."),
            OpenApiParameter("channel", int, description="Only slots serving this channel."),
            OpenApiParameter(
                "after",
                {"type": "string", "format": "date-time"},
                description="Only slots after this instant (default: now).",
            ),
        ],
        responses={200: NextFreeSerializer},
        description="The next free slot occurrence of the brand (within a year), DST-correct; "
        "`at` is null when none is free.",
    )
    @action(detail=False, methods=["get"], url_path="next-free")
    def next_free(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params: dict[str, Any] = request.query_params.dict()
        for name in ("brand", "channel"):  # a query string carries text; ids are numbers
            if (
                isinstance(params.get(name), str)
                and params[name].isascii()
                and params[name].isdigit()
            ):
                params[name] = int(params[name])
        query = NextFreeQuerySerializer(data=params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        brand = query.validated_data["brand"]
        channel = query.validated_data.get("channel")
        free = services.next_free_slot(
            brand,
            channel_ids=[channel.pk] if channel else None,
            after=query.validated_data.get("after"),
        )
        return Response(NextFreeSerializer(_free_answer(free, brand.time_zone)).data)

    @extend_schema(
        request=QueueSerializer,
        responses={200: QueuedSerializer},
        description="Add to queue: schedule an approved item in the next free slot of its "
        "channels. 400 `not_approved` / `no_channels` on `content_item`, 409 `no_free_slot`.",
    )
    @action(detail=False, methods=["post"])
    def queue(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = QueueSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        item = data.validated_data["content_item"]
        try:
            free = services.add_to_queue(item, self.actor, after=data.validated_data.get("after"))
        except services.QueueError as exc:
            raise refuse(exc) from None
        zone = item.brand.time_zone
        local = free.at.astimezone(zoneinfo.ZoneInfo(zone))
        return Response(
            QueuedSerializer(
                {
                    "content_item": item.pk,
                    "slot": free.slot.pk,
                    "scheduled_at": free.at,
                    "local": local_iso(free.at, zone),
                    "time_zone": zone,
                    "message": f"Queued for {local:%A %d %B %Y, %H:%M} ({zone}).",
                }
            ).data
        )
