"""A JSON parser that refuses oversized bodies with 413 before reading them whole, and bodies
nested too deeply with 400.

DRF reads JSON from the request stream, so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (which guards
``request.body`` and form data) would not apply to it; this parser applies the same limit. Depth
is limited because every later step (validators, freezing values for plugins, JSON columns) walks
the value recursively: a body nested 100,000 levels deep used to end in a RecursionError (500).
No Kairos resource needs more than a few levels.
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
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(_too_deep()) from None
        except (ValueError, LookupError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc
        if nesting_depth(data) > MAX_DEPTH:
            raise ParseError(_too_deep())
        return data


#: Deepest nesting of objects and arrays a request body may have.
MAX_DEPTH = 32


def _too_deep() -> str:
    return f"The body is nested too deeply (at most {MAX_DEPTH} levels of objects and arrays)."


def nesting_depth(value: Any) -> int:
    """How many levels of objects and arrays ``value`` has, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")
