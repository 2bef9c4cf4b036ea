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
from calendar_app.recurrence import _parsed_rule, occurrences


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cold_cache():
    _parsed_rule.cache_clear()
    recurrence._parsed_parts.cache_clear()
    yield
    _parsed_rule.cache_clear()
    recurrence._parsed_parts.cache_clear()


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


def test_a_rule_is_parsed_once_for_every_request_of_the_same_window() -> None:
    start, may = utc(2027, 1, 4, 9), (utc(2027, 5, 1), utc(2027, 6, 1))
    first = month("FREQ=WEEKLY;BYDAY=MO,WE", start, may)
    parsed = _parsed_rule.cache_info().misses
    for _ in range(5):
        assert month("FREQ=WEEKLY;BYDAY=MO,WE", start, may) == first
    info = _parsed_rule.cache_info()
    assert info.misses == parsed and info.hits >= 10  # two lookups a request, all hits
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
    _parsed_rule.cache_clear()
    recurrence._parsed_parts.cache_clear()
    cold = month(rule, start, window)
    assert month(rule, start, window) == cold
