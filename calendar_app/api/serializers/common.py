"""Fields shared by the resource serializers: workspace-scoped ids and brand-local times."""

from __future__ import annotations

import copy
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendar_app.api.serializers.strict import KairosSerializer, StrictTypesMixin
from calendar_app.timeutils import local_to_utc
from calendar_app.validators import without_cta_problem

MAX_ID = 2**63 - 1

SCOPED_MESSAGES = {
    "does_not_exist": "Object with id {pk_value} does not exist.",
    "incorrect_type": "Expected an integer id, got {data_type}.",
}


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id that must belong to the request's workspace.

    Another workspace's id gets the same "does not exist" as an unknown one: a client learns
    nothing about other tenants. ``scope`` returns the allowed rows for a workspace.
    """

    default_error_messages = SCOPED_MESSAGES

    def __init__(self, *, model: type[Model], scope: Any = None, **kwargs: Any) -> None:
        self.model = model
        self.scope = scope or (lambda ws: model.objects.filter(workspace=ws))
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        workspace = getattr(request, "workspace", None)
        if workspace is None:
            return self.model.objects.none()
        return self.scope(workspace)

    def to_internal_value(self, data: Any) -> Model:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < pk <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(pk)


#: Years 1900..9998, the range :class:`InstantField` accepts (``format: date-time`` alone cannot
#: bound the year).
YEAR_1900_TO_9998 = r"^(?:19\d\d|[2-8]\d\d\d|9[0-8]\d\d|99[0-8]\d|999[0-8])-"


#: Events live between 1970 and 2200 (calendar_app.recurrence.MIN_YEAR, MAX_YEAR).
YEAR_1970_TO_2200 = r"^(?:19[7-9]\d|21\d\d|2200|20\d\d)-"


@extend_schema_field({"type": "string", "format": "date-time", "pattern": YEAR_1900_TO_9998})
class InstantField(serializers.DateTimeField):
    """An instant: ISO-8601 with an offset, or a naive local time left naive for the serializer
    to place in the right zone (the brand's or the event's). Always rendered in UTC."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:
            self.fail("overflow")

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str | datetime):
            self.fail("invalid", format="ISO-8601, e.g. 2027-02-14T18:30:00+01:00")
        parsed = super().to_internal_value(value)
        if not 1900 <= parsed.year <= 9998:
            raise serializers.ValidationError(
                "Give a date between 1900 and 9998.", code="out_of_range"
            )
        return parsed


@extend_schema_field({"type": "string", "format": "date-time", "pattern": YEAR_1970_TO_2200})
class EventInstantField(InstantField):
    """An event's start or end: the years expansion bounds (1970-2200), said in the schema."""


def to_utc(attrs: dict[str, Any], names: tuple[str, ...], time_zone: str) -> dict[str, Any]:
    """Place naive values of ``names`` in ``time_zone``; a nonexistent local time is a field error."""
    errors = {}
    for name in names:
        value = attrs.get(name)
        if isinstance(value, datetime) and value.tzinfo is None:
            try:
                attrs[name] = local_to_utc(value, time_zone)
            except DjangoValidationError as exc:
                errors[name] = exc.messages
    if errors:
        raise serializers.ValidationError(errors, code="nonexistent_local_time")
    return attrs


def rfc3339(value: datetime) -> str:
    """``value.isoformat()``, with an offset RFC 3339 can carry: whole minutes.

    Before standard time, zones ran on local mean time (Paris was +00:09:21 until 1911), and
    ``isoformat`` then writes seconds in the offset, which is not a ``date-time`` (the schema
    fuzzer found a ``valid_until_local`` of 1908 that no client could parse). The same instant is
    written with its offset rounded to the minute: the wall-clock time moves by under 30 seconds.
    """
    offset = value.utcoffset()
    if offset is not None and offset.seconds % 60:
        minutes = round(offset.total_seconds() / 60)
        value = value.astimezone(timezone(timedelta(minutes=minutes)))
    return value.isoformat()


def local_iso(value: datetime | None, time_zone: str) -> str | None:
    """``value`` as wall-clock time with offset in ``time_zone`` (for the ``*_local`` fields)."""
    if value is None:
        return None
    return rfc3339(value.astimezone(zoneinfo.ZoneInfo(time_zone)))


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class LocalTimeField(serializers.ReadOnlyField):
    """Read-only: ``source`` rendered in the zone given by ``zone`` (a dotted attribute path)."""

    def __init__(self, *, zone: str, **kwargs: Any) -> None:
        self.zone = zone
        kwargs.setdefault(
            "help_text", "The same instant as wall-clock time with offset, in the brand's zone."
        )
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        zone = instance
        for part in self.zone.split("."):
            zone = getattr(zone, part)
        return local_iso(value, zone)

    def to_representation(self, value: Any) -> Any:
        return value


class StringListField(serializers.ListField):
    child = serializers.CharField(max_length=1000, allow_blank=False)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class TagListField(serializers.ListField):
    child = serializers.CharField(max_length=60, allow_blank=False)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 50)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


class NoteSerializer(KairosSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class BoundedDurationField(serializers.DurationField):
    """A duration between zero and ten years, so the database never sees an overflowing value."""

    def __init__(self, **kwargs: Any) -> None:
        from datetime import timedelta

        kwargs.setdefault("min_value", timedelta(0))
        kwargs.setdefault("max_value", timedelta(days=3650))
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "maxLength": 1000, "description": "A URL, or empty."})
class OptionalURLField(serializers.CharField):
    """A URL that may be blank, documented without ``format: uri`` so that ``""`` is valid (a
    ``URLValidator`` on the field would make the schema generator add the format back)."""

    def to_internal_value(self, data: Any) -> str:
        from django.core.validators import URLValidator

        value = super().to_internal_value(data)
        if value:
            try:
                URLValidator()(value)
            except DjangoValidationError:
                raise serializers.ValidationError("Enter a valid URL.", code="invalid") from None
        return value


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """A JSON object (never null, a list or a scalar): the model's validators refuse anything
    else, and the schema now says so instead of "any value"."""

    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("not_object")
        return super().to_internal_value(data)


_TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"\S"}


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            key: {"type": "array", "maxItems": 50, "items": _TAG}
            for key in ("themes", "values", "audience", "avoid")
        },
        "additionalProperties": False,
    }
)
class BrandProfileField(JSONObjectField):
    """A brand profile, documented with the shape ``validators.validate_profile`` checks."""


class KairosModelSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """Model serializer with the project's field mapping (blank-able URLs) and strict JSON types.

    DRF works out a model serializer's fields from the model (introspection, field classes,
    extra kwargs) for every serializer instance, so on every request; for the content list that
    was a tenth of the request. The fields depend on the class alone (``Meta``, the declared
    fields, the mapping: no subclass builds them from the request), so they are worked out once
    per class and each instance gets a deep copy, fresh and unbound, as DRF gives its declared
    fields.
    """

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.URLField: OptionalURLField,
    }

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototype = cls.__dict__.get("_kairos_fields")
        if prototype is None:
            prototype = super().get_fields()
            cls._kairos_fields = prototype  # a race only builds it twice
        return copy.deepcopy(prototype)


def check_without_cta(attrs: dict[str, Any], instance: Any) -> None:
    """Refuse "no call to action" on a post that has one (see
    :func:`calendar_app.validators.without_cta_problem`), reading unchanged fields from
    ``instance``."""

    def current(name: str, default: Any) -> Any:
        return attrs[name] if name in attrs else getattr(instance, name, default)

    experiment = current("experiment", None)
    problem = without_cta_problem(
        bool(current("without_cta", False)),
        current("cta_text", ""),
        current("cta_url", ""),
        experiment.pk if experiment is not None else None,
    )
    if problem:
        raise serializers.ValidationError({"without_cta": [problem]})


class ShownOnce:
    """Marks a field whose value is a secret shown once, in the answer that creates it.

    The idempotency store (:mod:`calendar_app.api.idempotency`) never keeps such a value: a
    replayed answer carries ``null`` in its place and names it in ``Idempotent-Redacted``. A
    class attribute rather than an instance flag, because DRF rebuilds fields from their
    arguments when it copies them.
    """

    shown_once = True


class ShownOnceField(ShownOnce, serializers.CharField):
    """A read-only secret in a create (or rotate) answer; ``null`` in a replayed answer."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


class ShownOnceMethodField(ShownOnce, serializers.SerializerMethodField):
    """A computed value that embeds a secret (a sign-in URL holding a single-use state)."""
