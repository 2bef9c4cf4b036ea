"""The pages of a workspace's content list when nothing filters it, each by a statement compiled
once per process.

Why: ``GET content-items/`` with no filter (a client walking the list by its ``next`` links) is
the API's busiest list, and Django built and compiled its page's SQL on every request (a
``values()`` queryset, the filter on the cursor's position, the ordering, the slice): a fifth
of the request, for a statement that only ever differs by the workspace, the position and the
slice. :class:`UnfilteredPages` stands in for that queryset in DRF's cursor paginator, which
keeps its whole logic (cursors, offsets for equal positions, ``next`` and ``previous`` links):
the paginator orders it, filters it on the position and slices it, and each of the four shapes
it can ask for (either direction, with or without a position) runs one prepared statement
(:class:`~calendar_app.sql.prepared.PreparedRows`). Anything else asked of it goes to the real
queryset, so a paginator that came to ask more gets the right answer, only not faster.

``tests/api/test_content_read_path.py`` holds the pages and links equal to the serializer's path,
forwards and back, through equal creation times and hand-made cursors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from calendar_app.api.read.content_items import CHANNEL_ORDER, CHANNELS, COLUMNS, stored_values
from calendar_app.models import ContentItem
from calendar_app.sql.prepared import PreparedRows

__all__ = ["UnfilteredPages"]

#: The field a cursor positions the list by (the first of its ordering).
ORDER = "created_at"

_CREATED_AT = ContentItem._meta.get_field(ORDER)

#: Values no real call uses, so the compiled SQL shows where each value goes.
_WORKSPACE = -7_392_011
_POSITION = datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)


#: The list's ordering (the view's default), newest first, and the paginator's reverse of it.
NEWEST_FIRST = (f"-{ORDER}", "-id")
OLDEST_FIRST = (ORDER, "id")


#: A page's row with its channel ids, where its statement reads them.
_WITH_CHANNELS = (*COLUMNS, CHANNELS)


@functools.lru_cache(maxsize=4)
def _page_links(alias: str) -> str | None:
    """On PostgreSQL, the SQL of the channel ids of the items of ``"page"`` (a common table
    expression of the page's rows), one ordered array per item; None elsewhere.

    Why: the ids were a query of their own after the page's, and on PostgreSQL each statement
    is a round trip to the server: one fewer saved 2-4% of a whole list request (in process,
    20,000 items, medians of 30 paired rounds: 5.17 -> 5.07 ms, 5.87 -> 5.65 ms on a slower
    hour). An ``ARRAY(...)`` column per row had cost more than the round trip (fifty sub-plans,
    each joining and sorting); here one join and one aggregate serve the page. SQLite, in
    process, has no round trip to save.
    """
    if connections[alias].vendor != "postgresql":
        return None
    # imported here: the SQLite deployment never loads django.contrib.postgres
    from django.contrib.postgres.aggregates import ArrayAgg

    links = (
        ContentItem.channels.through.objects.filter(
            contentitem_id__in=RawSQL('SELECT "id" FROM "page"', ())
        )
        .order_by()
        .values("contentitem_id")
        .annotate(ids=ArrayAgg("channel_id", order_by=CHANNEL_ORDER))
    )
    sql, params = links.query.get_compiler(alias).as_sql()
    return None if params else sql


def _with_links(descending: bool) -> Callable[[str, str], str]:
    """The page's statement with each row's channel ids after its columns, in its order.

    The outer query orders by the creation time's text (``utc_text``: fixed-width digits, the
    fraction only when there is one), which sorts as the time does byte by byte: ``COLLATE "C"``
    says byte by byte, whatever the database's collation.
    """
    direction = "DESC" if descending else "ASC"

    def wrap(page: str, alias: str) -> str:
        links = _page_links(alias)
        if links is None:
            return page
        return (
            f'WITH "page" AS ({page}), "links" AS ({links}) '
            'SELECT "page".*, "links"."ids" FROM "page" '
            'LEFT JOIN "links" ON "links"."contentitem_id" = "page"."id" '
            f'ORDER BY "page"."{ORDER}_stored" COLLATE "C" {direction}, "page"."id" {direction}'
        )

    return wrap


def _statement(descending: bool, bound: str | None) -> PreparedRows:
    ordering = NEWEST_FIRST if descending else OLDEST_FIRST

    def build(workspace_id: int, *position: datetime) -> QuerySet:
        items = ContentItem.objects.filter(workspace_id=workspace_id)
        if bound is not None:
            items = items.filter(**{f"{ORDER}__{bound}": position[0]})
        return stored_values(items.order_by(*ordering))

    stand_ins = [_WORKSPACE] if bound is None else [_WORKSPACE, _POSITION]
    return PreparedRows(build, stand_ins=stand_ins, sliced=True, wrap=_with_links(descending))


#: (descending, the position's lookup) -> its statement: the shapes the cursor paginator asks.
_STATEMENTS = {
    (descending, bound): _statement(descending, bound)
    for descending in (True, False)
    for bound in (None, "lt", "gt")
}


class UnfilteredPages:
    """A workspace's content items as rows of :data:`~calendar_app.api.read.content_items.COLUMNS`,
    for the cursor paginator: ``order_by`` the list's ordering or its reverse, at most one
    ``filter`` on it (``__lt`` or ``__gt`` the cursor's position), then a slice, which runs the
    statement. ``queryset`` makes the real queryset for anything else."""

    model = ContentItem

    def __init__(
        self,
        workspace_id: int,
        queryset: Callable[[], QuerySet],
        descending: bool | None = None,
        bound: tuple[str, datetime] | None = None,
    ) -> None:
        self._workspace_id = workspace_id
        self._queryset = queryset
        self._descending = descending
        self._bound = bound

    def _real(self) -> QuerySet:
        """The same rows through the ORM, for a request this class does not prepare."""
        found = self._queryset()
        if self._descending is not None:
            found = found.order_by(*(NEWEST_FIRST if self._descending else OLDEST_FIRST))
        if self._bound is not None:
            lookup, value = self._bound
            found = found.filter(**{f"{ORDER}__{lookup}": value})
        return found

    def order_by(self, *fields: str) -> Any:
        if fields in (NEWEST_FIRST, OLDEST_FIRST) and self._bound is None:
            return UnfilteredPages(self._workspace_id, self._queryset, fields == NEWEST_FIRST)
        return self._real().order_by(*fields)

    def filter(self, *args: Any, **kwargs: Any) -> Any:
        lookup = next(iter(kwargs)) if len(kwargs) == 1 and not args else ""
        field, _, bound = lookup.partition("__")
        ordered = self._descending is not None and self._bound is None
        if ordered and field == ORDER and bound in ("lt", "gt"):
            # What the ORM's lookup does with the value: a text parsed (an invalid one is
            # Django's ValidationError, a 400), a naive time made aware with a warning.
            value = _CREATED_AT.get_prep_value(kwargs[lookup])
            return UnfilteredPages(
                self._workspace_id, self._queryset, self._descending, (bound, value)
            )
        return self._real().filter(*args, **kwargs)

    def __getitem__(self, window: Any) -> Any:
        if (
            self._descending is None
            or not isinstance(window, slice)
            or window.step is not None
            or not isinstance(window.start, int)
            or not isinstance(window.stop, int)
            or not 0 <= window.start <= window.stop
        ):
            return self._real()[window]
        bound, value = self._bound if self._bound is not None else (None, None)
        statement = _STATEMENTS[(self._descending, bound)]
        values = (self._workspace_id,) if bound is None else (self._workspace_id, value)
        found = statement.rows(*values, window=(window.start, window.stop))
        if not found or len(found[0]) == len(COLUMNS):
            return [dict(zip(COLUMNS, row, strict=True)) for row in found]
        page = [dict(zip(_WITH_CHANNELS, row, strict=True)) for row in found]
        for row in page:
            if row[CHANNELS] is None:  # no channel: no row in "links"
                row[CHANNELS] = []
        return page
