"""iCalendar feeds: secret URLs, RFC 5545 output read back with icalendar, conditional GET,
escaping, revocation, and a round trip through the import across a DST change."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from icalendar import Calendar

from calendar_app.ical import render_feed
from calendar_app.models import CalendarFeed, ContentStatus, Event, Role
from tests import factories as f
from tests.calendar_feeds.conftest import api

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_now():
    """The feed window is relative to today; pin today so the fixed dates below are inside."""
    with mock.patch("calendar_app.feeds_views.timezone", mock.Mock(now=lambda: NOW)):
        yield


def _weekly_paris(workspace, **kwargs) -> Event:
    values = dict(
        workspace=workspace,
        title="Stand-up",
        time_zone="Europe/Paris",
        starts_at=datetime(2027, 3, 15, 8, 0, tzinfo=UTC),  # Monday 09:00 CET
        ends_at=datetime(2027, 3, 15, 8, 30, tzinfo=UTC),
        rrule="FREQ=WEEKLY;COUNT=6",
        themes=["work"],
    )
    values.update(kwargs)
    return f.EventFactory(**values)


def _create_feed(client, workspace, brand, name="Social team"):
    response = client.post(api(workspace, "calendar-feeds/"), {"brand": brand.pk, "name": name})
    assert response.status_code == 201, response.content
    return response.json()


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _vevents(body: bytes) -> list:
    return [c for c in Calendar.from_ical(body).walk("VEVENT")]


def test_create_list_revoke(workspace, brand, client_for, client):
    editor = client_for(Role.EDITOR)
    created = _create_feed(editor, workspace, brand)
    assert created["url"].endswith(".ics") and created["token"] in created["url"]
    assert created["webcal_url"].startswith("webcal://")
    assert created["token_prefix"] == created["token"][:8]
    feed = CalendarFeed.objects.get(pk=created["id"])
    assert created["token"] not in (feed.token_hash, feed.token_prefix)  # only a hash is kept

    listed = client_for(Role.VIEWER).get(api(workspace, "calendar-feeds/")).json()["results"]
    assert [row["id"] for row in listed] == [feed.pk]
    assert "token" not in listed[0] and "url" not in listed[0]
    assert created["token"] not in str(listed)

    ok = client.get(_path(created["url"]))
    assert ok.status_code == 200
    assert ok["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in ok["Cache-Control"]

    revoked = editor.delete(api(workspace, f"calendar-feeds/{feed.pk}/"))
    assert revoked.status_code == 204
    assert client.get(_path(created["url"])).status_code == 404
    listed = client_for(Role.VIEWER).get(api(workspace, "calendar-feeds/")).json()["results"]
    assert listed[0]["revoked_at"] and listed[0]["is_active"] is False


def test_roles_and_tenancy(workspace, other_workspace, brand, client_for):
    viewer = client_for(Role.VIEWER)
    response = viewer.post(api(workspace, "calendar-feeds/"), {"brand": brand.pk, "name": "x"})
    assert response.status_code == 403
    foreign_brand = f.BrandFactory(workspace=other_workspace)
    response = client_for(Role.EDITOR).post(
        api(workspace, "calendar-feeds/"), {"brand": foreign_brand.pk, "name": "x"}
    )
    assert response.status_code == 400 and "brand" in response.json()["fields"]
    foreign_feed, _ = CalendarFeed.issue(brand=foreign_brand, name="theirs")
    editor = client_for(Role.EDITOR)
    assert editor.get(api(workspace, f"calendar-feeds/{foreign_feed.pk}/")).status_code == 404
    assert editor.delete(api(workspace, f"calendar-feeds/{foreign_feed.pk}/")).status_code == 404
    foreign_feed.refresh_from_db()
    assert foreign_feed.revoked_at is None
    assert editor.get(api(other_workspace, "calendar-feeds/")).status_code == 404


def test_unknown_token_is_404(client, db):
    assert client.get("/feeds/ical/not-a-real-token.ics").status_code == 404
    assert client.get("/feeds/ical/" + "x" * 500 + ".ics").status_code == 404


def test_feed_content_parses_back(workspace, brand, client):
    brand.time_zone = "America/New_York"
    brand.save()
    weekly = _weekly_paris(workspace)
    all_day = f.EventFactory(
        workspace=workspace,
        title="Fête de la musique",
        all_day=True,
        time_zone="Europe/Paris",
        starts_at=datetime(2027, 6, 20, 22, 0, tzinfo=UTC),
        ends_at=datetime(2027, 6, 21, 22, 0, tzinfo=UTC),
    )
    item = f.ContentItemFactory(
        brand=brand,
        workspace=workspace,
        status=ContentStatus.SCHEDULED,
        scheduled_at=datetime(2027, 3, 20, 14, 0, tzinfo=UTC),
    )
    f.ContentItemFactory(  # another brand's post: not in this brand's feed
        workspace=workspace,
        brand=f.BrandFactory(workspace=workspace),
        status=ContentStatus.SCHEDULED,
        scheduled_at=datetime(2027, 3, 20, 14, 0, tzinfo=UTC),
    )
    f.EventFactory(  # far outside the window
        workspace=workspace,
        starts_at=datetime(2030, 1, 1, tzinfo=UTC),
        ends_at=datetime(2030, 1, 2, tzinfo=UTC),
    )
    feed, token = CalendarFeed.issue(brand=brand, name="Team")
    response = client.get(f"/feeds/ical/{token}.ics")
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == f"{brand.name} · Team"
    assert str(calendar["X-WR-TIMEZONE"]) == "America/New_York"
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in response.content
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in response.content
    tzids = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert tzids == {"America/New_York", "Europe/Paris"}
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {
        f"event-{weekly.pk}@kairos",
        f"event-{all_day.pk}@kairos",
        f"content-{item.pk}@kairos",
    }
    recurring = events[f"event-{weekly.pk}@kairos"]
    assert recurring["DTSTART"].params["TZID"] == "Europe/Paris"
    assert recurring["DTSTART"].dt == datetime(2027, 3, 15, 9, 0).replace(
        tzinfo=recurring["DTSTART"].dt.tzinfo
    )
    assert recurring["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=6"
    assert b"DTSTART;TZID=Europe/Paris:20270315T090000" in response.content
    day = events[f"event-{all_day.pk}@kairos"]
    assert str(day["DTSTART"].dt) == "2027-06-21" and str(day["DTEND"].dt) == "2027-06-22"
    post = events[f"content-{item.pk}@kairos"]
    assert post["DTSTART"].dt == datetime(2027, 3, 20, 14, 0, tzinfo=UTC)
    assert post["DURATION"].dt == timedelta(minutes=15)
    assert str(post["X-KAIROS-KIND"]) == "content"
    feed.refresh_from_db()
    assert feed.last_fetched_at == NOW


def test_until_is_written_in_utc(workspace, brand):
    _weekly_paris(workspace, rrule="FREQ=WEEKLY;UNTIL=20270405T090000")
    feed, _ = CalendarFeed.issue(brand=brand, name="x")
    (event,) = _vevents(render_feed(feed, NOW))
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20270405T070000Z"


def test_conditional_get(workspace, brand, client):
    event = _weekly_paris(workspace)
    _, token = CalendarFeed.issue(brand=brand, name="x")
    url = f"/feeds/ical/{token}.ics"
    first = client.get(url)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    not_modified = client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    event.title = "Renamed"
    event.save()
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert b"Renamed" in changed.content
    event.delete()
    assert client.get(url, HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 200


def test_hostile_text_is_escaped_and_folded(workspace, brand):
    # (No NUL: PostgreSQL cannot store one, and every door refuses it; see the next test.)
    hostile = "Launch, party; now\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\x07\\ " + "🎉" * 80
    _weekly_paris(
        workspace, title=hostile[:200], description=hostile * 5, location="a;b,c\nd", rrule=""
    )
    f.ContentItemFactory(
        brand=brand,
        workspace=workspace,
        title=hostile[:200],
        body=hostile,
        status=ContentStatus.SCHEDULED,
        scheduled_at=datetime(2027, 3, 20, tzinfo=UTC),
    )
    feed, _ = CalendarFeed.issue(brand=brand, name=hostile[:120])
    body = render_feed(feed, NOW)
    lines = body.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert b"\x07" not in body
    assert lines.count(b"BEGIN:VEVENT") == 2  # the injected one is escaped text, not a line
    events = _vevents(body)
    assert {str(e["UID"]) for e in events} != {"evil"}
    summary = str(next(e for e in events if str(e["UID"]).startswith("event-"))["SUMMARY"])
    assert summary.startswith("Launch, party; now\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil\\ ")
    assert b"Launch\\, party\\; now\\nEND:VEVENT" in body.replace(b"\r\n ", b"")


def test_control_characters_never_reach_a_feed() -> None:
    from calendar_app.ical import clean_text

    assert clean_text("a\x00b\x07c\nd") == "abc\nd"


def test_round_trip_keeps_occurrences_across_dst(workspace, other_workspace, brand, client_for):
    """Export a brand's feed, import it into another workspace: same occurrences, same instants,
    on both sides of the spring DST change in Paris and New York."""
    paris = _weekly_paris(workspace, rrule="FREQ=WEEKLY;UNTIL=20270412T090000")
    new_york = f.EventFactory(
        workspace=workspace,
        title="NY daily",
        time_zone="America/New_York",
        starts_at=datetime(2027, 3, 10, 14, 0, tzinfo=UTC),
        ends_at=datetime(2027, 3, 10, 15, 0, tzinfo=UTC),
        rrule="FREQ=DAILY;COUNT=8",
    )
    single = f.EventFactory(workspace=workspace, title="Once", rrule="", time_zone="UTC")
    f.ContentItemFactory(
        brand=brand,
        workspace=workspace,
        status=ContentStatus.SCHEDULED,
        scheduled_at=datetime(2027, 3, 20, 14, 0, tzinfo=UTC),
    )
    feed, _ = CalendarFeed.issue(brand=brand, name="x")
    exported = render_feed(feed, NOW)

    importer = client_for(Role.EDITOR, ws=other_workspace)
    upload = io.BytesIO(exported)
    upload.name = "kairos.ics"
    response = importer.post(
        api(other_workspace, "events/import/"), {"file": upload}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3 and response.json()["skipped"] == 1  # the post

    window = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
    for original in (paris, new_york, single):
        copy = Event.objects.get(
            workspace=other_workspace, external_uid=f"event-{original.pk}@kairos"
        )
        assert copy.time_zone == original.time_zone
        assert list(copy.occurrences_between(*window)) == list(
            original.occurrences_between(*window)
        )
        assert copy.recurrence_ends_at == original.recurrence_ends_at
    paris_copy = Event.objects.get(workspace=other_workspace, title="Stand-up")
    starts = [o.starts_at for o in paris_copy.occurrences_between(*window)]
    assert starts[1] == datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert starts[2] == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # after the change, 09:00 CEST
    assert len(starts) == 5  # until 12 April 09:00 local


def test_feed_list_query_count_is_constant(workspace, client_for, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(Role.VIEWER)
    url = api(workspace, "calendar-feeds/")

    def add(n: int) -> None:
        for i in range(n):
            brand = f.BrandFactory(workspace=workspace)
            user = f.MembershipFactory(workspace=workspace, role=Role.EDITOR).user
            CalendarFeed.issue(brand=brand, name=f"feed {i}", created_by=user)

    add(1)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(url).json()["results"]) == 1
    add(19)
    with django_assert_num_queries(len(few)):
        assert len(client.get(url).json()["results"]) == 20
