"""Rows converted as Django converts them, without the generic machinery on every value.

Why: a content page is 50 rows of 25 columns. Django's ``apply_converters`` calls each column's
converters through a generic loop with three arguments, and its SQLite date-time converter
parses with ``parse_datetime`` then ``make_aware``: on the list's first page that was a fifth of
the request (0.9 of 4.5 ms). Here the converters Django chose for a compiled query are kept, in
order, except those the read path meets on every row, replaced by one-argument equivalents:
SQLite's date-times, booleans and durations, and a JSON column's ``json.loads``. Any other
converter (a decimal, a UUID, a custom field's ``from_db_value``) is called exactly as Django
calls it, so a column added later is converted right, only not faster; a ``from_db_value`` that
carries a ``one_argument`` attribute (calendar_app.sql.utc_text) offers that function instead.

``tests/api/test_read_converters.py`` holds the two equal over generated values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import JSONField, QuerySet
from django.db.models.fields.json import KeyTransform
from django.db.models.query import BaseIterable
from django.db.models.sql.constants import MULTI

__all__ = ["FastValuesIterable", "convert_rows", "one_argument_converters"]

Converter = Callable[[Any], Any]


def _sqlite_datetime(zone: Any, slow: Converter) -> Converter:
    """``convert_datetimefield_value`` of SQLite: ISO text, made aware in the connection's zone
    when it carries no offset. ``datetime.fromisoformat`` is what ``parse_datetime`` tries first;
    text it refuses goes to Django's converter (its regular expression, its errors)."""
    from_text = datetime.fromisoformat
    # read once: ``settings`` is a lazy object, and an attribute of it costs a call per value
    use_tz = settings.USE_TZ

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = from_text(value)
            except ValueError:
                return slow(value)
        elif not isinstance(value, datetime):
            return slow(value)
        if use_tz and value.utcoffset() is None:
            return value.replace(tzinfo=zone)
        return value

    return convert


def _sqlite_boolean(value: Any) -> Any:
    return bool(value) if value in (1, 0) else value


def _duration(value: Any) -> Any:
    return None if value is None else timedelta(0, 0, value)


#: The texts most JSON columns hold (a list or an object left empty), answered without parsing;
#: each call makes a new one, as parsing does, so no two rows share a mutable value.
_EMPTY: dict[str, Callable[[], Any]] = {"[]": list, "{}": dict}


def _json(value: Any) -> Any:
    """``JSONField.from_db_value`` without a decoder: text that is not JSON comes back as is."""
    if value is None:
        return None
    empty = _EMPTY.get(value) if isinstance(value, str) else None
    if empty is not None:
        return empty()
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _called(function: Callable, expression: Any, connection: Any) -> Converter:
    return lambda value: function(value, expression, connection)


def _one(function: Callable, expression: Any, connection: Any) -> Converter:
    """``function(value, expression, connection)`` as a function of the value alone."""
    slow = _called(function, expression, connection)
    owner = getattr(function, "__self__", None)
    plain = getattr(function, "__func__", None)
    one_argument = getattr(plain, "one_argument", None)  # a converter that offers its own
    if one_argument is not None:
        return one_argument
    if connection.vendor == "sqlite":
        # imported here: a PostgreSQL deployment never loads the SQLite backend
        from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations

        if plain is SQLiteOperations.convert_datetimefield_value and owner is connection.ops:
            return _sqlite_datetime(connection.timezone, slow)
        if plain is SQLiteOperations.convert_booleanfield_value:
            return _sqlite_boolean
    if plain is BaseDatabaseOperations.convert_durationfield_value:
        return _duration
    if (
        plain is JSONField.from_db_value
        and type(owner) is JSONField
        and owner.decoder is None
        and not isinstance(expression, KeyTransform)
    ):
        return _json
    return slow


def one_argument_converters(
    converters: dict[int, tuple[list[Callable], Any]], connection: Any
) -> list[tuple[int, tuple[Converter, ...]]]:
    """``compiler.get_converters(...)`` as ``(position, functions of the value alone)``."""
    return [
        (position, tuple(_one(function, expression, connection) for function in functions))
        for position, (functions, expression) in converters.items()
    ]


def convert_rows(
    rows: Iterator[tuple] | list[tuple], table: list[tuple[int, tuple[Converter, ...]]]
) -> Iterator[list]:
    """Each row as a list, its columns converted by ``table``."""
    for row in rows:
        row = list(row)
        for position, functions in table:
            value = row[position]
            for function in functions:
                value = function(value)
            row[position] = value
        yield row


class FastValuesIterable(BaseIterable):
    """``QuerySet.values()``'s dicts, converted by :func:`one_argument_converters`.

    Set as a ``values()`` queryset's ``_iterable_class``: slices, filters and ``get()`` keep it,
    as they keep Django's ``ValuesIterable``.
    """

    def __iter__(self) -> Iterator[dict[str, Any]]:
        queryset: QuerySet = self.queryset
        query = queryset.query
        compiler = query.get_compiler(queryset.db)
        names = (
            list(query.selected)
            if query.selected
            else [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        results = compiler.execute_sql(
            MULTI, chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size
        )
        fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
        table = one_argument_converters(compiler.get_converters(fields), compiler.connection)
        rows = (row for chunk in results for row in chunk)
        for row in convert_rows(rows, table) if table else rows:
            yield dict(zip(names, row, strict=False))
