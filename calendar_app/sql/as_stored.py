"""A column read as the database stores it, its conversion left to the code that needs it.

Why: Django opens SQLite with ``PARSE_DECLTYPES``, so ``sqlite3`` parses every ``datetime``
column of every fetched row, in Python, before the caller sees it. The calendar fetches the
events of a range on every request only to key what it keeps on them
(:data:`calendar_app.calendar_view.EVENT_PARTS`): about 400 date-times parsed a request to build
a key, when the stored text keys as well and is parsed only on a miss. SQLite applies a
declared type's converter to a bare column only; ``+column`` is the same value with no declared
type. Other databases convert in their driver and are given the column itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Func

__all__ = ["AsStored"]


class AsStored(Func):
    """``column`` as stored: text on SQLite for a date-time, which Django's converter of the
    output field (the column's field) parses as it parses what ``sqlite3`` gives."""

    arity = 1
    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return super().as_sql(compiler, connection, template="+%(expressions)s", **extra)
