"""Expanding RFC 5545 recurrence rules in the event's own time zone, with bounded work.

A weekly 09:00 Paris meeting is at 08:00 UTC in winter and 07:00 UTC in summer: the rule repeats
*wall-clock* time. So the rule is expanded on naive local datetimes and each occurrence is then
placed in the zone (``fold=0``: on the autumn's repeated hour, the first of the two instants; in the
spring gap, the instant the wall-clock time would have had an hour later, as RFC 5545 asks) and
converted to UTC.

**Bounds** (see ``docs/security/recurrence.md``). A rule is data a user typed, so expanding it
must cost the same whatever the rule and whatever is stored:

* :func:`event_problems` is the one check every door runs (API, admin, ``.ics`` import,
  fixtures through ``pre_save``): daily to yearly frequencies, ``INTERVAL`` 1 to
  :data:`MAX_INTERVAL`, at most :data:`MAX_PER_DAY` occurrences a day, short ``BY…`` lists,
  ``COUNT`` up to :data:`MAX_COUNT`, dates (start, end, ``UNTIL``) within
  :data:`MIN_YEAR`–:data:`MAX_YEAR`, a duration of at most :data:`MAX_DURATION`.
* :func:`occurrences` re-checks the stored row cheaply (rows written before these checks, or by
  raw SQL) and skips, with a warning in the log, an event that fails; it starts dateutil from
  the period of the rule just before the window (moved by whole ``INTERVAL`` periods, so the
  phase is kept) instead of walking from the event's start; and it counts every step against an
  :class:`ExpansionBudget` shared by the whole request.
* dateutil searches for the next match until the year 9999 and cannot be interrupted, so a rule
  whose periods stay empty (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) would spin for seconds. The
  Gregorian calendar repeats exactly every 400 years (146,097 days, a whole number of weeks;
  leap years, weekdays and ISO weeks alike), so the expansion runs on dates moved by whole
  400-year cycles to just before 9999: dateutil then gives up after at most ~430 years of empty
  periods, which bounds the worst case to a fraction of a second.

**Parsed once.** A calendar request expands the same few hundred stored rules on every request,
and parsing a rule (``rrulestr``) cost more than walking it. Parsed rules are kept in bounded
LRU caches (:func:`_parsed_rule`, :func:`_parsed_parts`) keyed on the rule's text and the start
it is expanded from (and ``UNTIL`` when it is moved), so an edited event, whose text or start
changed, simply gets a new key: nothing needs invalidating. dateutil's ``rrule`` objects are
immutable once built (iterating one keeps its state in the iterator), so one parsed rule can
serve every request and thread of the worker.

**Walked once.** Starting an iteration of a parsed rule (dateutil builds its year and month
masks) then cost the most. So the walk of one rule over one search window (the wall-clock
starts found and the budget steps taken before each) is kept too (:data:`WALKS`, filled by the
walks requests make anyway) when it took at most :data:`CACHED_EXPANSION_STEPS` steps; a
request replays it, charging its budget the same steps in the same order, so budgets, limits
and early stops behave exactly as if it had walked. Longer walks, and walks a budget or a
caller cut short, are not kept.
"""

from __future__ import annotations

import calendar
import logging
import threading
import time as time_module
import zoneinfo
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType

from dateutil.rrule import rrule, rrulestr

logger = logging.getLogger(__name__)

#: Frequencies a calendar moment may have: finer ones are not moments, and cost the most.
ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: RFC 5545 rule parts Kairos accepts (dateutil's BYEASTER and friends are not RFC 5545).
ALLOWED_PARTS = frozenset(
    {
        "FREQ",
        "INTERVAL",
        "COUNT",
        "UNTIL",
        "WKST",
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
    }
)
#: ``INTERVAL=0`` loops forever in dateutil; beyond this nothing repeats within the years allowed.
MAX_INTERVAL = 400
#: Occurrences a rule may produce in one day: ``BYHOUR`` × ``BYMINUTE`` × ``BYSECOND`` values
#: (each date of a daily-or-coarser rule matches at most once, so this bounds a day exactly).
MAX_PER_DAY = 24
#: Values in one ``BY…`` part (``BYMONTHDAY`` may list every day of a month, from both ends).
MAX_BY_VALUES = 62
#: ``COUNT`` rules are expanded from their start (the count runs from there), so it is bounded.
MAX_COUNT = 5000
#: Dates of events (start, end, ``UNTIL``) and of the calendar Kairos expands, in years.
MIN_YEAR = 1970
MAX_YEAR = 2200
#: The longest event: a season, not a century.
MAX_DURATION = timedelta(days=366)

#: Occurrences one call of :func:`occurrences` yields at most.
MAX_OCCURRENCES = 5000
#: Per request (shared by every event a calendar request expands): occurrences returned, rule
#: steps taken (each date dateutil yields, in the window or not), and CPU seconds.
MAX_REQUEST_OCCURRENCES = 20_000
MAX_REQUEST_STEPS = 200_000
MAX_REQUEST_SECONDS = 2.0

#: The whole range Kairos expands: windows are clipped to it.
EXPANSION_START = datetime(MIN_YEAR - 1, 1, 1, tzinfo=UTC)
EXPANSION_END = datetime(MAX_YEAR + 1, 12, 31, tzinfo=UTC)

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_CYCLE_YEARS = 400  # the Gregorian calendar repeats exactly
_LAST_SAFE_YEAR = 9998  # dateutil stops at 9999


@dataclass(frozen=True, slots=True)
class Occurrence:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


@dataclass
class ExpansionBudget:
    """What one request may spend expanding rules, shared by all the events it expands.

    ``steps`` counts every date dateutil yields (inside the window or not): tests assert on it
    instead of on time. When a limit is reached, ``exhausted`` is set and expansion stops.
    """

    max_occurrences: int = MAX_REQUEST_OCCURRENCES
    max_steps: int = MAX_REQUEST_STEPS
    max_seconds: float = MAX_REQUEST_SECONDS
    occurrences: int = 0
    steps: int = 0
    exhausted: bool = False
    skipped: list[str] = field(default_factory=list)
    _started: float = field(default_factory=time_module.monotonic, repr=False)

    def step(self) -> bool:
        """Count one step; False when the budget is spent (checked on time every 256 steps)."""
        self.steps += 1
        if self.steps > self.max_steps or (
            self.steps % 256 == 0 and time_module.monotonic() - self._started > self.max_seconds
        ):
            self._exhaust("steps")
        return not self.exhausted

    def charge(self, steps: int) -> bool:
        """Count ``steps`` steps at once, as that many calls of :meth:`step` would (a kept
        expansion replayed charges its steps this way): the count stops at the step that
        spends the budget, and the clock is read when a multiple of 256 is crossed."""
        first, last = self.steps + 1, self.steps + steps
        if steps <= 0:
            return not self.exhausted
        stop = max(first, self.max_steps + 1) if last > self.max_steps else None
        boundary = -(-first // 256) * 256
        if (
            boundary <= last
            and (stop is None or boundary < stop)
            and time_module.monotonic() - self._started > self.max_seconds
        ):
            stop = boundary
        if stop is None:
            self.steps = last
            return not self.exhausted
        self.steps = stop
        self._exhaust("steps")
        return False

    def take(self) -> bool:
        """Count one occurrence returned; False when the request has returned enough."""
        if self.occurrences >= self.max_occurrences:
            self._exhaust("occurrences")
            return False
        self.occurrences += 1
        return True

    def _exhaust(self, what: str) -> None:
        if not self.exhausted:
            logger.warning(
                "recurrence expansion stopped: the request's %s budget is spent "
                "(%d occurrences, %d steps)",
                what,
                self.occurrences,
                self.steps,
            )
        self.exhausted = True


# --- validation --------------------------------------------------------------------------------


def _parts(text: str) -> dict[str, str]:
    """``{"FREQ": "DAILY", ...}`` from ``FREQ=DAILY;...`` (keys upper-cased, order kept)."""
    parts: dict[str, str] = {}
    for chunk in text.removeprefix("RRULE:").split(";"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        name = name.strip().upper()
        if name in parts:
            raise ValueError(f"{name} is given twice.")
        parts[name] = value.strip().upper()
    return parts


#: Parsed rules a worker keeps: every stored rule of a busy calendar, each from the few starts
#: (its own, and the period before each window asked for) it is expanded from.
PARSED_RULES_CACHE = 2048
#: Walks a worker keeps (a rule over a search window), the longest one kept, in steps (a daily
#: rule over the longest range the calendar serves takes about 110), and the starts kept in all
#: walks together: about 100 bytes each, so a worker holds at most ~10 MB of walks whatever
#: windows are asked for.
EXPANSIONS_CACHE = 4096
CACHED_EXPANSION_STEPS = 512
KEPT_STARTS = 100_000


@lru_cache(maxsize=PARSED_RULES_CACHE)
def _parsed_parts(text: str) -> MappingProxyType[str, str]:
    """:func:`_parts`, once per rule text, read-only (callers share it)."""
    return MappingProxyType(_parts(text))


@lru_cache(maxsize=PARSED_RULES_CACHE)
def _parsed_rule(text: str, dtstart: datetime, until: datetime | None = None) -> rrule:
    """``rrulestr(text, dtstart=dtstart)`` on naive wall-clock times, with ``UNTIL`` replaced
    when ``until`` is given; parsed once per key (see "Parsed once" above)."""
    rule = rrulestr(text, dtstart=dtstart, ignoretz=True)
    if until is not None:
        rule = rule.replace(until=until)
    return rule


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


@lru_cache(maxsize=2048)
def rule_problems(rule_text: str) -> tuple[str, ...]:
    """Why a rule's text is refused (empty when it is fine): the checks that need no event.

    Cheap and cached, so that every expansion can run it on stored rows too.
    """
    if not rule_text:
        return ()
    if len(rule_text) > 500:
        return ("A recurrence rule is at most 500 characters.",)
    text = rule_text.removeprefix("RRULE:")
    if "\n" in text or "DTSTART" in text.upper():
        return (
            "Give only the RRULE part (for example FREQ=YEARLY;BYMONTH=2); the start comes from "
            "the event.",
        )
    try:
        parts = _parts(text)
    except ValueError as exc:
        return (f"Not a valid RFC 5545 recurrence rule: {exc}",)
    unknown = sorted(set(parts) - ALLOWED_PARTS)
    if unknown:
        return (f"Unknown rule parts: {', '.join(unknown)}.",)
    frequency = parts.get("FREQ", "")
    if frequency not in ALLOWED_FREQUENCIES:
        if frequency in ("SECONDLY", "MINUTELY", "HOURLY"):
            return (f"Events repeat daily at most; {frequency} rules are not accepted.",)
        return ("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.",)
    problems: list[str] = []
    try:
        interval = int(parts.get("INTERVAL", "1"))
        if not 1 <= interval <= MAX_INTERVAL:
            problems.append(f"INTERVAL must be between 1 and {MAX_INTERVAL}.")
        if "COUNT" in parts:
            count = int(parts["COUNT"])
            if not 1 <= count <= MAX_COUNT:
                problems.append(f"COUNT must be between 1 and {MAX_COUNT}.")
            if "UNTIL" in parts:
                problems.append("Give COUNT or UNTIL, not both (RFC 5545).")
        per_day = 1
        for name in ("BYHOUR", "BYMINUTE", "BYSECOND"):
            if name in parts:
                per_day *= len(set(_ints(parts[name])))
        if per_day > MAX_PER_DAY:
            problems.append(
                f"This rule repeats {per_day} times a day; at most {MAX_PER_DAY} "
                "(BYHOUR × BYMINUTE × BYSECOND values)."
            )
        for name, value in parts.items():
            if name.startswith("BY") and len(value.split(",")) > MAX_BY_VALUES:
                problems.append(f"{name} lists at most {MAX_BY_VALUES} values.")
        if "UNTIL" in parts:
            year = int(parts["UNTIL"][:4])
            if not MIN_YEAR <= year <= MAX_YEAR:
                problems.append(f"UNTIL must be between the years {MIN_YEAR} and {MAX_YEAR}.")
    except ValueError:
        problems.append("INTERVAL, COUNT and the BY… parts take whole numbers.")
    if problems:
        return tuple(problems)
    try:
        rrulestr(text, dtstart=datetime(2000, 1, 1), ignoretz=True)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
        return (f"Not a valid RFC 5545 recurrence rule: {exc}",)
    return ()


def _year_problem(value: datetime | None) -> str | None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        return f"Must be between the years {MIN_YEAR} and {MAX_YEAR}."
    return None


def stored_problems(
    *, rule_text: str, starts_at: datetime, ends_at: datetime, time_zone: str
) -> dict[str, list[str]]:
    """Field problems an expansion can afford to check on every stored row (no rule walking)."""
    problems: dict[str, list[str]] = {}
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        message = _year_problem(value)
        if message:
            problems[name] = [message]
    if starts_at is not None and ends_at is not None:
        if ends_at < starts_at:
            problems.setdefault("ends_at", []).append("The event cannot end before it starts.")
        elif ends_at - starts_at > MAX_DURATION:
            problems.setdefault("ends_at", []).append(
                f"An event lasts at most {MAX_DURATION.days} days."
            )
    if rule_text:
        found = rule_problems(rule_text)
        if found:
            problems["rrule"] = list(found)
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        problems["time_zone"] = ["Not an IANA time zone."]
    return problems


def event_problems(
    *, rule_text: str, starts_at: datetime, ends_at: datetime, time_zone: str
) -> dict[str, list[str]]:
    """Every door's check of an event's timing: field name -> messages (empty when fine).

    :func:`stored_problems` plus a rule that never produces a date (``BYMONTH=2;BYMONTHDAY=30``).
    """
    problems = stored_problems(
        rule_text=rule_text, starts_at=starts_at, ends_at=ends_at, time_zone=time_zone
    )
    if rule_text and not problems and never_occurs(rule_text, starts_at, time_zone):
        problems["rrule"] = ["This rule never produces a date (for example the 30th of February)."]
    return problems


# --- expansion ---------------------------------------------------------------------------------


def wall_clock_to_utc(naive_local: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant of a repeating wall-clock time: in the spring gap, one hour later in real
    time; in the autumn overlap, the first of the two (shared by events and posting slots)."""
    aware = naive_local.replace(tzinfo=tz)
    # A wall-clock time in the spring gap does not exist: ZoneInfo maps it with the pre-gap
    # offset, which lands one hour later in real time, as RFC 5545 3.3.5 prescribes.
    return aware.astimezone(UTC)


_local_to_utc = wall_clock_to_utc  # the name benchmarks and older callers use


def _wkst(parts: dict[str, str]) -> int:
    value = parts.get("WKST")
    return _WEEKDAYS.index(value) if value in _WEEKDAYS else calendar.firstweekday()


def _period_start(parts: dict[str, str], local_start: datetime, target: datetime) -> datetime:
    """The start of the last period of the rule (every ``INTERVAL``-th day, week, month or year
    counted from the event's start) beginning at or before ``target``, or ``local_start``."""
    if target <= local_start:
        return local_start
    frequency = parts["FREQ"]
    interval = int(parts.get("INTERVAL", "1"))
    day0 = local_start.date()
    if frequency == "DAILY":
        days = (target.date() - day0).days // interval * interval
        candidate = datetime.combine(day0 + timedelta(days=days), time())
    elif frequency == "WEEKLY":
        week0 = day0 - timedelta(days=(day0.weekday() - _wkst(parts)) % 7)
        weeks = (target.date() - week0).days // 7 // interval * interval
        candidate = datetime.combine(week0 + timedelta(weeks=weeks), time())
    elif frequency == "MONTHLY":
        months = (target.year - day0.year) * 12 + target.month - day0.month
        index = day0.year * 12 + day0.month - 1 + months // interval * interval
        candidate = datetime(index // 12, index % 12 + 1, 1)
    else:  # YEARLY
        candidate = datetime(day0.year + (target.year - day0.year) // interval * interval, 1, 1)
    return candidate if candidate > local_start else local_start


def _with_defaults(parts: dict[str, str], local_start: datetime) -> dict[str, str]:
    """The rule with what it takes from its start written out (RFC 5545 3.3.10: the time of day,
    the weekday of a weekly rule, the day and month of a monthly or yearly one), so that it means
    the same from another start."""
    out = dict(parts)
    for name, value in (
        ("BYHOUR", local_start.hour),
        ("BYMINUTE", local_start.minute),
        ("BYSECOND", local_start.second),
    ):
        out.setdefault(name, str(value))
    if not any(n in parts for n in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
        if parts["FREQ"] == "YEARLY":
            out.setdefault("BYMONTH", str(local_start.month))
            out["BYMONTHDAY"] = str(local_start.day)
        elif parts["FREQ"] == "MONTHLY":
            out["BYMONTHDAY"] = str(local_start.day)
        elif parts["FREQ"] == "WEEKLY":
            out["BYDAY"] = _WEEKDAYS[local_start.weekday()]
    return out


def _shift(value: datetime, years: int) -> datetime:
    return value.replace(year=value.year + years)


def _local_starts(
    rule_text: str,
    local_start: datetime,
    search_from: datetime,
    search_end: datetime,
    budget: ExpansionBudget,
) -> Iterator[datetime]:
    """Wall-clock starts in ``[search_from, search_end]`` of a rule that passed
    :func:`rule_problems`, each date the rule yields counted as a step of ``budget``: replayed
    when this walk was kept (see "Walked once" above), else walked (:func:`_walk`) and kept if
    it ran to its end in at most :data:`CACHED_EXPANSION_STEPS` steps."""
    key = (rule_text, local_start, search_from, search_end)
    trace = WALKS.get(key)
    if trace is not None:
        taken = 0
        for steps, local in trace:
            while taken < steps:  # the steps the walk took before this start (or its end)
                taken += 1
                if not budget.step():
                    return
            if local is not None:
                yield local
        return
    counting = _CountingBudget(budget)
    recorded: list[tuple[int, datetime | None]] = []
    for local in _walk(rule_text, local_start, search_from, search_end, counting):
        if counting.steps <= CACHED_EXPANSION_STEPS:
            recorded.append((counting.steps, local))
        yield local
    # Here only when the walk ran to its end (a caller that stops early closes the generator
    # at the yield); a walk the budget cut short is not the whole walk.
    if not budget.exhausted and counting.steps <= CACHED_EXPANSION_STEPS:
        recorded.append((counting.steps, None))
        WALKS.put(key, tuple(recorded))


class _CountingBudget:
    """The request's budget, with the steps of one walk counted apart (to record them)."""

    __slots__ = ("budget", "steps")

    def __init__(self, budget: ExpansionBudget) -> None:
        self.budget, self.steps = budget, 0

    def step(self) -> bool:
        self.steps += 1
        return self.budget.step()


class KeptWalks:
    """A least-recently-used map of walks, shared by a worker's threads, bounded in walks and
    in the starts they hold together (a client asking for many windows cannot grow it)."""

    def __init__(self, size: int, max_starts: int = KEPT_STARTS) -> None:
        self.size, self.max_starts = size, max_starts
        self.hits = self.misses = 0
        self.starts = 0  #: starts (and ends) held by the kept walks
        self._walks: OrderedDict[tuple, tuple[tuple[int, datetime | None], ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[tuple[int, datetime | None], ...] | None:
        with self._lock:
            trace = self._walks.get(key)
            if trace is None:
                self.misses += 1
            else:
                self.hits += 1
                self._walks.move_to_end(key)
            return trace

    def put(self, key: tuple, trace: tuple[tuple[int, datetime | None], ...]) -> None:
        with self._lock:
            old = self._walks.pop(key, None)
            self.starts -= len(old) if old is not None else 0
            self._walks[key] = trace
            self.starts += len(trace)
            while len(self._walks) > self.size or self.starts > self.max_starts:
                self.starts -= len(self._walks.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._walks.clear()
            self.hits = self.misses = self.starts = 0

    def __len__(self) -> int:
        return len(self._walks)


#: The walks this worker keeps.
WALKS = KeptWalks(EXPANSIONS_CACHE)


class RecordingBudget:
    """The request's budget as one expansion sees it, with the steps it charges counted, so
    that the expansion can be kept as a trace (:func:`replay`): ``(steps charged so far, item)``
    for each item it gave, then ``(steps charged in all, None)``."""

    __slots__ = ("_skipped_before", "budget", "steps")

    def __init__(self, budget: ExpansionBudget) -> None:
        self.budget, self.steps = budget, 0
        self._skipped_before = len(budget.skipped)

    @property
    def exhausted(self) -> bool:
        return self.budget.exhausted

    @property
    def skipped(self) -> list[str]:
        return self.budget.skipped

    def step(self) -> bool:
        self.steps += 1
        return self.budget.step()

    def take(self) -> bool:
        return self.budget.take()

    @property
    def whole(self) -> bool:
        """True when only the expansion's inputs shaped what it gave: the budget never ran out
        (a budget cut is the request's, not the event's) and no stored row was skipped (a
        skipped row is logged on every request)."""
        return not self.budget.exhausted and len(self.budget.skipped) == self._skipped_before


def replay(trace: tuple[tuple[int, object], ...], budget: ExpansionBudget) -> list:
    """The items of a kept expansion, charging ``budget`` what expanding charged, in the same
    order: the steps taken before each item, one occurrence per item, then the last steps. A
    budget that runs out stops the replay where it would have stopped the expansion, so a
    replayed expansion and a fresh one give the same items and leave the same budget."""
    if budget.exhausted:  # occurrences() gives nothing on a spent budget
        return []
    items, charged = [], 0
    for steps, item in trace:
        if steps > charged:
            if not budget.charge(steps - charged):
                return items
            charged = steps
        if item is None:  # the end of the expansion
            return items
        if not budget.take():
            return items
        items.append(item)
    return items


def _walk(
    rule_text: str,
    local_start: datetime,
    search_from: datetime,
    search_end: datetime,
    budget: ExpansionBudget | _CountingBudget,
) -> Iterator[datetime]:
    """:func:`_local_starts`, walking the rule with dateutil."""
    if local_start > search_end:
        return
    parts = _parsed_parts(rule_text)
    until = _parsed_rule(rule_text.removeprefix("RRULE:"), local_start)._until
    if until is not None and until < search_from:
        return  # over before the window: nothing to look for
    if "COUNT" in parts:
        # The count runs from the event's start: walk from there (COUNT is at most MAX_COUNT).
        anchor, rule_parts = local_start, parts
    else:
        anchor = _period_start(parts, local_start, search_from)
        rule_parts = parts if anchor == local_start else _with_defaults(parts, local_start)
        rule_parts = {k: v for k, v in rule_parts.items() if k != "UNTIL"}
        until = min(until, search_end) if until is not None else search_end
    years = max(0, (_LAST_SAFE_YEAR - search_end.year) // _CYCLE_YEARS) * _CYCLE_YEARS
    text = ";".join(f"{k}={v}" for k, v in rule_parts.items())
    moved_until = _shift(until, years) if until is not None and "COUNT" not in parts else None
    rule = _parsed_rule(text, _shift(anchor, years), moved_until)
    for shifted in rule:
        if not budget.step():
            return
        local = _shift(shifted, -years)
        if local > search_end:
            return
        if local >= search_from:
            yield local


def occurrences(
    *,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    rule_text: str,
    window_start: datetime,
    window_end: datetime,
    limit: int = MAX_OCCURRENCES,
    budget: ExpansionBudget | None = None,
    label: str = "",
) -> Iterator[Occurrence]:
    """Occurrences overlapping ``[window_start, window_end)``; all datetimes aware, output in UTC.

    A stored event that fails :func:`stored_problems` yields nothing (and is logged, and named
    in ``budget.skipped``): a broken row must not break the calendar of its workspace.
    """
    budget = budget if budget is not None else ExpansionBudget()
    if budget.exhausted:
        return
    problems = stored_problems(
        rule_text=rule_text, starts_at=starts_at, ends_at=ends_at, time_zone=time_zone
    )
    if problems:
        logger.warning("recurrence: skipped %s: %s", label or "an event", problems)
        budget.skipped.append(label or rule_text)
        return
    window_start = max(window_start, EXPANSION_START)
    window_end = min(window_end, EXPANSION_END)
    if window_start >= window_end:
        return
    if not rule_text:
        if starts_at < window_end and ends_at > window_start and budget.take():
            yield Occurrence(starts_at.astimezone(UTC), ends_at.astimezone(UTC))
        return
    tz = zoneinfo.ZoneInfo(time_zone)
    duration = ends_at - starts_at
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    # Search from one duration (plus a day of zone offsets) before the window so that an
    # occurrence that began earlier but still overlaps is included.
    search_from = (window_start - duration - timedelta(days=1)).astimezone(tz).replace(tzinfo=None)
    search_end = (window_end + timedelta(days=1)).astimezone(tz).replace(tzinfo=None)
    emitted = 0
    for local in _local_starts(rule_text, local_start, search_from, search_end, budget):
        start = _local_to_utc(local, tz)
        if start >= window_end:
            break
        end = start + duration
        if end > window_start or (duration == timedelta(0) and start >= window_start):
            if not budget.take():
                return
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


#: How far back :func:`last_occurrence_end` looks from UNTIL, in periods of the rule.
_LOOK_BACK_PERIODS = (1, 8, 64, 512, 4096, 32768)
_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}


def last_occurrence_end(
    *, starts_at: datetime, ends_at: datetime, time_zone: str, rule_text: str
) -> datetime | None:
    """When the final occurrence ends, or ``None`` for a rule that never ends (or that Kairos
    would not expand: ``None`` only ever makes the event a candidate of more time ranges).

    Stored on the event so that a time-range query can use an index instead of expanding rules.
    A ``COUNT`` rule is walked from its start (at most :data:`MAX_COUNT` steps); an ``UNTIL``
    rule is searched backwards from ``UNTIL`` over growing spans, each expanded from the period
    that starts it, so a rule that runs for a century costs no more than one that runs a month.
    """
    if not rule_text:
        return ends_at
    if rule_problems(rule_text):
        return None
    tz = zoneinfo.ZoneInfo(time_zone)
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    parts = _parsed_parts(rule_text)
    budget = ExpansionBudget(max_occurrences=MAX_COUNT + 1, max_steps=10 * MAX_COUNT + 10)
    last: datetime | None = None
    far = datetime(MAX_YEAR + 1, 12, 31)
    # Walked, not replayed: this runs when an event is saved, over windows no request repeats.
    if "COUNT" in parts:
        for local in _walk(rule_text, local_start, local_start, far, budget):
            last = local
    elif "UNTIL" in parts:
        until = _parsed_rule(rule_text.removeprefix("RRULE:"), local_start)._until
        until = min(until, far)
        span = _PERIOD_DAYS[parts["FREQ"]] * int(parts.get("INTERVAL", "1"))
        for periods in _LOOK_BACK_PERIODS:
            begin = max(local_start, until - timedelta(days=span * periods))
            for local in _walk(rule_text, local_start, begin, until, budget):
                last = local
            if last is not None or begin == local_start:
                break
    else:
        return None
    if budget.exhausted:
        return None
    if last is None:
        return ends_at
    return _local_to_utc(last, tz) + (ends_at - starts_at)
