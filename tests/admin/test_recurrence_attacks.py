"""Security review, issue 14 item 1: the admin month calendar with rows written around the checks.

Rows changed with ``QuerySet.update`` (as a row from before the checks, or from raw SQL, would
be) must not turn the page into a 500 or a long walk; costs are counted in expansion steps.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from calendar_app.models import Event, Role
from calendar_app.recurrence import ExpansionBudget
from tests import factories as f

EVERY_SECOND = (
    "FREQ=DAILY;BYHOUR="
    + ",".join(map(str, range(24)))
    + ";BYMINUTE="
    + ",".join(map(str, range(60)))
    + ";BYSECOND="
    + ",".join(map(str, range(60)))
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def steps(monkeypatch):
    counter = {"steps": 0}
    original = ExpansionBudget.step

    def counting(self) -> bool:
        counter["steps"] += 1
        return original(self)

    monkeypatch.setattr(ExpansionBudget, "step", counting)
    return counter


@pytest.mark.parametrize(
    "changes",
    [
        {"rrule": "FREQ=DAILY;INTERVAL=0"},
        {"rrule": EVERY_SECOND},
        {"ends_at": utc(5027, 3, 1)},
        {"starts_at": utc(1, 1, 2)},
        {"rrule": "FREQ=WEEKLY;BYDAY=XX"},
        {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
    ],
    ids=["interval_zero", "every_second", "ends_in_5027", "starts_in_year_1", "garbage", "never"],
)
def test_month_view_survives_a_smuggled_event(workspace, staff_member, login, steps, changes):
    brand = f.BrandFactory(workspace=workspace, time_zone="Europe/Paris")
    good = f.EventFactory(
        workspace=workspace,
        title="Weekly review",
        time_zone="Europe/Paris",
        starts_at=utc(2027, 3, 1, 8),
        ends_at=utc(2027, 3, 1, 9),
        rrule="FREQ=WEEKLY",
    )
    bad = f.EventFactory(
        workspace=workspace,
        title="Smuggled",
        time_zone="Europe/Paris",
        starts_at=utc(2027, 3, 2, 8),
        ends_at=utc(2027, 3, 2, 9),
        rrule="FREQ=DAILY",
    )
    Event.objects.filter(pk=bad.pk).update(recurrence_ends_at=None, **changes)
    client = login(staff_member(Role.VIEWER))
    response = client.get(
        reverse("admin:calendar_app_contentitem_calendar"),
        {"brand": brand.pk, "month": "2027-03", "all_events": "1"},
    )
    assert response.status_code == 200
    titles = {b.title for week in response.context["weeks"] for b in week.bars}
    assert good.title in titles and bad.title not in titles
    assert steps["steps"] < 100


def test_a_long_valid_event_costs_the_grid_not_its_length(workspace, staff_member, login):
    """A year-long event fills the six-week grid; the day loop stays inside the grid."""
    brand = f.BrandFactory(workspace=workspace, time_zone="Europe/Paris")
    f.EventFactory(
        workspace=workspace,
        title="Season",
        time_zone="Europe/Paris",
        starts_at=utc(2026, 6, 1),
        ends_at=utc(2027, 5, 31),
    )
    client = login(staff_member(Role.VIEWER))
    response = client.get(
        reverse("admin:calendar_app_contentitem_calendar"),
        {"brand": brand.pk, "month": "2027-03", "all_events": "1"},
    )
    assert response.status_code == 200
    # One bar per week row, across all seven days.
    for week in response.context["weeks"]:
        assert [(b.title, b.column, b.span) for b in week.bars] == [("Season", 1, 7)]
