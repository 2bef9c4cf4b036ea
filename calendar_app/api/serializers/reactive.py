"""Reactive templates. Changing anything an approval covers bumps the version, so the approval
lapses and the template cannot be fired until it is approved again."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers

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
from calendar_app.api.serializers.content import check_same_brand
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.models import Brand, Channel, Event, Experiment, Fire, ReactiveTemplate


class ReactiveTemplateSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand, help_text="Cannot change after creation.")
    channels = ScopedPrimaryKeyRelatedField(model=Channel, many=True, required=False)
    event = ScopedPrimaryKeyRelatedField(
        model=Event, scope=lambda ws: Event.objects.visible_to(ws), required=False, allow_null=True
    )
    experiment = ScopedPrimaryKeyRelatedField(model=Experiment, required=False, allow_null=True)
    links = StringListField()
    valid_from = InstantField(required=False, allow_null=True)
    valid_until = InstantField(required=False, allow_null=True)
    valid_from_local = LocalTimeField(source="valid_from", zone="brand.time_zone")
    valid_until_local = LocalTimeField(source="valid_until", zone="brand.time_zone")
    cooldown = BoundedDurationField(required=False)
    max_fires = serializers.IntegerField(min_value=1, max_value=100000, required=False)
    is_approved = serializers.BooleanField(read_only=True)

    class Meta:
        model = ReactiveTemplate
        fields = [
            "id",
            "brand",
            "name",
            "scenario",
            "body",
            "links",
            "cta_text",
            "cta_url",
            "cta_button",
            "without_cta",
            "channels",
            "event",
            "experiment",
            "valid_from",
            "valid_until",
            "valid_from_local",
            "valid_until_local",
            "cooldown",
            "max_fires",
            "is_active",
            "version",
            "is_approved",
            "approved_version",
            "approved_at",
            "approved_by_label",
            "approved_via_token",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "version",
            "approved_version",
            "approved_at",
            "approved_by_label",
            "approved_via_token",
            "created_at",
            "updated_at",
        ]

    def validate_body(self, value: str) -> str:
        from publishers import check_template

        problems = check_template(value)
        if problems:
            raise serializers.ValidationError([p.message for p in problems])
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            if "brand" in attrs and attrs["brand"].pk != self.instance.brand_id:
                raise serializers.ValidationError({"brand": ["A template's brand cannot change."]})
            brand = self.instance.brand
        else:
            brand = attrs["brand"]
        check_same_brand(attrs, brand)
        check_without_cta(attrs, self.instance)
        attrs = to_utc(attrs, ("valid_from", "valid_until"), brand.time_zone)
        start = attrs.get("valid_from", getattr(self.instance, "valid_from", None))
        end = attrs.get("valid_until", getattr(self.instance, "valid_until", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"valid_until": ["Must be after valid_from."]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> ReactiveTemplate:
        channels = validated_data.pop("channels", [])
        request = self.context["request"]
        template = ReactiveTemplate(
            workspace=request.workspace, created_by=request.actor.user, **validated_data
        )
        with transaction.atomic():
            template.save()
            template.channels.set(channels)
        return template

    def update(
        self, template: ReactiveTemplate, validated_data: dict[str, Any]
    ) -> ReactiveTemplate:
        channels = validated_data.pop("channels", None)
        validated_data.pop("brand", None)
        before = template.content_hash()
        for name, value in validated_data.items():
            setattr(template, name, value)
        if template.content_hash() != before:
            template.version += 1  # the approval covered the old version: it lapses
            # Separation of duties keeps them from approving it (a workspace key names nobody).
            template.last_edited_by = self.context["request"].actor.user
        template.save()
        if channels is not None:
            template.channels.set(channels)
        return template


class FireSerializer(KairosSerializer):
    values = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        required=False,
        default=dict,
        help_text='Placeholder values, e.g. {"moment": "the lights went out"}.',
    )
    channels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=100,
        help_text="Only these of the template's channels (default: all its connected channels).",
    )


class FireResultSerializer(KairosModelSerializer):
    content_item = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Fire
        fields = [
            "id",
            "template",
            "template_version",
            "fired_by_label",
            "via_token",
            "values",
            "fired_at",
            "first_delivered_at",
            "last_delivered_at",
            "content_item",
        ]
        read_only_fields = fields
