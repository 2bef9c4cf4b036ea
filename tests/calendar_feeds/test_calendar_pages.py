"""The calendar's pages are computed in the database: every page equals the same slice of the
whole sorted range, and the work of a page does not grow with the rows in the range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calendar_app import calendar_view
from calendar_app.calendar_view import calendar_entries, calendar_page
from calendar_app.models import ContentStatus, PublicationStatus, Role
from tests import factories as f
from tests.calendar_feeds.conftest import api

START, END = datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)


def _world(workspace, brand, other_brand) -> None:
    """A bit of everything, with ties and the edge cases of the placement rule."""
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    tie = datetime(2027, 5, 10, 9, tzinfo=UTC)
    f.EventFactory(workspace=workspace, starts_at=tie, ends_at=tie + timedelta(hours=1))
    f.EventFactory(
        workspace=workspace,
        starts_at=START - timedelta(days=3),
        ends_at=START - timedelta(days=3, hours=-1),
        rrule="FREQ=DAILY;COUNT=20",
        time_zone="Europe/Paris",
    )
    f.EventFactory(workspace=None, starts_at=tie, ends_at=tie + timedelta(days=2))  # shared
    for i in range(12):
        at = START + timedelta(days=i * 2, hours=i)
        f.ContentItemFactory(
            workspace=workspace,
            brand=brand if i % 3 else other_brand,
            status=ContentStatus.SCHEDULED if i % 2 else ContentStatus.PUBLISHING,
            scheduled_at=tie if i == 4 else at,
            channels=[channel] if i % 4 else [],
        )
    # published: on time, a little late, too late (placed at its slot), early, never recorded,
    # and one scheduled before the range but sent inside it
    for slot, sent in [
        (datetime(2027, 5, 3, 8, tzinfo=UTC), timedelta(minutes=3)),
        (datetime(2027, 5, 5, 8, tzinfo=UTC), timedelta(days=2)),
        (datetime(2027, 5, 7, 8, tzinfo=UTC), timedelta(days=9)),
        (datetime(2027, 5, 20, 8, tzinfo=UTC), -timedelta(days=4)),
        (datetime(2027, 5, 22, 8, tzinfo=UTC), None),
        (START - timedelta(days=2), timedelta(days=3)),
        (START - timedelta(days=2), timedelta(hours=1)),  # sent before the range: not shown
        (END - timedelta(hours=1), timedelta(hours=2)),  # sent after the range: not shown
    ]:
        item = f.ContentItemFactory(
            workspace=workspace,
            brand=brand,
            status=ContentStatus.PUBLISHED,
            scheduled_at=slot,
            channels=[channel],
        )
        if sent is not None:
            for extra in (timedelta(0), timedelta(hours=5)):  # the first one counts
                f.PublicationFactory(
                    content_item=item,
                    channel=f.ChannelFactory(brand=brand, workspace=workspace),
                    status=PublicationStatus.PUBLISHED,
                    due_at=slot,
                    published_at=slot + sent + extra,
                )
    f.ContentItemFactory(workspace=workspace, brand=brand, scheduled_at=tie)  # a draft
    for i, (since, until) in enumerate(
        [(tie, tie + timedelta(days=1)), (None, START + timedelta(days=2)), (tie, None)]
    ):
        f.ReactiveTemplateFactory(
            workspace=workspace, brand=brand, name=f"T{i}", valid_from=since, valid_until=until
        )


def _keys(entries):
    return [(e.kind, e.id, e.start, e.end, e.channels_count, e.fit_score) for e in entries]


@pytest.mark.parametrize("with_brand", [True, False])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_every_page_is_the_same_slice_of_the_whole_range(workspace, brand, size, with_brand):
    other = f.BrandFactory(workspace=workspace)
    _world(workspace, brand, other)
    scope = dict(start=START, end=END, brand=brand if with_brand else None, tz="Europe/Paris")
    whole = calendar_entries(workspace, **scope)
    assert len(whole) > 25
    pages, offset = [], 0
    while True:
        page = calendar_page(workspace, offset=offset, limit=size, **scope)
        assert page.count == len(whole)
        if not page.entries:
            break
        assert len(page.entries) <= size
        pages += page.entries
        offset += size
    assert _keys(pages) == _keys(whole)


@pytest.mark.parametrize("kinds", [("event",), ("content",), ("template",), ("content", "event")])
def test_pages_of_some_kinds(workspace, brand, kinds):
    _world(workspace, brand, f.BrandFactory(workspace=workspace))
    scope = dict(start=START, end=END, kinds=kinds)
    whole = calendar_entries(workspace, **scope)
    page = calendar_page(workspace, offset=2, limit=5, **scope)
    assert page.count == len(whole)
    assert _keys(page.entries) == _keys(whole[2:7])


def test_work_of_a_page_does_not_grow_with_the_rows_in_range(workspace, brand, monkeypatch):
    """Only the page's rows become entries: 10 rows in the range or 300, page 1 and page 5."""
    made = []
    original = calendar_view._content_entry
    monkeypatch.setattr(calendar_view, "_content_entry", lambda *a: made.append(1) or original(*a))

    def fill(n: int, first: int) -> None:
        for i in range(first, first + n):
            f.ContentItemFactory(
                workspace=workspace,
                brand=brand,
                status=ContentStatus.SCHEDULED,
                scheduled_at=START + timedelta(minutes=97 * i),
            )

    fill(10, 0)
    calendar_page(workspace, start=START, end=END, offset=0, limit=10)
    small = len(made)
    fill(290, 10)
    for offset in (0, 40, 280):
        made.clear()
        page = calendar_page(workspace, start=START, end=END, offset=offset, limit=10)
        assert page.count == 300 and len(page.entries) == 10
        assert len(made) == small == 10


def test_page_past_the_end_is_404_and_an_empty_range_is_a_page(workspace, brand, client_for):
    client = client_for(Role.VIEWER)
    url = api(workspace, "calendar/")
    empty = client.get(url, {"start": "2027-05-01", "end": "2027-05-02"})
    assert empty.status_code == 200 and empty.json()["count"] == 0
    f.ContentItemFactory(
        workspace=workspace, brand=brand, status=ContentStatus.SCHEDULED, scheduled_at=START
    )
    params = {"start": "2027-05-01", "end": "2027-05-02", "page_size": 1}
    assert client.get(url, {**params, "page": 1}).json()["count"] == 1
    past = client.get(url, {**params, "page": 2})
    assert past.status_code == 404
    bad = client.get(url, {**params, "page": "0"})
    assert bad.status_code == 400 and "page" in bad.json()["fields"]


@pytest.mark.parametrize(
    "slot",
    [datetime(2027, 5, 3, 8, tzinfo=UTC), datetime(2027, 5, 3, 8, 0, 0, 250_000, tzinfo=UTC)],
)
def test_the_slack_boundary_is_the_same_in_sql_and_in_python(workspace, brand, slot):
    """``slot + 7 days`` is computed by the database (natively on SQLite, see _SlotPlusSlack):
    sent exactly at the limit is in time, a microsecond later is not, fractions or none."""
    slack = calendar_view.PUBLISHED_LATE_SLACK
    for late in (slack - timedelta(microseconds=1), slack, slack + timedelta(microseconds=1)):
        item = f.ContentItemFactory(
            workspace=workspace, brand=brand, status=ContentStatus.PUBLISHED, scheduled_at=slot
        )
        f.PublicationFactory(
            content_item=item,
            channel=f.ChannelFactory(brand=brand, workspace=workspace),
            status=PublicationStatus.PUBLISHED,
            due_at=slot,
            published_at=slot + late,
        )
    whole = calendar_entries(workspace, start=START, end=END, kinds=("content",))
    page = calendar_page(workspace, start=START, end=END, kinds=("content",), limit=10)
    assert _keys(page.entries) == _keys(whole)
    assert sorted(e.start - slot for e in whole) == [
        timedelta(0),  # too late: at its slot
        slack - timedelta(microseconds=1),
        slack,
    ]
