"""Date-times read as text for writing out (calendar_app.sql.utc_text): the text is ``str()`` of
the value Django loads, reads back to it, and writes the answer DRF writes, on both databases,
for any instant, a row written by hand in another shape, and no value at all."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.fields import DateTimeField

from calendar_app.models import ContentItem
from calendar_app.sql.converters import one_argument_converters
from calendar_app.sql.utc_text import UTCText, iso_in, to_datetime, utc_text
from tests import factories as f
from tests.api.test_stored_datetimes import ZONES, instants

pytestmark = pytest.mark.django_db


def drf(value: datetime, zone: str) -> str:
    """What the serializer writes for ``value`` with ``zone`` the current zone."""
    field = DateTimeField(default_timezone=ZoneInfo(zone))
    return field.to_representation(value)


def read(pk: int) -> tuple[datetime | None, str | None]:
    """The ORM's value of the item's ``scheduled_at``, and its text."""
    return (
        ContentItem.objects.filter(pk=pk)
        .annotate(text=UTCText("scheduled_at"))
        .values_list("scheduled_at", "text")
        .get()
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(instant=instants, zone=st.sampled_from(ZONES))
def test_the_text_is_the_values_str_and_writes_what_drf_writes(instant, zone):
    instant = instant.astimezone(UTC)  # an instant (a time in a DST gap compares unequal)
    item = f.ContentItemFactory()
    ContentItem.objects.filter(pk=item.pk).update(scheduled_at=instant)
    value, text = read(item.pk)
    assert text == str(value)
    assert to_datetime(text) == value == instant
    assert to_datetime(text).utcoffset() == value.utcoffset()
    assert iso_in(text, ZoneInfo(zone)) == iso_in(value, ZoneInfo(zone)) == drf(value, zone)
    assert iso_in(text, UTC) == drf(value, "UTC")


def test_no_value_stays_none():
    item = f.ContentItemFactory(scheduled_at=None)
    assert read(item.pk) == (None, None)
    assert iso_in(None, UTC) is None
    assert to_datetime(None) is None


def test_the_database_writes_the_text_without_python():
    """SQLite gives the stored text, PostgreSQL writes it with ``to_char`` in UTC (microseconds
    dropped when zero, as ``str()`` drops them); Python only adds the offset."""
    stamps = [
        datetime(2027, 3, 28, 0, 59, 59, 999_999, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 0, tzinfo=UTC),
    ]
    items = [f.ContentItemFactory(scheduled_at=stamp) for stamp in stamps]
    sql, params = (
        ContentItem.objects.filter(pk__in=[item.pk for item in items])
        .order_by("pk")
        .annotate(text=UTCText("scheduled_at"))
        .values_list("text")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = [row[0] for row in cursor.fetchall()]
    assert raw == ["2027-03-28 00:59:59.999999", "2027-10-31 01:00:00"]
    assert [utc_text(text) for text in raw] == [str(stamp) for stamp in stamps]


def test_a_row_written_by_hand_in_another_shape_reads_as_django_reads_it():
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite stores a date-time as text a hand may write otherwise")
    item = f.ContentItemFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE calendar_app_contentitem SET scheduled_at = %s WHERE id = %s",
            ["2027-03-28T03:30:00.5+02:00", item.pk],
        )
    value, text = read(item.pk)
    assert text == str(value) == "2027-03-28 03:30:00.500000+02:00"
    assert to_datetime(text) == value
    assert iso_in(text, UTC) == drf(value, "UTC") == "2027-03-28T01:30:00.500000Z"
    assert iso_in(text, ZoneInfo("Europe/Paris")) == drf(value, "Europe/Paris")


@pytest.mark.parametrize("junk", ["yesterday", "2027-02-30 10:00:00x"])
def test_text_that_is_no_date_time_is_an_error_as_in_django(junk):
    with pytest.raises(ValueError):
        utc_text(junk)


def test_a_naive_datetime_from_a_driver_is_utc():
    assert utc_text(datetime(2027, 1, 2, 3, 4, 5)) == "2027-01-02 03:04:05+00:00"
    assert utc_text(datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2027-01-02 03:04:05+00:00"


def test_the_fast_converters_take_the_fields_own_one_argument_function():
    query = ContentItem.objects.annotate(text=UTCText("scheduled_at")).values_list("text").query
    compiler = query.get_compiler(connection.alias)
    compiler.setup_query()
    fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
    table = one_argument_converters(compiler.get_converters(fields), connection)
    assert [functions for _, functions in table] == [(utc_text,)]
