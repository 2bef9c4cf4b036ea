"""A query compiled once per process and run with new values: for lookups on every request.

Why: Django builds and compiles a queryset's SQL on every run. For the token lookup that every
API request makes (three tables joined, thirty columns), compiling cost three times as much as
running the statement. The SQL of such a lookup never changes, only its values do: it is
compiled once, with stand-in values, and then run with the request's values, its rows converted
by the same converters Django would apply (dates on SQLite, JSON, ...).

The stand-ins must come back unchanged as the statement's parameters, in whatever order the
compiler puts its conditions (``filter(workspace_id=..., pk=...)`` compiles the ``pk`` first);
if Django ever compiles one otherwise (a lookup that transforms its value, say),
:class:`PreparedRows` notices at the first run and runs the queryset through the ORM instead, so
it is never wrong, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet

_UNPREPARED = object()


class PreparedRows:
    """Rows of ``build(*values)``, a ``values_list()`` queryset, compiled once per database.

    ``stand_ins`` are distinct values of the right types that no real call uses (the compiled
    SQL is checked to carry each of them unchanged as a parameter: the statement's parameters are
    then the call's values in the order their stand-ins came back). For exact lookups only (``=``, ``IN``):
    a string stand-in holds ``%``, ``_``, a backslash and both cases, so a lookup that escapes
    or folds its value (``iexact``, ``contains``...) shows it at once and is run by the ORM.
    """

    def __init__(self, build: Callable[..., QuerySet], stand_ins: Sequence[Any]) -> None:
        self._build = build
        self._stand_ins = list(stand_ins)
        if len({(type(value), value) for value in self._stand_ins}) != len(self._stand_ins):
            raise ValueError("Stand-ins must be distinct: each marks where one value goes.")
        self._prepared: dict[str, Any] = {}

    def rows(self, *values: Any, using: str = "default") -> list[tuple]:
        prepared = self._prepared.get(using, _UNPREPARED)
        if prepared is _UNPREPARED:
            prepared = self._prepared[using] = self._prepare(using)
        if prepared is None:
            return list(self._build(*values).using(using))
        sql, order, converters = prepared
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, [values[position] for position in order])
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
        where = {(type(value), value): position for position, value in enumerate(self._stand_ins)}
        order = [where.get((type(param), param)) for param in params]
        if None in order or set(order) != set(range(len(self._stand_ins))):
            return None  # a stand-in transformed or dropped: the ORM runs it
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return sql, order, list(compiler.get_converters(columns).items())
