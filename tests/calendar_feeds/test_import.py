"""Importing events from an uploaded .ics: mapping, all-or-nothing, limits, hostile input."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from icalendar import Event as VEvent

from calendar_app.ical import MAX_ICS_BYTES
from calendar_app.models import BrandFit, Event, EventSource, Role
from tests import factories as f
from tests.calendar_feeds.conftest import api

GOOD = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
X-WR-TIMEZONE:Europe/Paris
BEGIN:VEVENT
UID:standup@example.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=Europe/Paris:20270315T090000
DTEND;TZID=Europe/Paris:20270315T093000
RRULE:FREQ=WEEKLY;UNTIL=20270412T070000Z
SUMMARY:Stand-up\\, weekly
DESCRIPTION:Line one\\nLine two
LOCATION:Room 4
CATEGORIES:Work,Team
END:VEVENT
BEGIN:VEVENT
UID:music@example.com
DTSTAMP:20270101T000000Z
DTSTART;VALUE=DATE:20270621
SUMMARY:Fête de la musique
CATEGORIES:Music
END:VEVENT
BEGIN:VEVENT
UID:launch@example.com
DTSTAMP:20270101T000000Z
DTSTART:20270401T160000Z
DURATION:PT2H
SUMMARY:Launch
END:VEVENT
BEGIN:VEVENT
UID:windows@example.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=W. Europe Standard Time:20270402T100000
DTEND;TZID=W. Europe Standard Time:20270402T110000
SUMMARY:From Outlook
END:VEVENT
END:VCALENDAR
"""


def _upload(client, workspace, content: bytes | str, name: str = "events.ics"):
    data = content.encode() if isinstance(content, str) else content
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(api(workspace, "events/import/"), {"file": upload}, format="multipart")


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def test_good_file_creates_then_updates_by_uid(workspace, brand, client_for):
    editor = client_for(Role.EDITOR)
    response = _upload(editor, workspace, _crlf(GOOD))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"]) == (4, 0, 0)
    events = {e.external_uid: e for e in Event.objects.filter(workspace=workspace)}
    standup = events["standup@example.com"]
    assert standup.source == EventSource.ICS
    assert standup.title == "Stand-up, weekly"
    assert standup.description == "Line one\nLine two"
    assert standup.location == "Room 4"
    assert standup.themes == ["work", "team"]
    assert standup.time_zone == "Europe/Paris"
    assert standup.starts_at == datetime(2027, 3, 15, 8, 0, tzinfo=UTC)
    assert standup.rrule == "FREQ=WEEKLY;UNTIL=20270412T090000"  # UNTIL as Paris wall-clock
    starts = [
        o.starts_at
        for o in standup.occurrences_between(
            datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC)
        )
    ]
    assert starts == [
        datetime(2027, 3, 15, 8, tzinfo=UTC),
        datetime(2027, 3, 22, 8, tzinfo=UTC),
        datetime(2027, 3, 29, 7, tzinfo=UTC),
        datetime(2027, 4, 5, 7, tzinfo=UTC),
        datetime(2027, 4, 12, 7, tzinfo=UTC),
    ]
    music = events["music@example.com"]
    assert music.all_day and music.time_zone == "Europe/Paris"  # the calendar's X-WR-TIMEZONE
    assert music.starts_at == datetime(2027, 6, 20, 22, tzinfo=UTC)
    assert music.ends_at - music.starts_at == timedelta(days=1)
    launch = events["launch@example.com"]
    assert launch.time_zone == "UTC" and launch.ends_at - launch.starts_at == timedelta(hours=2)
    assert events["windows@example.com"].time_zone == "Europe/Berlin"
    assert BrandFit.objects.filter(brand=brand, event__in=events.values()).count() == 4

    again = _upload(editor, workspace, _crlf(GOOD)).json()
    assert (again["created"], again["updated"], again["skipped"]) == (0, 0, 4)
    changed = _upload(editor, workspace, _crlf(GOOD.replace("SUMMARY:Launch", "SUMMARY:Go"))).json()
    assert (changed["created"], changed["updated"], changed["skipped"]) == (0, 1, 3)
    assert Event.objects.get(external_uid="launch@example.com").title == "Go"


BAD_EVENT = """BEGIN:VEVENT
UID:broken@example.com
SUMMARY:No start
END:VEVENT
"""


def _with(extra: str) -> str:
    return GOOD.replace("END:VCALENDAR", extra + "END:VCALENDAR")


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (BAD_EVENT, "events[4].dtstart"),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Mars/Olympus:20270301T100000\nEND:VEVENT\n",
            "events[4].dtstart",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nRRULE:FREQ=SECONDLY\nEND:VEVENT\n",
            "events[4].rrule",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nRRULE:FREQ=BOGUS\nEND:VEVENT\n",
            "events[4].rrule",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nRRULE:FREQ=DAILY;BYHOUR=99\nEND:VEVENT\n",
            "events[4].rrule",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nRRULE:FREQ=HOURLY;COUNT=3\nEND:VEVENT\n",
            "events[4].rrule",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\n"
            "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\nEND:VEVENT\n",
            "events[4].rrule",
        ),
        ("BEGIN:VEVENT\nUID:a\nDTSTART:notadate\nEND:VEVENT\n", "events[4].dtstart"),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nDTEND:20270301T090000Z\nEND:VEVENT\n",
            "events[4].dtend",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nDTEND;VALUE=DATE:20270302\nEND:VEVENT\n",
            "events[4].dtend",
        ),
        (
            "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\nDURATION:-PT1H\nEND:VEVENT\n",
            "events[4].duration",
        ),
        ("BEGIN:VEVENT\nDTSTART:20270301T100000Z\nEND:VEVENT\n", "events[4].uid"),
        ("BEGIN:VEVENT\nUID:a\nDTSTART:99991231T230000Z\nDURATION:P30D\nEND:VEVENT\n", "events[4]"),
    ],
)
def test_one_bad_event_writes_nothing(workspace, brand, client_for, extra, key):
    response = _upload(client_for(Role.EDITOR), workspace, _crlf(_with(extra)))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_ics"
    fields = response.json()["fields"]
    assert any(name.startswith(key) for name in fields), fields
    assert not Event.objects.filter(workspace=workspace).exists()


def test_never_matching_rule_is_refused(workspace, client_for):
    """How fast is the recurrence benchmark's business (benchmarks/recurrence.py), not a test's."""
    extra = (
        "BEGIN:VEVENT\nUID:a\nDTSTART:20270301T100000Z\n"
        "RRULE:FREQ=WEEKLY;INTERVAL=7;BYSETPOS=1;BYMONTHDAY=31;BYMONTH=4\nEND:VEVENT\n"
    )
    response = _upload(client_for(Role.EDITOR), workspace, _crlf(_with(extra)))
    assert response.status_code == 400
    assert "never produces a date" in response.json()["fields"]["events[4].rrule"][0]
    assert not Event.objects.filter(workspace=workspace).exists()


def test_costly_rules_exhaust_the_budget(workspace, client_for, monkeypatch):
    monkeypatch.setattr("calendar_app.ical.IMPORT_RULE_BUDGET_SECONDS", 0.0)
    response = _upload(client_for(Role.EDITOR), workspace, _crlf(GOOD))
    assert response.status_code == 400
    assert response.json()["code"] == "too_complex"
    assert "file" in response.json()["fields"]
    assert not Event.objects.filter(workspace=workspace).exists()


def test_skips_and_warnings(workspace, client_for):
    extra = (
        "BEGIN:VEVENT\nUID:standup@example.com\nRECURRENCE-ID:20270322T080000Z\n"
        "DTSTART:20270322T090000Z\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:gone\nDTSTART:20270301T100000Z\nSTATUS:CANCELLED\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:launch@example.com\nDTSTART:20270301T100000Z\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:x\nDTSTART:20270301T100000Z\nRRULE:FREQ=DAILY;COUNT=3\n"
        "EXDATE:20270302T100000Z\nEND:VEVENT\n"
    )
    body = _upload(client_for(Role.EDITOR), workspace, _crlf(_with(extra))).json()
    assert (body["created"], body["skipped"]) == (5, 3)
    assert any("RECURRENCE-ID" in w or "changed occurrence" in w for w in body["warnings"])
    assert any("EXDATE" in w for w in body["warnings"])
    assert any("already appeared" in w for w in body["warnings"])


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"hello, I am not a calendar", "file"),
        (b"\xff\xfe\x00B\x00E", "file"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n:::\r\n", "file"),
        (b"BEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\n", "file"),
        (b"", "file"),
    ],
)
def test_not_an_ics_is_400(workspace, client_for, content, field):
    response = _upload(client_for(Role.EDITOR), workspace, content)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_missing_file_is_400(workspace, client_for):
    response = client_for(Role.EDITOR).post(
        api(workspace, "events/import/"), {}, format="multipart"
    )
    assert response.status_code == 400 and "file" in response.json()["fields"]
    response = client_for(Role.EDITOR).post(api(workspace, "events/import/"), {"file": "x"})
    assert response.status_code in (400, 415)


def test_oversize_is_413_json(workspace, client_for):
    big = _crlf(GOOD).replace("SUMMARY:Launch", "SUMMARY:" + "x" * (MAX_ICS_BYTES + 10))
    response = _upload(client_for(Role.EDITOR), workspace, big)
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Event.objects.filter(workspace=workspace).exists()


def test_too_many_events_is_400(workspace, client_for):
    calendar = Calendar()
    for i in range(2001):
        event = VEvent()
        event.add("uid", f"e{i}")
        event.add("dtstart", date(2027, 1, 1))
        calendar.add_component(event)
    response = _upload(client_for(Role.EDITOR), workspace, calendar.to_ical())
    assert response.status_code == 400 and "file" in response.json()["fields"]


def test_roles_and_tenancy(workspace, other_workspace, client_for):
    assert _upload(client_for(Role.VIEWER), workspace, _crlf(GOOD)).status_code == 403
    other = client_for(Role.EDITOR, ws=other_workspace)
    assert _upload(other, workspace, _crlf(GOOD)).status_code == 404
    assert not Event.objects.filter(workspace=workspace).exists()


def test_same_uid_in_another_workspace_is_independent(workspace, other_workspace, client_for):
    _upload(client_for(Role.EDITOR, ws=other_workspace), other_workspace, _crlf(GOOD))
    body = _upload(client_for(Role.EDITOR), workspace, _crlf(GOOD)).json()
    assert body["created"] == 4
    assert Event.objects.filter(external_uid="launch@example.com").count() == 2


def _many(n: int) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Test//EN")
    calendar.add("version", "2.0")
    for i in range(n):
        event = VEvent()
        event.add("uid", f"bulk-{i}@example.com")
        event.add("dtstart", datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=i))
        event.add("duration", timedelta(hours=1))
        event.add("summary", f"Bulk {i}")
        if i % 3 == 0:
            event.add("rrule", {"FREQ": "WEEKLY", "COUNT": 10})
        calendar.add_component(event)
    return calendar.to_ical()


def test_query_count_grows_only_with_insert_batches(workspace, client_for):
    """No query per event: reads are one per 500 UIDs, writes are bulk (SQLite's variable limit
    splits a bulk insert into batches of a few dozen rows; PostgreSQL takes 500 at a time)."""
    f.BrandFactory(workspace=workspace)
    f.BrandFactory(workspace=workspace)
    editor = client_for(Role.EDITOR)
    _upload(editor, workspace, _many(1))  # warm-up (token's last_used_at)
    Event.objects.all().delete()
    with CaptureQueriesContext(connection) as few:
        assert _upload(editor, workspace, _many(10)).status_code == 200
    Event.objects.all().delete()
    with CaptureQueriesContext(connection) as many:
        response = _upload(editor, workspace, _many(200))
    assert response.json()["created"] == 200
    assert len(few) <= 12
    assert len(many) <= len(few) + 12, [q["sql"][:60] for q in many.captured_queries]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(summary=st.text(max_size=400), description=st.text(max_size=2000), raw=st.booleans())
def test_random_text_never_500s(workspace, client_for, summary, description, raw):
    if raw:  # pasted straight into the file, unescaped: may break the file, must not break us
        content = (
            _crlf(GOOD)
            .replace("SUMMARY:Launch", "SUMMARY:" + summary)
            .replace("LOCATION:Room 4", "DESCRIPTION:" + description)
        )
    else:
        calendar = Calendar()
        event = VEvent()
        event.add("uid", "random@example.com")
        event.add("dtstart", datetime(2027, 5, 1, 9, tzinfo=UTC))
        event.add("summary", summary)
        event.add("description", description)
        calendar.add_component(event)
        content = calendar.to_ical()
    response = _upload(client_for(Role.EDITOR), workspace, content)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["fields"]
    elif not raw:
        stored = Event.objects.get(workspace=workspace, external_uid="random@example.com")
        assert "\x00" not in stored.title + stored.description
