"""Parsed recurrence rules are kept between requests (issue 16): the calendar expands the same
stored rules on every request, and parsing them again cost more than walking them.

The cache is keyed on the rule's text and start, so an edited event gets new entries by itself,
and a cached rule gives exactly what a fresh parse gives (the bounds tests compare the expansion
with a naive walk; here the same expansion is compared cold and warm).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app import recurrence
from calendar_app.recurrence import (
    CACHED_EXPANSION_STEPS,
    WALKS,
    ExpansionBudget,
    _local_starts,
    _parsed_rule,
    _walk,
    occurrences,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cold_cache():
    _cold()
    yield
    _cold()


def _cold() -> None:
    _parsed_rule.cache_clear()
    recurrence._parsed_parts.cache_clear()
    WALKS.clear()


def month(rule: str, start: datetime, window: tuple[datetime, datetime], zone="Europe/Paris"):
    return list(
        occurrences(
            starts_at=start,
            ends_at=start.replace(hour=start.hour + 1),
            time_zone=zone,
            rule_text=rule,
            window_start=window[0],
            window_end=window[1],
        )
    )


def test_a_rule_is_parsed_and_walked_once_for_every_request_of_the_same_window() -> None:
    start, may = utc(2027, 1, 4, 9), (utc(2027, 5, 1), utc(2027, 6, 1))
    first = month("FREQ=WEEKLY;BYDAY=MO,WE", start, may)
    parsed, walked = _parsed_rule.cache_info().misses, WALKS.misses
    for _ in range(5):
        assert month("FREQ=WEEKLY;BYDAY=MO,WE", start, may) == first
    assert _parsed_rule.cache_info().misses == parsed  # never parsed again
    assert WALKS.misses == walked and WALKS.hits == 5  # never walked again
    assert len(first) == 9


def test_an_edited_rule_or_start_is_a_new_key_not_a_stale_answer() -> None:
    may = (utc(2027, 5, 1), utc(2027, 6, 1))
    weekly = month("FREQ=WEEKLY", utc(2027, 1, 4, 9), may)
    daily = month("FREQ=DAILY", utc(2027, 1, 4, 9), may)
    moved = month("FREQ=WEEKLY", utc(2027, 1, 5, 9), may)
    assert (len(weekly), len(daily), len(moved)) == (5, 31, 4)
    assert {o.starts_at.weekday() for o in weekly} == {0}
    assert {o.starts_at.weekday() for o in moved} == {1}


def test_the_cache_is_bounded() -> None:
    for n in range(recurrence.PARSED_RULES_CACHE + 50):
        _parsed_rule("FREQ=DAILY", datetime(2027, 1, 1) + timedelta(days=n))
    assert _parsed_rule.cache_info().currsize == recurrence.PARSED_RULES_CACHE


@settings(max_examples=60, deadline=None)
@given(
    rule=st.sampled_from(
        [
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=WEEKLY;BYDAY=MO,FR;UNTIL=20280101T000000Z",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "FREQ=WEEKLY;COUNT=40",
        ]
    ),
    day=st.integers(0, 700),
    offset=st.integers(0, 300),
)
def test_a_warm_cache_gives_what_a_cold_parse_gives(rule: str, day: int, offset: int) -> None:
    start = utc(2026, 1, 1, 8) + timedelta(days=day)
    window = (start + timedelta(days=offset), start + timedelta(days=offset + 100))
    _cold()
    cold = month(rule, start, window)
    assert month(rule, start, window) == cold


RULES = [
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=2;BYHOUR=8,20",
    "FREQ=DAILY;BYHOUR=6,12,18",  # over a year: too long to keep, walked each time
    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=300",
    "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20300101T000000Z",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
]


@settings(max_examples=120, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    offset=st.integers(0, 900),
    days=st.integers(1, 400),
    max_steps=st.integers(1, 2 * CACHED_EXPANSION_STEPS),
    stop_after=st.one_of(st.none(), st.integers(0, 40)),
)
def test_a_replayed_walk_charges_the_budget_exactly_like_a_walk(
    rule: str, offset: int, days: int, max_steps: int, stop_after: int | None
) -> None:
    """Same starts, same steps, same exhaustion, whether the walk is replayed from the cache
    (short walks), walked because it is too long to keep, or stopped early by the caller."""
    local_start = datetime(2027, 1, 4, 9)
    search_from = local_start + timedelta(days=offset)
    search_end = search_from + timedelta(days=days)

    def run(starts) -> tuple[list[datetime], int, bool]:
        budget = ExpansionBudget(max_steps=max_steps, max_seconds=float("inf"))
        got = []
        for local in starts(rule, local_start, search_from, search_end, budget):
            got.append(local)
            if stop_after is not None and len(got) >= stop_after:
                break
        return got, budget.steps, budget.exhausted

    walked = run(_walk)
    assert run(_local_starts) == walked  # cold: probed (and kept, if short enough)
    assert run(_local_starts) == walked  # warm: replayed


def test_only_short_whole_walks_are_kept() -> None:
    start = datetime(2027, 1, 4, 9)
    may = (datetime(2027, 5, 1), datetime(2027, 6, 1))
    year = (datetime(2027, 5, 1), datetime(2028, 5, 1))

    def walk(rule, window, budget=None, stop=None):
        budget = budget or ExpansionBudget(max_seconds=float("inf"))
        for n, _ in enumerate(_local_starts(rule, start, *window, budget), 1):
            if n == stop:
                break
        return WALKS.get((rule, start, *window))

    assert walk("FREQ=DAILY", may, stop=5) is None  # the caller stopped early
    assert walk("FREQ=DAILY", may, ExpansionBudget(max_steps=10)) is None  # the budget did
    assert len(walk("FREQ=DAILY", may)) == 32  # 31 starts, then the end
    assert walk("FREQ=DAILY;BYHOUR=6,12,18", year) is None  # over 512 steps


def test_the_kept_walks_are_bounded() -> None:
    for n in range(WALKS.size + 10):
        begin = datetime(2027, 1, 1) + timedelta(days=n)
        budget = ExpansionBudget(max_seconds=float("inf"))
        list(_local_starts("FREQ=WEEKLY", datetime(2027, 1, 4, 9), begin, begin, budget))
    assert len(WALKS) == WALKS.size


def test_the_kept_walks_are_bounded_in_starts_too() -> None:
    """A client asking for window after window of a rule that repeats 24 times a day cannot make
    a worker keep ~500 starts per window thousands of times over."""
    from calendar_app.recurrence import KeptWalks

    walks = KeptWalks(size=100, max_starts=1000)
    trace = tuple((n, None) for n in range(300))
    for n in range(10):
        walks.put(("rule", n), trace)
        assert walks.starts <= 1000
    assert len(walks) == 3 and walks.starts == 900
    assert walks.get(("rule", 9)) is trace and walks.get(("rule", 0)) is None
    walks.put(("rule", 9), trace[:10])  # a key kept again replaces its walk
    assert walks.starts == 610
