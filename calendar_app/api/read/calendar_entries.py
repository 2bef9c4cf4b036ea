"""Calendar entries as ``GET calendar/`` shows them, written out directly.

:class:`~calendar_app.api.serializers.calendar.CalendarEntrySerializer` declares the fields (the
schema is generated from it) and its ``to_representation`` is :func:`entry_json`; the view
writes a page with :func:`represent`, without the list serializer's machinery, and an entry is
written once: the event entries of a range are shared between requests
(:data:`calendar_app.calendar_view.EVENT_PARTS`), so the JSON of each is kept on it
(``CalendarEntry.written``) and each request gets a copy; content items and templates are built
for each request, and written without keeping or copying.
``tests/calendar_feeds/test_calendar_serialization.py`` holds :func:`represent` equal to the
declared fields' answer, kept or not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from calendar_app.api.serializers.common import rfc3339
from calendar_app.calendar_view import EVENT, CalendarEntry

__all__ = ["entry_json", "instant", "represent"]


def instant(value: datetime | None) -> str | None:
    """UTC as ``...Z``; any other zone with its offset (whole minutes, see ``rfc3339``)."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value.isoformat().replace("+00:00", "Z")
    return rfc3339(value)


def entry_json(entry: CalendarEntry) -> dict[str, Any]:
    """The entry as JSON values (new dicts: the caller may change them)."""
    if entry.kind != EVENT:  # built for this request alone: written once, nothing to keep
        return _write(entry)
    written = entry.written
    if written is None:
        written = entry.written = _write(entry)
    copy = dict(written)
    copy["details"] = dict(copy["details"])
    return copy


def represent(entries: list[CalendarEntry]) -> list[dict[str, Any]]:
    """``CalendarEntrySerializer(entries, many=True).data``, as plain dicts."""
    return [entry_json(entry) for entry in entries]


def _write(entry: CalendarEntry) -> dict[str, Any]:
    details = {str(key): value for key, value in entry.details.items()}  # DictField's keys
    scheduled = details.get("scheduled_at")
    if isinstance(scheduled, datetime):
        details["scheduled_at"] = instant(scheduled.astimezone(UTC))
    start, end = entry.start, entry.end
    local = entry.tz
    return {
        "kind": entry.kind,
        "id": entry.id,
        "title": entry.title,
        "start": instant(start),
        "end": instant(end),
        "start_local": instant(start.astimezone(local)) if start is not None else None,
        "end_local": instant(end.astimezone(local)) if end is not None else None,
        "all_day": bool(entry.all_day),
        "start_date": entry.start_date.isoformat() if entry.start_date is not None else None,
        "end_date": entry.end_date.isoformat() if entry.end_date is not None else None,
        "time_zone": entry.time_zone,
        "recurring": bool(entry.recurring),
        "brand": entry.brand_id,
        "brand_name": entry.brand_name,
        "status": entry.status,
        "channels_count": entry.channels_count,
        "fit_score": entry.fit_score,
        "details": details,
    }
