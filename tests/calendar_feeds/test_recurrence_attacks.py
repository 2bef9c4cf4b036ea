"""Security review, issue 14 item 1, at the doors and on the pages that expand rules.

The attack first: rows written around validation (``QuerySet.update``, ``bulk_create``, as a
row from before the checks or from raw SQL would be) must not make the calendar API or the
iCalendar feed answer a 500 or walk for long; then each door refuses such a rule with a field
message. Costs are counted in expansion steps (a counter on ``ExpansionBudget.step``), not timed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from calendar_app.models import CalendarFeed, Event, Role
from calendar_app.recurrence import MAX_PER_DAY, ExpansionBudget
from tests import factories as f
from tests.calendar_feeds.conftest import api

EVERY_SECOND = (
    "FREQ=DAILY;BYHOUR="
    + ",".join(map(str, range(24)))
    + ";BYMINUTE="
    + ",".join(map(str, range(60)))
    + ";BYSECOND="
    + ",".join(map(str, range(60)))
)

#: What the review stored, and what else a row written around the checks may hold.
SMUGGLED = {
    "interval_zero": {"rrule": "FREQ=DAILY;INTERVAL=0"},
    "every_second": {"rrule": EVERY_SECOND},
    "thousands_of_years_long": {"ends_at": datetime(5027, 3, 1, tzinfo=UTC)},
    "far_past": {
        "starts_at": datetime(1, 1, 2, tzinfo=UTC),
        "rrule": "FREQ=DAILY",
    },
    "unparsable": {"rrule": "FREQ=DAILY;BYDAY=XX"},
    "never_matches": {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
    "huge_count": {"rrule": "FREQ=DAILY;COUNT=1000000000"},
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def steps(monkeypatch):
    """Counts every expansion step taken in the request under test."""
    counter = {"steps": 0}
    original = ExpansionBudget.step

    def counting(self) -> bool:
        counter["steps"] += 1
        return original(self)

    monkeypatch.setattr(ExpansionBudget, "step", counting)
    return counter


def _good_event(workspace) -> Event:
    return f.EventFactory(
        workspace=workspace,
        title="Weekly review",
        time_zone="Europe/Paris",
        starts_at=utc(2027, 3, 1, 8),
        ends_at=utc(2027, 3, 1, 9),
        rrule="FREQ=WEEKLY",
    )


def _smuggle(workspace, changes: dict) -> Event:
    """A valid event, then changed with ``QuerySet.update``: no save(), no validation."""
    event = f.EventFactory(
        workspace=workspace,
        title="Smuggled",
        time_zone="Europe/Paris",
        starts_at=utc(2027, 3, 2, 8),
        ends_at=utc(2027, 3, 2, 9),
        rrule="FREQ=DAILY",
    )
    Event.objects.filter(pk=event.pk).update(recurrence_ends_at=None, **changes)
    return event


@pytest.mark.parametrize("name", sorted(SMUGGLED))
def test_calendar_api_survives_a_smuggled_rule(name, workspace, client_for, steps):
    good = _good_event(workspace)
    bad = _smuggle(workspace, SMUGGLED[name])
    response = client_for(Role.VIEWER).get(
        api(workspace, "calendar/"), {"start": "2027-03-01", "end": "2027-04-30", "kinds": "event"}
    )
    assert response.status_code == 200, response.content
    ids = {row["id"] for row in response.json()["results"]}
    assert good.pk in ids
    assert bad.pk not in ids
    assert steps["steps"] < 1000


def test_bulk_created_rows_are_skipped_too(workspace, client_for, steps):
    Event.objects.bulk_create(
        [
            Event(
                workspace=workspace,
                title=f"Bulk {i}",
                time_zone="UTC",
                starts_at=utc(1971, 1, 1),
                ends_at=utc(1971, 1, 1, 1),
                rrule=EVERY_SECOND,
            )
            for i in range(20)
        ]
    )
    response = client_for(Role.VIEWER).get(
        api(workspace, "calendar/"), {"start": "2027-03-01", "end": "2027-06-01"}
    )
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert steps["steps"] == 0


def test_far_window_on_an_old_event_walks_the_window_only(workspace, client_for, steps):
    """A valid 24-a-day rule from 1971, asked about 2190: steps for the 100 days asked, not for
    two centuries (about two million before the fix)."""
    f.EventFactory(
        workspace=workspace,
        time_zone="Europe/Paris",
        starts_at=utc(1971, 1, 1, 9),
        ends_at=utc(1971, 1, 1, 9, 15),
        rrule="FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(MAX_PER_DAY))),
    )
    response = client_for(Role.VIEWER).get(
        api(workspace, "calendar/"),
        {"start": "2190-01-01", "end": "2190-04-10", "kinds": "event", "page_size": 1},
    )
    assert response.status_code == 200
    # 100 days of 24, plus the spring gap's 02:00 moved onto 03:00 (RFC 5545): 2,401.
    assert response.json()["count"] == 100 * MAX_PER_DAY + 1
    assert steps["steps"] <= 103 * MAX_PER_DAY


def test_calendar_stops_at_the_request_budget(workspace, client_for, monkeypatch):
    from functools import partial

    from calendar_app import calendar_view

    monkeypatch.setattr(
        calendar_view, "ExpansionBudget", partial(ExpansionBudget, max_occurrences=30)
    )
    for _ in range(3):
        f.EventFactory(
            workspace=workspace,
            time_zone="UTC",
            starts_at=utc(2027, 1, 1, 9),
            ends_at=utc(2027, 1, 1, 10),
            rrule="FREQ=DAILY",
        )
    response = client_for(Role.VIEWER).get(
        api(workspace, "calendar/"), {"start": "2027-03-01", "end": "2027-04-30", "kinds": "event"}
    )
    assert response.status_code == 200
    assert response.json()["count"] == 30


@pytest.mark.parametrize("name", sorted(SMUGGLED))
def test_ical_feed_survives_a_smuggled_rule(name, workspace, brand, client, steps):
    good = f.EventFactory(
        workspace=workspace,
        time_zone="Europe/Paris",
        starts_at=datetime.now(UTC) + timedelta(days=3),
        ends_at=datetime.now(UTC) + timedelta(days=3, hours=1),
        rrule="FREQ=WEEKLY",
    )
    changes = dict(SMUGGLED[name])
    if "starts_at" not in changes and "ends_at" not in changes:
        changes["starts_at"] = datetime.now(UTC) - timedelta(days=1)
        changes["ends_at"] = datetime.now(UTC)
    bad = _smuggle(workspace, changes)
    _, token = CalendarFeed.issue(brand=brand, name="Team")
    response = client.get(f"/feeds/ical/{token}.ics")
    assert response.status_code == 200, response.content
    uids = {str(c["UID"]) for c in Calendar.from_ical(response.content).walk("VEVENT")}
    assert f"event-{good.pk}@kairos" in uids
    if name != "never_matches":  # passes the cheap check; refused at every door, harmless here
        assert f"event-{bad.pk}@kairos" not in uids
    assert steps["steps"] == 0  # the feed exports rules, it never expands them


# --- the API door ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"rrule": "FREQ=DAILY;INTERVAL=0"}, "rrule", "INTERVAL"),
        ({"rrule": EVERY_SECOND}, "rrule", "times a day"),
        ({"rrule": "FREQ=DAILY;COUNT=999999"}, "rrule", "COUNT"),
        ({"rrule": "FREQ=DAILY;UNTIL=30000101"}, "rrule", "UNTIL"),
        ({"rrule": "FREQ=YEARLY;BYEASTER=0"}, "rrule", "BYEASTER"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule", "never"),
        ({"ends_at": "5027-03-01T10:00:00Z"}, "ends_at", "2200"),
        ({"ends_at": "2029-03-01T10:00:00Z"}, "ends_at", "366 days"),
        (
            {"starts_at": "1950-01-01T09:00:00Z", "ends_at": "1950-01-01T10:00:00Z"},
            "starts_at",
            "1970",
        ),
    ],
)
def test_api_refuses_with_a_field_message(workspace, client_for, payload, field, words):
    body = {
        "title": "Launch",
        "starts_at": "2027-03-01T09:00:00Z",
        "ends_at": "2027-03-01T10:00:00Z",
        "time_zone": "Europe/Paris",
        **payload,
    }
    response = client_for(Role.EDITOR).post(api(workspace, "events/"), body, format="json")
    assert response.status_code == 400, response.content
    messages = " ".join(response.json()["fields"][field])
    assert words in messages
    assert not Event.objects.filter(workspace=workspace).exists()


def test_api_patch_is_checked_against_the_stored_dates(workspace, client_for):
    event = f.EventFactory(workspace=workspace, starts_at=utc(2027, 3, 1), ends_at=utc(2027, 3, 2))
    response = client_for(Role.EDITOR).patch(
        api(workspace, f"events/{event.pk}/"), {"rrule": "FREQ=WEEKLY;INTERVAL=0"}, format="json"
    )
    assert response.status_code == 400
    assert "rrule" in response.json()["fields"]
    event.refresh_from_db()
    assert event.rrule == ""


# --- the .ics door -----------------------------------------------------------------------------


def _ics(*rules_and_dates: tuple[str, str, str]) -> bytes:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{i}@test\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:{start}\r\n"
        f"DTEND:{end}\r\n" + (f"RRULE:{rule}\r\n" if rule else "") + "SUMMARY:x\r\nEND:VEVENT\r\n"
        for i, (rule, start, end) in enumerate(rules_and_dates)
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + events + "END:VCALENDAR\r\n"
    ).encode()


def test_ics_import_reports_each_bad_event_and_writes_nothing(workspace, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = _ics(
        ("FREQ=WEEKLY", "20270301T090000Z", "20270301T100000Z"),
        ("FREQ=DAILY;INTERVAL=0", "20270301T090000Z", "20270301T100000Z"),
        (EVERY_SECOND, "20270301T090000Z", "20270301T100000Z"),
        ("", "20270301T090000Z", "50270301T100000Z"),
        ("FREQ=YEARLY", "18000301T090000Z", "18000301T100000Z"),
    )
    response = client_for(Role.EDITOR).post(
        api(workspace, "events/import/"),
        {"file": SimpleUploadedFile("x.ics", data, "text/calendar")},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    fields = response.json()["fields"]
    assert "INTERVAL" in " ".join(fields["events[1].rrule"])
    assert "times a day" in " ".join(fields["events[2].rrule"])
    assert "2200" in " ".join(fields["events[3].dtend"])
    assert "1970" in " ".join(fields["events[4].dtstart"])
    assert "events[0].rrule" not in fields
    assert not Event.objects.filter(workspace=workspace).exists()
