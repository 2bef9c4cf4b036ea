"""Content items. Creating writes a draft; every later change goes through ``workflow.edit``,
which decides whether the change needs a new approval."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendar_app import workflow
from calendar_app.api.serializers.common import (
    BoundedDurationField,
    InstantField,
    KairosModelSerializer,
    LocalTimeField,
    ScopedPrimaryKeyRelatedField,
    StringListField,
    check_without_cta,
    to_utc,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.media.api import MediaEntriesField, ThreadField
from calendar_app.models import (
    Brand,
    Channel,
    ContentItem,
    ContentStatus,
    Event,
    Experiment,
    LatenessPolicy,
    Priority,
)

EDITABLE_FIELDS = workflow.EDITABLE_FIELDS


def check_same_brand(attrs: dict[str, Any], brand: Brand) -> None:
    """Channels and experiments must belong to the item's brand: a field error otherwise."""
    errors = {}
    wrong = [c.pk for c in attrs.get("channels") or [] if c.brand_id != brand.pk]
    if wrong:
        errors["channels"] = [f"Channel {pk} belongs to another brand." for pk in wrong]
    experiment = attrs.get("experiment")
    if experiment is not None and experiment.brand_id != brand.pk:
        errors["experiment"] = [f"Experiment {experiment.pk} belongs to another brand."]
    if errors:
        raise serializers.ValidationError(errors)


class ContentItemSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand, help_text="Cannot change after creation.")
    channels = ScopedPrimaryKeyRelatedField(model=Channel, many=True, required=False)
    event = ScopedPrimaryKeyRelatedField(
        model=Event, scope=lambda ws: Event.objects.visible_to(ws), required=False, allow_null=True
    )
    experiment = ScopedPrimaryKeyRelatedField(model=Experiment, required=False, allow_null=True)
    links = StringListField()
    media = MediaEntriesField()
    thread = ThreadField()
    scheduled_at = InstantField(
        required=False,
        allow_null=True,
        help_text="ISO-8601 with offset, or naive wall-clock time in the brand's time zone.",
    )
    scheduled_at_local = LocalTimeField(source="scheduled_at", zone="brand.time_zone")
    lateness_policy = serializers.ChoiceField(choices=LatenessPolicy.choices, required=False)
    lateness_tolerance = BoundedDurationField(required=False)
    priority = serializers.ChoiceField(
        choices=Priority.choices,
        required=False,
        help_text="low, normal (default) or high. A moment can hold the brand's posts below a "
        "threshold during its window; changing it never needs a new approval.",
    )
    allowed_actions = serializers.SerializerMethodField(
        help_text="Workflow actions you may take on this item now."
    )

    class Meta:
        model = ContentItem
        fields = [
            "id",
            "brand",
            "title",
            "body",
            "links",
            "media",
            "thread",
            "cta_text",
            "cta_url",
            "cta_button",
            "without_cta",
            "channels",
            "event",
            "experiment",
            "status",
            "scheduled_at",
            "scheduled_at_local",
            "lateness_policy",
            "lateness_tolerance",
            "priority",
            "version",
            "allowed_actions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "version", "created_at", "updated_at"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, item: ContentItem) -> list[str]:
        actor = getattr(self.context.get("request"), "actor", None)
        if not actor:
            return []
        # One cache per page (a list's items share this context): the approve hint reads the
        # brands' chains and the page's votes once, not once per item.
        cache = self.context.get("_approval_hints")
        if cache is None:
            from calendar_app.approvals.services import prime_votes

            cache = self.context["_approval_hints"] = {}
            page = getattr(self.parent, "instance", None)
            prime_votes(list(page) if page is not None else [item], cache)
        return workflow.allowed_actions(item, actor, cache)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            if "brand" in attrs and attrs["brand"].pk != self.instance.brand_id:
                raise serializers.ValidationError(
                    {"brand": ["A content item's brand cannot change."]}
                )
            brand = self.instance.brand
        else:
            brand = attrs["brand"]
        check_same_brand(attrs, brand)
        check_without_cta(attrs, self.instance)
        return to_utc(attrs, ("scheduled_at",), brand.time_zone)

    def create(self, validated_data: dict[str, Any]) -> ContentItem:
        request = self.context["request"]
        channels = validated_data.pop("channels", [])
        item = ContentItem(
            workspace=request.workspace,
            created_by=request.actor.user,
            status=ContentStatus.DRAFT,
            **validated_data,
        )
        item.full_clean(
            exclude=["channels", "workspace", "brand", "created_by", "event", "experiment", "fire"]
        )
        with transaction.atomic():
            item.save()
            item.channels.set(channels)
        return item

    def update(self, item: ContentItem, validated_data: dict[str, Any]) -> ContentItem:
        """Through the workflow, exactly as the admin does it: a changed time on a scheduled item
        is a reschedule; changed content after approval goes back to review."""
        actor = self.context["request"].actor
        validated_data.pop("brand", None)
        channels = validated_data.pop("channels", None)
        if channels is not None and {c.pk for c in channels} == set(
            item.channels.values_list("pk", flat=True)
        ):
            channels = None  # unchanged: not a change a locked item must refuse
        changes = {
            name: value
            for name, value in validated_data.items()
            if name in EDITABLE_FIELDS and getattr(item, name) != value
        }
        new_time = (
            changes.pop("scheduled_at", None) if item.status == ContentStatus.SCHEDULED else None
        )
        item = workflow.edit(item, actor, changes, channels=channels)
        if new_time is not None and item.status == ContentStatus.SCHEDULED:
            item = workflow.reschedule(item, actor, new_time, note="Moved through the API.")
        elif new_time is not None:
            item = workflow.edit(item, actor, {"scheduled_at": new_time})
        return item


class TransitionSerializer(KairosSerializer):
    """Input of a workflow action: an optional note (required to reject)."""

    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ScheduleSerializer(TransitionSerializer):
    scheduled_at = InstantField(
        required=False,
        allow_null=True,
        help_text="When it goes out: ISO-8601 with offset, or naive wall-clock time in the brand's "
        "zone. Defaults to the item's own scheduled_at.",
    )


class RescheduleSerializer(TransitionSerializer):
    scheduled_at = InstantField(help_text="The new time (ISO-8601 with offset, or brand-local).")
