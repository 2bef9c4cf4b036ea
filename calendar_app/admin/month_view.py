"""The marketers' month calendar: one brand's scheduled items and the events around them, drawn in
the brand's time zone (a post at 00:30 Paris time sits on the Paris day, whatever UTC says)."""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from calendar_app.admin.base import scope
from calendar_app.models import Brand, BrandFit, ContentStatus, Event
from calendar_app.recurrence import ExpansionBudget

ONE_TICK = timedelta(microseconds=1)


@dataclass
class Entry:
    title: str
    label: str  # "09:30", "all day", "continues"
    url: str
    kind: str  # "event" or "item"
    status: str = ""
    status_label: str = ""
    fit: int | None = None
    sort_key: tuple = ()


@dataclass
class Day:
    day: date
    in_month: bool
    is_today: bool
    events: list[Entry] = field(default_factory=list)
    items: list[Entry] = field(default_factory=list)


def _month(value: str | None, today: date) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        if 1 <= month <= 12 and 1900 <= year <= 2999:
            return year, month
    except ValueError:
        pass
    return today.year, today.month


def _local_midnight_utc(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _shift(year: int, month: int, by: int) -> str:
    index = year * 12 + (month - 1) + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def build_month(
    request: HttpRequest, model_admin: admin.ModelAdmin, brand: Brand, year: int, month: int
) -> list[list[Day]]:
    tz = brand.tz
    today = timezone.now().astimezone(tz).date()
    grid = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    days = {d: Day(d, d.month == month, d == today) for week in grid for d in week}
    window_start = _local_midnight_utc(grid[0][0], tz)
    window_end = _local_midnight_utc(grid[-1][-1] + timedelta(days=1), tz)

    items = (
        model_admin.get_queryset(request)
        .filter(brand=brand, scheduled_at__gte=window_start, scheduled_at__lt=window_end)
        .order_by("scheduled_at", "pk")
    )
    for item in items:
        local = item.scheduled_at.astimezone(tz)
        days[local.date()].items.append(
            Entry(
                title=item.title,
                label=local.strftime("%H:%M"),
                url=reverse("admin:calendar_app_contentitem_change", args=[item.pk]),
                kind="item",
                status=item.status,
                status_label=ContentStatus(item.status).label,
                sort_key=(local,),
            )
        )

    events = list(
        scope(request, Event.objects.visible_to(brand.workspace_id)).overlapping(
            window_start, window_end
        )
    )
    fits = dict(
        BrandFit.objects.filter(brand=brand, event__in=events).values_list("event_id", "score")
    )
    overrides = dict(
        BrandFit.objects.filter(
            brand=brand, event__in=events, override_score__isnull=False
        ).values_list("event_id", "override_score")
    )
    budget = ExpansionBudget()  # one for the page: bounded whatever rules are stored
    for event in events:
        url = reverse("admin:calendar_app_event_change", args=[event.pk])
        fit = overrides.get(event.pk, fits.get(event.pk))
        zone = zoneinfo.ZoneInfo(event.time_zone) if event.all_day else tz
        for occurrence in event.occurrences_between(window_start, window_end, budget):
            start = occurrence.starts_at.astimezone(zone)
            end = max(occurrence.starts_at, occurrence.ends_at - ONE_TICK).astimezone(zone)
            # Only the grid's days: a long event must not cost one step per day it lasts.
            day = max(start.date(), grid[0][0])
            while day <= min(end.date(), grid[-1][-1]):
                if day in days:
                    if event.all_day:
                        label = "all day"
                    elif day == start.date():
                        label = start.strftime("%H:%M")
                    else:
                        label = "continues"
                    days[day].events.append(
                        Entry(
                            title=event.title,
                            label=label,
                            url=url,
                            kind="event",
                            fit=fit,
                            sort_key=(label != "all day", label == "continues", start),
                        )
                    )
                day += timedelta(days=1)
    for day in days.values():
        day.events.sort(key=lambda e: e.sort_key)
    return [[days[d] for d in week] for week in grid]


def calendar_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    brands = list(scope(request, Brand.objects.all()).order_by("name"))
    brand = None
    wanted = request.GET.get("brand", "")
    if wanted.isascii() and wanted.isdigit():
        brand = next((b for b in brands if b.pk == int(wanted)), None)
    if brand is None and brands:
        brand = brands[0]
    tz = brand.tz if brand else zoneinfo.ZoneInfo("UTC")
    year, month = _month(request.GET.get("month"), timezone.now().astimezone(tz).date())
    weeks = build_month(request, model_admin, brand, year, month) if brand else []
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Calendar — {calendar.month_name[month]} {year}",
        "opts": model_admin.model._meta,
        "brands": brands,
        "brand": brand,
        "time_zone": str(tz),
        "weeks": weeks,
        "weekdays": [calendar.day_abbr[i] for i in range(7)],
        "month_value": f"{year:04d}-{month:02d}",
        "prev_month": _shift(year, month, -1),
        "next_month": _shift(year, month, 1),
        "month_label": f"{calendar.month_name[month]} {year}",
    }
    return TemplateResponse(request, "admin/calendar_app/contentitem/calendar.html", context)
