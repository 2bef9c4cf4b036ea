"""Brands and their channels. Channel credentials are write-only: no response ever holds them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from calendar_app.api.serializers.common import (
    BrandProfileField,
    JSONObjectField,
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.models import Brand, Channel, ChannelStatus
from calendar_app.validators import validate_json_object, validate_profile


class BrandSerializer(KairosModelSerializer):
    profile = BrandProfileField(
        required=False,
        validators=[validate_profile],
        help_text='Used to judge which events fit: {"themes": [], "values": [], "audience": [], "avoid": []}.',
    )

    class Meta:
        model = Brand
        fields = [
            "id",
            "name",
            "slug",
            "time_zone",
            "language",
            "description",
            "profile",
            "default_cta_text",
            "default_cta_url",
            "default_cta_button",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_slug(self, value: str) -> str:
        others = Brand.objects.filter(workspace=self.context["request"].workspace, slug=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("Another brand of this workspace has this slug.")
        return value


class SecretsField(serializers.DictField):
    child = serializers.CharField(max_length=5000, allow_blank=True)


class ChannelSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    secrets = SecretsField(
        write_only=True,
        required=False,
        help_text="Credentials (token, signing key…). Write-only: replaced as a whole when sent, never returned.",
    )
    settings = JSONObjectField(
        required=False,
        validators=[validate_json_object],
        help_text="The network's settings for this channel (see its schema).",
    )
    has_secrets = serializers.BooleanField(read_only=True)
    daily_post_cap = serializers.IntegerField(
        min_value=1,
        max_value=100000,
        required=False,
        allow_null=True,
        help_text="Most posts this account may make in 24 hours, if its plan caps it; a "
        "moment's readiness check is red when a template's remaining fires do not fit.",
    )
    status = serializers.ChoiceField(
        choices=[ChannelStatus.CONNECTED, ChannelStatus.DISABLED],
        required=False,
        help_text="Set `connected` or `disabled`; `expired` is set by Kairos when a network refuses the credentials.",
    )

    class Meta:
        model = Channel
        fields = [
            "id",
            "brand",
            "network",
            "handle",
            "display_name",
            "settings",
            "secrets",
            "has_secrets",
            "status",
            "status_reason",
            "status_changed_at",
            "facts",
            "facts_checked_at",
            "rate_limit",
            "paused_until",
            "daily_post_cap",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status_reason",
            "status_changed_at",
            "facts",
            "facts_checked_at",
            "rate_limit",
            "paused_until",
            "created_at",
            "updated_at",
        ]
        validators = []  # the unique handle is checked in validate(), as a field error

    def to_representation(self, instance: Channel) -> dict[str, Any]:
        data = super().to_representation(instance)
        data.pop("secrets", None)  # belt and braces: write_only already keeps it out
        return data

    def validate_network(self, value: str) -> str:
        from calendar_app.api.networks import installed_network_keys

        keys = installed_network_keys()
        if keys is not None and value not in keys:
            raise serializers.ValidationError(
                f"No installed network '{value}'. Installed: {', '.join(sorted(keys)) or 'none'}."
            )
        return value

    def validate_settings(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        brand = attrs.get("brand", getattr(self.instance, "brand", None))
        network = attrs.get("network", getattr(self.instance, "network", None))
        handle = attrs.get("handle", getattr(self.instance, "handle", None))
        clash = Channel.objects.filter(brand=brand, network=network, handle=handle)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if brand is not None and clash.exists():
            raise serializers.ValidationError(
                {"handle": ["This brand already has this handle on this network."]}
            )
        from calendar_app.api.networks import settings_errors

        errors = settings_errors(
            network,
            attrs.get("settings", getattr(self.instance, "settings", None) or {}),
            attrs.get("secrets"),
        )
        if errors:
            raise serializers.ValidationError(errors)
        if attrs.get("secrets") and "status" not in attrs and self.instance is not None:
            from calendar_app.delivery.held import reconnect_with_new_secrets

            reconnect_with_new_secrets(self.instance)  # saved with the new secrets
            attrs["status"] = self.instance.status
        return attrs


class ProblemSerializer(KairosSerializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ConnectionTestSerializer(KairosSerializer):
    ok = serializers.BooleanField()
    problems = ProblemSerializer(many=True)
