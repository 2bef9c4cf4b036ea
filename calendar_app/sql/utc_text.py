"""A date-time column read as the text of its aware value, for read paths that only write it out.

Why: the content list writes three date-times an item. Parsing each stored value into a
``datetime`` (Django's converter) and formatting it back (``astimezone``, ``isoformat``) cost
2-3 microseconds each: 150 of them were a sixth of a page, for text that was text in the
database. :class:`UTCText` reads the column as ``str(value)`` of the value Django would give,
``"YYYY-MM-DD HH:MM:SS[.ffffff]+00:00"``. That text is what DRF's cursor paginator makes a
position of (``str()`` of the ordering field), what :func:`datetime.fromisoformat` reads back to
the same value, and what an answer's ISO 8601 is cut from (:func:`iso_in`) without a
``datetime``.

* SQLite stores a date-time as exactly that text, naive in UTC (Django writes ``str()`` of the UTC
  value): it is read as stored and given its offset.
* PostgreSQL writes it with ``to_char`` in UTC, microseconds dropped when zero as ``str()`` does.
* Any other value (another database's ``datetime``, a row written by hand in another shape) is
  converted as Django converts it, then written with ``str()``: never wrong, only not faster.

``tests/api/test_utc_text.py`` holds it equal to Django's values over generated instants.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from django.db.models import Func, TextField
from django.utils import timezone
from django.utils.dateparse import parse_datetime

__all__ = ["UTCText", "UTCTextField", "iso_in", "to_datetime", "utc_text"]

#: The offset of a value in UTC, as ``str()`` writes it.
_UTC_OFFSET = "+00:00"


def utc_text(value: Any) -> str | None:
    """A stored date-time as ``str()`` of the aware value Django would load."""
    if value is None:
        return None
    if type(value) is str:
        # "YYYY-MM-DD HH:MM:SS" or with ".ffffff": the text Django writes, naive in UTC
        size = len(value)
        if (size == 19 or (size == 26 and value[19] == ".")) and value[10] == " ":
            return value + _UTC_OFFSET
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a date-time: {value!r}")
        value = parsed
    if not isinstance(value, datetime):
        raise TypeError(f"not a date-time: {value!r}")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return str(value)


def to_datetime(value: str | datetime | None) -> datetime | None:
    """The aware value of :func:`utc_text`'s text (a ``datetime`` is returned as is)."""
    return datetime.fromisoformat(value) if type(value) is str else value


def iso_in(value: str | datetime | None, zone: tzinfo) -> str | None:
    """DRF's ``DateTimeField`` output of ``value`` (:func:`utc_text`'s text, or a ``datetime``):
    ISO 8601 in ``zone``, ``Z`` for UTC. Text in UTC for an answer in UTC is only cut."""
    if value is None:
        return None
    if type(value) is str:
        if value.endswith(_UTC_OFFSET) and (zone is UTC or getattr(zone, "key", "") == "UTC"):
            return f"{value[:10]}T{value[11:-6]}Z"
        value = datetime.fromisoformat(value)
    if value.tzinfo is not zone:
        value = value.astimezone(zone)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith(_UTC_OFFSET) else text


class UTCTextField(TextField):
    """The output field of :class:`UTCText`: its converter is :func:`utc_text`."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        return utc_text(value)

    #: For calendar_app.sql.converters: the same conversion as a function of the value alone.
    from_db_value.one_argument = utc_text  # type: ignore[attr-defined]


class UTCText(Func):
    """``column`` (a date-time) as :func:`utc_text`'s text: read for writing out, not for
    comparing (filter and order on the column itself)."""

    arity = 1
    template = "%(expressions)s"
    output_field = UTCTextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # ``+column``: the stored text, which ``sqlite3`` would parse by the declared type
        return super().as_sql(compiler, connection, template="+%(expressions)s", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return super().as_sql(
            compiler,
            connection,
            template=(
                "replace(to_char(%(expressions)s AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD HH24:MI:SS.US'), '.000000', '')"
            ),
            **extra,
        )
