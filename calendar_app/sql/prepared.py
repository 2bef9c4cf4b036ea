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

Three additions serve the calendar, whose queries are time ranges over a union:

* a stand-in that is a date-time comes back *adapted* on databases that store text (SQLite):
  it is recognised in that form, and the call's value is adapted the same way;
* ``constants`` are values the query always carries (a status list, a rank, an empty rule),
  allowed as parameters besides the stand-ins;
* ``sliced=True`` compiles ``build(...)[low:high]`` once and writes the ``LIMIT``/``OFFSET`` of
  each call as the compiler would (:meth:`PreparedRows.rows`' ``window``), and
  :class:`PreparedCount` keeps the statement ``build(...).count()`` sends (captured, not run).
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet

from calendar_app.sql.converters import convert_rows, one_argument_converters

_UNPREPARED = object()

#: Marks a parameter that is a list of stand-ins (an array, ``calendar_app.sql.any_of``).
_LIST = object()

#: The slice the statement of a ``sliced`` query is compiled with (no real page starts there).
_LOW, _HIGH = 739_211, 739_211 + 17_317


class _Placed:
    """Where each parameter of a statement compiled with stand-ins comes from."""

    def __init__(
        self, stand_ins: Sequence[Any], constants: Sequence[Any], params: Sequence[Any], connection
    ) -> None:
        spots: dict[tuple[type, Any], tuple[int, Callable | None]] = {}
        for position, value in enumerate(stand_ins):
            spots[(type(value), value)] = (position, None)
            if isinstance(value, datetime):
                adapted = connection.ops.adapt_datetimefield_value(value)
                if (type(adapted), adapted) != (type(value), value):
                    spots[(type(adapted), adapted)] = (
                        position,
                        connection.ops.adapt_datetimefield_value,
                    )
        kept = {(type(value), value) for value in constants}
        # A driver may wrap a number to say its SQL type (psycopg's ``Int4(1)`` for ``Value(1)``):
        # still the constant, and sent wrapped as compiled.
        kept |= {(int, value) for value in constants if type(value) is int}
        #: per parameter: (position of the call's value, its adapter), (None, the constant) or
        #: (the positions of a list's values, _LIST)
        self.order: list[tuple[Any, Any]] | None = []
        for param in params:
            if type(param) is list and param:  # an array of stand-ins?
                try:
                    inside = [spots.get((type(value), value)) for value in param]
                except TypeError:
                    inside = [None]
                if all(spot is not None and spot[1] is None for spot in inside):
                    self.order.append((tuple(spot[0] for spot in inside), _LIST))  # type: ignore[index]
                    continue
            try:
                spot = spots.get((type(param), param))
                constant = (type(param), param) in kept or (
                    isinstance(param, int)
                    and not isinstance(param, bool)
                    and (int, int(param)) in kept
                )
            except TypeError:  # an unhashable parameter (a list): not one of ours
                spot, constant = None, False
            if spot is not None:
                self.order.append(spot)
            elif constant:
                self.order.append((None, param))
            else:
                self.order = None  # a stand-in transformed, or an unknown value
                return
        placed = set()
        for position, how in self.order:
            if how is _LIST:
                placed.update(position)
            elif position is not None:
                placed.add(position)
        if placed != set(range(len(stand_ins))):
            self.order = None  # a stand-in dropped

    def params(self, values: Sequence[Any]) -> list[Any]:
        assert self.order is not None
        out = []
        for position, how in self.order:
            if position is None:
                out.append(how)
            elif how is _LIST:
                out.append([values[inside] for inside in position])
            elif how is None:
                out.append(values[position])
            else:
                out.append(how(values[position]))
        return out


def _check_stand_ins(stand_ins: Sequence[Any]) -> list[Any]:
    stand_ins = list(stand_ins)
    if len({(type(value), value) for value in stand_ins}) != len(stand_ins):
        raise ValueError("Stand-ins must be distinct: each marks where one value goes.")
    return stand_ins


class PreparedRows:
    """Rows of ``build(*values)``, a ``values_list()`` queryset, compiled once per database.

    ``stand_ins`` are distinct values of the right types that no real call uses (the compiled
    SQL is checked to carry each of them unchanged as a parameter: the statement's parameters are
    then the call's values in the order their stand-ins came back). For exact lookups only (``=``, ``IN``):
    a string stand-in holds ``%``, ``_``, a backslash and both cases, so a lookup that escapes
    or folds its value (``iexact``, ``contains``...) shows it at once and is run by the ORM.
    A date-time stand-in may come back as the database adapts it (text on SQLite), and
    stand-ins may come back together as one list parameter (an array,
    :class:`~calendar_app.sql.any_of.AnyOf` on PostgreSQL), sent as a list of the call's values.
    Any other parameter must be one of ``constants``. With ``sliced``, every call gives a ``window``
    ``(low, high)``: the rows ``build(*values)[low:high]`` gives. ``wrap(sql, alias)``, if given,
    makes the statement run from the compiled one (its ``LIMIT`` written): the same rows in the
    same order, their columns first, and it may add columns after them (the ORM's fallback
    gives only the queryset's own).
    """

    def __init__(
        self,
        build: Callable[..., QuerySet],
        stand_ins: Sequence[Any],
        constants: Sequence[Any] = (),
        sliced: bool = False,
        wrap: Callable[[str, str], str] | None = None,
    ) -> None:
        self._build = build
        self._wrap = wrap
        self._stand_ins = _check_stand_ins(stand_ins)
        self._constants = list(constants)
        self._sliced = sliced
        self._prepared: dict[str, Any] = {}
        #: per connection (each thread has its own): the converters, as functions of the value
        #: alone; a page of 50 rows of 25 columns spent twice as long in Django's generic
        #: three-argument calls
        self._tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def rows(
        self, *values: Any, using: str = "default", window: tuple[int, int] | None = None
    ) -> list[tuple]:
        found, convert = self.fetch(*values, using=using, window=window)
        return convert(found)

    def fetch(
        self, *values: Any, using: str = "default", window: tuple[int, int] | None = None
    ) -> tuple[list[tuple], Callable[[list[tuple]], list[tuple]]]:
        """The rows as the database sent them, and what converts them as the ORM would.

        For a cache keyed on what a query read: the raw rows are its key, and converting them
        (parsing dates and JSON on SQLite) is left to a miss. When the ORM ran the query, the
        rows come converted, with a function that leaves them as they are.
        """
        if self._sliced != (window is not None):
            raise ValueError("A sliced query is read by window, and only a sliced one.")
        prepared = self._prepared.get(using, _UNPREPARED)
        if prepared is _UNPREPARED:
            prepared = self._prepared[using] = self._prepare(using)
        if prepared is None:
            rows = self._build(*values).using(using)
            return list(rows[window[0] : window[1]] if window is not None else rows), _as_they_are
        sql, placed, converters = prepared
        connection = connections[using]
        if window is not None:
            sql = f"{sql} {connection.ops.limit_offset_sql(*window)}"
        if self._wrap is not None:
            sql = self._wrap(sql, using)
        with connection.cursor() as cursor:
            cursor.execute(sql, placed.params(values))
            found = cursor.fetchall()
        if not converters:
            return found, _as_they_are
        # The converters read the zone and USE_TZ when made: made again if a test changes them.
        made_for = (settings.USE_TZ, connection.timezone_name)
        kept = self._tables.get(connection)
        if kept is None or kept[0] != made_for:
            kept = self._tables[connection] = (
                made_for,
                one_argument_converters(dict(converters), connection),
            )
        return found, functools.partial(_converted, table=kept[1])

    def _prepare(self, using: str) -> tuple | None:
        queryset = self._build(*self._stand_ins)
        if self._sliced:
            queryset = queryset[_LOW:_HIGH]
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        connection = connections[using]
        if self._sliced:
            tail = f" {connection.ops.limit_offset_sql(_LOW, _HIGH)}"
            if not sql.endswith(tail) or sql.count(str(_LOW)) != 1:
                return None  # the slice is not written at the end: the ORM runs it
            sql = sql[: -len(tail)]
        placed = _Placed(self._stand_ins, self._constants, params, connection)
        if placed.order is None:
            return None  # a stand-in transformed or dropped: the ORM runs it
        columns = [selected[0] for selected in compiler.select[: compiler.col_count]]
        return sql, placed, list(compiler.get_converters(columns).items())


def _as_they_are(rows: list[tuple]) -> list[tuple]:
    return rows


def _converted(rows: list[tuple], *, table: list) -> list[tuple]:
    """As ``SQLCompiler.apply_converters``, by this thread's connection's one-argument
    converters (calendar_app.sql.converters)."""
    return [tuple(row) for row in convert_rows(rows, table)]


class _Captured(Exception):
    """Stops a statement on its way to the database once it is seen."""


class PreparedCount:
    """``build(*values).count()``, its statement worked out once per database.

    Django writes a count's statement while running it (``Query.get_aggregation`` strips the
    selected columns and orderings, and inlines the annotations a filter reads), and compiling
    it cost more than running it on an index. So the statement is captured once, on its way to
    the database with the stand-ins (``connection.execute_wrapper``), checked as
    :class:`PreparedRows` checks its parameters, and run with each call's values; when the check
    fails, the ORM counts.
    """

    def __init__(
        self,
        build: Callable[..., QuerySet],
        stand_ins: Sequence[Any],
        constants: Sequence[Any] = (),
    ) -> None:
        self._build = build
        self._stand_ins = _check_stand_ins(stand_ins)
        self._constants = list(constants)
        self._prepared: dict[str, Any] = {}

    def count(self, *values: Any, using: str = "default") -> int:
        prepared = self.statement(using)
        if prepared is None:
            return self._build(*values).using(using).count()
        sql, placed = prepared
        with connections[using].cursor() as cursor:
            cursor.execute(sql, placed.params(values))
            return cursor.fetchone()[0]

    def statement(self, using: str = "default") -> tuple[str, _Placed] | None:
        """The count's SQL and where its values go; None when the ORM counts."""
        prepared = self._prepared.get(using, _UNPREPARED)
        if prepared is _UNPREPARED:
            prepared = self._prepared[using] = self._prepare(using)
        return prepared

    def _prepare(self, using: str) -> tuple | None:
        connection = connections[using]
        seen: list[tuple[str, Any]] = []

        def capture(execute, sql, params, many, context):
            seen.append((sql, params))
            raise _Captured

        # The statement is stopped on its way to the database: it is seen, never run.
        with contextlib.suppress(_Captured), connection.execute_wrapper(capture):
            self._build(*self._stand_ins).using(using).count()
        if len(seen) != 1:
            return None  # counted without a statement, or with several: the ORM counts
        sql, params = seen[0]
        placed = _Placed(self._stand_ins, self._constants, params or (), connection)
        return None if placed.order is None else (sql, placed)


class PreparedSum:
    """The sum of several :class:`PreparedCount`, in one statement: ``SELECT (c1) + (c2) ...``.

    Why: the calendar counts each branch of its union on its own index (a count over the
    union made SQLite scan it), and three counts were three round trips to the server on every
    request. As scalar subqueries of one statement, each is still read from its own index.
    Should a count not be prepared (the ORM counts it), each is counted on its own.
    """

    def __init__(self, counts: Sequence[PreparedCount]) -> None:
        self.counts = list(counts)
        self._sql: dict[str, str | None] = {}

    def total(self, *values: Sequence[Any], using: str = "default") -> int:
        """The sum of the counts, ``values[i]`` being the values of count ``i``."""
        if len(values) != len(self.counts):
            raise ValueError("One list of values per count.")
        if not self.counts:
            return 0
        statements = [count.statement(using) for count in self.counts]
        if any(statement is None for statement in statements):
            return sum(
                count.count(*given, using=using)
                for count, given in zip(self.counts, values, strict=True)
            )
        sql = self._sql.get(using)
        if sql is None:
            sql = self._sql[using] = "SELECT " + " + ".join(
                f"({statement[0]})"
                for statement in statements  # type: ignore[index]
            )
        params = [
            param
            for statement, given in zip(statements, values, strict=True)
            for param in statement[1].params(given)  # type: ignore[index]
        ]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]
