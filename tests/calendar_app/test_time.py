"""Recurrence and local times across daylight-saving changes (Europe 2027-03-28 / 2027-10-31,
US 2027-03-14 / 2027-11-07)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app.recurrence import last_occurrence_end, occurrences
from calendar_app.timeutils import is_ambiguous, local_to_utc
from tests import factories as f


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_wall_clock_time_survives_the_spring_change() -> None:
    """A Thursday 09:00 Paris meeting is 08:00 UTC in winter and 07:00 UTC after the change."""
    start = local_to_utc(datetime(2027, 3, 18, 9, 0), "Europe/Paris")
    found = list(
        occurrences(
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            time_zone="Europe/Paris",
            rule_text="FREQ=WEEKLY;COUNT=4",
            window_start=utc(2027, 3, 1),
            window_end=utc(2027, 5, 1),
        )
    )
    assert [o.starts_at for o in found] == [
        utc(2027, 3, 18, 8),
        utc(2027, 3, 25, 8),
        utc(2027, 4, 1, 7),
        utc(2027, 4, 8, 7),
    ]
    assert all(o.ends_at - o.starts_at == timedelta(hours=1) for o in found)


def test_daily_occurrence_in_the_autumn_overlap_takes_the_first_instant() -> None:
    start = local_to_utc(datetime(2027, 10, 30, 2, 30), "Europe/Paris")
    found = list(
        occurrences(
            starts_at=start,
            ends_at=start,
            time_zone="Europe/Paris",
            rule_text="FREQ=DAILY;COUNT=3",
            window_start=utc(2027, 10, 1),
            window_end=utc(2027, 12, 1),
        )
    )
    # 02:30 CEST (+2) on the 30th, 02:30 CEST again on the 31st (first of the two), 02:30 CET (+1).
    assert [o.starts_at for o in found] == [
        utc(2027, 10, 30, 0, 30),
        utc(2027, 10, 31, 0, 30),
        utc(2027, 11, 1, 1, 30),
    ]


def test_occurrence_in_the_spring_gap_moves_forward_an_hour() -> None:
    start = local_to_utc(datetime(2027, 3, 13, 2, 30), "America/New_York")
    found = list(
        occurrences(
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            time_zone="America/New_York",
            rule_text="FREQ=DAILY;COUNT=3",
            window_start=utc(2027, 3, 1),
            window_end=utc(2027, 4, 1),
        )
    )
    # 02:30 on 2027-03-14 does not exist in New York: RFC 5545 says use 03:30 EDT = 07:30 UTC.
    assert [o.starts_at for o in found] == [
        utc(2027, 3, 13, 7, 30),
        utc(2027, 3, 14, 7, 30),
        utc(2027, 3, 15, 6, 30),
    ]


def test_window_includes_an_occurrence_already_running() -> None:
    start = utc(2027, 2, 14, 23, 30)
    found = list(
        occurrences(
            starts_at=start,
            ends_at=start + timedelta(hours=4),
            time_zone="America/Los_Angeles",
            rule_text="FREQ=YEARLY",
            window_start=utc(2028, 2, 15, 1),
            window_end=utc(2028, 2, 15, 2),
        )
    )
    assert [o.starts_at for o in found] == [utc(2028, 2, 14, 23, 30)]


def test_single_event_overlap() -> None:
    kwargs = {
        "starts_at": utc(2027, 1, 5, 10),
        "ends_at": utc(2027, 1, 8, 18),
        "time_zone": "UTC",
        "rule_text": "",
    }
    assert list(occurrences(**kwargs, window_start=utc(2027, 1, 7), window_end=utc(2027, 1, 9)))
    assert not list(
        occurrences(**kwargs, window_start=utc(2027, 1, 9), window_end=utc(2027, 1, 10))
    )


def test_last_occurrence_end() -> None:
    start = utc(2027, 1, 1, 10)
    end = start + timedelta(hours=2)
    assert last_occurrence_end(starts_at=start, ends_at=end, time_zone="UTC", rule_text="") == end
    assert (
        last_occurrence_end(starts_at=start, ends_at=end, time_zone="UTC", rule_text="FREQ=YEARLY")
        is None
    )
    assert last_occurrence_end(
        starts_at=start, ends_at=end, time_zone="UTC", rule_text="FREQ=DAILY;COUNT=3"
    ) == utc(2027, 1, 3, 12)


@pytest.mark.django_db
def test_event_overlapping_query_finds_recurring_and_single_events() -> None:
    from calendar_app.models import Event

    yearly = f.EventFactory(
        starts_at=utc(2020, 12, 25, 0), ends_at=utc(2020, 12, 26, 0), rrule="FREQ=YEARLY"
    )
    past = f.EventFactory(starts_at=utc(2026, 1, 1), ends_at=utc(2026, 1, 2))
    inside = f.EventFactory(starts_at=utc(2027, 12, 10), ends_at=utc(2027, 12, 11))
    found = set(Event.objects.overlapping(utc(2027, 12, 1), utc(2028, 1, 1)))
    assert found == {yearly, inside}
    assert past not in found
    assert [o.starts_at for o in yearly.occurrences_between(utc(2027, 12, 1), utc(2028, 1, 1))] == [
        utc(2027, 12, 25, 0)
    ]


def test_local_to_utc_refuses_a_time_in_the_gap() -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        local_to_utc(datetime(2027, 3, 14, 2, 30), "America/New_York")


def test_local_to_utc_overlap_defaults_to_the_first_instant() -> None:
    assert is_ambiguous(datetime(2027, 10, 31, 2, 30), "Europe/Paris")
    assert local_to_utc(datetime(2027, 10, 31, 2, 30), "Europe/Paris") == utc(2027, 10, 31, 0, 30)
    assert local_to_utc(datetime(2027, 10, 31, 2, 30), "Europe/Paris", fold=1) == utc(
        2027, 10, 31, 1, 30
    )


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from(
        ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
    ),
)
def test_local_to_utc_round_trips_or_refuses(value, zone) -> None:
    try:
        instant = local_to_utc(value, zone)
    except ValidationError:
        return
    from zoneinfo import ZoneInfo

    assert instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == value
