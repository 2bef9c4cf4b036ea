"""PostgreSQL date-times loaded by psycopg's C parser, as Django would load them.

Why: Django registers its own loader for ``timestamptz`` on every PostgreSQL connection
(``BaseTzLoader``: psycopg's loader, then ``replace(tzinfo=...)``). It subclasses the pure-Python
loader, so each date-time of each fetched row is parsed by a regular expression in Python even
when ``psycopg[binary]`` is installed. A month of the calendar fetches about 430 of them a
request: 1.6 ms of a 6.2 ms request under the profiler. Django's loader sets the connection's
zone on a value parsed in the session's zone; the two are the same zone, UTC, whenever the
session's ``TimeZone`` is ``UTC`` (Django sets it so at connect with ``USE_TZ``), and then
psycopg's own loader gives exactly Django's value, ``datetime.timezone.utc`` included. This
module registers that loader, and only in that case; any other connection keeps Django's.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.conf import settings
from psycopg import adapters, postgres
from psycopg.adapt import Loader
from psycopg.pq import Format

__all__ = ["UtcTimestamptzLoader", "install"]

_TIMESTAMPTZ = postgres.types["timestamptz"].oid


class UtcTimestamptzLoader(Loader):
    """``timestamptz`` text in a session whose zone is UTC, parsed by psycopg's fastest loader
    (its C one with ``psycopg[binary]``): aware date-times in ``datetime.timezone.utc``."""

    #: Django's ``create_cursor`` compares this with the connection's zone, and registers its
    #: own loader on the cursor if they differ.
    timezone = UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        fastest = adapters.get_loader(_TIMESTAMPTZ, Format.TEXT)
        # The parser's bound method, found on the instance before the method below: each value
        # goes straight to it.
        self.load = fastest(oid, context).load  # type: ignore[method-assign]

    def load(self, data: Any) -> Any:  # replaced on each instance (see __init__)
        raise NotImplementedError


def install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On ``connection_created``: registers :class:`UtcTimestamptzLoader` on a PostgreSQL
    connection whose date-times Django makes aware in UTC, in a session whose zone is UTC."""
    if connection.vendor != "postgresql" or not settings.USE_TZ:
        return
    if connection.timezone is not UTC:
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    raw.adapters.register_loader(_TIMESTAMPTZ, UtcTimestamptzLoader)
