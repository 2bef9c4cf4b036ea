"""The calendar's entries are written out by hand (issue 16: DRF's field-by-field machinery was
half of a page's serialization). The hand-written form must be exactly what the declared fields
give, for every kind of entry and every zone, including the odd ones (no end, local mean time
offsets of 1908, all-day dates)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
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


@settings(max_examples=150, deadline=None)
@given(page=st.lists(entries(), max_size=6))
def test_a_page_written_directly_is_what_the_declared_fields_give(page) -> None:
    """The view writes a page with ``represent`` (no list serializer), and writes each entry
    once (event entries are shared between requests): first time, kept, or changed by a caller,
    the answer is the declared fields'."""
    from calendar_app.api.read.calendar_entries import represent

    serializer = CalendarEntrySerializer()
    expected = [serializer.generic_representation(entry) for entry in page]
    written = represent(page)
    assert written == expected
    for data in written:  # a caller changing its answer changes nobody else's
        data["title"] = None
        data["details"]["event"] = "changed"
    assert represent(page) == expected
    assert CalendarEntrySerializer(page, many=True).data == expected


ANSWER_ZONES = ("Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC")


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ANSWER_ZONES)
@pytest.mark.parametrize("with_brand", [True, False])
@pytest.mark.parametrize("kinds", ["event,content,template", "event", "content,template"])
def test_the_calendar_answer_is_the_serializers_byte_for_byte(
    workspace, brand, client_for, zone, with_brand, kinds
) -> None:
    """Kinds, zones across a DST change, all-day events, templates, published items: the answer
    the view writes is, byte for byte, the DRF serializer's page rendered by DRF."""
    from rest_framework.renderers import JSONRenderer

    from calendar_app.calendar_view import EVENT_PARTS, calendar_page
    from calendar_app.models import Role
    from tests import factories as f
    from tests.calendar_feeds.conftest import api
    from tests.calendar_feeds.test_calendar_pages import _world

    _world(workspace, brand, f.BrandFactory(workspace=workspace))
    for n, rule in enumerate(["", "FREQ=WEEKLY;BYDAY=SU"]):
        f.EventFactory(
            workspace=workspace,
            title=f"All day {n}",
            all_day=True,
            time_zone="America/New_York",
            starts_at=datetime(2027, 3, 13 + n, 5, tzinfo=UTC),
            ends_at=datetime(2027, 3, 14 + n, 5, tzinfo=UTC),
            rrule=rule,
        )
    client = client_for(Role.VIEWER)
    query = {"start": "2027-03-01", "end": "2027-05-31", "tz": zone, "kinds": kinds}
    if with_brand:
        query["brand"] = brand.pk
    serializer = CalendarEntrySerializer()
    for page_number, size in [(1, 100), (1, 7), (3, 7), (2, 50)]:
        for _ in range(2):  # the first request expands and writes; the second is kept
            response = client.get(
                api(workspace, "calendar/"), {**query, "page": page_number, "page_size": size}
            )
            if response.status_code == 404 and page_number > 1:  # past the last page
                assert response.json()["detail"] == "Invalid page."
                continue
            assert response.status_code == 200, response.content
            data = response.json()
            computed = calendar_page(
                workspace,
                start=datetime.fromisoformat(data["start"]),
                end=datetime.fromisoformat(data["end"]),
                brand=brand if with_brand else None,
                tz=zone,
                kinds=kinds.split(","),
                offset=(page_number - 1) * size,
                limit=size,
            )
            expected = dict(data)
            expected["results"] = [
                serializer.generic_representation(entry) for entry in computed.entries
            ]
            assert expected["count"] == computed.count
            assert response.content == JSONRenderer().render(expected)
    assert len(EVENT_PARTS) > 0 or kinds == "content,template"
