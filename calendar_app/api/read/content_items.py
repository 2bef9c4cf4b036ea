"""Content items as ``GET content-items/`` and ``GET content-items/<id>/`` show them, read as
rows and written out directly.

The content list is the API's busiest read, and DRF's way spent most of it on machinery: a
model instance per item, per brand and per channel (10,650 of them for a page of 50 items), then
a field lookup, ``get_attribute`` and ``to_representation`` per field and item (60,000
``get_attribute`` calls a page), and a deep copy of the serializer's fields for a detail. Here a
page is read as rows of the columns shown (the brand's zone joined in), the channel ids of the
whole page come from one query over the many-to-many table (on PostgreSQL, from the page's
own statement when nothing filters it: calendar_app.api.read.content_pages), and
:func:`represent` writes each item's dict.

:class:`~calendar_app.api.serializers.content.ContentItemSerializer` remains the definition: the
schema is generated from it, writes and action answers go through it, and this module produces
exactly its ``.data`` for every field. ``tests/api/test_content_read_path.py`` holds the two
equal over generated items, zones (DST days included), channels and actors of every role; a
field added to the serializer and not here fails it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.duration import duration_string

from calendar_app import workflow
from calendar_app.api.serializers.common import local_iso
from calendar_app.approvals.services import prime_votes
from calendar_app.models import Channel, ContentItem, Event
from calendar_app.sql.converters import FastValuesIterable
from calendar_app.sql.prepared import PreparedRows
from calendar_app.sql.utc_text import UTCText, iso_in, to_datetime

__all__ = [
    "CHANNELS",
    "COLUMNS",
    "ItemFacts",
    "channel_ids",
    "facts",
    "represent",
    "row_by_id",
    "rows",
    "stored_values",
]

#: The columns shown, those the workflow's hints read, and the brand's zone (joined).
COLUMNS = (
    "id",
    "workspace_id",
    "brand_id",
    "brand__time_zone",
    "title",
    "body",
    "links",
    "media",
    "thread",
    "cta_text",
    "cta_url",
    "cta_button",
    "without_cta",
    "event_id",
    "experiment_id",
    "status",
    "scheduled_at",
    "lateness_policy",
    "lateness_tolerance",
    "priority",
    "version",
    "created_by_id",
    "last_edited_by_id",
    "created_at",
    "updated_at",
)

#: The key of an item's channel ids in a row whose statement read them (the page's, on
#: PostgreSQL: calendar_app.api.read.content_pages); :func:`represent` reads the others'.
CHANNELS = "channel_ids"


def _ordering(model: type[Model], ordering: Iterable[str], prefix: str = "") -> Iterator[str]:
    """``ordering`` of ``model`` as paths to plain columns, as ``order_by()`` reads it: a
    relation stands for its model's own ordering (reversed by a ``-``), or for its key if that
    has none. An aggregate's ``order_by`` reads a relation as its key, so it needs these."""
    for name in ordering:
        descending = name.startswith("-")
        field = model._meta.get_field(name.removeprefix("-"))
        related = field.related_model if field.is_relation else None
        if related is not None and related._meta.ordering:
            for inner in _ordering(related, related._meta.ordering, f"{prefix}{field.name}__"):
                if descending:
                    inner = inner[1:] if inner.startswith("-") else f"-{inner}"
                yield inner
        else:
            yield f"{'-' if descending else ''}{prefix}{field.name}"


#: An item's channels in the order the serializer lists them: ``Channel.Meta.ordering`` (its
#: prefetch keeps it), then the id, which both use to break ties.
CHANNEL_ORDER = (*_ordering(Channel, Channel._meta.ordering, "channel__"), "channel_id")


def rows(queryset: QuerySet) -> QuerySet:
    """``queryset`` (filtered and ordered by the view) as rows of :data:`COLUMNS`, converted
    without Django's generic loop (calendar_app.sql.converters)."""
    found = queryset.prefetch_related(None).values(*COLUMNS)
    found._iterable_class = FastValuesIterable
    return found


#: The date-time columns, which a prepared read takes as text (``UTCText``): the answer is
#: cut from it, and only the brand's local time parses it.
DATE_TIMES = ("scheduled_at", "created_at", "updated_at")


def stored_values(queryset: QuerySet) -> QuerySet:
    """``queryset.values_list(*COLUMNS)``, its date-times as :func:`~calendar_app.sql.utc_text.
    utc_text`'s text (``str()`` of the value: the cursor's positions are the same)."""
    stored = {f"{name}_stored": UTCText(name) for name in DATE_TIMES}
    return queryset.annotate(**stored).values_list(
        *(f"{name}_stored" if name in DATE_TIMES else name for name in COLUMNS)
    )


#: The largest id a row can have (a 64-bit signed integer, on SQLite and PostgreSQL).
MAX_ID = 2**63 - 1

#: One item of a workspace by id, compiled once (calendar_app.sql.prepared).
_BY_ID = PreparedRows(
    lambda workspace_id, pk: stored_values(
        ContentItem.objects.filter(workspace_id=workspace_id, pk=pk).order_by()
    ),
    stand_ins=[-7_392_001, -7_392_002],
)


def row_by_id(workspace_id: int, pk: int) -> dict[str, Any] | None:
    """The row of :data:`COLUMNS` of item ``pk`` in the workspace; None if there is none (or
    it is another workspace's)."""
    if not 0 < pk <= MAX_ID:  # the ORM finds nothing out of range: neither does this
        return None
    found = _BY_ID.rows(workspace_id, pk)
    return dict(zip(COLUMNS, found[0], strict=True)) if found else None


def channel_ids(item_ids: Iterable[int]) -> dict[int, list[int]]:
    """Each item's channel ids, in one query over the many-to-many table (none for no items)."""
    wanted = list(dict.fromkeys(item_ids))
    found: dict[int, list[int]] = {}
    if not wanted:
        return found
    sql = _channel_sql(connection.alias, len(wanted))
    if sql is None:
        links = _channel_links(wanted)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, wanted)
            links = cursor.fetchall()
    for item_id, channel_id in links:
        found.setdefault(item_id, []).append(channel_id)
    return found


def _channel_links(item_ids: list[int]) -> QuerySet:
    return (
        ContentItem.channels.through.objects.filter(contentitem_id__in=item_ids)
        .order_by(*CHANNEL_ORDER)
        .values_list("contentitem_id", "channel_id")
    )


@functools.lru_cache(maxsize=256)
def _channel_sql(alias: str, count: int) -> str | None:
    """The SQL of :func:`_channel_links` for ``count`` items, worked out once per count.

    Compiling it (two joins for the channel order) cost three times as much as running it, a
    sixth of a detail request. Only the ids change between two pages of
    the same size, and they are the query's only parameters, in order; should the compiler ever
    give other parameters, ``None`` says to run the query through the ORM instead. Page sizes
    are bounded (1-200), and so is this cache.
    """
    placeholders = list(range(1, count + 1))
    sql, params = _channel_links(placeholders).query.get_compiler(alias).as_sql()
    return sql if list(params) == placeholders else None


class _ChannelIds:
    """``item.channels`` for the workflow: the ids read with the page; anything else asked of
    it is asked of the real manager."""

    __slots__ = ("_item",)

    def __init__(self, item: ItemFacts) -> None:
        self._item = item

    def values_list(self, *fields: str, flat: bool = False) -> Any:
        ids = self._item.channel_ids
        if ids is not None and flat and fields in (("pk",), ("id",)):
            return list(ids)
        return self._item.instance().channels.values_list(*fields, flat=flat)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._item.instance().channels, name)


class ItemFacts:
    """An item's row, standing in for the model instance where the read path needs one.

    ``workflow.allowed_actions`` (and the approval and crisis checks behind it) read the item's
    status, version, workspace, brand, authors and id, given here from the row; its channel ids
    (``channels.values_list("pk", flat=True)``, as a crisis playbook's scope asks) are those read
    with the page; its event (a playbook's tag reads the themes) is loaded when asked, one query as
    the model's descriptor would. Any other attribute is read from the model instance, loaded
    once on first use: a rule that comes to read more gets the right answer, at the cost of a
    query, rather than an error. :func:`~calendar_app.api.etag.etag_for` reads ``_meta``,
    ``pk``, ``version`` and ``updated_at``, so the ETag is the model's.
    """

    _meta = ContentItem._meta

    __slots__ = (
        "_event",
        "_instance",
        "_updated_at",
        "brand_id",
        "channel_ids",
        "created_by_id",
        "event_id",
        "id",
        "last_edited_by_id",
        "pk",
        "row",
        "status",
        "version",
        "workspace_id",
    )

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.pk = self.id = row["id"]
        self.workspace_id = row["workspace_id"]
        self.brand_id = row["brand_id"]
        self.event_id = row["event_id"]
        self.status = row["status"]
        self.version = row["version"]
        self.created_by_id = row["created_by_id"]
        self.last_edited_by_id = row["last_edited_by_id"]
        self._updated_at = row["updated_at"]
        self.channel_ids: list[int] | None = row.get(CHANNELS)
        self._event: Event | None = None
        self._instance: ContentItem | None = None

    @property
    def updated_at(self) -> datetime | None:
        """The value (the ETag's); a prepared read gives its text (calendar_app.sql.utc_text)."""
        return to_datetime(self._updated_at)

    @property
    def channels(self) -> _ChannelIds:
        return _ChannelIds(self)

    @property
    def event(self) -> Event | None:
        if self.event_id is None:
            return None
        if self._event is None:
            self._event = Event.objects.get(pk=self.event_id)
        return self._event

    def instance(self) -> ContentItem:
        """The model instance of this row (one query, the first time)."""
        if self._instance is None:
            self._instance = ContentItem.objects.select_related("brand").get(pk=self.pk)
        return self._instance

    def __getattr__(self, name: str) -> Any:
        # Only for names not given above (every slot is set in __init__, so no recursion).
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.instance(), name)


def facts(page: Iterable[dict[str, Any]]) -> list[ItemFacts]:
    return [ItemFacts(row) for row in page]


def _allowed_actions(items: list[ItemFacts], actor: Any) -> list[list[str]]:
    """Each item's ``allowed_actions`` as the serializer gives them: nothing without an actor;
    otherwise one approval cache for the page, its votes loaded in one query."""
    if not actor:
        return [[] for _ in items]
    cache: dict = {}
    prime_votes(items, cache)  # type: ignore[arg-type]
    return [workflow.allowed_actions(item, actor, cache) for item in items]  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1024)
def _duration(value: timedelta | None) -> str | None:
    """``DurationField``'s output; an item's tolerance is one of a few values, written once."""
    return None if value is None else duration_string(value)


def _strings(values: Any) -> list[str | None] | None:
    """``StringListField``'s output: each entry as a string (``None`` stays ``None``)."""
    if values is None:
        return None
    return [None if value is None else str(value) for value in values]


def represent(items: list[ItemFacts], actor: Any) -> list[dict[str, Any]]:
    """``items`` as ``ContentItemSerializer(...).data`` writes them for a request by ``actor``.

    One query for the channels of all of them (none if their rows carry them); the approval
    hints read what they read under the serializer (the page's votes once, each brand's chain
    once, only when the actor may approve).
    """
    if not items:
        return []
    unread = [item for item in items if item.channel_ids is None]
    if unread:
        channels = channel_ids(item.pk for item in unread)
        for item in unread:
            item.channel_ids = channels.get(item.pk, [])
    actions = _allowed_actions(items, actor)
    here = timezone.get_current_timezone()
    answer = []
    for item, allowed in zip(items, actions, strict=True):
        row = item.row
        scheduled = row["scheduled_at"]
        answer.append(
            {
                "id": row["id"],
                "brand": row["brand_id"],
                "title": row["title"],
                "body": row["body"],
                "links": _strings(row["links"]),
                "media": row["media"],
                "thread": row["thread"],
                "cta_text": row["cta_text"],
                "cta_url": row["cta_url"],
                "cta_button": row["cta_button"],
                "without_cta": row["without_cta"],
                "channels": list(item.channel_ids),
                "event": row["event_id"],
                "experiment": row["experiment_id"],
                "status": row["status"],
                "scheduled_at": iso_in(scheduled, UTC),
                "scheduled_at_local": local_iso(to_datetime(scheduled), row["brand__time_zone"]),
                "lateness_policy": row["lateness_policy"],
                "lateness_tolerance": _duration(row["lateness_tolerance"]),
                "priority": row["priority"],
                "version": row["version"],
                "allowed_actions": allowed,
                "created_at": iso_in(row["created_at"], here),
                "updated_at": iso_in(row["updated_at"], here),
            }
        )
    return answer
