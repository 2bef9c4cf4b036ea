"""A query compiled once per process and run with new values: for lookups on every request.

Why: Django builds and compiles a queryset's SQL on every run. For the token lookup that every
API request makes (three tables joined, thirty columns), compiling cost three times as much as
running the statement. The SQL of such a lookup never changes, only its values do: it is
compiled once, with stand-in values, and then run with the request's values, its rows converted
by the same converters Django would apply (dates on SQLite, JSON, ...).

The stand-ins must come back as the statement's parameters, in order and unchanged; if Django
ever compiles them otherwise (a lookup that transforms its value, say), :class:`PreparedRows`
notices at the first run and runs the queryset through the ORM instead, so it is never wrong,
only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet

_UNPREPARED = object()


class PreparedRows:
    """Rows of ``build(*values)``, a ``values_list()`` queryset, compiled once per database.

    ``stand_ins`` are values of the right types that no real call uses (the compiled SQL is
    checked to carry them as its parameters, in order). For exact lookups only (``=``, ``IN``):
    a string stand-in holds ``%``, ``_``, a backslash and both cases, so a lookup that escapes
    or folds its value (``iexact``, ``contains``...) shows it at once and is run by the ORM.
    """

    def __init__(self, build: Callable[..., QuerySet], stand_ins: Sequence[Any]) -> None:
        self._build = build
        self._stand_ins = list(stand_ins)
        self._prepared: dict[str, Any] = {}

    def rows(self, *values: Any, using: str = "default") -> list[tuple]:
        prepared = self._prepared.get(using, _UNPREPARED)
        if prepared is _UNPREPARED:
            prepared = self._prepared[using] = self._prepare(using)
        if prepared is None:
            return list(self._build(*values).using(using))
        sql, converters = prepared
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, list(values))
            found = cursor.fetchall()
        if not converters:
            return found
        converted = []
        for row in found:  # as SQLCompiler.apply_converters, with this thread's connection
            row = list(row)
            for position, (functions, expression) in converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def _prepare(self, using: str) -> tuple | None:
        compiler = self._build(*self._stand_ins).query.get_compiler(using)
        sql, params = compiler.as_sql()
        if list(params) != self._stand_ins:
            return None
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return sql, list(compiler.get_converters(columns).items())
