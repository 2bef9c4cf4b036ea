"""The month calendar draws items and events in the brand's time zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from calendar_app import workflow
from calendar_app.models import Role
from tests import factories as f


def calendar(client, **params):
    response = client.get(reverse("admin:calendar_app_contentitem_calendar"), params)
    assert response.status_code == 200
    return response


def day(response, when: date):
    for week in response.context["weeks"]:
        for cell in week:
            if cell.day == when:
                return cell
    raise AssertionError(f"{when} is not in the grid")


@pytest.fixture
def paris(workspace):
    return f.BrandFactory(workspace=workspace, name="Lumière", time_zone="Europe/Paris")


def test_items_land_on_the_brand_local_day_across_the_spring_dst_change(
    paris, staff_member, login, actor
):
    # Europe moves its clocks forward on Sunday 2027-03-28 at 01:00 UTC.
    before_midnight = f.ContentItemFactory(
        brand=paris, title="Saturday late", scheduled_at=datetime(2027, 3, 27, 22, 30, tzinfo=UTC)
    )
    after_midnight = f.ContentItemFactory(
        brand=paris,
        title="Sunday night owl",
        scheduled_at=datetime(2027, 3, 27, 23, 30, tzinfo=UTC),
    )
    after_change = f.ContentItemFactory(
        brand=paris, title="Sunday morning", scheduled_at=datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    )
    workflow.submit(after_change, actor(Role.EDITOR))
    workflow.approve(after_change, actor(Role.APPROVER))
    workflow.schedule(after_change, actor(Role.EDITOR))
    f.EventFactory(
        workspace=None,
        title="Dawn run",
        time_zone="Europe/Paris",
        starts_at=datetime(2027, 3, 29, 4, 0, tzinfo=UTC),
    )

    response = calendar(login(staff_member(Role.VIEWER)), brand=paris.pk, month="2027-03")
    assert response.context["time_zone"] == "Europe/Paris"
    saturday, sunday, monday = (day(response, date(2027, 3, d)) for d in (27, 28, 29))
    assert [(e.label, e.title) for e in saturday.items] == [
        ("23:30", "Saturday late")
    ]  # CET, UTC+1
    assert [(e.label, e.title, e.status) for e in sunday.items] == [
        ("00:30", "Sunday night owl", "draft"),
        ("09:00", "Sunday morning", "scheduled"),  # CEST, UTC+2
    ]
    assert [(e.label, e.title) for e in monday.events] == [("06:00", "Dawn run")]
    html = response.content.decode()
    assert "Sunday night owl" in html and "Times in Europe/Paris" in html
    assert before_midnight.pk and after_midnight.pk


def test_same_instant_is_another_day_for_a_new_york_brand(workspace, paris, staff_member, login):
    new_york = f.BrandFactory(workspace=workspace, name="Crunchette", time_zone="America/New_York")
    f.ContentItemFactory(
        brand=new_york, title="Late show", scheduled_at=datetime(2027, 3, 14, 3, 30, tzinfo=UTC)
    )
    response = calendar(login(staff_member(Role.VIEWER)), brand=new_york.pk, month="2027-03")
    assert [e.label for e in day(response, date(2027, 3, 13)).items] == [
        "22:30"
    ]  # EST, before US DST
    assert not day(response, date(2027, 3, 14)).items


def test_all_day_recurring_and_multi_day_events(paris, staff_member, login):
    tz_start = datetime(2026, 12, 24, 23, 0, tzinfo=UTC)  # 25 Dec 00:00 in Paris
    f.EventFactory(
        workspace=None,
        title="Christmas",
        time_zone="Europe/Paris",
        all_day=True,
        rrule="FREQ=YEARLY",
        starts_at=tz_start,
        ends_at=tz_start + timedelta(days=1),
    )
    fashion_start = datetime(2027, 2, 28, 23, 0, tzinfo=UTC)
    f.EventFactory(
        workspace=None,
        title="Fashion week",
        time_zone="Europe/Paris",
        all_day=True,
        starts_at=fashion_start,
        ends_at=fashion_start + timedelta(days=3),
    )
    client = login(staff_member(Role.VIEWER))

    december_2027 = calendar(client, brand=paris.pk, month="2027-12")
    assert [(e.label, e.title) for e in day(december_2027, date(2027, 12, 25)).events] == [
        ("all day", "Christmas")
    ]
    assert not day(december_2027, date(2027, 12, 24)).events

    march = calendar(client, brand=paris.pk, month="2027-03")
    days_with_week = [d for d in range(1, 6) if day(march, date(2027, 3, d)).events]
    assert days_with_week == [1, 2, 3]


def test_fit_score_is_shown_with_the_event(paris, staff_member, login):
    event = f.EventFactory(
        workspace=None,
        title="Paris Fashion Week",
        themes=["fashion"],
        audience=[],
        starts_at=datetime(2027, 3, 2, 9, 0, tzinfo=UTC),
    )
    paris.profile = {"themes": ["fashion"]}
    paris.save()
    response = calendar(login(staff_member(Role.VIEWER)), brand=paris.pk, month="2027-03")
    (entry,) = day(response, date(2027, 3, 2)).events
    assert entry.fit == paris.fits.get(event=event).score == 60


def test_navigation_and_defaults(paris, staff_member, login):
    client = login(staff_member(Role.VIEWER))
    response = calendar(client, brand=paris.pk, month="2027-01")
    assert (response.context["prev_month"], response.context["next_month"]) == (
        "2026-12",
        "2027-02",
    )
    assert f'href="?brand={paris.pk}&amp;month=2026-12"' in response.content.decode()
    assert calendar(client, month="garbage").context["brand"] == paris
    assert calendar(client, brand="nope", month="2027-13").status_code == 200


def test_changelist_links_to_the_calendar(paris, staff_member, login):
    response = login(staff_member(Role.VIEWER)).get(
        reverse("admin:calendar_app_contentitem_changelist")
    )
    assert reverse("admin:calendar_app_contentitem_calendar") in response.content.decode()
