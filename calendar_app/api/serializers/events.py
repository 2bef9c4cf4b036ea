"""Events (the shared library and the workspace's own) with each brand's fit."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendar_app.api.serializers.common import (
    EventInstantField,
    KairosModelSerializer,
    LocalTimeField,
    ScopedPrimaryKeyRelatedField,
    TagListField,
    to_utc,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.models import Brand, BrandFit, Event
from calendar_app.recurrence import event_problems


class BrandFitSerializer(KairosModelSerializer):
    brand_name = serializers.CharField(source="brand.name", read_only=True)
    effective_score = serializers.IntegerField(read_only=True)

    class Meta:
        model = BrandFit
        fields = [
            "brand",
            "brand_name",
            "score",
            "override_score",
            "effective_score",
            "reasons",
            "override_note",
            "overridden_at",
        ]
        read_only_fields = fields


class EventSerializer(KairosModelSerializer):
    starts_at = EventInstantField(
        help_text="ISO-8601, 1970-2200; a naive time is read in the event's time_zone."
    )
    ends_at = EventInstantField(
        help_text="ISO-8601, 1970-2200; a naive time is read in the event's time_zone."
    )
    starts_at_local = LocalTimeField(source="starts_at", zone="time_zone")
    ends_at_local = LocalTimeField(source="ends_at", zone="time_zone")
    themes = TagListField()
    audience = TagListField()
    is_global = serializers.SerializerMethodField(
        help_text="True for the shared library: visible to every workspace, read-only."
    )
    fits = serializers.SerializerMethodField(
        help_text="How well the event fits each of your brands."
    )

    class Meta:
        model = Event
        fields = [
            "id",
            "title",
            "description",
            "location",
            "starts_at",
            "ends_at",
            "starts_at_local",
            "ends_at_local",
            "time_zone",
            "all_day",
            "rrule",
            "recurrence_ends_at",
            "themes",
            "audience",
            "source",
            "external_uid",
            "is_global",
            "fits",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "recurrence_ends_at",
            "source",
            "external_uid",
            "created_at",
            "updated_at",
        ]

    def get_is_global(self, event: Event) -> bool:
        return event.workspace_id is None

    @extend_schema_field(BrandFitSerializer(many=True))
    def get_fits(self, event: Event) -> list[dict[str, Any]]:
        fits = getattr(event, "workspace_fits", None)
        if fits is None:
            workspace = self.context["request"].workspace
            fits = event.fits.filter(workspace=workspace).select_related("brand")
        return BrandFitSerializer(fits, many=True).data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        zone = attrs.get("time_zone", getattr(self.instance, "time_zone", "UTC"))
        attrs = to_utc(attrs, ("starts_at", "ends_at"), zone)
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends < starts:
            raise serializers.ValidationError(
                {"ends_at": ["The event cannot end before it starts."]}
            )
        if starts and ends:
            # The same check as the model's, here so that every problem is a field message of
            # this request (rrule, starts_at, ends_at) before anything is saved.
            problems = event_problems(
                rule_text=attrs.get("rrule", getattr(self.instance, "rrule", "")),
                starts_at=starts,
                ends_at=ends,
                time_zone=zone,
            )
            if problems:
                raise serializers.ValidationError(problems)
        return attrs


class FitOverrideSerializer(KairosSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    override_score = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, help_text="Null clears the override."
    )
    override_note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default=""
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["override_score"] is not None and not attrs["override_note"].strip():
            raise serializers.ValidationError(
                {"override_note": ["Say why the computed score is overridden."]}
            )
        return attrs
