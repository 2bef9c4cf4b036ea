"""Publications and metric snapshots: read-only, written by the delivery pipeline."""

from __future__ import annotations

from rest_framework import serializers

from calendar_app.api.serializers.common import KairosModelSerializer, LocalTimeField
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.models import MetricSnapshot, Publication


class PublicationSerializer(KairosModelSerializer):
    due_at_local = LocalTimeField(source="due_at", zone="content_item.brand.time_zone")
    published_at_local = LocalTimeField(source="published_at", zone="content_item.brand.time_zone")
    network = serializers.CharField(source="channel.network", read_only=True)

    class Meta:
        model = Publication
        fields = [
            "id",
            "content_item",
            "channel",
            "network",
            "variant",
            "status",
            "due_at",
            "due_at_local",
            "next_attempt_at",
            "attempts",
            "external_id",
            "external_url",
            "sent_text",
            "published_at",
            "published_at_local",
            "delivered_late",
            "last_error_code",
            "last_error_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MetricSnapshotSerializer(KairosModelSerializer):
    variant = serializers.IntegerField(
        source="publication.variant_id", read_only=True, allow_null=True
    )

    class Meta:
        model = MetricSnapshot
        fields = [
            "id",
            "publication",
            "variant",
            "collected_at",
            "impressions",
            "clicks",
            "reactions",
            "shares",
            "replies",
            "conversions",
            "created_at",
        ]
        read_only_fields = fields


class RetrySerializer(KairosSerializer):
    resolved_unconfirmed = serializers.ChoiceField(
        choices=[
            ("", "Not an unconfirmed publication"),
            ("not_posted", "Not posted"),
            ("posted", "Posted"),
        ],
        required=False,
        default="",
        help_text="For an unconfirmed publication: what you found on the network.",
    )
