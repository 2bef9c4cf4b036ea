"""The calendar endpoint: its query parameters and its entries."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendar_app.api.read.calendar_entries import entry_json, instant
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.calendar_view import KINDS, MAX_RANGE_DAYS, CalendarEntry, check_range
from calendar_app.timeutils import local_to_utc
from calendar_app.validators import validate_time_zone

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def start_of_day(day: date, zone: str) -> datetime:
    """The first instant of ``day`` in ``zone`` (midnight, or the end of a DST gap at midnight)."""
    return datetime.combine(day, time(0)).replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


class BoundField(serializers.CharField):
    """``start``/``end``: ISO-8601 with an offset, a naive date-time (wall clock in ``tz``), or
    a date (a whole day in ``tz``). Left as a tagged value; the serializer places it in the zone."""

    def to_internal_value(self, data: Any) -> tuple[str, Any]:
        text = super().to_internal_value(data).strip()
        if _DATE_ONLY.match(text):
            try:
                day = parse_date(text)
            except ValueError:
                day = None
            if day is None:
                self.fail("invalid")
            return ("date", day)
        try:
            value = parse_datetime(text.replace(" ", "T", 1) if " " in text else text)
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        if not 1900 <= value.year <= 9998:
            raise serializers.ValidationError(
                "Give a date between 1900 and 9998.", code="out_of_range"
            )
        return ("datetime", value)

    default_error_messages = {
        "invalid": "Give an ISO-8601 date-time with an offset (2027-03-28T00:00:00+01:00), "
        "a date-time read in tz (2027-03-28T09:00), or a date (2027-03-28).",
    }


class CalendarQuerySerializer(KairosSerializer):
    start = BoundField(
        help_text="Inclusive. ISO-8601 with offset, a naive date-time read in `tz`, or a date "
        "(its first instant in `tz`)."
    )
    end = BoundField(
        help_text="Exclusive. ISO-8601 with offset, a naive date-time read in `tz`, or a date "
        "(inclusive: the range runs to the end of that day in `tz`). "
        f"At most {MAX_RANGE_DAYS} days after start."
    )
    brand = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Only this brand's items and templates, with its fit score on events.",
    )
    tz = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA zone for `*_local` and for dates; default the brand's zone, else UTC.",
    )
    kinds = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Comma-separated subset of event,content,template (default all).",
    )

    def validate_tz(self, value: str) -> str:
        try:
            validate_time_zone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="invalid_time_zone") from None
        return value

    def validate_kinds(self, value: str) -> list[str]:
        kinds = [part.strip() for part in value.split(",") if part.strip()]
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or not kinds:
            raise serializers.ValidationError(
                f"Unknown kind(s): {', '.join(unknown) or '(none)'}; use any of {', '.join(KINDS)}.",
                code="invalid_choice",
            )
        return kinds

    def resolve(self, brand_zone: str | None) -> dict[str, Any]:
        """Turn the validated bounds into UTC instants in the effective zone; field errors on
        an impossible range. Call once the brand (and so its zone) is known."""
        data = dict(self.validated_data)
        zone = data.get("tz") or brand_zone or "UTC"
        errors: dict[str, list[str]] = {}
        bounds: dict[str, datetime] = {}
        for name in ("start", "end"):
            kind, value = data[name]
            if kind == "date":
                day = value + timedelta(days=1) if name == "end" else value
                bounds[name] = start_of_day(day, zone)
            elif value.tzinfo is None:
                try:
                    bounds[name] = local_to_utc(value, zone)
                except DjangoValidationError as exc:
                    errors[name] = exc.messages
            else:
                bounds[name] = value.astimezone(UTC)
        if not errors:
            errors = check_range(bounds["start"], bounds["end"])
        if errors:
            code = "impossible_range" if "end" in errors else "invalid"
            raise serializers.ValidationError(errors, code=code)
        return {
            "start": bounds["start"],
            "end": bounds["end"],
            "tz": zone,
            "kinds": data.get("kinds") or list(KINDS),
        }


_instant = instant  # the generic representation's, and the schema's, writer of instants


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class _Instant(serializers.ReadOnlyField):
    def to_representation(self, value: datetime | None) -> str | None:
        return _instant(value)


class CalendarEntrySerializer(KairosSerializer):
    kind = serializers.ChoiceField(choices=[(k, k) for k in KINDS], read_only=True)
    id = serializers.IntegerField(read_only=True, help_text="Id of the event, item or template.")
    title = serializers.CharField(read_only=True)
    start = _Instant(help_text="UTC. Null for a template window without a start.")
    end = _Instant(help_text="UTC. Null for a template window without an end.")
    start_local = _Instant(help_text="The same instant in the requested zone, with its offset.")
    end_local = _Instant(help_text="The same instant in the requested zone, with its offset.")
    all_day = serializers.BooleanField(read_only=True)
    start_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="All-day events: first day (event's zone)."
    )
    end_date = serializers.DateField(
        read_only=True, allow_null=True, help_text="All-day events: day after the last."
    )
    time_zone = serializers.CharField(
        read_only=True, allow_null=True, help_text="Events: the zone the event repeats in."
    )
    recurring = serializers.BooleanField(read_only=True)
    brand = serializers.IntegerField(source="brand_id", read_only=True, allow_null=True)
    brand_name = serializers.CharField(read_only=True, allow_null=True)
    status = serializers.CharField(
        read_only=True, allow_null=True, help_text="Content items: their workflow status."
    )
    channels_count = serializers.IntegerField(read_only=True, allow_null=True)
    fit_score = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Events, with ?brand=: the brand's effective fit (0–100), if scored.",
    )
    details = serializers.DictField(
        read_only=True,
        help_text="Per kind: events {location, themes, is_global}; content {scheduled_at, "
        "event}; templates {scenario, event}.",
    )

    def to_representation(self, entry: CalendarEntry) -> dict[str, Any]:
        """The entry as JSON values, written out by hand (:func:`calendar_app.api.read.
        calendar_entries.entry_json`).

        The fields above describe the shape (the schema is generated from them), but running
        them costs a field lookup, a ``get_attribute`` and a ``to_representation`` per field
        and row: half of a calendar page's serialization was that machinery. The result is
        the same (``tests/calendar_feeds/test_calendar_serialization.py`` compares the two).
        """
        return entry_json(entry)

    def generic_representation(self, entry: CalendarEntry) -> dict[str, Any]:
        """What DRF's field-by-field ``to_representation`` gives (the tests' reference)."""
        data = super().to_representation(entry)
        details = dict(data["details"])
        scheduled = details.get("scheduled_at")
        if isinstance(scheduled, datetime):
            details["scheduled_at"] = _instant(scheduled.astimezone(UTC))
        data["details"] = details
        return data
