"""Everything on a brand's or a workspace's calendar between two instants.

A pure-ish domain service (no HTTP). Two entry points:

* :func:`calendar_page` serves the API: one page of the sorted entries and their total count,
  at a cost bounded by the page asked for, not by the rows in the range. Content items and
  reactive templates are sorted, counted and sliced *in the database* (one ``UNION ALL`` ordered
  by the entries' sort key, ``LIMIT``/``OFFSET``); only the page's rows are turned into entries,
  with their details (channel count, brand name) read for those rows alone. Events are expanded in
  Python (a rule is not SQL), within the request's :class:`~calendar_app.recurrence.ExpansionBudget`
  — a bounded window — and merged with the database's slice (:func:`_merge_page`).
* :func:`calendar_entries` returns every entry of the range at once (tests, small exports).

Every query is a time-range query on an index: ``event_time_range`` / ``event_workspace_start``
for events, ``content_ws_placed_covering`` / ``content_brand_placed_covering`` for content items,
``template_validity`` for templates.

A content item is placed at ``scheduled_at`` (``scheduled``/``publishing``), or, once published
(``published``/``partly_failed``), at its first publication time, unless it went out more than
:data:`PUBLISHED_LATE_SLACK` after its slot (then at its slot). The same rule is written twice,
in Python (:func:`_content`, from the publications) and in SQL (:func:`_published_keys`, from the
item's ``first_published_at``, which the database keeps equal to its first publication time);
the tests hold them equal.
In SQL each status group is its own branch of the ``UNION ALL``, so each is one index range.

:func:`calendar_entries` runs these queries, whatever the number of entries:

1. events overlapping the range (the shared library plus the workspace's own);
   with a brand, each with that brand's fit score (a subquery on the fit's unique index);
2. content items scheduled (``scheduled``/``publishing``) in the range, with their channel count;
3. content items published (``published``/``partly_failed``) near the range, with their first
   publication time;
4. active reactive templates whose validity window overlaps the range.

:func:`calendar_page` runs 1, then one statement summing the count of each branch (scheduled
items, published items, templates: each read from its index alone, as a scalar subquery) and
one slice of the sorted keys, then the details of the content items and templates on the page
(at most two more): at most 5 queries. Each of these runs SQL compiled once per shape (kinds,
brand or not; on SQLite the number of ids for the details, which PostgreSQL receives as one
array, ``calendar_app.sql.any_of``) with stand-in values
(``calendar_app.sql.prepared``): compiling them cost more than running them. The events' times
are read as stored (``calendar_app.sql.as_stored``): on SQLite they are parsed only when the
events part is not kept. The events part of a range is kept per worker on the rows the
database sent for it (:data:`EVENT_PARTS`), and each event's expansion on its timing, rule and
window (:data:`EVENT_TIMES`), both replayed exactly as built (see :func:`_events`).
"""

from __future__ import annotations

import functools
import zoneinfo
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import itemgetter
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from calendar_app.models import (
    Brand,
    BrandFit,
    ContentItem,
    ContentStatus,
    Event,
    Publication,
    ReactiveTemplate,
    Workspace,
)
from calendar_app.recurrence import (
    MAX_PER_DAY,
    ExpansionBudget,
    KeptWalks,
    RecordingBudget,
    occurrences,
    replay,
)
from calendar_app.sql.any_of import AnyOf
from calendar_app.sql.as_stored import AsStored
from calendar_app.sql.prepared import PreparedCount, PreparedRows, PreparedSum

#: The longest range one request may ask for. It is what bounds the work of a request.
MAX_RANGE = timedelta(days=100)
MAX_RANGE_DAYS = MAX_RANGE.days

#: A safety net per event: a valid rule repeats at most ``MAX_PER_DAY`` times a day, so this
#: shows every occurrence of one over the longest range (the request's budget bounds the rest).
MAX_OCCURRENCES_PER_EVENT = MAX_PER_DAY * (MAX_RANGE_DAYS + 1)

#: How much later than its slot a published post may have gone out and still be found by the
#: index on ``scheduled_at``.
PUBLISHED_LATE_SLACK = timedelta(days=7)

EVENT, CONTENT, TEMPLATE = "event", "content", "template"
KINDS: tuple[str, ...] = (EVENT, CONTENT, TEMPLATE)
#: Sort order of kinds sharing one start instant.
_KIND_RANK = {EVENT: 0, CONTENT: 1, TEMPLATE: 2}

SCHEDULED_STATUSES = (ContentStatus.SCHEDULED, ContentStatus.PUBLISHING)
PUBLISHED_STATUSES = (ContentStatus.PUBLISHED, ContentStatus.PARTLY_FAILED)


@dataclass(slots=True)
class CalendarEntry:
    """One thing on the calendar. ``start``/``end`` are UTC; ``*_local`` are in ``tz``.

    For a template, ``start``/``end`` may be ``None``: a window open on that side.
    """

    kind: str
    id: int
    title: str
    start: datetime | None
    end: datetime | None
    tz: zoneinfo.ZoneInfo
    all_day: bool = False
    brand_id: int | None = None
    brand_name: str | None = None
    status: str | None = None
    channels_count: int | None = None
    fit_score: int | None = None
    time_zone: str | None = None  # the event's own zone (events only)
    recurring: bool = False
    start_date: date | None = None  # all-day events: dates in the event's zone, end exclusive
    end_date: date | None = None
    details: dict = field(default_factory=dict)
    #: The entry's JSON, once written (calendar_app.api.read.calendar_entries): event entries
    #: are shared by the requests of a range, and written once. Not part of the entry's value.
    written: dict | None = field(default=None, compare=False, repr=False)

    @property
    def start_local(self) -> datetime | None:
        return self.start.astimezone(self.tz) if self.start is not None else None

    @property
    def end_local(self) -> datetime | None:
        return self.end.astimezone(self.tz) if self.end is not None else None

    def sort_key(self, range_start: datetime) -> tuple:
        return (self.start or range_start, _KIND_RANK[self.kind], self.id)


def calendar_entries(
    workspace: Workspace,
    *,
    start: datetime,
    end: datetime,
    brand: Brand | None = None,
    tz: str | zoneinfo.ZoneInfo | None = None,
    kinds: Iterable[str] = KINDS,
) -> list[CalendarEntry]:
    """Sorted entries overlapping ``[start, end)`` (aware datetimes) for one workspace or brand.

    ``tz`` defaults to the brand's zone, else UTC. The caller checks the range (see
    :func:`check_range`); ``brand`` must belong to ``workspace``.
    """
    if brand is not None and brand.workspace_id != workspace.pk:
        raise ValueError("The brand belongs to another workspace.")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    zone = _zone(tz, brand)
    kinds = set(kinds)
    entries: list[CalendarEntry] = []
    if EVENT in kinds:
        entries += [entry for _, entry in _events(workspace, brand, start, end, zone)]
    if CONTENT in kinds:
        entries += _content(workspace, brand, start, end, zone)
    if TEMPLATE in kinds:
        entries += _templates(workspace, brand, start, end, zone)
    entries.sort(key=lambda entry: entry.sort_key(start))
    return entries


def check_range(start: datetime, end: datetime) -> dict[str, list[str]]:
    """Field errors for an impossible range (empty when the range is fine)."""
    if end <= start:
        return {"end": ["Must be later than start."]}
    if end - start > MAX_RANGE:
        return {
            "end": [
                f"The range is at most {MAX_RANGE_DAYS} days; this one is "
                f"{(end - start) / timedelta(days=1):.1f} days. Ask for several ranges."
            ]
        }
    return {}


def _zone(tz: str | zoneinfo.ZoneInfo | None, brand: Brand | None) -> zoneinfo.ZoneInfo:
    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz
    if tz:
        return zoneinfo.ZoneInfo(tz)
    return zoneinfo.ZoneInfo(brand.time_zone if brand is not None else "UTC")


# --- events --------------------------------------------------------------------------------------


#: The columns of an event the calendar shows, read as plain rows: the calendar expands a few
#: hundred events on every request, and building model instances for them cost as much as
#: expanding their rules. Its times are read as stored (``AsStored``) and come last: the rows
#: key what is kept, and are parsed only when nothing is.
_EVENT_COLUMNS = (
    "id",
    "workspace_id",
    "title",
    "location",
    "time_zone",
    "all_day",
    "rrule",
    "themes",
    "stored_starts_at",
    "stored_ends_at",
)


def _event_rows(workspace_id: int, start: datetime, end: datetime) -> QuerySet:
    return (
        Event.objects.visible_to(workspace_id)
        .overlapping(start, end)
        .order_by()  # sorted with the other entries
        .annotate(
            stored_starts_at=AsStored("starts_at"), stored_ends_at=AsStored("ends_at")
        )  # after the plain columns in the SQL too: in the order of _EVENT_COLUMNS
    )


def _brand_fit(brand_id: int) -> Subquery:
    """The brand's fit score for the outer event: a person's call over the computed score;
    NULL without a fit row (at most one per brand and event)."""
    return Subquery(
        BrandFit.objects.filter(brand_id=brand_id, event_id=OuterRef("pk"))
        .order_by()
        .values_list(Coalesce("override_score", "score"))[:1],
        output_field=IntegerField(),
    )


_EVENT_STAND_INS = [
    -7_392_201,
    datetime(1906, 7, 8, 9, 10, 11, 234_567, tzinfo=UTC),
    datetime(1907, 8, 9, 10, 11, 12, 345_678, tzinfo=UTC),
]

#: The events of a range, compiled once (calendar_app.sql.prepared).
_EVENT_ROWS = PreparedRows(
    lambda workspace_id, start, end: _event_rows(workspace_id, start, end).values_list(
        *_EVENT_COLUMNS
    ),
    stand_ins=_EVENT_STAND_INS,
    constants=[""],  # a recurring event has a rule: rrule > ''
)

#: The events of a range with one brand's fit score each (a correlated subquery on the fit's
#: unique index: one statement, where reading the fits by event id was a second).
_BRAND_EVENT_ROWS = PreparedRows(
    lambda workspace_id, start, end, brand_id: (
        _event_rows(workspace_id, start, end)
        .annotate(brand_fit=_brand_fit(brand_id))
        .values_list(*_EVENT_COLUMNS, "brand_fit")
    ),
    stand_ins=[*_EVENT_STAND_INS, -7_392_202],
    constants=[""],
)


#: The event entries of a range, kept per worker on what the database sent for it: 256
#: ranges and 50,000 entries at most, least recently used first out.
EVENT_PARTS = KeptWalks(256, max_starts=50_000)


def _events(
    workspace: Workspace,
    brand: Brand | None,
    start: datetime,
    end: datetime,
    zone: zoneinfo.ZoneInfo,
) -> list[tuple[tuple, CalendarEntry]]:
    """The event entries of the range with their sort keys (``sort_key(start)``), sorted.

    The entries are a pure function of the event rows (with the brand's fit scores), the zone and the
    range (the request's budget is a fresh one), so they are kept on exactly those, as the
    database sent them (:data:`EVENT_PARTS`): a request that reads the same rows as one before
    gets its entries without converting a row or building an entry, and an edited event or
    fit (a changed row) is a new key. They are kept sorted, with their keys: sorting a month's
    few hundred occurrences and working out their keys again for the page's merge cost a
    calendar request a tenth of a millisecond each. The entries are shared: callers must not
    change them. Entries the budget cut short, or with a skipped row, are not kept.
    """
    if brand is None:
        raw, convert = _EVENT_ROWS.fetch(workspace.pk, start, end)
    else:
        raw, convert = _BRAND_EVENT_ROWS.fetch(workspace.pk, start, end, brand.pk)
    key = (tuple(raw), brand is not None, zone, start, end)
    try:
        kept = EVENT_PARTS.get(key)
    except TypeError:  # a driver sent something unhashable: not kept
        key, kept = None, None
    if kept is not None:
        return list(kept)
    entries = []
    # One budget for the whole request: however many events and whatever rules are stored, the
    # expansion stops after a bounded number of occurrences and steps (see recurrence.py).
    budget = ExpansionBudget()
    for row in convert(raw):
        pk, owner, title, location, time_zone, all_day, rule, themes, starts_at, ends_at = row[:10]
        fit_score = row[10] if brand is not None else None
        if budget.exhausted:
            break
        times = _event_times(
            starts_at, ends_at, time_zone, all_day, rule, start, end, budget, f"event {pk}"
        )
        for occurrence_start, occurrence_end, start_date, end_date in times:
            entries.append(
                CalendarEntry(
                    kind=EVENT,
                    id=pk,
                    title=title,
                    start=occurrence_start,
                    end=occurrence_end,
                    tz=zone,
                    all_day=all_day,
                    fit_score=fit_score,
                    time_zone=time_zone,
                    recurring=bool(rule),
                    start_date=start_date,
                    end_date=end_date,
                    details={
                        "location": location,
                        "themes": list(themes or []),
                        "is_global": owner is None,
                    },
                )
            )
    # Stable: occurrences with equal keys keep the order of the rows.
    placed = sorted(((entry.sort_key(start), entry) for entry in entries), key=itemgetter(0))
    if key is not None and not budget.exhausted and not budget.skipped:
        EVENT_PARTS.put(key, tuple(placed))
    return placed


#: An event's occurrences in a window, as the calendar shows them, kept per worker: 8,192
#: expansions and 100,000 occurrences at most (about 20 MB), least recently used first out.
EVENT_TIMES = KeptWalks(8192, max_starts=100_000)

_Times = tuple[datetime, datetime, date | None, date | None]


def _event_times(
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    all_day: bool,
    rule: str,
    start: datetime,
    end: datetime,
    budget: ExpansionBudget,
    label: str,
) -> list[_Times]:
    """``(start, end, start_date, end_date)`` of each occurrence of an event in ``[start, end)``
    (the dates for an all-day event, in its zone, the end exclusive), charged to ``budget``.

    A pure function of its arguments but the budget and the label, so it is kept on exactly
    those (:data:`EVENT_TIMES`): a calendar request expands the same events over the same month
    as the one before. An edited event (another start, end, zone or rule) is another key, so
    nothing needs invalidating. What is kept is the expansion's trace, replayed under the
    request's budget (:func:`~calendar_app.recurrence.replay`): the same entries, the same steps
    and occurrences charged, the same stop when the budget runs out, as expanding again. An
    expansion the budget cut short, or of a row that was skipped, is not kept.
    """
    key = (starts_at, ends_at, time_zone, all_day, rule, start, end)
    kept = EVENT_TIMES.get(key)
    if kept is not None:
        return replay(kept, budget)
    recorder = RecordingBudget(budget)
    expanded = occurrences(
        starts_at=starts_at,
        ends_at=ends_at,
        time_zone=time_zone,
        rule_text=rule,
        window_start=start,
        window_end=end,
        budget=recorder,  # type: ignore[arg-type]  # forwards to the request's budget
        label=label,
    )
    times: list[_Times] = []
    trace: list[tuple[int, _Times | None]] = []
    event_zone = None
    for occurrence in islice(expanded, MAX_OCCURRENCES_PER_EVENT):
        start_date = end_date = None
        if all_day:
            event_zone = event_zone or zoneinfo.ZoneInfo(time_zone)
            start_date = occurrence.starts_at.astimezone(event_zone).date()
            end_date = occurrence.ends_at.astimezone(event_zone).date()
            if end_date == start_date:
                end_date = start_date + timedelta(days=1)
        found = (occurrence.starts_at, occurrence.ends_at, start_date, end_date)
        times.append(found)
        trace.append((recorder.steps, found))
    if recorder.whole:
        trace.append((recorder.steps, None))
        EVENT_TIMES.put(key, tuple(trace))
    return times


# --- content items -------------------------------------------------------------------------------


def _channel_count() -> Subquery:
    through = ContentItem.channels.through
    counts = (
        through.objects.filter(contentitem_id=OuterRef("pk"))
        .order_by()
        .values("contentitem_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


def _first_published() -> Subquery:
    return Subquery(
        Publication.objects.filter(content_item_id=OuterRef("pk"), published_at__isnull=False)
        .order_by("published_at")
        .values("published_at")[:1]
    )


_CONTENT_FIELDS = ("id", "title", "status", "scheduled_at", "brand_id", "brand__name", "event_id")


def _content(
    workspace: Workspace,
    brand: Brand | None,
    start: datetime,
    end: datetime,
    zone: zoneinfo.ZoneInfo,
) -> list[CalendarEntry]:
    base = ContentItem.objects.filter(workspace=workspace)
    if brand is not None:
        base = base.filter(brand=brand)
    scheduled = (
        base.filter(status__in=SCHEDULED_STATUSES, scheduled_at__gte=start, scheduled_at__lt=end)
        .annotate(channels_count=_channel_count())
        .values_list(*_CONTENT_FIELDS, "channels_count")
    )
    published = (
        base.filter(
            status__in=PUBLISHED_STATUSES,
            scheduled_at__gte=start - PUBLISHED_LATE_SLACK,
            scheduled_at__lt=end,
        )
        .annotate(channels_count=_channel_count(), first_published=_first_published())
        .values_list(*_CONTENT_FIELDS, "channels_count", "first_published")
    )
    entries = []
    for row in scheduled:
        entries.append(_content_entry(row, row[3], zone))
    for row in published:
        at = row[8] or row[3]
        if row[8] is not None and row[8] - row[3] > PUBLISHED_LATE_SLACK:
            at = row[3]
        if start <= at < end:
            entries.append(_content_entry(row, at, zone))
    return entries


#: A post is a moment, but a calendar shows it as a short block.
CONTENT_DURATION = timedelta(minutes=15)


def _content_entry(row: tuple, at: datetime, zone: zoneinfo.ZoneInfo) -> CalendarEntry:
    pk, title, status, scheduled_at, brand_id, brand_name, event_id, channels = row[:8]
    at = at.astimezone(UTC)
    return CalendarEntry(
        kind=CONTENT,
        id=pk,
        title=title,
        start=at,
        end=at + CONTENT_DURATION,
        tz=zone,
        brand_id=brand_id,
        brand_name=brand_name,
        status=status,
        channels_count=channels,
        details={"scheduled_at": scheduled_at, "event": event_id},
    )


# --- reactive templates --------------------------------------------------------------------------


def _templates(
    workspace: Workspace,
    brand: Brand | None,
    start: datetime,
    end: datetime,
    zone: zoneinfo.ZoneInfo,
) -> list[CalendarEntry]:
    """Active templates with a validity window (at least one bound) overlapping the range."""
    rows = _active_templates(workspace.pk, brand.pk if brand is not None else None, start, end)
    return _template_entries(rows.values_list(*_TEMPLATE_FIELDS), zone)


def _template_entries(rows: Iterable[tuple], zone: zoneinfo.ZoneInfo) -> list[CalendarEntry]:
    """Entries of template rows of :data:`_TEMPLATE_FIELDS`."""
    return [
        CalendarEntry(
            kind=TEMPLATE,
            id=pk,
            title=name,
            start=valid_from,
            end=valid_until,
            tz=zone,
            brand_id=brand_id,
            brand_name=brand_name,
            details={"scenario": scenario, "event": event_id},
        )
        for pk, name, scenario, valid_from, valid_until, brand_id, brand_name, event_id in rows
    ]


# --- one page, paginated in the database -------------------------------------------------------


@dataclass(slots=True)
class CalendarPage:
    """One page of the sorted entries of a range, and how many entries the range holds."""

    count: int
    entries: list[CalendarEntry]


def calendar_page(
    workspace: Workspace,
    *,
    start: datetime,
    end: datetime,
    brand: Brand | None = None,
    tz: str | zoneinfo.ZoneInfo | None = None,
    kinds: Iterable[str] = KINDS,
    offset: int = 0,
    limit: int = 100,
) -> CalendarPage:
    """Entries ``offset`` to ``offset + limit`` of :func:`calendar_entries`, and their count.

    The content items and templates of the range are counted and sliced by the database; the
    events of the range (at most what the expansion budget allows) are merged in, so the work done
    here is the page plus the bounded event window, whatever the number of rows in the range.
    """
    if brand is not None and brand.workspace_id != workspace.pk:
        raise ValueError("The brand belongs to another workspace.")
    if offset < 0 or limit < 1:
        raise ValueError("offset must be 0 or more and limit 1 or more.")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    zone = _zone(tz, brand)
    kinds = set(kinds)
    placed = _events(workspace, brand, start, end, zone) if EVENT in kinds else []
    events = [entry for _, entry in placed]
    event_keys = [key for key, _ in placed]
    branches = _branches(kinds)
    values = _values(workspace.pk, brand.pk if brand is not None else None, start, end)
    (total, count_names), keys = _prepared_keys(branches, brand is not None)
    # Counted branch by branch, each from its index alone (a count over the union made SQLite
    # materialise and scan the union, 3 to 10 times slower), in one statement.
    rows = total.total(*[_pick(values, names) for names in count_names])
    count = rows + len(events)
    if offset >= count:
        return CalendarPage(count, [])
    # A row of the database's order sits at (its index) + (events sorting before it), so the
    # page's rows lie within indexes [offset - len(events), offset + limit).
    low = max(0, offset - len(events))
    window = []
    if keys is not None and low < rows:
        window = keys[0].rows(*_pick(values, keys[1]), window=(low, offset + limit))
    picked = _merge_page(events, event_keys, window, low, offset, limit)
    return CalendarPage(count, _entries_for(picked, zone))


def _merge_page(
    events: list[CalendarEntry],
    event_keys: list[tuple],
    window: list[tuple],
    low: int,
    offset: int,
    limit: int,
) -> list[CalendarEntry | tuple]:
    """The merged order's items at positions ``[offset, offset + limit)``.

    ``window`` holds the database rows ``low, low + 1, …`` as ``(sort_at, rank, id)``;
    ``events`` are every event entry, sorted, and ``event_keys`` their sort keys. The walk starts
    at the window's first row, whose position is ``low`` plus the events before it, which is at
    most ``offset``.
    """
    if low == 0 or not window:
        position, e = low, 0 if low == 0 else len(events)
    else:
        e = bisect_left(event_keys, tuple(window[0]))
        position = low + e
    w, picked = 0, []
    while position < offset + limit and (w < len(window) or e < len(events)):
        if e < len(events) and (w >= len(window) or event_keys[e] < tuple(window[w])):
            item: CalendarEntry | tuple = events[e]
            e += 1
        else:
            item = window[w]
            w += 1
        if position >= offset:
            picked.append(item)
        position += 1
    return picked


_RANK_OF = {_KIND_RANK[CONTENT]: CONTENT, _KIND_RANK[TEMPLATE]: TEMPLATE}


#: The branches of the keys' union for each kind of row, in the union's order.
_BRANCHES_OF = {CONTENT: ("scheduled", "published"), TEMPLATE: ("templates",)}


def _branches(kinds: set[str]) -> tuple[str, ...]:
    return tuple(
        branch for kind in (CONTENT, TEMPLATE) if kind in kinds for branch in _BRANCHES_OF[kind]
    )


def _values(
    workspace_id: int, brand_id: int | None, start: datetime, end: datetime
) -> dict[str, Any]:
    """What the key queries of a range read (``early``: where a published item's slot may be)."""
    return {
        "workspace_id": workspace_id,
        "brand_id": brand_id,
        "start": start,
        "end": end,
        "early": start - PUBLISHED_LATE_SLACK,
    }


def _pick(values: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    return [values[name] for name in names]


def _row_parts(
    workspace: Workspace, brand: Brand | None, start: datetime, end: datetime, kinds: set[str]
) -> list[QuerySet]:
    """The branches of the range's ``(sort_at, rank, id)`` keys: content items, templates."""
    values = _values(workspace.pk, brand.pk if brand is not None else None, start, end)
    return [_BRANCH_KEYS[branch](**values) for branch in _branches(kinds)]


def _ordered_union(parts: list[QuerySet]) -> QuerySet | None:
    """The keys of all ``parts`` in calendar order (one ``UNION ALL``), or None without parts."""
    if not parts:
        return None
    keys = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:], all=True)
    return keys.order_by("sort_at", "rank", "id")


#: Values no request uses, standing in for a request's while the key queries are compiled
#: (calendar_app.sql.prepared).
_STAND_INS = {
    "workspace_id": -7_392_101,
    "brand_id": -7_392_102,
    "start": datetime(1903, 4, 5, 6, 7, 8, 901_234, tzinfo=UTC),
    "end": datetime(1904, 5, 6, 7, 8, 9, 12_345, tzinfo=UTC),
    "early": datetime(1905, 6, 7, 8, 9, 10, 123_456, tzinfo=UTC),
}
#: Values every key query carries as they are: statuses, ranks, the slack (where the database
#: adds it natively), the active flag.
_KEY_CONSTANTS = (
    *SCHEDULED_STATUSES,
    *PUBLISHED_STATUSES,
    *(str(status) for status in (*SCHEDULED_STATUSES, *PUBLISHED_STATUSES)),
    *_KIND_RANK.values(),
    PUBLISHED_LATE_SLACK,
    True,
)


def _names(branches: Iterable[str], with_brand: bool) -> tuple[str, ...]:
    """The values the branches read, in a fixed order (the brand only when there is one)."""
    used = {"workspace_id", "start", "end"} | ({"brand_id"} if with_brand else set())
    if "published" in branches:
        used.add("early")
    return tuple(name for name in _STAND_INS if name in used)


def _keys_builder(branches: tuple[str, ...], names: tuple[str, ...]) -> Callable[..., QuerySet]:
    def build(*values: Any) -> QuerySet:
        given = dict.fromkeys(_STAND_INS) | dict(zip(names, values, strict=True))
        parts = [_BRANCH_KEYS[branch](**given) for branch in branches]
        return _ordered_union(parts)

    return build


@functools.lru_cache(maxsize=16)
def _prepared_keys(
    branches: tuple[str, ...], with_brand: bool
) -> tuple[tuple[PreparedSum, list[tuple[str, ...]]], tuple[PreparedRows, tuple[str, ...]] | None]:
    """The branches' counts (summed in one statement) and the page's slice of the union,
    compiled once per shape (which branches, with a brand or not: six shapes), with the names
    of the values each count and the slice read.

    Compiling the statements cost more than running them on their covering indexes.
    """
    counts, count_names = [], []
    for branch in branches:
        names = _names((branch,), with_brand)
        stand_ins = [_STAND_INS[name] for name in names]
        counts.append(PreparedCount(_keys_builder((branch,), names), stand_ins, _KEY_CONSTANTS))
        count_names.append(names)
    total = (PreparedSum(counts), count_names)
    if not branches:
        return total, None
    names = _names(branches, with_brand)
    keys = PreparedRows(
        _keys_builder(branches, names),
        [_STAND_INS[name] for name in names],
        _KEY_CONSTANTS,
        sliced=True,
    )
    return total, (keys, names)


class _SlotPlusSlack(Func):
    """``scheduled_at + PUBLISHED_LATE_SLACK`` in SQL.

    On SQLite, Django adds a duration to a date-time with a function written in Python, called
    for every row (parse, add, format): on a workspace's month it was a fifth of the calendar's
    time. SQLite's own ``datetime(x, '+N seconds')`` does it in C; it drops the fraction of a
    second, which is appended again as stored (``.ffffff`` or nothing), so the text compares
    with ``published_at`` exactly as Django's result did. Other databases add natively.
    """

    output_field = DateTimeField()

    def __init__(self, slot: Any) -> None:
        super().__init__(slot + PUBLISHED_LATE_SLACK)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return compiler.compile(self.source_expressions[0])

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        slot_sql, params = compiler.compile(self.source_expressions[0].lhs)
        seconds = int(PUBLISHED_LATE_SLACK.total_seconds())
        return (
            f"(datetime({slot_sql}, '+{seconds} seconds') || substr({slot_sql}, 20))",
            [*params, *params],
        )


def _placed_at() -> Case:
    """SQL for where a published item sits: its first publication time if within
    :data:`PUBLISHED_LATE_SLACK` of its slot, else its slot (see the module docstring).

    ``first_published_at`` is kept on the item by the database (calendar_app.models.
    first_published) and is a column of the index the range is read from: no subquery per row.
    """
    return Case(
        When(
            first_published_at__lte=_SlotPlusSlack(F("scheduled_at")),
            then=F("first_published_at"),
        ),
        default=F("scheduled_at"),
        output_field=DateTimeField(),
    )


def _content_rows(workspace_id: int, brand_id: int | None) -> QuerySet:
    base = ContentItem.objects.filter(workspace_id=workspace_id)
    return base if brand_id is None else base.filter(brand_id=brand_id)


def _scheduled_keys(
    *, workspace_id: int, brand_id: int | None, start: datetime, end: datetime, **_: Any
) -> QuerySet:
    """Scheduled items sit at their slot: one index range."""
    return (
        _content_rows(workspace_id, brand_id)
        .filter(status__in=SCHEDULED_STATUSES, scheduled_at__gte=start, scheduled_at__lt=end)
        .annotate(sort_at=F("scheduled_at"), rank=Value(_KIND_RANK[CONTENT]))
        .order_by()
        .values_list("sort_at", "rank", "id")
    )


def _published_keys(
    *,
    workspace_id: int,
    brand_id: int | None,
    start: datetime,
    end: datetime,
    early: datetime,
    **_: Any,
) -> QuerySet:
    """Published items sit at their first publication in time, else their slot; ``early`` is
    ``start - PUBLISHED_LATE_SLACK``: one index range."""
    return (
        _content_rows(workspace_id, brand_id)
        .filter(status__in=PUBLISHED_STATUSES, scheduled_at__gte=early, scheduled_at__lt=end)
        .annotate(sort_at=_placed_at(), rank=Value(_KIND_RANK[CONTENT]))
        .filter(sort_at__gte=start, sort_at__lt=end)
        .order_by()
        .values_list("sort_at", "rank", "id")
    )


def _active_templates(
    workspace_id: int, brand_id: int | None, start: datetime, end: datetime
) -> QuerySet:
    rows = ReactiveTemplate.objects.filter(workspace_id=workspace_id, is_active=True)
    if brand_id is not None:
        rows = rows.filter(brand_id=brand_id)
    return (
        rows.filter(Q(valid_from__isnull=False) | Q(valid_until__isnull=False))
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lt=end))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=start))
    )


def _template_keys(
    *, workspace_id: int, brand_id: int | None, start: datetime, end: datetime, **_: Any
) -> QuerySet:
    # A window open at the start sorts at the range's start, as in CalendarEntry.sort_key.
    return (
        _active_templates(workspace_id, brand_id, start, end)
        .annotate(
            sort_at=Coalesce(F("valid_from"), Value(start, output_field=DateTimeField())),
            rank=Value(_KIND_RANK[TEMPLATE]),
        )
        .order_by()
        .values_list("sort_at", "rank", "id")
    )


_BRANCH_KEYS: dict[str, Callable[..., QuerySet]] = {
    "scheduled": _scheduled_keys,
    "published": _published_keys,
    "templates": _template_keys,
}


_TEMPLATE_FIELDS = (
    "id",
    "name",
    "scenario",
    "valid_from",
    "valid_until",
    "brand_id",
    "brand__name",
    "event_id",
)


def _content_details(*ids: int) -> QuerySet:
    return (
        ContentItem.objects.filter(AnyOf(F("id"), ids))
        .order_by()
        .annotate(channels_count=_channel_count())
        .values_list(*_CONTENT_FIELDS, "channels_count")
    )


def _template_details(*ids: int) -> QuerySet:
    return (
        ReactiveTemplate.objects.filter(AnyOf(F("id"), ids))
        .order_by()
        .values_list(*_TEMPLATE_FIELDS)
    )


@functools.lru_cache(maxsize=128)
def _detail_rows(kind: str, count: int) -> PreparedRows:
    """The details of a page's ``count`` items or templates, compiled once per kind and number
    (a page holds at most 200 rows)."""
    return PreparedRows(
        _content_details if kind == CONTENT else _template_details,
        stand_ins=range(-8_100_001, -8_100_001 - count, -1),
        constants=[0],  # no channels: a count of 0
    )


def _entries_for(
    picked: list[CalendarEntry | tuple], zone: zoneinfo.ZoneInfo
) -> list[CalendarEntry]:
    """Turn the page's database keys into entries: details are read for the page's rows only."""
    ids = {CONTENT: [], TEMPLATE: []}
    for item in picked:
        if isinstance(item, tuple):
            ids[_RANK_OF[item[1]]].append(item[2])
    details: dict[tuple[str, int], CalendarEntry] = {}
    if ids[CONTENT]:
        for row in _detail_rows(CONTENT, len(ids[CONTENT])).rows(*ids[CONTENT]):
            details[CONTENT, row[0]] = _content_entry(row, row[3], zone)
    if ids[TEMPLATE]:
        rows = _detail_rows(TEMPLATE, len(ids[TEMPLATE])).rows(*ids[TEMPLATE])
        for entry in _template_entries(rows, zone):
            details[TEMPLATE, entry.id] = entry
    entries = []
    for item in picked:
        if isinstance(item, CalendarEntry):
            entries.append(item)
            continue
        sort_at, rank, pk = item
        entry = details.get((_RANK_OF[rank], pk))
        if entry is None:  # deleted between the two queries
            continue
        if entry.kind == CONTENT:  # placed where the database placed it
            entry.start = sort_at.astimezone(UTC)
            entry.end = entry.start + CONTENT_DURATION
        entries.append(entry)
    return entries


__all__ = [
    "KINDS",
    "MAX_RANGE",
    "MAX_RANGE_DAYS",
    "CalendarEntry",
    "CalendarPage",
    "calendar_entries",
    "calendar_page",
    "check_range",
]
