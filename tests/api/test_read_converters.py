"""Rows converted without Django's generic loop (calendar_app.sql.converters) are the
rows Django's ``values()`` gives: every column type the read path meets, on both databases,
and any other converter called as Django calls it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import DecimalField, F, JSONField, Value
from django.db.models.functions import Cast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.api.read.content_items import COLUMNS
from calendar_app.models import ContentItem
from calendar_app.sql.converters import FastValuesIterable, _json
from tests import factories as f

pytestmark = pytest.mark.django_db

text = st.text(st.characters(exclude_characters="\x00"), max_size=8)  # PostgreSQL refuses NUL
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=5,
)
instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _both(queryset):
    fast = queryset._chain()
    fast._iterable_class = FastValuesIterable
    return list(queryset), list(fast)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    links=st.lists(text, max_size=3),
    media=json_values.filter(lambda value: value is not None),
    thread=json_values.filter(lambda value: value is not None),
    scheduled=st.none() | instants,
    created=instants,
    tolerance=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    without_cta=st.booleans(),
)
def test_content_rows_are_djangos(
    workspace, links, media, thread, scheduled, created, tolerance, without_cta
):
    item = f.ContentItemFactory(
        workspace=workspace,
        brand__workspace=workspace,
        links=links,
        media=media,
        thread=thread,
        scheduled_at=scheduled,
        lateness_tolerance=tolerance,
        without_cta=without_cta,
    )
    ContentItem.objects.filter(pk=item.pk).update(created_at=created)
    expected, fast = _both(ContentItem.objects.filter(pk=item.pk).values(*COLUMNS))
    assert fast == expected
    assert [type(value) for value in fast[0].values()] == [
        type(value) for value in expected[0].values()
    ]
    assert fast[0]["created_at"].utcoffset() == timedelta(0)
    item.delete()


def test_empty_json_texts_are_new_objects_each_time():
    first, second = _json("[]"), _json("[]")
    assert first == second == [] and first is not second
    assert _json("{}") == {} and _json("null") is None and _json('"[]"') == "[]"
    assert _json("not json") == "not json"  # as JSONField.from_db_value answers


def test_other_converters_are_called_as_django_calls_them(workspace):
    f.ContentItemFactory.create_batch(3, workspace=workspace, brand__workspace=workspace)
    queryset = (
        ContentItem.objects.order_by("pk")
        .annotate(
            price=Cast(Value("12.50"), DecimalField(max_digits=6, decimal_places=2)),
            doc=Cast(F("media"), JSONField()),
            label=Value("x"),
        )
        .values("pk", "price", "doc", "label", "created_at", "media__0")
    )
    expected, fast = _both(queryset)
    assert fast == expected
    assert fast[0]["price"] == Decimal("12.50")


def test_a_text_date_time_refused_by_fromisoformat_goes_to_django(workspace):
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite stores date-times as text")
    item = f.ContentItemFactory(workspace=workspace, brand__workspace=workspace)
    with connection.cursor() as cursor:  # a form parse_datetime's pattern accepts
        cursor.execute(
            "UPDATE calendar_app_contentitem SET created_at = %s WHERE id = %s",
            ["2027-03-28 01:00:00,5", item.pk],
        )
    expected, fast = _both(ContentItem.objects.filter(pk=item.pk).values("created_at"))
    assert fast == expected
