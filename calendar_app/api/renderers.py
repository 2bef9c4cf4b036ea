"""The API's JSON renderer: DRF's, encoding with orjson.

Why: encoding is a fixed share of every answer, and the largest ones are the busiest: a calendar
page of 100 entries (43 kB) took 0.23 ms with the ``json`` module and 0.016 ms with orjson, a
content page 0.14 and 0.010 ms, on requests that cost 3 to 4 ms in all.

What is written does not change. orjson writes strings, numbers, booleans, null, lists and
dicts as DRF's encoder does (UTF-8, compact separators); date-times, dates and times go to
DRF's encoder (its ``Z`` for UTC), as does any type orjson does not know (decimals, lazy
translations, query sets...). DRF's ``\\u2028`` and ``\\u2029`` escapes are kept. Whatever
orjson refuses (an integer beyond 64 bits, a key that is not a string, a string that is not
valid Unicode) and any indented answer (``Accept: application/json; indent=2``) are rendered by
DRF's own code. Floats may be spelled differently (``1e-7`` for ``1e-07``), the same number.
One difference: a NaN or an infinity, which DRF's strict mode refused with a 500, is written as
``null``; the analyses never produce one (tests/analysis check their output with
``allow_nan=False``).

``tests/api/test_renderer.py`` holds the two equal over generated answers.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework import renderers

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class JSONRenderer(renderers.JSONRenderer):
    """``rest_framework.renderers.JSONRenderer``, its compact answers encoded by orjson."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if (
            self.compact
            and not self.ensure_ascii
            and self.get_indent(accepted_media_type or "", renderer_context or {}) is None
        ):
            try:
                text = orjson.dumps(data, default=self.encoder_class().default, option=_OPTIONS)
            except (orjson.JSONEncodeError, TypeError, ValueError):
                pass  # DRF's encoder says it as before, or raises as before
            else:
                return text.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                    b"\xe2\x80\xa9", b"\\u2029"
                )
        return super().render(data, accepted_media_type, renderer_context)
