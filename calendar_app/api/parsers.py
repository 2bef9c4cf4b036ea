"""A JSON parser that refuses oversized bodies with 413 before reading them whole.

DRF reads JSON from the request stream, so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (which guards
``request.body`` and form data) would not apply to it; this parser applies the same limit.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from calendar_app.api.exceptions import RequestTooLarge


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2 * 1024 * 1024


class LimitedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = max_body_bytes()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, LookupError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")
