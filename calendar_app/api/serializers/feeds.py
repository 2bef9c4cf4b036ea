"""Calendar feeds (secret iCalendar URLs) and the .ics import."""

from __future__ import annotations

from rest_framework import serializers

from calendar_app.api.serializers.common import (
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
    ShownOnceField,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.models import Brand, CalendarFeed


class CalendarFeedSerializer(KairosModelSerializer):
    """A feed as listed: the prefix identifies it; the secret URL is never shown again."""

    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    brand_name = serializers.CharField(source="brand.name", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    is_active = serializers.BooleanField(read_only=True)
    url_hint = serializers.SerializerMethodField(
        help_text="The feed URL with the secret cut after its prefix, to recognise it."
    )

    class Meta:
        model = CalendarFeed
        fields = [
            "id",
            "brand",
            "brand_name",
            "name",
            "token_prefix",
            "url_hint",
            "is_active",
            "created_by",
            "created_at",
            "last_fetched_at",
            "revoked_at",
        ]
        read_only_fields = [
            "id",
            "token_prefix",
            "created_at",
            "last_fetched_at",
            "revoked_at",
        ]

    def get_url_hint(self, feed: CalendarFeed) -> str:
        return f"/feeds/ical/{feed.token_prefix}….ics"


class IssuedCalendarFeedSerializer(CalendarFeedSerializer):
    token = ShownOnceField(
        help_text="The secret. Shown once: it cannot be read again (`null` in an answer "
        "replayed for a repeated `Idempotency-Key`)."
    )
    url = ShownOnceField(
        help_text="The subscription URL for Google Calendar, Outlook or Apple Calendar. "
        "Shown once; anyone holding it can read the brand's calendar until it is revoked "
        "(`null` in a replayed answer).",
    )
    webcal_url = ShownOnceField(help_text="The same URL as webcal:// (`null` in a replay).")

    class Meta(CalendarFeedSerializer.Meta):
        fields = [*CalendarFeedSerializer.Meta.fields, "token", "url", "webcal_url"]


class IcsUploadSerializer(KairosSerializer):
    file = serializers.FileField(
        help_text="An iCalendar (.ics) file, UTF-8, at most 1 MiB and 2,000 events."
    )


class IcsImportResultSerializer(KairosSerializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField(
        help_text="Unchanged events, cancelled ones, changed single occurrences (RECURRENCE-ID), "
        "Kairos posts from a feed, duplicate UIDs."
    )
    warnings = serializers.ListField(child=serializers.CharField())
    events = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the created and updated events."
    )
