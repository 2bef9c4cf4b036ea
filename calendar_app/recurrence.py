"""Expanding RFC 5545 recurrence rules in the event's own time zone.

A weekly 09:00 Paris meeting is at 08:00 UTC in winter and 07:00 UTC in summer: the rule repeats
*wall-clock* time. So the rule is expanded on naive local datetimes and each occurrence is then
placed in the zone (``fold=0``: on the autumn's repeated hour, the first of the two instants; in the
spring gap, the instant the wall-clock time would have had an hour later, as RFC 5545 asks) and
converted to UTC.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrule, rrulestr

#: A rule without COUNT or UNTIL would expand forever; nothing reads more occurrences than this.
MAX_OCCURRENCES = 5000


@dataclass(frozen=True, slots=True)
class Occurrence:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


def _local_to_utc(naive_local: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    aware = naive_local.replace(tzinfo=tz)
    # A wall-clock time in the spring gap does not exist: ZoneInfo maps it with the pre-gap
    # offset, which lands one hour later in real time, as RFC 5545 3.3.5 prescribes.
    return aware.astimezone(UTC)


def _rule(rule_text: str, local_start: datetime) -> rrule:
    return rrulestr(rule_text.removeprefix("RRULE:"), dtstart=local_start, ignoretz=True)


def occurrences(
    *,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    rule_text: str,
    window_start: datetime,
    window_end: datetime,
    limit: int = MAX_OCCURRENCES,
) -> Iterator[Occurrence]:
    """Occurrences overlapping ``[window_start, window_end)``; all datetimes aware, output in UTC."""
    tz = zoneinfo.ZoneInfo(time_zone)
    duration = ends_at - starts_at
    if not rule_text:
        if starts_at < window_end and ends_at > window_start:
            yield Occurrence(starts_at.astimezone(UTC), ends_at.astimezone(UTC))
        return
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    rule = _rule(rule_text, local_start)
    # Search from one duration (plus a day of zone offsets) before the window so that an
    # occurrence that began earlier but still overlaps is included.
    search_from = (window_start - duration - timedelta(days=1)).astimezone(tz).replace(tzinfo=None)
    emitted = 0
    for local in rule.xafter(search_from, inc=True):
        start = _local_to_utc(local, tz)
        if start >= window_end:
            break
        end = start + duration
        if end > window_start or (duration == timedelta(0) and start >= window_start):
            yield Occurrence(start, end)
            emitted += 1
            if emitted >= limit:
                break


def never_occurs(rule_text: str, starts_at: datetime, time_zone: str) -> bool:
    """True when the rule yields no occurrence at all (``FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30``).

    dateutil searches for a first match up to the year 9999 before giving up, which takes
    seconds; an event saved with such a rule would stall every request that expands it. The
    Gregorian calendar repeats every 400 years (weekdays and leap years alike), so the rule is
    probed from the same wall-clock start moved by whole 400-year cycles close to 9999, where the
    search ends after a few centuries instead of eighty.
    """
    try:
        local = starts_at.astimezone(zoneinfo.ZoneInfo(time_zone)).replace(tzinfo=None)
        cycles = max(0, (9600 - local.year) // 400 + 1)
        probe_start = local.replace(year=local.year + 400 * cycles)
        rule = rrulestr(rule_text.removeprefix("RRULE:"), dtstart=probe_start, ignoretz=True)
    except (ValueError, TypeError, OverflowError, KeyError, zoneinfo.ZoneInfoNotFoundError):
        return False  # not a valid rule or zone at all: their own validators say so
    return rule.replace(count=None, until=None).after(probe_start, inc=True) is None


def last_occurrence_end(
    *, starts_at: datetime, ends_at: datetime, time_zone: str, rule_text: str
) -> datetime | None:
    """When the final occurrence ends, or ``None`` for a rule that never ends.

    Stored on the event so that a time-range query can use an index instead of expanding rules.
    """
    if not rule_text:
        return ends_at
    tz = zoneinfo.ZoneInfo(time_zone)
    rule = _rule(rule_text, starts_at.astimezone(tz).replace(tzinfo=None))
    if rule._count is None and rule._until is None:
        return None
    last = None
    for index, local in enumerate(rule):
        last = local
        if index >= MAX_OCCURRENCES:
            break
    if last is None:
        return ends_at
    return _local_to_utc(last, tz) + (ends_at - starts_at)
