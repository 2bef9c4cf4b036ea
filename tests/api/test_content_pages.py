"""The unfiltered content list's pages by prepared statements (calendar_app.api.read.content_pages):
the same pages, cursors and links as the serializer's path, through equal creation times and
hand-made cursors, with the page's SQL compiled once."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler

from calendar_app.api.read.content_items import CHANNELS, DATE_TIMES, channel_ids, rows
from calendar_app.api.read.content_pages import NEWEST_FIRST, OLDEST_FIRST, UnfilteredPages
from calendar_app.models import ContentItem, Role
from tests import factories as f
from tests.api.conftest import token_client
from tests.api.test_content_read_path import both, list_path, same

START = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # the night Paris changes its clocks


@pytest.fixture
def crowd(workspace, other_workspace):
    """Thirteen items created at five instants (up to four sharing one), and another
    workspace's items at the same instants."""
    brand = f.BrandFactory(workspace=workspace, time_zone="Europe/Paris")
    stamps = [START + timedelta(hours=hour) for hour in (0, 1, 1, 1, 1, 2, 3, 3, 4, 4, 4, 4, 5)]
    made = []
    for stamp in stamps:
        item = f.ContentItemFactory(brand=brand, workspace=workspace)
        ContentItem.objects.filter(pk=item.pk).update(created_at=stamp)
        made.append(item.pk)
    stranger = f.BrandFactory(workspace=other_workspace)
    for stamp in stamps[:6]:
        item = f.ContentItemFactory(brand=stranger, workspace=other_workspace)
        ContentItem.objects.filter(pk=item.pk).update(created_at=stamp)
    return made


def as_orm(prepared: list[dict], orm: list[dict]) -> list[dict]:
    """``prepared`` rows with their date-times as values, after checking each text is ``str()``
    of the ORM's value (the cursor's position of it): what the ORM's rows should equal."""
    converted = []
    links = channel_ids(row["id"] for row in orm)
    for ours, theirs in zip(prepared, orm, strict=True):
        if CHANNELS in ours:  # read with the page's rows (PostgreSQL): the ids, in their order
            ours = dict(ours)
            assert ours.pop(CHANNELS) == links.get(ours["id"], [])
        assert [ours[name] for name in DATE_TIMES] == [
            None if theirs[name] is None else str(theirs[name]) for name in DATE_TIMES
        ]
        converted.append({**ours, **{name: theirs[name] for name in DATE_TIMES}})
    return converted


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 50])
def test_every_page_forwards_and_back_is_the_serializers(workspace, crowd, size):
    client = token_client(workspace, Role.EDITOR)
    kwargs = {"workspace_slug": workspace.slug}
    path, seen, last = list_path(workspace, f"?page_size={size}"), [], None
    while path:
        body = same(*both(client, path, "list", **kwargs))
        seen += [row["id"] for row in body["results"]]
        last, path = path, body["next"]
    assert sorted(seen) == sorted(crowd)  # each once, none of the other workspace's
    back = []
    path = last
    while path:
        body = same(*both(client, path, "list", **kwargs))
        back = [row["id"] for row in body["results"]] + back
        path = body["previous"]
    assert set(back) <= set(crowd)


@pytest.mark.parametrize(
    "raw",
    [
        "p=2027-03-28 02:30:00+00:00",
        "o=2&p=2027-03-28 04:30:00+00:00",
        "o=3&r=1&p=2027-03-28 01:30:00+00:00",
        "r=1",
        "o=2&r=1",
        "o=1000",
        "o=99999",
        "p=2027-03-28 03:30:00+02:00",
        "p=9999-12-31 23:59:59.999999+00:00",
        "p=0001-01-01 00:00:00+00:00",
        "p=garbage",
        "p=2027-13-45 00:00:00",
        "p=",
        "p=\x00",
        "o=-1",
        "r=x",
    ],
)
def test_a_hand_made_cursor_is_answered_as_the_orm_answers_it(workspace, crowd, raw):
    client = token_client(workspace, Role.VIEWER)
    path = list_path(workspace, f"?page_size=3&cursor={cursor(raw)}")
    same(*both(client, path, "list", workspace_slug=workspace.slug))


def test_a_naive_position_warns_and_reads_as_utc_as_the_orm_does(workspace, crowd):
    client = token_client(workspace, Role.VIEWER)
    path = list_path(workspace, f"?page_size=3&cursor={cursor('p=2027-03-28 03:30:00')}")
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        ours, theirs = both(client, path, "list", workspace_slug=workspace.slug)
    assert [row["id"] for row in same(ours, theirs)["results"]]


def test_a_page_is_not_compiled_again(workspace, crowd, monkeypatch):
    """Once warm, walking the pages compiles no statement over the content items."""
    client = token_client(workspace, Role.VIEWER)
    path = list_path(workspace, "?page_size=2")
    body = client.get(path).json()
    client.get(body["next"])  # every shape the walk uses, prepared
    client.get(client.get(body["next"]).json()["previous"])
    compiled = []
    as_sql = SQLCompiler.as_sql

    def spy(self, *args, **kwargs):
        compiled.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", spy)
    body = client.get(path).json()
    later = client.get(body["next"]).json()
    client.get(later["previous"])
    assert ContentItem not in compiled
    # a filter still goes through the ORM (and compiles)
    client.get(list_path(workspace, "?status=draft"))
    assert ContentItem in compiled


def test_items_created_together_come_newest_id_first_on_every_page(workspace, crowd):
    """The id breaks ties of creation time, so a cursor's offset counts the same items on
    every request (PostgreSQL returned equal times in any order)."""
    client = token_client(workspace, Role.VIEWER)
    path, seen = list_path(workspace, "?page_size=2"), []
    while path:
        body = client.get(path).json()
        seen += [(row["created_at"], row["id"]) for row in body["results"]]
        path = body["next"]
    assert seen == sorted(seen, reverse=True)


def test_anything_else_asked_of_the_pages_goes_to_the_orm(workspace, crowd):
    def queryset():
        return rows(ContentItem.objects.filter(workspace=workspace))

    pages = UnfilteredPages(workspace.pk, queryset)
    by_id = pages.order_by("id")
    assert [row["id"] for row in by_id] == sorted(crowd)
    by_time = pages.order_by("-created_at")  # without the tie-break: not a shape it prepares
    assert list(by_time[:20]) == list(queryset().order_by("-created_at")[:20])
    drafts = pages.order_by(*NEWEST_FIRST).filter(status="draft")
    assert list(drafts) == list(queryset().order_by(*NEWEST_FIRST).filter(status="draft"))
    ordered = pages.order_by(*OLDEST_FIRST)
    orm = list(queryset().order_by(*OLDEST_FIRST)[2:5])
    assert as_orm(ordered[2:5], orm) == orm
    stamp = START + timedelta(hours=2)
    twice = ordered.filter(created_at__gt=stamp).filter(created_at__lt=stamp + timedelta(hours=3))
    expected = (
        queryset()
        .order_by(*OLDEST_FIRST)
        .filter(created_at__gt=stamp, created_at__lt=stamp + timedelta(hours=3))
    )
    assert list(twice) == list(expected)
    assert ordered[3] == queryset().order_by(*OLDEST_FIRST)[3]


def test_the_pages_are_the_workspaces_rows_converted_as_the_orm_converts_them(workspace, crowd):
    pages = UnfilteredPages(workspace.pk, lambda: None)
    expected = list(
        rows(ContentItem.objects.filter(workspace=workspace)).order_by(*NEWEST_FIRST)[0:20]
    )
    found = pages.order_by(*NEWEST_FIRST)[0:20]
    assert as_orm(found, expected) == expected
    assert all((CHANNELS in row) == (connection.vendor == "postgresql") for row in found)
    assert [[key for key in row if key != CHANNELS] for row in found] == [
        list(row) for row in expected
    ]
    assert all(row["created_at"].endswith("+00:00") for row in found)


@pytest.mark.parametrize("ordering", [NEWEST_FIRST, OLDEST_FIRST])
@pytest.mark.parametrize("bound", [None, "lt", "gt"])
def test_a_page_is_read_from_the_lists_index_without_a_sort(
    workspace, other_workspace, ordering, bound
):
    """Each shape of page the cursor asks for walks ``content_ws_created_id`` (workspace,
    creation time, id) in one direction or the other: no sort of the workspace's items."""
    from django.db import connection

    from calendar_app import planner_statistics
    from calendar_app.api.read.content_items import stored_values

    for owner in (workspace, other_workspace):
        brand = f.BrandFactory(workspace=owner)
        ContentItem.objects.bulk_create(
            ContentItem(workspace=owner, brand=brand, title=f"post {i}", body="x")
            for i in range(1500)
        )
        # created in bulk: many share an instant, as a burst of imports would
        ContentItem.objects.filter(workspace=owner).update(created_at=START)
    planner_statistics.refresh()
    items = ContentItem.objects.filter(workspace_id=workspace.pk)
    if bound is not None:
        items = items.filter(**{f"created_at__{bound}": START + timedelta(hours=1)})
    sql, params = stored_values(items.order_by(*ordering))[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
        cursor.execute(explain + sql, params)
        plan = "\n".join(str(row) for row in cursor.fetchall())
    assert "content_ws_created_id" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
