"""Recurrence expansion: a far window on an old event, before and after the jump (issue 14).

Pure functions, no database. For each scenario: the steps (dates dateutil yields) and the time
of one expansion, median of N runs, for

* ``naive``: the expansion as it was before the fix, dateutil walking from the event's start up
  to the window (kept here as the reference; the tests hold the same function);
* ``jumped``: :func:`calendar_app.recurrence.occurrences`, which starts from the rule's period
  just before the window and counts its steps against an ``ExpansionBudget``.

Scenarios: a 24-a-day rule from 1971 asked about 100 days of 2190; a weekly rule from 1971 asked
about the same range; a rule whose periods are all empty (``BYMONTH=2;BYMONTHDAY=30``, stored
around the checks), where the naive walk searches until the year 9999 and the jumped one, run
400-year cycles later, gives up after a few centuries. ``INTERVAL=0`` is not measured before:
the naive walk never ends.
"""

from __future__ import annotations

import statistics
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

WINDOW = (datetime(2190, 1, 1, tzinfo=UTC), datetime(2190, 4, 11, tzinfo=UTC))
SCENARIOS = {
    "daily_24_a_day_since_1971": "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))),
    "weekly_since_1971": "FREQ=WEEKLY",
    "never_matching_stored": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
}


def _naive(rule_text: str, starts_at: datetime, ends_at: datetime, zone: str) -> tuple[int, int]:
    from dateutil.rrule import rrulestr

    from calendar_app.recurrence import _local_to_utc

    tz = zoneinfo.ZoneInfo(zone)
    duration = ends_at - starts_at
    rule = rrulestr(rule_text, dtstart=starts_at.astimezone(tz).replace(tzinfo=None), ignoretz=True)
    search_from = (WINDOW[0] - duration - timedelta(days=1)).astimezone(tz).replace(tzinfo=None)
    steps = found = 0
    for local in rule:
        steps += 1
        if local < search_from:
            continue
        start = _local_to_utc(local, tz)
        if start >= WINDOW[1]:
            break
        if start + duration > WINDOW[0]:
            found += 1
    return steps, found


def _jumped(rule_text: str, starts_at: datetime, ends_at: datetime, zone: str) -> tuple[int, int]:
    from calendar_app.recurrence import ExpansionBudget, occurrences

    budget = ExpansionBudget()
    found = list(
        occurrences(
            starts_at=starts_at,
            ends_at=ends_at,
            time_zone=zone,
            rule_text=rule_text,
            window_start=WINDOW[0],
            window_end=WINDOW[1],
            budget=budget,
        )
    )
    return budget.steps, len(found)


def _time(function, *args, runs: int) -> tuple[dict, float]:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        steps, found = function(*args)
        timings.append(time.perf_counter() - began)
    return {"steps": steps, "occurrences": found}, round(statistics.median(timings) * 1000, 2)


def run(*, quick: bool, scratch: Path) -> dict:
    runs = 1 if quick else 5
    zone = "Europe/Paris"
    starts_at = datetime(1971, 1, 1, 9, tzinfo=UTC)
    ends_at = starts_at + timedelta(minutes=15)
    figures: dict = {"window": [w.isoformat() for w in WINDOW], "runs": runs}
    for name, rule in SCENARIOS.items():
        row = {"rule": rule}
        for label, function in (("naive", _naive), ("jumped", _jumped)):
            counts, ms = _time(function, rule, starts_at, ends_at, zone, runs=runs)
            row[label] = {**counts, "median_ms": ms}
        figures[name] = row
    return figures
