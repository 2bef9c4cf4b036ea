"""The admin's home: the marketers' calendar (month, week and list), for one brand or all of them.

Why a page of its own rather than a change list: a marketer plans by date, so the first thing
they see is their month, with events as bars across their days (folded away when they do not fit
the brand), items coloured by status or by brand, today marked, and a click on a day (or an hour,
in the week view) to write a post there. Dragging an item moves it through the workflow
(:mod:`calendar_app.admin.move`).

Times are drawn in one zone, named on the page: the brand's, or, for all brands, the first
brand's (each item's own zone is in its tooltip). The page costs a fixed number of SQL queries
whatever the month holds (``tests/admin/test_calendar_page.py`` counts them): the brands, the
items in the window (with a "held" flag computed in the same query), the events overlapping it,
and the fit rows of those events. A month cell lists at most :data:`CELL_LIMIT` items and links
to the day's list for the rest, so a month of thousands of posts stays a page, not a book.
"""

from __future__ import annotations

import calendar
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from calendar_app.admin.base import scope
from calendar_app.models import Brand, BrandFit, ContentItem, ContentStatus, Event, Workspace
from calendar_app.models.delivery import Publication, PublicationStatus
from calendar_app.recurrence import ExpansionBudget

ONE_TICK = timedelta(microseconds=1)
VIEWS = ("month", "week", "list")
#: Events whose fit for the brand is under this are folded away (one click shows them).
DEFAULT_FIT_THRESHOLD = 50
#: Items listed in one month cell; the rest are one click away ("+ 12 more").
CELL_LIMIT = 4
#: Rows of the list view per page.
LIST_LIMIT = 300
#: Brand colours, assigned in name order (the same brand keeps its colour across pages).
PALETTE = ("#3f6fd8", "#d8703f", "#2f9e6f", "#a14fc1", "#c9a227", "#d13f6b", "#3fa7c9", "#6b7a8f")

#: The statuses a marketer reads on the calendar (publishing counts as scheduled; partly failed
#: as failed; "held" is a scheduled item a crisis holds).
STATUS_GROUPS = {
    ContentStatus.DRAFT: "draft",
    ContentStatus.IN_REVIEW: "waiting",
    ContentStatus.APPROVED: "approved",
    ContentStatus.SCHEDULED: "scheduled",
    ContentStatus.PUBLISHING: "scheduled",
    ContentStatus.PUBLISHED: "published",
    ContentStatus.PARTLY_FAILED: "failed",
    ContentStatus.FAILED: "failed",
}
STATUS_LABELS = {
    "draft": "Draft",
    "waiting": "Waiting for approval",
    "approved": "Approved",
    "scheduled": "Scheduled",
    "published": "Published",
    "failed": "Failed",
    "held": "Held (crisis)",
}
#: Statuses that can no longer move on the calendar.
FIXED = frozenset(
    {
        ContentStatus.PUBLISHING,
        ContentStatus.PUBLISHED,
        ContentStatus.PARTLY_FAILED,
        ContentStatus.FAILED,
    }
)


@dataclass
class Item:
    pk: int
    title: str
    at: datetime  # in the page's zone
    brand_id: int
    brand_name: str
    brand_zone: str
    colour: str
    status: str  # one of STATUS_LABELS
    movable: bool
    url: str

    @property
    def label(self) -> str:
        return self.at.strftime("%H:%M")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class Bar:
    """An event drawn across the days it covers within one week row."""

    title: str
    url: str
    fit: int | None
    column: int  # 1-based grid column of its first day in the week
    span: int
    lane: int = 0
    continues_before: bool = False
    continues_after: bool = False
    label: str = ""


@dataclass
class Day:
    day: date
    in_month: bool
    is_today: bool
    items: list[Item] = field(default_factory=list)

    @property
    def shown(self) -> list[Item]:
        return self.items[:CELL_LIMIT]

    @property
    def more(self) -> int:
        return max(0, len(self.items) - CELL_LIMIT)

    @property
    def by_hour(self) -> list[tuple[str, list[Item]]]:
        """The week view's rows: ("09:00", the items of that hour), for every hour."""
        rows: list[list[Item]] = [[] for _ in range(24)]
        for item in self.items:
            rows[item.at.hour].append(item)
        return [(f"{hour:02d}:00", rows[hour]) for hour in range(24)]


@dataclass
class Week:
    days: list[Day]
    bars: list[Bar]
    lanes: int


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def _anchor(request: HttpRequest, today: date) -> date:
    """The day the page is about: ``date=YYYY-MM-DD``, or ``month=YYYY-MM``, else today."""
    chosen = _parse_date(request.GET.get("date"))
    if chosen is None:
        try:
            year, month = (int(part) for part in request.GET.get("month", "").split("-"))
            if 1 <= month <= 12 and 1900 <= year <= 2999:
                chosen = date(year, month, 1)
        except ValueError:
            chosen = None
    if chosen is None or not 1900 <= chosen.year <= 2999:
        return today
    return chosen


def _midnight_utc(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _window(view: str, anchor: date) -> tuple[date, date, list[list[date]]]:
    """First and last day (inclusive) of the page, and its weeks (Monday first)."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        week = [first + timedelta(days=i) for i in range(7)]
        return first, week[-1], [week]
    grid = calendar.Calendar(firstweekday=0).monthdatescalendar(anchor.year, anchor.month)
    if view == "list":
        first = anchor.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return first, last, grid
    return grid[0][0], grid[-1][-1], grid


@dataclass
class Page:
    """What the template draws; built by :func:`build_page`."""

    view: str
    anchor: date
    tz: zoneinfo.ZoneInfo
    weeks: list[Week]
    items: list[Item]
    folded: int
    threshold: int
    show_all: bool
    next_content: date | None


def _items(
    request: HttpRequest,
    workspace: Workspace,
    brand: Brand | None,
    start: datetime,
    end: datetime,
    tz: zoneinfo.ZoneInfo,
    colours: dict[int, str],
) -> list[Item]:
    on_hold = Publication.objects.filter(content_item=OuterRef("pk"), status=PublicationStatus.HELD)
    rows = scope(request, ContentItem.objects.filter(workspace=workspace))
    if brand is not None:
        rows = rows.filter(brand=brand)
    rows = (
        rows.filter(scheduled_at__gte=start, scheduled_at__lt=end)
        .exclude(status=ContentStatus.CANCELLED)
        .annotate(on_hold=Exists(on_hold))
        .order_by("scheduled_at", "pk")
        .values_list(
            "pk",
            "title",
            "scheduled_at",
            "status",
            "brand_id",
            "brand__name",
            "brand__time_zone",
            "on_hold",
        )
    )
    change = reverse("admin:calendar_app_contentitem_change", args=[0])
    items = []
    for pk, title, at, status, brand_id, brand_name, zone, is_held in rows:
        group = "held" if is_held and status == ContentStatus.SCHEDULED else STATUS_GROUPS[status]
        items.append(
            Item(
                pk=pk,
                title=title,
                at=at.astimezone(tz),
                brand_id=brand_id,
                brand_name=brand_name,
                brand_zone=zone,
                colour=colours.get(brand_id, PALETTE[0]),
                status=group,
                movable=status not in FIXED,
                url=change.replace("/0/", f"/{pk}/"),
            )
        )
    return items


def _events(
    request: HttpRequest,
    workspace: Workspace,
    brand: Brand | None,
    brand_ids: list[int],
    start: datetime,
    end: datetime,
) -> list[tuple[Event, int | None, datetime, datetime]]:
    """Occurrences in the window with the fit shown: the brand's, or the best of all brands."""
    events = list(
        scope(request, Event.objects.visible_to(workspace))
        .overlapping(start, end)
        .order_by("starts_at", "pk")
    )
    fits: dict[int, int] = {}
    rows = BrandFit.objects.filter(
        brand_id__in=[brand.pk] if brand else brand_ids, event__in=[e.pk for e in events]
    ).values_list("event_id", "score", "override_score")
    for event_id, score, override in rows:
        value = override if override is not None else score
        fits[event_id] = max(value, fits.get(event_id, value))
    budget = ExpansionBudget()  # one for the page: bounded whatever rules are stored
    found = []
    for event in events:
        for occurrence in event.occurrences_between(start, end, budget):
            found.append((event, fits.get(event.pk), occurrence.starts_at, occurrence.ends_at))
    return found


def _bars(
    occurrences: list[tuple[Event, int | None, datetime, datetime]],
    weeks: list[list[date]],
    tz: zoneinfo.ZoneInfo,
) -> list[tuple[list[Bar], int]]:
    """Each week's bars, stacked in lanes so that bars of one week never overlap."""
    result = []
    for week in weeks:
        bars: list[Bar] = []
        lane_ends: list[int] = []  # last column taken in each lane
        for event, fit, starts, ends in occurrences:
            zone = zoneinfo.ZoneInfo(event.time_zone) if event.all_day else tz
            first = starts.astimezone(zone).date()
            last = max(starts, ends - ONE_TICK).astimezone(zone).date()
            if last < week[0] or first > week[-1]:
                continue
            begin, finish = max(first, week[0]), min(last, week[-1])
            column = (begin - week[0]).days + 1
            span = (finish - begin).days + 1
            lane = next((i for i, end in enumerate(lane_ends) if end < column), len(lane_ends))
            if lane == len(lane_ends):
                lane_ends.append(0)
            lane_ends[lane] = column + span - 1
            bars.append(
                Bar(
                    title=event.title,
                    url=reverse("admin:calendar_app_event_change", args=[event.pk]),
                    fit=fit,
                    column=column,
                    span=span,
                    lane=lane,
                    continues_before=first < week[0],
                    continues_after=last > week[-1],
                    label="" if event.all_day else starts.astimezone(tz).strftime("%H:%M"),
                )
            )
        result.append((bars, len(lane_ends)))
    return result


def build_page(
    request: HttpRequest,
    workspace: Workspace,
    brand: Brand | None,
    brands: list[Brand],
    tz: zoneinfo.ZoneInfo,
    view: str,
    anchor: date,
    threshold: int,
    show_all: bool,
) -> Page:
    today = timezone.now().astimezone(tz).date()
    first, last, weeks = _window(view, anchor)
    start, end = _midnight_utc(first, tz), _midnight_utc(last + timedelta(days=1), tz)
    colours = {b.pk: PALETTE[i % len(PALETTE)] for i, b in enumerate(brands)}
    items = _items(request, workspace, brand, start, end, tz, colours)
    page = Page(view, anchor, tz, [], items, 0, threshold, show_all, None)
    if view == "list":
        page.items = items[:LIST_LIMIT]
        return page

    occurrences = _events(request, workspace, brand, [b.pk for b in brands], start, end)
    shown = [o for o in occurrences if show_all or o[1] is None or o[1] >= threshold]
    page.folded = len({o[0].pk for o in occurrences}) - len({o[0].pk for o in shown})
    by_day: dict[date, list[Item]] = defaultdict(list)
    for item in items:
        by_day[item.at.date()].append(item)
    for days, (bars, lanes) in zip(weeks, _bars(shown, weeks, tz), strict=True):
        cells = [
            Day(d, view == "week" or d.month == anchor.month, d == today, by_day.get(d, []))
            for d in days
        ]
        page.weeks.append(Week(cells, bars, lanes))
    return page


def next_content(
    request: HttpRequest, workspace: Workspace, brand: Brand | None, after: datetime
) -> datetime | None:
    """When the next planned item (not cancelled, not yet out) is due: "jump to next"."""
    rows = scope(request, ContentItem.objects.filter(workspace=workspace))
    if brand is not None:
        rows = rows.filter(brand=brand)
    return (
        rows.filter(scheduled_at__gte=after)
        .exclude(status__in=[ContentStatus.CANCELLED, *FIXED])
        .order_by("scheduled_at")
        .values_list("scheduled_at", flat=True)
        .first()
    )


def _abbreviations(tz: zoneinfo.ZoneInfo, anchor: date, view: str) -> str:
    """The zone's abbreviations over the page ("CET/CEST" in a month where clocks change)."""
    first, last, _ = _window(view, anchor)
    names = []
    for day in (first, last + timedelta(days=1)):
        name = datetime.combine(day, time(12), tzinfo=tz).tzname() or ""
        if name not in names:
            names.append(name)
    return "/".join(names)


def _int(value: str | None, default: int, low: int, high: int) -> int:
    if value and value.isascii() and value.isdigit():
        return min(high, max(low, int(value)))
    return default


def calendar_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The calendar page (``/admin/calendar_app/contentitem/calendar/``, also the admin's home)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    brands_all = list(scope(request, Brand.objects.select_related("workspace")).order_by("name"))
    workspaces = {b.workspace_id: b.workspace for b in brands_all}
    wanted = request.GET.get("brand", "")
    brand = next((b for b in brands_all if str(b.pk) == wanted), None)
    ws_wanted = request.GET.get("workspace", "")
    if brand is not None:
        workspace = brand.workspace
    else:
        workspace = next(
            (w for w in workspaces.values() if str(w.pk) == ws_wanted),
            brands_all[0].workspace if brands_all else None,
        )
    brands = [b for b in brands_all if workspace and b.workspace_id == workspace.pk]
    zone_brand = brand or (brands[0] if brands else None)
    tz = zone_brand.tz if zone_brand else zoneinfo.ZoneInfo("UTC")
    today = timezone.now().astimezone(tz).date()
    view = request.GET.get("view", "month")
    view = view if view in VIEWS else "month"
    anchor = _anchor(request, today)
    threshold = _int(request.GET.get("fit"), DEFAULT_FIT_THRESHOLD, 0, 100)
    show_all = request.GET.get("all_events") == "1"
    page = (
        build_page(request, workspace, brand, brands, tz, view, anchor, threshold, show_all)
        if workspace
        else None
    )
    base = {"view": view}
    if brand is not None:
        base["brand"] = brand.pk
    elif workspace is not None:
        base["workspace"] = workspace.pk
    if show_all:
        base["all_events"] = "1"
    if request.GET.get("colour") == "brand":
        base["colour"] = "brand"

    def link(**changes: object) -> str:
        return "?" + urlencode({**base, **changes})

    step = {"week": timedelta(days=7)}.get(view)
    if step:
        prev_day, next_day = anchor - step, anchor + step
    else:
        prev_day = (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
        next_day = (anchor.replace(day=28) + timedelta(days=4)).replace(day=1)
    upcoming = (
        next_content(request, workspace, brand, timezone.now()) if workspace is not None else None
    )
    add_url = reverse("admin:calendar_app_contentitem_add")
    label = (
        f"{calendar.month_name[anchor.month]} {anchor.year}"
        if view != "week"
        else f"Week of {page.weeks[0].days[0].day:%d %b %Y}"
        if page
        else ""
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Calendar — {label}",
        "opts": model_admin.model._meta,
        "workspaces": sorted(workspaces.values(), key=lambda w: w.name),
        "workspace": workspace,
        "brands": brands,
        "brand": brand,
        "brand_colours": [(b, PALETTE[i % len(PALETTE)]) for i, b in enumerate(brands)],
        "time_zone": str(tz),
        "zone_name": _abbreviations(tz, anchor, view),
        "page": page,
        "weeks": page.weeks if page else [],
        "view": view,
        "views": VIEWS,
        "view_tabs": [(v, link(view=v, date=anchor.isoformat())) for v in VIEWS],
        "view_link": "?"
        + urlencode(
            {k: v for k, v in {**base, "date": anchor.isoformat()}.items() if k != "colour"}
        ),
        "threshold": threshold,
        "weekdays": [calendar.day_abbr[i] for i in range(7)],
        "month_value": f"{anchor:%Y-%m}",
        "label": label,
        "month_label": label,
        "prev_link": link(date=prev_day.isoformat()),
        "next_link": link(date=next_day.isoformat()),
        "today_link": link(date=today.isoformat()),
        "fold_link": "?" + urlencode({**base, "date": anchor.isoformat(), "all_events": "1"}),
        "unfold_link": "?"
        + urlencode(
            {k: v for k, v in {**base, "date": anchor.isoformat()}.items() if k != "all_events"}
        ),
        "next_content_link": link(date=upcoming.astimezone(tz).date().isoformat())
        if upcoming
        else "",
        "add_url": add_url,
        "add_brand": brand.pk if brand else (brands[0].pk if len(brands) == 1 else ""),
        "status_legend": list(STATUS_LABELS.items()),
        "colour_by": "brand" if request.GET.get("colour") == "brand" else "status",
        "can_add": model_admin.has_add_permission(request),
        "can_move": model_admin.has_change_permission(request),
        "list_limit": LIST_LIMIT,
    }
    return TemplateResponse(request, "admin/calendar_app/contentitem/calendar.html", context)
