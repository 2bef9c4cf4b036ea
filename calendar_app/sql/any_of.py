"""``column IN (ids)`` that PostgreSQL receives as one array parameter.

Why: a calendar page reads the details of up to 200 rows by id, and a brand's fit scores for
every event of the range (a few hundred ids). Written ``IN (%s, %s, ...)``, each such statement
has one parameter per id, and psycopg caches its parsing of a statement only up to 50
parameters: beyond, it split the SQL text again on every execution (0.3 ms of a calendar request),
and each number of ids was another statement for the server to prepare. ``= ANY(%s)`` with the
ids as one array is one statement, parsed once, for any number of ids. Other databases get
Django's ``IN``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models.lookups import In

__all__ = ["AnyOf"]


class AnyOf(In):
    """``AnyOf(F("event_id"), ids)``: rows whose column is one of ``ids`` (integers), in a
    filter (``queryset.filter(AnyOf(...))``)."""

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list]:
        if hasattr(self.rhs, "resolve_expression"):  # a subquery: Django's IN (SELECT ...)
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = [value for value in dict.fromkeys(self.rhs) if value is not None]
        if not ids:
            raise EmptyResultSet  # as IN () is: no statement is sent
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, ids]
