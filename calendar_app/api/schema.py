"""OpenAPI generation: every operation documents the error shape for the 4xx it can return.

Without this the schema would only describe successes, and a client generated from it would not
know that a 400 carries ``fields``. The list is derived from what each operation takes, the way
the API behaves (and the schemathesis run in tests/api/test_schema_fuzz.py checks that every
status the API answers is declared):

- 400: a request body, or any query parameter (filters, ``page_size``, ``ordering`` are strict);
- 415: a request body sent with a media type the operation does not parse;
- 409/413 on writes, 412 where ``If-Match`` is honoured, 503 where an action may be unavailable;
- 401/403/404/429 everywhere.
"""

from __future__ import annotations

from typing import Any

import django_filters as df
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable, machine-readable code, e.g. `invalid`, `not_found`."
    )
    detail = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (dotted path for nested input) to its messages; empty when none.",
    )


class KairosAutoSchema(AutoSchema):
    #: errors every authenticated, workspace-scoped operation may answer
    common_errors = ("401", "403", "404", "429")

    def _map_serializer_field(
        self, field: serializers.Field, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF trims a CharField before its blank check, so "  " is refused like "": say it.
        if (
            direction == "request"
            and type(field) in (serializers.CharField,)
            and not field.allow_blank
            and field.trim_whitespace
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = r"\S"
        # A list of related ids that may not be empty (allow_empty=False): say so.
        if (
            direction == "request"
            and isinstance(field, serializers.ManyRelatedField)
            and not field.allow_empty
            and schema.get("type") == "array"
        ):
            schema.setdefault("minItems", 1)
        return schema

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        self._takes_query = any(p.get("in") == "query" for p in parameters)
        return parameters

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        self._takes_body = bool(body)
        return body

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = list(self.common_errors)
        takes_body = getattr(self, "_takes_body", False)
        if (
            self.method in ("POST", "PUT", "PATCH")
            or self._is_list_view()
            or getattr(self, "_takes_query", False)
        ):
            codes.append("400")
        if takes_body:
            codes.append("415")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ["409", "413"]
        if self.method in ("PUT", "PATCH", "DELETE", "POST") and getattr(
            self.view, "uses_etag", False
        ):
            codes.append("412")
        if self.method == "POST" and getattr(self.view, "action", "") in self.view_unavailable():
            codes.append("503")
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, direction=direction
                )
        return responses

    def view_unavailable(self) -> tuple[str, ...]:
        return tuple(getattr(self.view, "may_be_unavailable", ()))


# --- Filters: the types django-filter's own extension cannot see ---------------------------------


class KairosFilterExtension(DjangoFilterExtension):
    """drf-spectacular's django-filter extension, told the types it leaves open.

    Filters with a ``method`` (``start``, ``end``, ``min_fit``, ``brand`` of the events list) were
    documented as ``{}`` (any value) or ``string``, so the schema allowed ``start=null`` that the
    API refuses; here every filter gets the JSON type its form field parses.
    """

    target_class = "calendar_app.api.filters.KairosFilterBackend"
    priority = 1

    def resolve_filter_field(
        self, auto_schema: Any, model: Any, filterset_class: Any, field_name: str, filter_field: Any
    ) -> list[dict[str, Any]]:
        params = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        for param in params:
            schema = param["schema"]
            target = schema["items"] if schema.get("type") == "array" else schema
            typed = _filter_type(filter_field)
            if typed is not None:
                description = target.get("description")
                enum = target.get("enum")
                target.clear()
                target.update(typed)
                if enum is not None and "enum" not in typed:
                    target["enum"] = enum
                if description:
                    target["description"] = description
        return params


def _filter_type(filter_field: Any) -> dict[str, Any] | None:
    if isinstance(filter_field, df.IsoDateTimeFilter | df.DateTimeFilter):
        from calendar_app.api.serializers.common import YEAR_1900_TO_9998

        return {"type": "string", "format": "date-time", "pattern": YEAR_1900_TO_9998}
    if isinstance(filter_field, df.BooleanFilter):
        return {"type": "boolean"}
    if isinstance(filter_field, df.ModelChoiceFilter | df.ModelMultipleChoiceFilter):
        return {"type": "integer", "minimum": 1}
    if isinstance(filter_field, df.NumberFilter):
        bounds = {
            key: filter_field.extra[name]
            for key, name in (("minimum", "min_value"), ("maximum", "max_value"))
            if filter_field.extra.get(name) is not None
        }
        return {"type": "number", **bounds}
    return None


# --- Request bodies: what the validators check, said in the schema ------------------------------


#: The domain part Django's ``EmailValidator`` accepts: dot-separated labels, a top-level
#: domain of at least two characters.
EMAIL_DOMAIN = (
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,62}[A-Za-z0-9]$"
)


def tighten_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    """``POSTPROCESSING_HOOKS`` entry: state in the schema the rules the API enforces on
    well-known fields, so that what the schema allows is what the API accepts.

    - ``time_zone`` / ``tz``: one of the IANA zones the server knows (an empty or unknown zone
      was allowed by ``minLength: 1`` and refused by the API);
    - ``language``: the language-tag pattern of ``calendar_app.validators``;
    - a channel's or a connection's ``network``: one of the installed networks;
    - ``email``: ``format: email``;
    - the calendar's ``kinds``: comma-separated ``event``, ``content``, ``template``;
    - a media entry and a thread part: no other keys; a medium is an asset or a URL.
    """
    from calendar_app.api.networks import installed_network_keys
    from calendar_app.validators import _LANGUAGE, _time_zones

    zones = sorted(_time_zones())
    networks = sorted(installed_network_keys() or [])
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for key, prop in component.get("properties", {}).items():
            if prop.get("type") != "string" or "enum" in prop:
                continue
            if key == "time_zone":
                prop["enum"] = zones
            elif key == "language":
                prop["pattern"] = _LANGUAGE.pattern
            elif key == "network" and ("Channel" in name or "Connection" in name) and networks:
                prop["enum"] = networks
            elif key == "email" and "format" not in prop:
                # ``format: email`` alone allows a one-letter top-level domain (``0@0.a``), which
                # Django's EmailValidator refuses: the pattern adds its domain rule.
                prop["format"] = "email"
                prop["pattern"] = EMAIL_DOMAIN
    for name in ("MediaEntryRequest", "ThreadPartRequest"):
        component = result.get("components", {}).get("schemas", {}).get(name)
        if component is None:
            continue
        # calendar_app.media.entries refuses unknown keys, and a medium is exactly one of a
        # stored asset or a URL.
        component["additionalProperties"] = False
        if name == "MediaEntryRequest":
            component["oneOf"] = [{"required": ["asset"]}, {"required": ["url"]}]
            component["properties"]["asset"].update(minimum=1, maximum=2**63 - 1)
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param.get("in") != "query":
                    continue
                if param.get("name") in ("tz", "time_zone"):
                    param["schema"] = {**param["schema"], "type": "string", "enum": zones}
                elif param.get("name") == "kinds":
                    kind = "(?:event|content|template)"
                    param["schema"] = {
                        "type": "string",
                        "maxLength": 100,
                        "pattern": f"^{kind}(?:,{kind})*$",
                    }
    return result
