"""Keep the database's query planner informed about how the data is spread.

Why: the calendar's queries can be served by several indexes (a workspace's rows by time, a
brand's rows by status and time...). Without statistics SQLite guesses, and on a real volume it
guessed wrong: one brand's month read the whole workspace's month through the workspace index,
three times slower than through the brand's covering index. ``ANALYZE`` records how selective
each index is. PostgreSQL's autovacuum analyses on its own as tables change; SQLite never does.

:func:`refresh` runs daily (the ``kairos.planner_statistics`` schedule) and after the demo and
benchmark seeds. On SQLite it samples at most :data:`SQLITE_ANALYSIS_LIMIT` rows per index, so
its cost stays bounded whatever the size of the tables (milliseconds, not a full scan).
"""

from __future__ import annotations

from django.db import connections

#: Rows sampled per index by SQLite's ANALYZE (``PRAGMA analysis_limit``): enough to tell a
#: brand from a workspace, cheap on any table.
SQLITE_ANALYSIS_LIMIT = 2000


def refresh(using: str = "default") -> str:
    """Refresh the planner's statistics of database ``using``; returns what was run."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
            cursor.execute("ANALYZE")
            return f"sqlite: ANALYZE (at most {SQLITE_ANALYSIS_LIMIT} rows per index)"
        cursor.execute("ANALYZE")
        return f"{connection.vendor}: ANALYZE"
