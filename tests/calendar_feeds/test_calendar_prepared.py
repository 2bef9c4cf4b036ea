"""The calendar's counts and page slice run SQL compiled once per shape (issue 16): they must
give what the ORM's querysets give, for every shape (kinds, brand or not), page window and
range, on both databases, and be compiled (not fall back to the ORM) on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app import calendar_view
from calendar_app.calendar_view import _ordered_union, _prepared_keys, _row_parts
from calendar_app.models import ContentItem
from calendar_app.sql.prepared import PreparedCount, PreparedSum
from tests import factories as f
from tests.calendar_feeds.test_calendar_pages import END, START, _world

SHAPES = [
    {"content"},
    {"template"},
    {"content", "template"},
    {"event", "content", "template"},
]


def _orm(workspace, brand, start, end, kinds, window):
    parts = _row_parts(workspace, brand, start, end, kinds)
    keys = _ordered_union(parts)
    return [part.count() for part in parts], list(keys[window[0] : window[1]])


def _prepared(workspace, brand, start, end, kinds, window):
    branches = calendar_view._branches(kinds)
    values = calendar_view._values(workspace.pk, brand.pk if brand else None, start, end)
    (total, count_names), (keys, names) = _prepared_keys(branches, brand is not None)
    given = [calendar_view._pick(values, n) for n in count_names]
    found = [count.count(*g) for count, g in zip(total.counts, given, strict=True)]
    with CaptureQueriesContext(connection) as summed:
        assert total.total(*given) == sum(found)
    assert len(summed) == 1  # the branches' counts in one statement
    return found, keys.rows(*calendar_view._pick(values, names), window=window)


@pytest.mark.parametrize("with_brand", [True, False])
@pytest.mark.parametrize("kinds", SHAPES, ids=lambda kinds: "+".join(sorted(kinds)))
def test_the_prepared_counts_and_slices_are_the_orms(workspace, brand, kinds, with_brand):
    _world(workspace, brand, f.BrandFactory(workspace=workspace))
    scope = brand if with_brand else None
    ranges = [
        (START, END),
        (START + timedelta(days=4, hours=7), START + timedelta(days=21)),
        (datetime(2027, 5, 10, 9, tzinfo=UTC), datetime(2027, 5, 10, 9, 1, tzinfo=UTC)),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 2, 1, tzinfo=UTC)),  # nothing there
    ]
    for start, end in ranges:
        for window in [(0, 100), (0, 1), (3, 7), (5, 6), (20, 40), (200, 300)]:
            expected = _orm(workspace, scope, start, end, kinds, window)
            assert _prepared(workspace, scope, start, end, kinds, window) == expected
    (total, _), (keys, _) = _prepared_keys(calendar_view._branches(kinds), with_brand)
    # compiled once, and run as compiled: not handed back to the ORM
    assert keys._prepared["default"] is not None
    assert all(count._prepared["default"] is not None for count in total.counts)


def test_a_count_the_stand_ins_do_not_survive_is_counted_by_the_orm(workspace, brand):
    f.ContentItemFactory(workspace=workspace, brand=brand, title="Spring sale")
    count = PreparedCount(
        lambda text: ContentItem.objects.filter(title__icontains=text), stand_ins=["Stand-in%_"]
    )
    assert count.count("SPRING") == 1 and count.count("%") == 0
    assert count._prepared == {"default": None}


def test_a_value_that_is_neither_a_stand_in_nor_a_constant_falls_back(workspace, brand):
    f.ContentItemFactory(workspace=workspace, brand=brand, status="draft")
    count = PreparedCount(
        lambda ws: ContentItem.objects.filter(workspace_id=ws, status="draft"),
        stand_ins=[-1],
    )
    assert count.count(workspace.pk) == 1
    assert count._prepared == {"default": None}  # "draft" was not declared a constant
    declared = PreparedCount(
        lambda ws: ContentItem.objects.filter(workspace_id=ws, status="draft"),
        stand_ins=[-1],
        constants=["draft"],
    )
    assert declared.count(workspace.pk) == 1 and declared.count(-5) == 0
    assert declared._prepared["default"] is not None


def test_the_pages_details_are_the_orms(workspace, brand):
    from calendar_app.calendar_view import (
        CONTENT,
        TEMPLATE,
        _content_details,
        _detail_rows,
        _template_details,
    )
    from calendar_app.models import ReactiveTemplate

    _world(workspace, brand, f.BrandFactory(workspace=workspace))
    items = list(ContentItem.objects.values_list("pk", flat=True))[:7]
    templates = list(ReactiveTemplate.objects.values_list("pk", flat=True))
    for kind, ids, orm in [
        (CONTENT, items, _content_details),
        (TEMPLATE, templates, _template_details),
    ]:
        prepared = _detail_rows(kind, len(ids))
        assert sorted(prepared.rows(*ids)) == sorted(orm(*ids))
        assert prepared._prepared["default"] is not None


def test_a_sum_with_a_count_the_orm_runs_counts_each_on_its_own(workspace, brand):
    f.ContentItemFactory(workspace=workspace, brand=brand, title="Spring sale", status="draft")
    f.ContentItemFactory(workspace=workspace, brand=brand, title="Summer", status="approved")
    by_title = PreparedCount(
        lambda text: ContentItem.objects.filter(title__icontains=text), stand_ins=["Stand-in%_"]
    )
    by_workspace = PreparedCount(
        lambda ws: ContentItem.objects.filter(workspace_id=ws), stand_ins=[-1]
    )
    total = PreparedSum([by_workspace, by_title])
    assert total.total([workspace.pk], ["summer"]) == 3  # compiled (and one given back)
    with CaptureQueriesContext(connection) as counted:
        assert total.total([workspace.pk], ["SPRING"]) == 3
    assert len(counted) == 2 and by_title._prepared == {"default": None}
    assert PreparedSum([]).total() == 0
    with pytest.raises(ValueError, match="One list of values per count"):
        total.total([workspace.pk])
