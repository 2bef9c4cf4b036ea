"""Everything on a brand's or a workspace's calendar between two instants.

A pure-ish domain service (no HTTP): :func:`calendar_entries` reads the rows overlapping a range
with a fixed number of queries — events (recurrences expanded in each event's own zone), content
items scheduled or published in the range, and reactive templates whose validity window overlaps
it — and returns one sorted list of :class:`CalendarEntry`.

Entries are computed whole and then paginated by the caller: what bounds the work is the range,
never longer than :data:`MAX_RANGE` (100 days). Every query is a time-range query on an index:
``event_time_range`` / ``event_workspace_start`` for events, ``content_ws_status_sched`` /
``content_brand_scheduled`` for content items, ``template_validity`` for templates.

The queries, whatever the number of entries:

1. events overlapping the range (the shared library plus the workspace's own);
2. with a brand: that brand's fit rows for those events;
3. content items scheduled (``scheduled``/``publishing``) in the range, with their channel count;
4. content items published (``published``/``partly_failed``) near the range, with their first
   publication time (they are placed at that time, or at ``scheduled_at`` when no publication
   recorded one; a post sent more than :data:`PUBLISHED_LATE_SLACK` after its slot is placed at
   its slot);
5. active reactive templates whose validity window overlaps the range.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
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
from calendar_app.recurrence import MAX_PER_DAY, ExpansionBudget

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
        entries += _events(workspace, brand, start, end, zone)
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


def _events(
    workspace: Workspace,
    brand: Brand | None,
    start: datetime,
    end: datetime,
    zone: zoneinfo.ZoneInfo,
) -> list[CalendarEntry]:
    events = list(
        Event.objects.visible_to(workspace)
        .overlapping(start, end)
        .order_by()  # sorted with the other entries below
        .only(
            "id",
            "workspace_id",
            "title",
            "location",
            "starts_at",
            "ends_at",
            "time_zone",
            "all_day",
            "rrule",
            "themes",
        )
    )
    scores: dict[int, int] = {}
    if brand is not None and events:
        fits = BrandFit.objects.filter(brand=brand, event_id__in=[e.pk for e in events])
        scores = {
            event_id: (override if override is not None else score)
            for event_id, score, override in fits.values_list("event_id", "score", "override_score")
        }
    entries = []
    # One budget for the whole request: however many events and whatever rules are stored, the
    # expansion stops after a bounded number of occurrences and steps (see recurrence.py).
    budget = ExpansionBudget()
    for event in events:
        if budget.exhausted:
            break
        event_zone = zoneinfo.ZoneInfo(event.time_zone)
        occurrences = islice(
            event.occurrences_between(start, end, budget), MAX_OCCURRENCES_PER_EVENT
        )
        for occurrence in occurrences:
            entry = CalendarEntry(
                kind=EVENT,
                id=event.pk,
                title=event.title,
                start=occurrence.starts_at,
                end=occurrence.ends_at,
                tz=zone,
                all_day=event.all_day,
                fit_score=scores.get(event.pk),
                time_zone=event.time_zone,
                recurring=bool(event.rrule),
                details={
                    "location": event.location,
                    "themes": list(event.themes or []),
                    "is_global": event.workspace_id is None,
                },
            )
            if event.all_day:
                entry.start_date = occurrence.starts_at.astimezone(event_zone).date()
                entry.end_date = occurrence.ends_at.astimezone(event_zone).date()
                if entry.end_date == entry.start_date:
                    entry.end_date = entry.start_date + timedelta(days=1)
            entries.append(entry)
    return entries


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
    rows = ReactiveTemplate.objects.filter(workspace=workspace, is_active=True)
    if brand is not None:
        rows = rows.filter(brand=brand)
    rows = (
        rows.filter(Q(valid_from__isnull=False) | Q(valid_until__isnull=False))
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lt=end))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=start))
        .values_list(
            "id",
            "name",
            "scenario",
            "valid_from",
            "valid_until",
            "brand_id",
            "brand__name",
            "event_id",
        )
    )
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


__all__ = [
    "KINDS",
    "MAX_RANGE",
    "MAX_RANGE_DAYS",
    "CalendarEntry",
    "calendar_entries",
    "check_range",
]
