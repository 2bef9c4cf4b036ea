"""Strict JSON types: a JSON body's values must have the type the schema declares.

DRF coerces on input: a ``BooleanField`` takes ``"true"``, ``"1"`` and ``"on"``, an
``IntegerField`` takes ``"12"``, a ``CharField`` takes ``12``, an id field takes ``"5"``. The
OpenAPI schema says ``boolean``, ``integer``, ``string``; so a client following the schema and
one sending strings both "worked", and the schema fuzzer rightly reported that the API accepts
what its contract forbids. The contract is now the schema's: in a JSON body, a boolean is
``true``/``false``, a number is a JSON number, a string is a JSON string, a list is a list.
A wrong type is a 400 on that field (``"Expected a boolean, got string."``).

Form and multipart bodies (media and ``.ics`` uploads) carry only strings, so they are left to
DRF's own parsing. The check runs in :class:`StrictTypesMixin`, the base of every serializer
the API accepts input with (:class:`KairosSerializer`, :class:`KairosModelSerializer`); it walks
list and dict children, and nested serializers check their own fields the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

#: JSON type names as the schema spells them, for messages
_JSON_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def json_type_name(value: Any) -> str:
    for kind, name in _JSON_NAMES.items():
        if type(value) is kind:
            return name
    return type(value).__name__


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def expected_type(field: serializers.Field) -> tuple[str, Any] | None:
    """``(name, predicate)`` for the JSON type ``field`` accepts, or ``None`` for any/unknown.

    Order matters: DRF's field classes inherit from each other (``EmailField`` is a
    ``CharField``, ``ManyRelatedField`` holds a child relation)."""
    if isinstance(field, serializers.BooleanField):
        return "boolean", lambda v: isinstance(v, bool)
    if isinstance(field, serializers.IntegerField):
        return "integer", _is_integer
    if isinstance(field, serializers.FloatField):
        return "number", _is_number
    if isinstance(field, serializers.DecimalField):
        # Rendered as a string (COERCE_DECIMAL_TO_STRING) and documented as one; take both.
        return "number or numeric string", lambda v: _is_number(v) or isinstance(v, str)
    if isinstance(field, serializers.MultipleChoiceField):
        return "array", lambda v: isinstance(v, list)
    if isinstance(field, serializers.ChoiceField):
        kinds = {type(key) for key in field.choices}
        if kinds and kinds <= {str}:
            return "string", lambda v: isinstance(v, str)
        if kinds and kinds <= {int}:
            return "integer", _is_integer
        return None
    if isinstance(field, serializers.ManyRelatedField):
        return "array", lambda v: isinstance(v, list)
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        return "integer", _is_integer
    if isinstance(field, serializers.SlugRelatedField | serializers.HyperlinkedRelatedField):
        return "string", lambda v: isinstance(v, str)
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateTimeField
        | serializers.DateField
        | serializers.TimeField
        | serializers.DurationField
        | serializers.UUIDField,
    ):
        return "string", lambda v: isinstance(v, str)
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        return "array", lambda v: isinstance(v, list)
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return "object", lambda v: isinstance(v, Mapping)
    return None  # JSONField, custom fields, file uploads: they validate their own input


def type_errors(field: serializers.Field, value: Any) -> list[str] | dict[str, Any] | None:
    """The messages for ``value`` given to ``field``, or ``None`` when its JSON type fits."""
    if value is None or field.read_only:
        return None  # null is the field's own business (allow_null)
    expected = expected_type(field)
    if expected is None:
        return None
    name, accepts = expected
    if not accepts(value):
        return [
            f"Expected {'an' if name[0] in 'aeiou' else 'a'} {name}, got {json_type_name(value)}."
        ]
    child = getattr(field, "child", None)
    if isinstance(field, serializers.ManyRelatedField):
        child = field.child_relation
    if child is not None and not isinstance(child, serializers.Serializer):
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        errors = {str(key): err for key, item in items if (err := type_errors(child, item))}
        return errors or None
    return None


class StrictTypesMixin:
    """Refuse JSON values of the wrong type before DRF coerces them (see the module docstring)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not html.is_html_input(data):
            errors = {}
            for field in self._writable_fields:  # type: ignore[attr-defined]
                value = data.get(field.field_name, empty)
                if value is empty:
                    continue
                problem = type_errors(field, value)
                if problem:
                    errors[field.field_name] = problem
            if errors:
                raise serializers.ValidationError(errors, code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class KairosSerializer(StrictTypesMixin, serializers.Serializer):
    """The base of every plain serializer that takes input."""


__all__ = ["KairosSerializer", "StrictTypesMixin", "expected_type", "type_errors"]
