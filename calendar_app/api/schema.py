"""OpenAPI generation: every operation documents the error shape for the 4xx it can return.

Without this the schema would only describe successes, and a client generated from it would not
know that a 400 carries ``fields``.
"""

from __future__ import annotations

from typing import Any

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

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = list(self.common_errors)
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            codes.append("400")
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
