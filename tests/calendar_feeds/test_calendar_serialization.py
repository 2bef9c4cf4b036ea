"""The calendar's entries are written out by hand (issue 16: DRF's field-by-field machinery was
half of a page's serialization). The hand-written form must be exactly what the declared fields
give, for every kind of entry and every zone, including the odd ones (no end, local mean time
offsets of 1908, all-day dates)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app.api.serializers.calendar import CalendarEntrySerializer
from calendar_app.calendar_view import KINDS, CalendarEntry

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")

instants = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 12, 31),
        timezones=st.sampled_from(ZONES).map(zoneinfo.ZoneInfo),
    ),
)
optional_text = st.one_of(st.none(), st.text(max_size=20))
optional_int = st.one_of(st.none(), st.integers(0, 2**40))
details = st.one_of(
    st.fixed_dictionaries(
        {
            "location": st.text(max_size=10),
            "themes": st.lists(st.text(max_size=5), max_size=3),
            "is_global": st.booleans(),
        }
    ),
    st.fixed_dictionaries({"scheduled_at": instants, "event": optional_int}),
    st.fixed_dictionaries({"scenario": st.text(max_size=10), "event": optional_int}),
)


@st.composite
def entries(draw) -> CalendarEntry:
    dates = draw(st.one_of(st.none(), st.dates(min_value=date(1970, 1, 1))))
    return CalendarEntry(
        kind=draw(st.sampled_from(KINDS)),
        id=draw(st.integers(1, 2**40)),
        title=draw(st.text(max_size=30)),
        start=draw(instants),
        end=draw(instants),
        tz=zoneinfo.ZoneInfo(draw(st.sampled_from(ZONES))),
        all_day=draw(st.booleans()),
        brand_id=draw(optional_int),
        brand_name=draw(optional_text),
        status=draw(optional_text),
        channels_count=draw(optional_int),
        fit_score=draw(st.one_of(st.none(), st.integers(0, 100))),
        time_zone=draw(st.one_of(st.none(), st.sampled_from(ZONES))),
        recurring=draw(st.booleans()),
        start_date=dates,
        end_date=dates + timedelta(days=1) if dates is not None else None,
        details=draw(details),
    )


@settings(max_examples=300, deadline=None)
@given(entry=entries())
def test_the_hand_written_entry_is_what_the_declared_fields_give(entry: CalendarEntry) -> None:
    serializer = CalendarEntrySerializer()
    assert serializer.to_representation(entry) == serializer.generic_representation(entry)


def test_a_1908_local_time_keeps_a_whole_minute_offset() -> None:
    entry = CalendarEntry(
        kind="event",
        id=1,
        title="Exposition",
        start=datetime(1908, 5, 1, 12, tzinfo=UTC),
        end=None,
        tz=zoneinfo.ZoneInfo("Europe/Paris"),
    )
    data = CalendarEntrySerializer().to_representation(entry)
    assert data["start"] == "1908-05-01T12:00:00Z" and data["end_local"] is None
    assert data["start_local"] == "1908-05-01T12:09:00+00:09"
    assert data == CalendarEntrySerializer().generic_representation(entry)
