"""iCalendar (RFC 5545): a brand's feed out, events from an uploaded .ics in.

**Export** (:func:`render_feed`). One VCALENDAR per feed, over a bounded window
(:data:`FEED_PAST` before today to :data:`FEED_FUTURE` after):

* every event visible to the workspace with an occurrence in the window. A recurring event is
  *one* VEVENT with its RRULE and a DTSTART in the event's own TZID, so that the client expands
  it in that zone and a weekly 09:00 Paris meeting stays at 09:00 across the DST change. All-day
  events are DATE values. ``UID: event-<id>@kairos``;
* the brand's scheduled and published content items as short VEVENTs (``UID:
  content-<id>@kairos``, ``X-KAIROS-KIND:content``) at their slot or first publication time;
* a VTIMEZONE for the brand's zone and for every zone the events use, built by icalendar from
  the tz database for the years the calendar spans (icalendar's default span, 1970–2038, would
  cut a long-running rule short; the components are cached, building one takes a while);
* ``X-WR-CALNAME``/``NAME``, ``X-WR-TIMEZONE``, ``REFRESH-INTERVAL``.

Text is cleaned of control characters; icalendar escapes commas, semicolons and newlines and folds
long lines at 75 octets.

**Import** (:func:`import_ics`). All or nothing: every VEVENT is mapped and checked first and
nothing is written unless all of them are fine. Errors are keyed ``events[<n>].<property>`` (n
counts VEVENTs from 0 in file order). Events are created or updated by UID (``external_uid``,
source ``ics``) in bulk, then brand fits are refreshed once for all of them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time as time_module
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from icalendar import Calendar, Timezone, vDuration, vRecur
from icalendar import Event as VEvent

from calendar_app.calendar_view import (
    CONTENT_DURATION,
    PUBLISHED_LATE_SLACK,
    PUBLISHED_STATUSES,
    SCHEDULED_STATUSES,
)
from calendar_app.models import (
    Brand,
    CalendarFeed,
    ContentItem,
    ContentStatus,
    Event,
    EventSource,
    Publication,
    Workspace,
)
from calendar_app.recurrence import MIN_YEAR, event_problems, last_occurrence_end, stored_problems
from calendar_app.validators import REFUSED_FREQUENCIES, validate_time_zone

logger = logging.getLogger(__name__)

PRODID = "-//Kairos//Content calendar//EN"
#: Bumped when the rendering changes, so that every client's cached copy goes stale.
FORMAT_VERSION = "1"
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=400)
#: How often subscribed clients are asked to refresh (most ignore it and poll on their own).
REFRESH_INTERVAL = timedelta(hours=1)
UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Etc/Zulu"})

#: Import limits: the upload size, the number of VEVENTs, text lengths.
MAX_ICS_BYTES = 1024 * 1024
MAX_IMPORT_EVENTS = 2000
MAX_DESCRIPTION = 20_000
#: Rules repeating within a day are not calendar events (and cost the most to expand).
#: CPU budget for checking and expanding the rules of one file. dateutil looks for a matching
#: date up to the year 9999 before it gives up on a rule that never matches (``BYMONTH=2;
#: BYMONTHDAY=30``), which takes seconds: :func:`~calendar_app.recurrence.never_occurs` probes such rules cheaply, and a
#: file whose rules still cost more than this is refused as a whole.
IMPORT_RULE_BUDGET_SECONDS = 5.0

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: Any, limit: int | None = None) -> str:
    """Text without control characters (newlines and tabs kept), optionally truncated."""
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# --- export ------------------------------------------------------------------------------------


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """``[today - FEED_PAST, today + FEED_FUTURE)`` in UTC, on whole days (stable within a day)."""
    today = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    return today - FEED_PAST, today + FEED_FUTURE


def _feed_events(feed: CalendarFeed, start: datetime, end: datetime):
    return Event.objects.visible_to(feed.workspace_id).overlapping(start, end)


def _feed_content(feed: CalendarFeed, start: datetime, end: datetime):
    return ContentItem.objects.filter(
        workspace_id=feed.workspace_id,
        brand_id=feed.brand_id,
        status__in=SCHEDULED_STATUSES + PUBLISHED_STATUSES,
        scheduled_at__gte=start - PUBLISHED_LATE_SLACK,
        scheduled_at__lt=end,
    )


def feed_version(feed: CalendarFeed, now: datetime) -> tuple[str, datetime]:
    """``(etag, last_modified)`` of the feed, from two aggregate queries (no rendering).

    The tag changes when a row in the window is added, changed or removed, when the brand or the
    feed changes, and every day (the window slides).
    """
    start, end = feed_window(now)
    events = _feed_events(feed, start, end).aggregate(n=Count("id"), at=Max("updated_at"))
    content = _feed_content(feed, start, end).aggregate(n=Count("id"), at=Max("updated_at"))
    stamps = [feed.brand.updated_at, feed.updated_at, events["at"], content["at"]]
    last_modified = max(s for s in stamps if s is not None)
    basis = "|".join(
        str(part)
        for part in (
            FORMAT_VERSION,
            feed.pk,
            start.date(),
            events["n"],
            events["at"],
            content["n"],
            content["at"],
            feed.brand.updated_at,
            feed.updated_at,
        )
    )
    return '"' + hashlib.sha256(basis.encode()).hexdigest()[:32] + '"', last_modified


@lru_cache(maxsize=64)
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for ``tzid`` valid from ``first_year`` to the end of ``last_year``.

    Building one walks the zone's transitions (slow): cached per zone and span. The component is
    shared between calendars, so it must not be changed.
    """
    return Timezone.from_tzid(
        tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )


def _rrule_for_export(event: Event, tz: zoneinfo.ZoneInfo) -> vRecur:
    """The stored rule, with UNTIL as RFC 5545 wants it next to a TZID DTSTART (UTC) or a DATE."""
    rule = vRecur.from_ical(event.rrule.removeprefix("RRULE:"))
    untils = rule.get("UNTIL")
    if untils:
        until = untils[0]
        if event.all_day:
            until = until.date() if isinstance(until, datetime) else until
        elif isinstance(until, datetime):
            # Kairos expands rules on wall-clock times (see calendar_app.recurrence), so a stored
            # UNTIL, with or without Z, is a wall-clock time of the event's zone.
            until = until.replace(tzinfo=None).replace(tzinfo=tz).astimezone(UTC)
        else:
            until = datetime.combine(until, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
        rule["UNTIL"] = [until]
    return rule


def _event_component(event: Event) -> VEvent:
    tz = zoneinfo.ZoneInfo(event.time_zone)
    component = VEvent()
    component.add("uid", f"event-{event.pk}@kairos")
    component.add("dtstamp", event.updated_at.astimezone(UTC))
    component.add("last-modified", event.updated_at.astimezone(UTC))
    component.add("summary", clean_text(event.title, 200) or "(untitled)")
    if event.all_day:
        first = event.starts_at.astimezone(tz).date()
        last = event.ends_at.astimezone(tz).date()
        component.add("dtstart", first)
        component.add("dtend", last if last > first else first + timedelta(days=1))
    else:
        component.add("dtstart", event.starts_at.astimezone(tz))
        component.add("dtend", event.ends_at.astimezone(tz))
    if event.rrule:
        component.add("rrule", _rrule_for_export(event, tz))
    if event.description:
        component.add("description", clean_text(event.description, MAX_DESCRIPTION))
    if event.location:
        component.add("location", clean_text(event.location, 200))
    themes = [clean_text(t, 60) for t in (event.themes or []) if clean_text(t, 60).strip()]
    if themes:
        component.add("categories", themes)
    component.add("transp", "TRANSPARENT")
    return component


def _exportable(event: Event) -> bool:
    """False for a stored event that the checks of every door would now refuse (written before
    them, or by raw SQL): left out of the feed and logged, so that one bad row cannot break the
    feed, nor hand a calendar client a rule it cannot expand."""
    problems = stored_problems(
        rule_text=event.rrule,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        time_zone=event.time_zone,
    )
    if problems:
        logger.warning("ical feed: left out event %s: %s", event.pk, problems)
    return not problems


def _content_component(row: dict[str, Any], at: datetime) -> VEvent:
    published = row["status"] in PUBLISHED_STATUSES
    component = VEvent()
    component.add("uid", f"content-{row['id']}@kairos")
    component.add("dtstamp", row["updated_at"].astimezone(UTC))
    component.add("last-modified", row["updated_at"].astimezone(UTC))
    label = ContentStatus(row["status"]).label
    component.add("summary", clean_text(f"{row['title']} ({label.lower()})", 250))
    component.add("dtstart", at.astimezone(UTC))
    component.add("duration", CONTENT_DURATION)
    component.add("description", clean_text(row["body"], 2000))
    component.add("status", "CONFIRMED" if published else "TENTATIVE")
    component.add("transp", "TRANSPARENT")
    component.add("categories", ["kairos-content"])
    component.add("x-kairos-kind", "content")
    return component


def _content_rows(feed: CalendarFeed, start: datetime, end: datetime) -> list[tuple]:
    from django.db.models import OuterRef, Subquery

    first = Subquery(
        Publication.objects.filter(content_item_id=OuterRef("pk"), published_at__isnull=False)
        .order_by("published_at")
        .values("published_at")[:1]
    )
    rows = []
    for row in (
        _feed_content(feed, start, end)
        .annotate(first_published=first)
        .values("id", "title", "body", "status", "scheduled_at", "updated_at", "first_published")
        .order_by("scheduled_at", "id")
    ):
        at = row["scheduled_at"]
        first = row["first_published"]
        if (
            row["status"] in PUBLISHED_STATUSES
            and first is not None
            and first - at <= PUBLISHED_LATE_SLACK
        ):
            at = first
        if start <= at < end:
            rows.append((row, at))
    return rows


def render_feed(feed: CalendarFeed, now: datetime | None = None) -> bytes:
    """The feed as RFC 5545 bytes (three queries: events, content items, nothing per row)."""
    now = now or timezone.now()
    start, end = feed_window(now)
    brand = feed.brand
    events = [
        event
        for event in _feed_events(feed, start, end).order_by("starts_at", "id")
        if _exportable(event)
    ]
    content = _content_rows(feed, start, end)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # One line: NAME is not escaped like a TEXT value by icalendar.
    name = " ".join(clean_text(f"{brand.name} · {feed.name}", 250).split())
    calendar.add("x-wr-calname", name)
    calendar.add("name", name)
    calendar.add("x-wr-timezone", brand.time_zone)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    # An X- property: given a timedelta, icalendar would write it as text ("1:00:00").
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL).to_ical().decode())

    zones = {brand.time_zone} | {e.time_zone for e in events if not e.all_day}
    first_year = max(MIN_YEAR, min([start.year, *(e.starts_at.year for e in events)]) - 1)
    last_year = end.year + 1
    for tzid in sorted(zones - UTC_ZONES):
        try:
            calendar.add_component(vtimezone(tzid, first_year, last_year))
        except ValueError:  # a zone the tz provider does not know: clients fall back to TZID
            continue
    for event in events:
        calendar.add_component(_event_component(event))
    for row, at in content:
        calendar.add_component(_content_component(row, at))
    return calendar.to_ical()


def touch_feed(feed: CalendarFeed, now: datetime) -> None:
    """Record a fetch, at most once a minute (calendar clients poll)."""
    if feed.last_fetched_at is None or now - feed.last_fetched_at >= timedelta(minutes=1):
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
        feed.last_fetched_at = now


# --- import ------------------------------------------------------------------------------------


class IcsRefused(Exception):
    """The upload is refused as a whole; ``fields`` are the per-field messages."""

    def __init__(self, fields: dict[str, list[str]], code: str = "invalid_ics") -> None:
        self.fields = fields
        self.code = code
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)


@dataclass
class _Mapped:
    index: int
    uid: str
    values: dict[str, Any]


#: Event fields the import sets (and compares, to tell an update from a no-op).
IMPORTED_FIELDS = (
    "title",
    "description",
    "location",
    "starts_at",
    "ends_at",
    "time_zone",
    "all_day",
    "rrule",
    "themes",
)
#: Model field -> iCalendar property, for error keys.
_PROPERTY_OF = {
    "title": "summary",
    "description": "description",
    "location": "location",
    "starts_at": "dtstart",
    "ends_at": "dtend",
    "time_zone": "dtstart",
    "all_day": "dtstart",
    "rrule": "rrule",
    "themes": "categories",
    "external_uid": "uid",
}


def parse_calendar(data: bytes) -> Calendar:
    """The VCALENDAR in ``data``, or :class:`IcsRefused` on ``file``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IcsRefused({"file": ["The file is not UTF-8 text, as RFC 5545 requires."]}) from None
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise IcsRefused(
            {"file": ["This is not an iCalendar file: it must start with BEGIN:VCALENDAR."]}
        )
    try:
        calendar = Calendar.from_ical(text)
    except Exception as exc:  # untrusted input: any parser failure is the file's fault
        raise IcsRefused(
            {"file": [f"This iCalendar file cannot be read: {clean_text(exc, 300)}"]}
        ) from None
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise IcsRefused({"file": ["The file must hold one VCALENDAR."]})
    return calendar


def _zone_of(prop: Any, default_zone: str) -> tuple[str | None, str | None]:
    """``(zone, error)`` for a DATE-TIME property: its TZID (IANA, or a Windows name icalendar
    maps), UTC for a ``Z`` value, the calendar's zone for a floating time."""
    value = prop.dt
    tzid = prop.params.get("TZID")
    if value.tzinfo is None:
        if tzid:
            return _known_zone(str(tzid))
        return default_zone, None
    key = getattr(value.tzinfo, "key", None)
    if key:
        return key, None
    if value.utcoffset() == timedelta(0) and not tzid:
        return "UTC", None
    if tzid:
        return _known_zone(str(tzid))
    return None, "The time zone of this value is not an IANA zone Kairos knows."


def _known_zone(tzid: str) -> tuple[str | None, str | None]:
    try:
        validate_time_zone(tzid)
    except ValidationError:
        return (
            None,
            f"Unknown TZID {clean_text(tzid, 80)!r}: use an IANA zone such as Europe/Paris.",
        )
    return tzid, None


def _instant(prop: Any, default_zone: str) -> tuple[datetime | None, str | None, str | None]:
    """``(utc_instant, zone, error)`` of a DATE-TIME property."""
    zone, error = _zone_of(prop, default_zone)
    if error:
        return None, None, error
    local = prop.dt.replace(tzinfo=None)
    # A wall-clock time in the spring gap is moved forward, as RFC 5545 3.3.5 prescribes.
    return local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC), zone, None


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0)).replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


def _single(component: Any, name: str) -> Any:
    value = component.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _rrule_text(prop: Any, zone: str, all_day: bool) -> str:
    """The rule as Kairos stores it: UNTIL as a local wall-clock time (or date) in ``zone``."""
    rule = vRecur(prop)
    untils = rule.get("UNTIL")
    if untils:
        until = untils[0]
        if isinstance(until, datetime):
            if until.tzinfo is not None:
                until = until.astimezone(zoneinfo.ZoneInfo(zone))
            until = until.date() if all_day else until.replace(tzinfo=None)
        rule["UNTIL"] = [until]
    return rule.to_ical().decode()


def _categories(component: Any) -> list[str]:
    raw = component.get("CATEGORIES")
    props = raw if isinstance(raw, list) else [raw] if raw is not None else []
    themes: list[str] = []
    for prop in props:
        for cat in getattr(prop, "cats", []) or []:
            theme = clean_text(cat).strip().lower()[:60]
            if theme and theme not in themes:
                themes.append(theme)
    return themes[:50]


def _map_event(component: Any, index: int, default_zone: str, warnings: list[str]):
    """``(_Mapped | None, errors)``: one VEVENT as Event field values, or its field errors."""
    key = f"events[{index}]"
    errors: dict[str, list[str]] = {}
    for prop_name, message in getattr(component, "errors", []) or []:
        errors.setdefault(f"{key}.{str(prop_name).lower()}", []).append(
            f"Cannot be read: {clean_text(message, 200)}"
        )
    if errors:
        return None, errors

    uid = clean_text(_single(component, "UID")).strip()
    if not uid:
        errors[f"{key}.uid"] = ["Every event needs a UID (the key to update it by)."]
    elif len(uid) > 255:
        errors[f"{key}.uid"] = ["A UID is at most 255 characters."]

    start_prop = component.get("DTSTART")
    if start_prop is None:
        errors[f"{key}.dtstart"] = ["Every event needs a DTSTART."]
        return None, errors
    if isinstance(start_prop, list):
        errors[f"{key}.dtstart"] = ["An event has one DTSTART."]
        return None, errors

    values: dict[str, Any] = {}
    start_value = start_prop.dt
    all_day = not isinstance(start_value, datetime)
    if all_day:
        zone = default_zone
        starts_at = _midnight(start_value, zone)
    else:
        starts_at, zone, error = _instant(start_prop, default_zone)
        if error:
            errors[f"{key}.dtstart"] = [error]
            return None, errors

    end_prop = _single(component, "DTEND")
    duration_prop = _single(component, "DURATION")
    if end_prop is not None:
        end_value = end_prop.dt
        if isinstance(end_value, datetime) == all_day:
            errors[f"{key}.dtend"] = [
                "DTEND must be of the same type as DTSTART (DATE or DATE-TIME)."
            ]
            return None, errors
        if all_day:
            ends_at = _midnight(end_value, zone)
        else:
            ends_at, _, error = _instant(end_prop, default_zone)
            if error:
                errors[f"{key}.dtend"] = [error]
                return None, errors
    elif duration_prop is not None:
        duration = duration_prop.dt
        if not isinstance(duration, timedelta) or duration < timedelta(0):
            errors[f"{key}.duration"] = ["DURATION must be a positive duration such as PT1H."]
            return None, errors
        ends_at = (
            _midnight(start_value + timedelta(days=max(duration.days, 1)), zone)
            if all_day
            else starts_at + duration
        )
    else:
        ends_at = _midnight(start_value + timedelta(days=1), zone) if all_day else starts_at
    if ends_at < starts_at:
        errors[f"{key}.dtend"] = ["The event cannot end before it starts."]

    rrule = ""
    rrule_prop = component.get("RRULE")
    if isinstance(rrule_prop, list):
        warnings.append(f"{key}: only the first of several RRULEs was kept.")
        rrule_prop = rrule_prop[0]
    if rrule_prop is not None:
        frequency = (rrule_prop.get("FREQ") or [""])[0]
        try:
            rrule = _rrule_text(rrule_prop, zone, all_day)
            if str(frequency).upper() in REFUSED_FREQUENCIES:
                raise ValidationError(
                    f"FREQ={frequency} repeats within a day; Kairos events repeat at most daily."
                )
        except ValidationError as exc:
            errors[f"{key}.rrule"] = exc.messages
        except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
            errors[f"{key}.rrule"] = [f"Not a usable recurrence rule: {clean_text(exc, 200)}"]
    if not errors:
        # The one check every door runs (rule bounds, years, duration, a rule that never matches).
        for name, messages in event_problems(
            rule_text=rrule, starts_at=starts_at, ends_at=ends_at, time_zone=zone
        ).items():
            errors[f"{key}.{_PROPERTY_OF.get(name, name)}"] = messages
    for unsupported in ("EXDATE", "RDATE"):
        if component.get(unsupported) is not None:
            warnings.append(f"{key}: {unsupported} is not supported and was ignored.")

    if errors:
        return None, errors
    values.update(
        recurrence_ends_at=last_occurrence_end(
            starts_at=starts_at, ends_at=ends_at, time_zone=zone, rule_text=rrule
        ),
        title=clean_text(_single(component, "SUMMARY"), 200).strip() or "(untitled)",
        description=clean_text(_single(component, "DESCRIPTION"), MAX_DESCRIPTION),
        location=clean_text(_single(component, "LOCATION"), 200),
        starts_at=starts_at,
        ends_at=ends_at,
        time_zone=zone,
        all_day=all_day,
        rrule=rrule,
        themes=_categories(component),
    )
    return _Mapped(index, uid, values), {}


def _model_errors(event: Event, key: str) -> dict[str, list[str]]:
    """Model validation without queries (no uniqueness checks: the import keys by UID)."""
    try:
        event.clean_fields(exclude=["workspace", "recurrence_ends_at"])
        event.clean()
    except ValidationError as exc:
        out: dict[str, list[str]] = {}
        for name, messages in exc.message_dict.items():
            out.setdefault(f"{key}.{_PROPERTY_OF.get(name, name)}", []).extend(messages)
        return out
    return {}


def import_ics(workspace: Workspace, data: bytes) -> ImportResult:
    """Create or update the workspace's events from an .ics upload, all or nothing."""
    if len(data) > MAX_ICS_BYTES:
        raise IcsRefused({"file": [f"The file is larger than {MAX_ICS_BYTES} bytes."]}, "too_large")
    calendar = parse_calendar(data)
    default_zone = clean_text(calendar.get("X-WR-TIMEZONE", "")).strip() or "UTC"
    if _known_zone(default_zone)[1]:
        default_zone = "UTC"
    components = [c for c in calendar.subcomponents if getattr(c, "name", "") == "VEVENT"]
    if len(components) > MAX_IMPORT_EVENTS:
        raise IcsRefused(
            {
                "file": [
                    f"At most {MAX_IMPORT_EVENTS} events per file; this one has {len(components)}."
                ]
            }
        )

    result = ImportResult()
    errors: dict[str, list[str]] = {}
    mapped: dict[str, _Mapped] = {}
    spent = 0.0
    for index, component in enumerate(components):
        key = f"events[{index}]"
        if component.get("RECURRENCE-ID") is not None:
            result.skipped += 1
            result.warnings.append(
                f"{key}: a changed occurrence of a recurring event is not supported; skipped."
            )
            continue
        if str(component.get("X-KAIROS-KIND", "")).lower() == "content":
            result.skipped += 1  # a Kairos post from a feed, not an event
            continue
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            result.skipped += 1
            continue
        began = time_module.monotonic()
        try:
            item, found = _map_event(component, index, default_zone, result.warnings)
        except Exception as exc:  # untrusted input: a value icalendar accepted but we cannot use
            item, found = None, {key: [f"This event cannot be read: {clean_text(exc, 200)}"]}
        spent += time_module.monotonic() - began
        if spent > IMPORT_RULE_BUDGET_SECONDS:
            raise IcsRefused(
                {
                    "file": [
                        "The recurrence rules of this file take too long to expand (stopped at "
                        f"{key}). Split the file or simplify its rules."
                    ]
                },
                "too_complex",
            )
        errors.update(found)
        if item is None:
            continue
        if item.uid in mapped:
            result.skipped += 1
            result.warnings.append(
                f"{key}: UID {clean_text(item.uid, 80)!r} already appeared in "
                f"events[{mapped[item.uid].index}]; this copy was skipped."
            )
            continue
        mapped[item.uid] = item
    if errors:
        raise IcsRefused(errors)

    existing: dict[str, Event] = {}
    uids = list(mapped)
    for offset in range(0, len(uids), 500):
        for event in Event.objects.filter(
            workspace=workspace, external_uid__in=uids[offset : offset + 500]
        ):
            existing[event.external_uid] = event

    now = timezone.now()
    to_create: list[Event] = []
    to_update: list[Event] = []
    for uid, item in mapped.items():
        event = existing.get(uid)
        if event is None:
            event = Event(
                workspace=workspace, external_uid=uid, source=EventSource.ICS, **item.values
            )
            target = to_create
        else:
            if all(getattr(event, name) == item.values[name] for name in IMPORTED_FIELDS):
                result.skipped += 1
                continue
            for name, value in item.values.items():  # recurrence_ends_at included
                setattr(event, name, value)
            event.updated_at = now
            target = to_update
        errors.update(_model_errors(event, f"events[{item.index}]"))
        target.append(event)
    if errors:
        raise IcsRefused(errors)

    with transaction.atomic():
        created = Event.objects.bulk_create(to_create, batch_size=500)
        Event.objects.bulk_update(
            to_update, [*IMPORTED_FIELDS, "recurrence_ends_at", "updated_at"], batch_size=500
        )
        changed = [*created, *to_update]
        if changed:
            from calendar_app.fit_records import refresh_fits

            refresh_fits(brands=Brand.objects.filter(workspace=workspace), events=changed)
    result.created = len(created)
    result.updated = len(to_update)
    result.event_ids = [e.pk for e in changed]
    return result
