"""Outbound webhook subscriptions (the secret only in the create and rotate answers) and the
delivery log (read-only)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from rest_framework import serializers

from calendar_app.api.serializers.common import (
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
    ShownOnceField,
)
from calendar_app.models import (
    Brand,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from calendar_app.outbound.events import CATALOGUE, EVENT_TYPES
from calendar_app.outbound.sender import allow_private
from publishers import is_public_address

EVENT_TYPE_HELP = "; ".join(f"`{name}`: {CATALOGUE[name]}" for name in EVENT_TYPES)


class WebhookURLField(serializers.URLField):
    """An http(s) URL that does not name a private address outright (the full check, with DNS,
    runs before every delivery)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise serializers.ValidationError("Use an http(s) URL.", code="invalid_url")
        if allow_private():
            return value
        host = parts.hostname
        if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
            raise serializers.ValidationError(
                "This URL points inside the server's own network.", code="address_refused"
            )
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return value
        if not is_public_address(address):
            raise serializers.ValidationError(
                "This URL points at a private or reserved address.", code="address_refused"
            )
        return value


class WebhookSubscriptionSerializer(KairosModelSerializer):
    url = WebhookURLField(help_text="Where Kairos POSTs the events (https recommended).")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="Event types to receive; empty or absent for all. " + EVENT_TYPE_HELP,
    )
    brands = ScopedPrimaryKeyRelatedField(
        model=Brand,
        many=True,
        required=False,
        help_text="Only events of these brands; empty or absent for all brands.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "brands",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "disabled_reason", "disabled_at", "created_at", "updated_at"]

    def validate_event_types(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))  # keep the order, drop duplicates

    def update(self, instance: WebhookSubscription, validated: dict[str, Any]) -> Any:
        if validated.get("is_active") and not instance.is_active:
            validated.update(disabled_reason="", disabled_at=None)
        elif validated.get("is_active") is False and instance.is_active:
            validated.setdefault("disabled_reason", "Disabled through the API.")
        return super().update(instance, validated)


class SubscriptionSecretSerializer(WebhookSubscriptionSerializer):
    """The create and rotate-secret answers: the only times the secret is shown."""

    secret = ShownOnceField(
        help_text="The Standard Webhooks signing secret (`whsec_…`). Shown once: store it now. "
        "`null` in an answer replayed for a repeated `Idempotency-Key` (`Idempotent-Redacted: "
        "secret`): rotate again if it was lost.",
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(KairosModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "status_code",
            "outcome",
            "error",
            "response_excerpt",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(KairosModelSerializer):
    event_id = serializers.CharField(
        source="event.event_id", read_only=True, help_text="The `webhook-id` header receivers saw."
    )
    event_type = serializers.CharField(source="event.type", read_only=True)
    occurred_at = serializers.DateTimeField(source="event.occurred_at", read_only=True)
    brand = serializers.IntegerField(source="event.brand_id", read_only=True, allow_null=True)
    payload = serializers.JSONField(source="event.payload", read_only=True)
    status = serializers.ChoiceField(choices=WebhookDeliveryStatus.choices, read_only=True)
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_type",
            "occurred_at",
            "brand",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "response_excerpt",
            "duration_ms",
            "succeeded_at",
            "replay_of",
            "requested_by",
            "payload",
            "attempt_log",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
