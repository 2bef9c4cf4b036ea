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
        for cell in week.days:
            if cell.day == when:
                return cell
    raise AssertionError(f"{when} is not in the grid")


def bars_on(response, when: date):
    """The event bars drawn over ``when`` (a bar spans its days within one week row)."""
    for week in response.context["weeks"]:
        first = week.days[0].day
        if first <= when <= week.days[-1].day:
            column = (when - first).days + 1
            return [b for b in week.bars if b.column <= column < b.column + b.span]
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

    response = calendar(
        login(staff_member(Role.VIEWER)), brand=paris.pk, month="2027-03", all_events="1"
    )
    assert response.context["time_zone"] == "Europe/Paris"
    saturday, sunday, monday = (day(response, date(2027, 3, d)) for d in (27, 28, 29))
    assert [(e.label, e.title) for e in saturday.items] == [
        ("23:30", "Saturday late")
    ]  # CET, UTC+1
    assert [(e.label, e.title, e.status) for e in sunday.items] == [
        ("00:30", "Sunday night owl", "draft"),
        ("09:00", "Sunday morning", "scheduled"),  # CEST, UTC+2
    ]
    assert [(b.label, b.title) for b in bars_on(response, monday.day)] == [("06:00", "Dawn run")]
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

    december_2027 = calendar(client, brand=paris.pk, month="2027-12", all_events="1")
    assert [(b.label, b.title) for b in bars_on(december_2027, date(2027, 12, 25))] == [
        ("", "Christmas")
    ]
    assert not bars_on(december_2027, date(2027, 12, 24))

    march = calendar(client, brand=paris.pk, month="2027-03", all_events="1")
    days_with_week = [d for d in range(1, 6) if bars_on(march, date(2027, 3, d))]
    assert days_with_week == [1, 2, 3]
    # One bar across its three days, not the event repeated in every cell.
    (bar,) = bars_on(march, date(2027, 3, 2))
    assert (bar.title, bar.column, bar.span) == ("Fashion week", 1, 3)
    assert march.content.decode().count('title="Fashion week') == 1


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
    (entry,) = bars_on(response, date(2027, 3, 2))
    assert entry.fit == paris.fits.get(event=event).score == 60


def test_navigation_and_defaults(paris, staff_member, login):
    client = login(staff_member(Role.VIEWER))
    response = calendar(client, brand=paris.pk, month="2027-01")
    assert response.context["prev_link"] == f"?view=month&brand={paris.pk}&date=2026-12-01"
    assert response.context["next_link"] == f"?view=month&brand={paris.pk}&date=2027-02-01"
    assert 'href="?view=month&amp;brand=' in response.content.decode()
    everything = calendar(client, month="garbage")
    assert everything.context["brand"] is None  # all brands of the workspace
    assert everything.context["brands"] == [paris]
    assert everything.context["time_zone"] == "Europe/Paris"  # the (first) brand's, named
    assert calendar(client, brand="nope", month="2027-13").status_code == 200
    assert calendar(client, view="nonsense", date="99999-01-01", fit="x").status_code == 200


def test_changelist_links_to_the_calendar(paris, staff_member, login):
    response = login(staff_member(Role.VIEWER)).get(
        reverse("admin:calendar_app_contentitem_changelist")
    )
    assert reverse("admin:calendar_app_contentitem_calendar") in response.content.decode()


def test_events_under_the_fit_threshold_fold_away_and_one_click_shows_them(
    paris, staff_member, login
):
    f.EventFactory(
        workspace=None,
        title="Tractor fair",
        themes=["agriculture"],
        starts_at=datetime(2027, 3, 9, 9, 0, tzinfo=UTC),
    )
    paris.profile = {"themes": ["fashion"]}
    paris.save()
    client = login(staff_member(Role.VIEWER))
    folded = calendar(client, brand=paris.pk, month="2027-03")
    assert not bars_on(folded, date(2027, 3, 9))
    assert folded.context["page"].folded == 1
    html = folded.content.decode()
    assert "1 event under fit 50 hidden" in html
    shown = calendar(client, brand=paris.pk, month="2027-03", all_events="1")
    assert [b.title for b in bars_on(shown, date(2027, 3, 9))] == ["Tractor fair"]


def test_today_is_marked_and_the_page_opens_on_the_current_month(paris, staff_member, login):
    from django.utils import timezone

    response = calendar(login(staff_member(Role.VIEWER)), brand=paris.pk)
    today = timezone.now().astimezone(paris.tz).date()
    assert day(response, today).is_today
    assert ' today"' in response.content.decode()
