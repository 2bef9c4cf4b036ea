"""The calendar endpoint: recurrences, DST, zones, range limits, bad input, tenancy, query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app.calendar_view import MAX_RANGE_DAYS, calendar_entries
from calendar_app.models import ContentStatus, Event, PublicationStatus, Role
from tests import factories as f
from tests.calendar_feeds.conftest import api


def _event(workspace, **kwargs) -> Event:
    defaults = dict(
        workspace=workspace,
        title="Stand-up",
        time_zone="Europe/Paris",
        starts_at=datetime(2027, 3, 15, 8, 0, tzinfo=UTC),  # Monday 09:00 in Paris (CET)
        ends_at=datetime(2027, 3, 15, 8, 30, tzinfo=UTC),
        rrule="FREQ=WEEKLY;COUNT=4",
        themes=["work"],
    )
    defaults.update(kwargs)
    return f.EventFactory(**defaults)


def _get(client, workspace, **params):
    return client.get(api(workspace, "calendar/"), params)


def test_recurring_event_expanded_across_spring_dst_in_paris(workspace, brand, client_for):
    event = _event(workspace)
    response = _get(
        client_for(Role.VIEWER),
        workspace,
        start="2027-03-15",
        end="2027-04-11",
        tz="Europe/Paris",
        kinds="event",
    )
    assert response.status_code == 200, response.content
    rows = [r for r in response.json()["results"] if r["id"] == event.pk]
    assert [r["start"] for r in rows] == [
        "2027-03-15T08:00:00Z",
        "2027-03-22T08:00:00Z",
        "2027-03-29T07:00:00Z",  # clocks went forward on the 28th: still 09:00 local
        "2027-04-05T07:00:00Z",
    ]
    assert {r["start_local"][11:19] for r in rows} == {"09:00:00"}
    assert [r["start_local"][-6:] for r in rows] == ["+01:00", "+01:00", "+02:00", "+02:00"]
    assert all(r["recurring"] and r["time_zone"] == "Europe/Paris" for r in rows)


def test_new_york_dst_week_and_23_hour_day(workspace, client_for):
    event = _event(
        workspace,
        time_zone="America/New_York",
        starts_at=datetime(2027, 3, 10, 14, 0, tzinfo=UTC),  # 09:00 EST
        ends_at=datetime(2027, 3, 10, 15, 0, tzinfo=UTC),
        rrule="FREQ=DAILY;COUNT=7",
    )
    client = client_for(Role.VIEWER)
    week = _get(client, workspace, start="2027-03-10", end="2027-03-16", tz="America/New_York")
    rows = [r for r in week.json()["results"] if r["id"] == event.pk]
    assert len(rows) == 7
    assert {r["start_local"][11:16] for r in rows} == {"09:00"}
    assert rows[3]["start"] == "2027-03-13T14:00:00Z"  # Saturday, EST
    assert rows[4]["start"] == "2027-03-14T13:00:00Z"  # Sunday, EDT: DST began at 02:00
    day = _get(client, workspace, start="2027-03-14", end="2027-03-14", tz="America/New_York")
    body = day.json()
    span = datetime.fromisoformat(body["end"]) - datetime.fromisoformat(body["start"])
    assert span == timedelta(hours=23)
    assert [r["start"] for r in body["results"]] == ["2027-03-14T13:00:00Z"]


def test_autumn_day_in_paris_is_25_hours(workspace, client_for):
    body = _get(
        client_for(Role.VIEWER), workspace, start="2027-10-31", end="2027-10-31", tz="Europe/Paris"
    ).json()
    assert body["start"] == "2027-10-30T22:00:00Z"
    assert body["end"] == "2027-10-31T23:00:00Z"  # 25 hours
    assert body["time_zone"] == "Europe/Paris"


def test_tz_param_changes_local_times_only(workspace, brand, client_for):
    _event(workspace, rrule="")
    client = client_for(Role.VIEWER)
    params = dict(start="2027-03-15T00:00:00Z", end="2027-03-16T00:00:00Z", kinds="event")
    default = _get(client, workspace, brand=brand.pk, **params).json()
    tokyo = _get(client, workspace, brand=brand.pk, tz="Asia/Tokyo", **params).json()
    assert default["time_zone"] == "Europe/Paris"  # the brand's zone
    assert default["results"][0]["start_local"] == "2027-03-15T09:00:00+01:00"
    assert tokyo["results"][0]["start_local"] == "2027-03-15T17:00:00+09:00"
    assert tokyo["results"][0]["start"] == default["results"][0]["start"]
    workspace_wide = _get(client, workspace, **params).json()
    assert workspace_wide["time_zone"] == "UTC"


def test_naive_bounds_are_read_in_tz(workspace, client_for):
    body = _get(
        client_for(Role.VIEWER),
        workspace,
        start="2027-07-01T09:00",
        end="2027-07-01T10:00",
        tz="America/New_York",
    ).json()
    assert body["start"] == "2027-07-01T13:00:00Z"


def test_content_items_and_templates(workspace, brand, client_for):
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    other_channel = f.ChannelFactory(brand=brand, workspace=workspace)
    at = datetime(2027, 5, 10, 7, 0, tzinfo=UTC)
    scheduled = f.ContentItemFactory(
        brand=brand,
        workspace=workspace,
        status=ContentStatus.SCHEDULED,
        scheduled_at=at,
        channels=[channel, other_channel],
    )
    f.ContentItemFactory(brand=brand, workspace=workspace, scheduled_at=at)  # a draft: not shown
    published = f.ContentItemFactory(
        brand=brand,
        workspace=workspace,
        status=ContentStatus.PUBLISHED,
        scheduled_at=at - timedelta(hours=2),
        channels=[channel],
    )
    f.PublicationFactory(
        content_item=published,
        channel=channel,
        status=PublicationStatus.PUBLISHED,
        published_at=at - timedelta(hours=1),
        due_at=at - timedelta(hours=2),
    )
    template = f.ReactiveTemplateFactory(
        brand=brand,
        workspace=workspace,
        valid_from=datetime(2027, 5, 1, tzinfo=UTC),
        valid_until=datetime(2027, 5, 20, tzinfo=UTC),
    )
    f.ReactiveTemplateFactory(
        brand=brand,
        workspace=workspace,
        is_active=False,
        valid_from=datetime(2027, 5, 1, tzinfo=UTC),
    )
    f.ReactiveTemplateFactory(brand=brand, workspace=workspace)  # no window: not on the calendar
    body = _get(
        client_for(Role.VIEWER), workspace, brand=brand.pk, start="2027-05-10", end="2027-05-10"
    ).json()
    by_kind = [(r["kind"], r["id"]) for r in body["results"]]
    assert by_kind == [
        ("template", template.pk),
        ("content", published.pk),
        ("content", scheduled.pk),
    ]
    rows = {(r["kind"], r["id"]): r for r in body["results"]}
    assert rows["content", scheduled.pk]["channels_count"] == 2
    assert rows["content", scheduled.pk]["status"] == "scheduled"
    assert rows["content", published.pk]["start"] == "2027-05-10T06:00:00Z"  # first published
    assert rows["content", published.pk]["details"]["scheduled_at"] == "2027-05-10T05:00:00Z"
    assert rows["template", template.pk]["start"] == "2027-05-01T00:00:00Z"
    assert rows["template", template.pk]["end"] == "2027-05-20T00:00:00Z"
    assert rows["template", template.pk]["brand_name"] == brand.name


def test_fit_score_with_brand_and_kinds_filter(workspace, brand, client_for):
    event = _event(workspace, rrule="", themes=["snacks", "sport"])
    client = client_for(Role.VIEWER)
    params = dict(start="2027-03-15", end="2027-03-16", tz="UTC")
    with_brand = _get(client, workspace, brand=brand.pk, **params).json()["results"]
    fit = event.fits.get(brand=brand)
    assert with_brand[0]["fit_score"] == fit.effective_score
    assert _get(client, workspace, **params).json()["results"][0]["fit_score"] is None
    assert _get(client, workspace, kinds="content", **params).json()["results"] == []


def test_each_event_carries_its_fit_score_for_the_brand_asked(workspace, brand):
    """Read with the events (one statement): a person's override over the computed score, none
    without a fit row, and another brand's fit never shown."""
    from calendar_app.models import BrandFit

    other = f.BrandFactory(workspace=workspace)
    at = [datetime(2027, 3, 15, 8 + n, tzinfo=UTC) for n in range(4)]
    events = [
        _event(
            workspace, rrule="", title=f"e{n}", starts_at=at[n], ends_at=at[n] + timedelta(hours=1)
        )
        for n in range(4)
    ]
    BrandFit.objects.filter(event__in=events).delete()  # fits computed on save: set them here
    BrandFit.objects.create(workspace=workspace, brand=brand, event=events[0], score=40)
    BrandFit.objects.create(
        workspace=workspace, brand=brand, event=events[1], score=40, override_score=90
    )
    BrandFit.objects.create(workspace=workspace, brand=other, event=events[2], score=70)
    BrandFit.objects.create(workspace=workspace, brand=brand, event=events[3], score=0)
    found = {
        entry.title: entry.fit_score
        for entry in calendar_entries(
            workspace,
            start=datetime(2027, 3, 15, tzinfo=UTC),
            end=datetime(2027, 3, 16, tzinfo=UTC),
            brand=brand,
            kinds=["event"],
        )
    }
    assert found == {"e0": 40, "e1": 90, "e2": None, "e3": 0}


def test_all_day_event_dates(workspace, client_for):
    _event(
        workspace,
        rrule="",
        all_day=True,
        time_zone="Europe/Paris",
        starts_at=datetime(2027, 6, 20, 22, 0, tzinfo=UTC),
        ends_at=datetime(2027, 6, 21, 22, 0, tzinfo=UTC),
    )
    row = _get(
        client_for(Role.VIEWER), workspace, start="2027-06-21", end="2027-06-21", tz="Europe/Paris"
    ).json()["results"][0]
    assert row["all_day"] is True
    assert (row["start_date"], row["end_date"]) == ("2027-06-21", "2027-06-22")


def test_pagination(workspace, brand, client_for):
    for day in range(5):
        f.ContentItemFactory(
            brand=brand,
            workspace=workspace,
            status=ContentStatus.SCHEDULED,
            scheduled_at=datetime(2027, 5, 1 + day, 9, tzinfo=UTC),
        )
    client = client_for(Role.VIEWER)
    first = _get(client, workspace, start="2027-05-01", end="2027-05-31", page_size=2).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    assert second["results"][0]["start"] == "2027-05-03T09:00:00Z"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2027-03-01"}, "start"),
        ({"start": "2027-03-01"}, "end"),
        ({"start": "yesterday", "end": "2027-03-01"}, "start"),
        ({"start": "2027-02-30", "end": "2027-03-01"}, "start"),
        ({"start": "2027-03-01T25:00:00Z", "end": "2027-03-02"}, "start"),
        ({"start": "2027-03-02", "end": "2027-03-01"}, "end"),
        ({"start": "2027-03-01T10:00:00Z", "end": "2027-03-01T10:00:00Z"}, "end"),
        ({"start": "2027-01-01", "end": "2027-04-15"}, "end"),  # > 100 days
        ({"start": "2027-03-01", "end": "2027-03-02", "tz": "Mars/Olympus"}, "tz"),
        ({"start": "2027-03-01", "end": "2027-03-02", "tz": "../../etc/passwd"}, "tz"),
        ({"start": "2027-03-01", "end": "2027-03-02", "kinds": "event,party"}, "kinds"),
        ({"start": "2027-03-01", "end": "2027-03-02", "kinds": ","}, "kinds"),
        ({"start": "2027-03-01", "end": "2027-03-02", "brand": "abc"}, "brand"),
        ({"start": "2027-03-01", "end": "2027-03-02", "brand": "-1"}, "brand"),
        ({"start": "2027-03-01", "end": "2027-03-02", "brand": str(2**70)}, "brand"),
        ({"start": "2027-03-28T02:30", "end": "2027-03-29", "tz": "Europe/Paris"}, "start"),
        ({"start": "0001-01-01T00:00:00Z", "end": "2027-03-02"}, "start"),
        ({"start": "2027-03-01\x00", "end": "2027-03-02"}, "start"),
    ],
)
def test_bad_params_are_400_with_field(workspace, client_for, params, field):
    response = _get(client_for(Role.VIEWER), workspace, **params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["fields"], body
    assert body["code"].replace("_", "").isalpha() and body["detail"]


def test_range_limit_is_inclusive_of_100_days(workspace, client_for):
    start = datetime(2027, 1, 1, tzinfo=UTC)
    ok = _get(
        client_for(Role.VIEWER),
        workspace,
        start=start.isoformat(),
        end=(start + timedelta(days=MAX_RANGE_DAYS)).isoformat(),
    )
    assert ok.status_code == 200
    too_long = _get(
        client_for(Role.VIEWER),
        workspace,
        start=start.isoformat(),
        end=(start + timedelta(days=MAX_RANGE_DAYS, seconds=1)).isoformat(),
    )
    assert too_long.status_code == 400
    assert "100 days" in too_long.json()["fields"]["end"][0]


def test_tenancy(workspace, other_workspace, brand, client_for):
    foreign_brand = f.BrandFactory(workspace=other_workspace)
    _event(other_workspace, rrule="", title="Their secret launch")
    f.ContentItemFactory(
        brand=foreign_brand,
        workspace=other_workspace,
        status=ContentStatus.SCHEDULED,
        scheduled_at=datetime(2027, 3, 15, 10, tzinfo=UTC),
    )
    client = client_for(Role.VIEWER)
    params = dict(start="2027-03-15", end="2027-03-16")
    response = _get(client, workspace, brand=foreign_brand.pk, **params)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert _get(client, workspace, brand=999999, **params).status_code == 404
    assert _get(client, workspace, **params).json()["results"] == []
    assert _get(client, other_workspace, **params).status_code == 404  # another tenant's slug
    assert (
        client_for(Role.VIEWER, ws=other_workspace)
        .get(api(workspace, "calendar/"), params)
        .status_code
        == 404
    )


def test_needs_authentication(workspace, client):
    response = client.get(api(workspace, "calendar/"), {"start": "2027-03-15", "end": "2027-03-16"})
    assert response.status_code in (401, 403)


def _fill(workspace, brand, n: int, offset: int = 0) -> None:
    for i in range(offset, offset + n):
        kind = i % 3
        at = datetime(2027, 5, 1, tzinfo=UTC) + timedelta(hours=7 * i)
        if kind == 0:
            f.EventFactory(
                workspace=workspace,
                starts_at=at,
                ends_at=at + timedelta(hours=1),
                rrule="FREQ=DAILY;COUNT=2" if i % 2 else "",
            )
        elif kind == 1:
            channels = [f.ChannelFactory(brand=brand, workspace=workspace) for _ in range(2)]
            f.ContentItemFactory(
                brand=brand,
                workspace=workspace,
                channels=channels,
                status=ContentStatus.SCHEDULED,
                scheduled_at=at,
            )
        else:
            f.ReactiveTemplateFactory(
                brand=brand, workspace=workspace, valid_from=at, valid_until=at + timedelta(days=1)
            )


@pytest.mark.parametrize("with_brand", [True, False])
def test_constant_query_count(workspace, brand, client_for, with_brand, django_assert_num_queries):
    """The queries of a page do not depend on the rows in the range (one count, one slice, the
    page's details), only on which kinds the page shows."""
    client = client_for(Role.VIEWER)
    params = dict(start="2027-05-01", end="2027-06-30", page_size=20)
    if with_brand:
        params["brand"] = brand.pk
    _fill(workspace, brand, 1)
    _get(client, workspace, **params)  # warm-up: the token's once-a-minute last_used_at write
    with CaptureQueriesContext(connection) as one_kind:
        body = _get(client, workspace, **params).json()
    assert body["count"] == 1
    _fill(workspace, brand, 29, offset=1)
    with CaptureQueriesContext(connection) as every_kind:
        body = _get(client, workspace, **params).json()
    assert body["count"] >= 30
    # at most three more: the slice of the database's rows (none when the range holds only
    # events), the details of the content items and of the templates on the page
    assert len(one_kind) <= len(every_kind) <= len(one_kind) + 3
    _fill(workspace, brand, 150, offset=30)
    with django_assert_num_queries(len(every_kind)):
        body = _get(client, workspace, **params).json()
    assert body["count"] >= 180 and len(body["results"]) == 20


def test_service_runs_a_fixed_number_of_queries(workspace, brand, django_assert_num_queries):
    _fill(workspace, brand, 30)
    with django_assert_num_queries(4):  # events with their fits, scheduled, published, templates
        entries = calendar_entries(
            workspace,
            start=datetime(2027, 5, 1, tzinfo=UTC),
            end=datetime(2027, 6, 1, tzinfo=UTC),
            brand=brand,
        )
        assert [e.start_local for e in entries]  # local times need no query
    assert len(entries) >= 30
    starts = [e.start for e in entries if e.start]
    assert starts == sorted(starts)
