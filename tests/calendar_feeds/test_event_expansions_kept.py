"""An event's occurrences in a window are kept per worker (issue 16): a calendar request expands
the same events over the same month as the one before.

Kept or expanded, the answer must be the same: the same entries (DST days and all-day dates
included) and the same charge on the request's expansion budget, so that a budget runs out at
the same place whether the events before were replayed or walked (the bounded-window guarantee
of docs/security/recurrence.md). An edited event is a new key: its new occurrences show at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app.calendar_view import EVENT_PARTS, EVENT_TIMES, _event_times
from calendar_app.models import Event, Role
from calendar_app.recurrence import WALKS, ExpansionBudget
from tests import factories as f
from tests.calendar_feeds.conftest import api

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
RULES = (
    "",
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=2;BYHOUR=1,2,3",  # 02:00 falls in spring gaps, 01:00 in autumn folds
    "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30",
    "FREQ=WEEKLY;COUNT=30",
    "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20280101T000000Z",
    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
)
#: Months holding a DST change somewhere among ZONES (March, April, October, November).
WINDOW_STARTS = [datetime(2027, month, 1, tzinfo=UTC) for month in (3, 4, 10, 11)]


@pytest.fixture(autouse=True)
def cold():
    EVENT_TIMES.clear()
    EVENT_PARTS.clear()
    WALKS.clear()
    yield
    EVENT_TIMES.clear()
    EVENT_PARTS.clear()


def _budget(max_steps: int, max_occurrences: int, spent: tuple[int, int]) -> ExpansionBudget:
    budget = ExpansionBudget(
        max_steps=max_steps, max_occurrences=max_occurrences, max_seconds=float("inf")
    )
    # What the request's earlier events charged (crossing multiples of 256 included).
    budget.steps, budget.occurrences = spent
    return budget


def _run(arguments: tuple, budget: ExpansionBudget) -> tuple:
    times = _event_times(*arguments, budget, "event")
    return times, budget.steps, budget.occurrences, budget.exhausted


@settings(max_examples=150, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    zone=st.sampled_from(ZONES),
    all_day=st.booleans(),
    starts=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    hours=st.integers(0, 60),
    window_start=st.sampled_from(WINDOW_STARTS),
    days=st.integers(1, 100),
    max_steps=st.integers(1, 3000),
    max_occurrences=st.integers(1, 400),
    spent=st.tuples(st.integers(0, 600), st.integers(0, 40)),
)
def test_a_kept_expansion_gives_and_charges_what_expanding_does(
    rule, zone, all_day, starts, hours, window_start, days, max_steps, max_occurrences, spent
) -> None:
    starts_at = starts.replace(tzinfo=UTC)
    window = (window_start, window_start + timedelta(days=days))
    arguments = (starts_at, starts_at + timedelta(hours=hours), zone, all_day, rule, *window)
    EVENT_TIMES.clear()
    expanded = _run(arguments, _budget(max_steps, max_occurrences, spent))
    # Keep it (a budget that never runs out), then replay it under the same budget as above.
    unbounded = _run(arguments, ExpansionBudget(max_seconds=float("inf")))
    assert EVENT_TIMES.get(arguments[:7]) is not None
    hits = EVENT_TIMES.hits
    assert _run(arguments, _budget(max_steps, max_occurrences, spent)) == expanded
    assert _run(arguments, ExpansionBudget(max_seconds=float("inf"))) == unbounded
    assert EVENT_TIMES.hits == hits + 2
    for start, end, start_date, end_date in unbounded[0]:
        assert start < window[1] and (end > window[0] or start == end >= window[0])
        assert (start_date is not None) == all_day and (end_date is not None) == all_day


@settings(max_examples=200, deadline=None)
@given(
    steps=st.integers(0, 2000),
    charged=st.integers(0, 1500),
    max_steps=st.integers(1, 2500),
    spent_clock=st.booleans(),
)
def test_charging_steps_at_once_is_charging_them_one_by_one(
    steps: int, charged: int, max_steps: int, spent_clock: bool
) -> None:
    def budget() -> ExpansionBudget:
        made = ExpansionBudget(max_steps=max_steps, max_seconds=-1.0 if spent_clock else 1e9)
        made.steps = steps
        return made

    one_by_one = budget()
    for _ in range(charged):
        if not one_by_one.step():
            break
    at_once = budget()
    at_once.charge(charged)
    assert (at_once.steps, at_once.exhausted) == (one_by_one.steps, one_by_one.exhausted)


def test_a_budget_cut_or_a_skipped_row_is_not_kept() -> None:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    daily = (start, start + timedelta(hours=1), "Europe/Paris", False, "FREQ=DAILY")
    window = (start, start + timedelta(days=30))
    _event_times(*daily, *window, ExpansionBudget(max_occurrences=5), "cut")
    assert len(EVENT_TIMES) == 0
    broken = (start, start + timedelta(hours=1), "Mars/Olympus", False, "FREQ=DAILY")
    budget = ExpansionBudget()
    assert _event_times(*broken, *window, budget, "event 9") == []
    assert budget.skipped == ["event 9"] and len(EVENT_TIMES) == 0
    _event_times(*daily, *window, ExpansionBudget(), "whole")
    assert len(EVENT_TIMES) == 1


def test_an_edited_event_shows_its_new_occurrences_at_once(workspace, client_for) -> None:
    event = f.EventFactory(
        workspace=workspace,
        time_zone="Europe/Paris",
        starts_at=datetime(2027, 3, 1, 8, tzinfo=UTC),
        ends_at=datetime(2027, 3, 1, 9, tzinfo=UTC),
        rrule="FREQ=WEEKLY",
    )
    client = client_for(Role.VIEWER)
    url = api(workspace, "calendar/")
    query = {"start": "2027-03-01", "end": "2027-03-31", "kinds": "event", "tz": "Europe/Paris"}

    def starts() -> list[str]:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        return [row["start_local"] for row in response.json()["results"]]

    weekly = starts()
    assert starts() == weekly and EVENT_PARTS.hits == 1  # kept
    EVENT_PARTS.clear()
    hits = EVENT_TIMES.hits
    assert starts() == weekly and EVENT_TIMES.hits == hits + 1  # the event's expansion, kept
    # Across the spring change: 09:00 Paris is 08:00 UTC, then 07:00 UTC.
    assert weekly == [
        f"2027-03-{day:02d}T09:00:00+0{1 if day < 28 else 2}:00" for day in (1, 8, 15, 22, 29)
    ]
    event.rrule = "FREQ=DAILY;INTERVAL=10"
    event.save()
    assert starts() == [
        "2027-03-01T09:00:00+01:00",
        "2027-03-11T09:00:00+01:00",
        "2027-03-21T09:00:00+01:00",
        "2027-03-31T09:00:00+02:00",
    ]
    Event.objects.filter(pk=event.pk).update(
        starts_at=datetime(2027, 3, 2, 8, tzinfo=UTC), ends_at=datetime(2027, 3, 2, 9, tzinfo=UTC)
    )
    assert starts()[0] == "2027-03-02T09:00:00+01:00"


@pytest.mark.parametrize("zone", ["Europe/Paris", "Australia/Lord_Howe"])
@pytest.mark.parametrize("with_brand", [True, False])
def test_kept_event_entries_are_the_fresh_ones(workspace, brand, zone, with_brand) -> None:
    """The whole events part of a range, kept on the rows read: equal to building it again, and
    a changed fit score or event is read at once."""
    from calendar_app.calendar_view import _BRAND_EVENT_ROWS, _EVENT_ROWS, calendar_entries
    from calendar_app.models import BrandFit

    start = datetime(2027, 3, 1, tzinfo=UTC)
    events = [
        f.EventFactory(
            workspace=workspace if n % 3 else None,
            time_zone=zone,
            all_day=n % 4 == 0,
            starts_at=start + timedelta(days=n, hours=n),
            ends_at=start + timedelta(days=n, hours=n + 1 + 24 * (n % 4 == 0)),
            rrule=["", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"][n % 3],
            themes=[f"theme {n}"] if n % 2 else [],
        )
        for n in range(8)
    ]
    for n, event in enumerate(events[:5]):
        BrandFit.objects.update_or_create(
            brand=brand,
            event=event,
            defaults={"workspace": workspace, "score": 10 * n, "override_score": n or None},
        )
    scope = dict(start=start, end=start + timedelta(days=45), kinds=["event"], tz=zone)
    scope["brand"] = brand if with_brand else None

    def fresh():
        EVENT_PARTS.clear()
        EVENT_TIMES.clear()
        return calendar_entries(workspace, **scope)

    cold = fresh()
    assert len(cold) > 40 and len(EVENT_PARTS) == 1
    assert calendar_entries(workspace, **scope) == cold and EVENT_PARTS.hits == 1
    rows = _BRAND_EVENT_ROWS if with_brand else _EVENT_ROWS
    assert rows._prepared["default"] is not None  # compiled, not the ORM's
    if with_brand:
        BrandFit.objects.filter(event=events[1]).update(override_score=99)
        assert {
            e.fit_score for e in calendar_entries(workspace, **scope) if e.id == events[1].pk
        } == {99}
        assert calendar_entries(workspace, **scope) == fresh()
    Event.objects.filter(pk=events[2].pk).update(title="Renamed")
    assert {e.title for e in calendar_entries(workspace, **scope) if e.id == events[2].pk} == {
        "Renamed"
    }
    assert calendar_entries(workspace, **scope) == fresh()
