"""The shape of an item's media entries and thread parts, checked at every door.

Kept free of model imports so the models themselves can use these validators. An entry is
``{"asset": <id>, "alt_text": ...}``, ``{"url": ..., "alt_text": ...}`` or a bare URL; a thread
part is ``{"body": ..., "media": [entries]}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from calendar_app.validators import contains_nul

__all__ = [
    "MAX_ALT_TEXT",
    "MAX_MEDIA",
    "MAX_THREAD_PARTS",
    "asset_ids",
    "normalise_entries",
    "normalise_thread",
    "parse_entry",
    "validate_media_entries",
    "validate_thread",
]

MAX_THREAD_PARTS = 25
MAX_PART_LENGTH = 10_000
MAX_MEDIA = 20
MAX_ALT_TEXT = 1500


def parse_entry(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict):
        raise ValidationError(f"{where}: give an asset id or a URL.", code="invalid_media")
    unknown = set(value) - {"asset", "url", "alt_text"}
    if unknown:
        raise ValidationError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            "use asset, url and alt_text.",
            code="invalid_media",
        )
    has_asset, has_url = "asset" in value, "url" in value
    if has_asset == has_url:
        raise ValidationError(
            f"{where}: give exactly one of asset (a stored medium) or url.", code="invalid_media"
        )
    entry: dict[str, Any] = {}
    if has_asset:
        asset = value["asset"]
        # An id above a 64-bit integer is no medium's (and overflows the database's integer).
        if isinstance(asset, bool) or not isinstance(asset, int) or not 0 < asset < 2**63:
            raise ValidationError(f"{where}: asset must be a medium's id.", code="invalid_media")
        entry["asset"] = asset
    else:
        url = value["url"]
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"{where}: url must be an http(s) URL.", code="invalid_media")
        if len(url) > 2000:
            raise ValidationError(f"{where}: url is too long.", code="invalid_media")
        entry["url"] = url
    alt = value.get("alt_text", "")
    if not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT:
        raise ValidationError(
            f"{where}: alt_text must be text of at most {MAX_ALT_TEXT} characters.",
            code="invalid_media",
        )
    if alt:
        entry["alt_text"] = alt
    return entry


def normalise_entries(value: Any, where: str = "media") -> list[dict[str, Any]]:
    """The entries in their long form; :class:`ValidationError` naming the entry otherwise."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError(f"{where} must be a list.", code="invalid_media")
    if len(value) > MAX_MEDIA:
        raise ValidationError(f"{where}: at most {MAX_MEDIA} media.", code="invalid_media")
    return [parse_entry(v, f"{where}[{i}]") for i, v in enumerate(value)]


def asset_ids(entries: Iterable[dict[str, Any]]) -> set[int]:
    return {e["asset"] for e in entries if isinstance(e, dict) and "asset" in e}


def validate_media_entries(value: Any) -> None:
    """Model validator: the entries' shape (ownership is checked where the workspace is known)."""
    if contains_nul(value):
        raise ValidationError("Media must not contain NUL characters.", code="invalid_media")
    normalise_entries(value)


def normalise_thread(value: Any) -> list[dict[str, Any]]:
    """The later parts of a thread in their long form (``[{"body", "media"}]``)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError("The thread must be a list of parts.", code="invalid_thread")
    if len(value) > MAX_THREAD_PARTS - 1:
        raise ValidationError(
            f"A thread has at most {MAX_THREAD_PARTS} parts (the post and "
            f"{MAX_THREAD_PARTS - 1} more).",
            code="invalid_thread",
        )
    parts = []
    for index, raw in enumerate(value, start=1):
        where = f"thread[{index - 1}]"
        if isinstance(raw, str):
            raw = {"body": raw}
        if not isinstance(raw, dict) or set(raw) - {"body", "media"}:
            raise ValidationError(
                f'{where}: a part is {{"body": text, "media": [...]}}.', code="invalid_thread"
            )
        body = raw.get("body", "")
        if not isinstance(body, str) or len(body) > MAX_PART_LENGTH:
            raise ValidationError(
                f"{where}: body must be text of at most {MAX_PART_LENGTH} characters.",
                code="invalid_thread",
            )
        media = normalise_entries(raw.get("media"), f"{where}.media")
        if not body.strip() and not media:
            raise ValidationError(f"{where}: a part needs text or media.", code="invalid_thread")
        parts.append({"body": body, "media": media})
    return parts


def validate_thread(value: Any) -> None:
    if contains_nul(value):
        raise ValidationError("The thread must not contain NUL characters.", code="invalid_thread")
    normalise_thread(value)
