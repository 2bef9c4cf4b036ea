"""Security review, issue 14 item 1: recurrence rules must not take a worker or the calendar down.

Each attack is first reproduced against the expansion (a rule with ``INTERVAL=0``, a rule with
tens of thousands of occurrences a day, an event far from the window, a broken stored rule);
then the property tests show the jumped expansion equals the naive walk from the event's start,
across DST days, and never exceeds its caps. Costs are counted in steps, never timed.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from calendar_app.recurrence import (
    MAX_COUNT,
    MAX_PER_DAY,
    ExpansionBudget,
    Occurrence,
    _local_to_utc,
    event_problems,
    last_occurrence_end,
    occurrences,
    rule_problems,
)
from calendar_app.validators import validate_rrule
from tests import factories as f

ZONES = ("Europe/Paris", "America/New_York", "UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def naive_occurrences(
    *, starts_at, ends_at, time_zone, rule_text, window_start, window_end
) -> list[Occurrence]:
    """The expansion as it was before the fix: dateutil walking from the event's start."""
    tz = zoneinfo.ZoneInfo(time_zone)
    duration = ends_at - starts_at
    rule = rrulestr(rule_text, dtstart=starts_at.astimezone(tz).replace(tzinfo=None), ignoretz=True)
    search_from = (window_start - duration - timedelta(days=1)).astimezone(tz).replace(tzinfo=None)
    found = []
    for local in rule.xafter(search_from, inc=True):
        start = _local_to_utc(local, tz)
        if start >= window_end:
            break
        end = start + duration
        if end > window_start or (duration == timedelta(0) and start >= window_start):
            found.append(Occurrence(start, end))
    return found


def expand(budget: ExpansionBudget | None = None, **kwargs) -> list[Occurrence]:
    return list(occurrences(**kwargs, budget=budget))


# --- the attacks, reproduced -------------------------------------------------------------------

ATTACK_RULES = {
    "interval_zero": "FREQ=DAILY;INTERVAL=0",
    "every_second": "FREQ=DAILY;BYHOUR="
    + ",".join(map(str, range(24)))
    + ";BYMINUTE="
    + ",".join(map(str, range(60)))
    + ";BYSECOND="
    + ",".join(map(str, range(60))),
    "every_minute_of_every_hour": "FREQ=WEEKLY;BYHOUR=9,10;BYMINUTE="
    + ",".join(map(str, range(60))),
    "huge_count": "FREQ=DAILY;COUNT=1000000000",
    "until_far_future": "FREQ=DAILY;UNTIL=99991231T000000",
    "hourly": "FREQ=HOURLY",
    "easter": "FREQ=YEARLY;BYEASTER=0",
    "garbage": "FREQ=DAILY;BYDAY=XX",
}


@pytest.mark.parametrize("name", sorted(ATTACK_RULES))
def test_every_attack_rule_is_refused_by_the_validator(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_rrule(ATTACK_RULES[name])
    assert info.value.messages


def test_a_rule_that_never_matches_is_refused_with_the_event() -> None:
    problems = event_problems(
        rule_text="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        starts_at=utc(2027, 1, 1),
        ends_at=utc(2027, 1, 2),
        time_zone="UTC",
    )
    assert "never produces a date" in problems["rrule"][0]


@pytest.mark.parametrize("name", sorted(ATTACK_RULES))
def test_a_stored_attack_rule_is_skipped_without_walking(name: str) -> None:
    """Whatever got stored, the expansion costs nothing and raises nothing: the row is skipped."""
    budget = ExpansionBudget()
    found = expand(
        budget,
        starts_at=utc(2020, 1, 1, 9),
        ends_at=utc(2020, 1, 1, 10),
        time_zone="Europe/Paris",
        rule_text=ATTACK_RULES[name],
        window_start=utc(2190, 1, 1),
        window_end=utc(2190, 4, 1),
    )
    assert found == []
    assert budget.steps == 0
    assert budget.skipped == [ATTACK_RULES[name]]


def test_the_24_per_day_limit_is_exact() -> None:
    hours = ",".join(map(str, range(24)))
    validate_rrule(f"FREQ=DAILY;BYHOUR={hours}")
    with pytest.raises(ValidationError, match=f"at most {MAX_PER_DAY}"):
        validate_rrule(f"FREQ=DAILY;BYHOUR={hours};BYMINUTE=0,30")


@pytest.mark.parametrize(
    ("rule", "field", "starts_at", "ends_at"),
    [
        ("FREQ=YEARLY", "ends_at", utc(2020, 1, 1), utc(5020, 1, 1)),  # thousands of years long
        ("", "starts_at", utc(1, 1, 1), utc(1, 1, 2)),  # far in the past
        ("", "starts_at", utc(9000, 1, 1), utc(9000, 1, 2)),  # far in the future
        ("FREQ=DAILY;UNTIL=25000101", "rrule", utc(2020, 1, 1), utc(2020, 1, 2)),
        (f"FREQ=DAILY;COUNT={MAX_COUNT + 1}", "rrule", utc(2020, 1, 1), utc(2020, 1, 2)),
        ("FREQ=DAILY;INTERVAL=0", "rrule", utc(2020, 1, 1), utc(2020, 1, 2)),
    ],
)
def test_event_problems_name_the_field(rule, field, starts_at, ends_at) -> None:
    problems = event_problems(rule_text=rule, starts_at=starts_at, ends_at=ends_at, time_zone="UTC")
    assert field in problems, problems


def test_an_event_thousands_of_years_long_no_longer_breaks_the_expansion() -> None:
    """Before: ``window_start - duration`` left the datetime range and every request failed."""
    budget = ExpansionBudget()
    found = expand(
        budget,
        starts_at=utc(2020, 1, 1),
        ends_at=datetime(9999, 1, 1, tzinfo=UTC),
        time_zone="UTC",
        rule_text="FREQ=YEARLY",
        window_start=utc(2030, 1, 1),
        window_end=utc(2030, 2, 1),
    )
    assert found == [] and budget.steps == 0 and budget.skipped


@pytest.mark.parametrize(
    ("window_start", "window_end"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 3, 1, tzinfo=UTC)),
        (datetime(9999, 10, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)),
    ],
)
def test_windows_at_the_ends_of_time_answer_without_error(window_start, window_end) -> None:
    budget = ExpansionBudget()
    assert (
        expand(
            budget,
            starts_at=utc(2020, 1, 1),
            ends_at=utc(2020, 1, 2),
            time_zone="Pacific/Kiritimati",
            rule_text="FREQ=DAILY",
            window_start=window_start,
            window_end=window_end,
        )
        == []
    )
    assert budget.steps == 0


def test_a_far_window_on_an_old_event_costs_the_window_not_the_distance() -> None:
    """A 24-a-day rule from 1971 asked about 2199: before, ~2 million steps; now the window's."""
    hours = ",".join(map(str, range(24)))
    kwargs = dict(
        starts_at=utc(1971, 1, 1),
        ends_at=utc(1971, 1, 1, 0, 30),
        time_zone="Europe/Paris",
        rule_text=f"FREQ=DAILY;BYHOUR={hours}",
        window_start=utc(2199, 1, 1),
        window_end=utc(2199, 4, 11),
    )
    budget = ExpansionBudget()
    found = expand(budget, **kwargs)
    assert found == naive_occurrences(**kwargs)
    assert len(found) in (2400, 2401)  # the spring gap's 02:00 lands on 03:00: twice 01:00Z
    assert budget.steps <= 103 * 24


def test_the_request_budget_stops_expansion_across_events() -> None:
    budget = ExpansionBudget(max_occurrences=50)
    for _ in range(3):
        expand(
            budget,
            starts_at=utc(2027, 1, 1, 9),
            ends_at=utc(2027, 1, 1, 10),
            time_zone="UTC",
            rule_text="FREQ=DAILY",
            window_start=utc(2027, 1, 1),
            window_end=utc(2027, 4, 1),
        )
    assert budget.occurrences == 50 and budget.exhausted


def test_a_rule_that_stops_matching_is_bounded_by_the_400_year_cycle() -> None:
    """Stored without validation, a rule whose periods are all empty after the window would make
    dateutil look until 9999; run near 9999, it gives up after a few centuries at most."""
    from calendar_app import recurrence

    problems = recurrence.stored_problems(
        rule_text="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        starts_at=utc(2020, 1, 1),
        ends_at=utc(2020, 1, 1),
        time_zone="UTC",
    )
    assert problems == {}  # passes the cheap check: only never_occurs refuses it at the doors
    budget = ExpansionBudget()
    assert (
        expand(
            budget,
            starts_at=utc(2020, 1, 1),
            ends_at=utc(2020, 1, 1),
            time_zone="UTC",
            rule_text="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            window_start=utc(1975, 1, 1),
            window_end=utc(1975, 2, 1),
        )
        == []
    )


def test_last_occurrence_end_of_a_long_until_rule_is_exact() -> None:
    """The old code stopped after 5,000 occurrences and stored too early an end, so the event
    vanished from later time ranges; the backwards search is exact and cheap."""
    start = utc(2021, 1, 1, 9)
    assert last_occurrence_end(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        time_zone="UTC",
        rule_text="FREQ=DAILY;UNTIL=21000101T120000",
    ) == utc(2100, 1, 1, 10)
    assert last_occurrence_end(
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        time_zone="UTC",
        rule_text="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=21990101",
    ) == utc(2196, 2, 29, 10)


# --- the jumped expansion equals the naive walk ------------------------------------------------

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw) -> str:
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={frequency}"]
    interval = draw(st.one_of(st.just(1), st.integers(1, 12)))
    if interval != 1 or draw(st.booleans()):
        parts.append(f"INTERVAL={interval}")
    if draw(st.booleans()):
        parts.append(
            "BYHOUR="
            + ",".join(map(str, draw(st.sets(st.integers(0, 23), min_size=1, max_size=3))))
        )
    if draw(st.integers(0, 3)) == 0:
        parts.append(
            "BYMINUTE="
            + ",".join(map(str, draw(st.sets(st.integers(0, 59), min_size=1, max_size=2))))
        )
    if frequency in ("WEEKLY", "DAILY") and draw(st.booleans()):
        parts.append(
            "BYDAY=" + ",".join(draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1, max_size=3)))
        )
    if frequency in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            days = draw(st.sets(st.integers(1, 28) | st.integers(-3, -1), min_size=1, max_size=3))
            parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
        elif choice == 1:
            nth = draw(st.sampled_from(["1", "2", "-1", ""]))
            parts.append("BYDAY=" + nth + draw(st.sampled_from(WEEKDAYS)))
        else:
            parts.append(
                "BYDAY="
                + ",".join(draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1, max_size=2)))
            )
            parts.append("BYSETPOS=" + draw(st.sampled_from(["1", "-1", "2"])))
    if frequency == "YEARLY" and draw(st.booleans()):
        parts.append(
            "BYMONTH="
            + ",".join(map(str, draw(st.sets(st.integers(1, 12), min_size=1, max_size=3))))
        )
    if frequency in ("WEEKLY",) and draw(st.booleans()):
        parts.append("WKST=" + draw(st.sampled_from(["MO", "SU", "WE"])))
    end = draw(st.integers(0, 2))
    if end == 1:
        parts.append(f"COUNT={draw(st.integers(1, 400))}")
    elif end == 2:
        until = draw(st.datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1)))
        parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%S"))
    return ";".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=rules(),
    zone=st.sampled_from(ZONES),
    local_start=st.datetimes(datetime(1995, 1, 1), datetime(2035, 1, 1)),
    duration_minutes=st.integers(0, 3 * 24 * 60),
    offset_days=st.integers(-30, 15 * 366),
    window_days=st.integers(1, 100),
)
def test_jumped_expansion_equals_the_naive_walk(
    rule, zone, local_start, duration_minutes, offset_days, window_days
) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    starts_at = local_start.replace(tzinfo=tz).astimezone(UTC)
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    assume(not event_problems(rule_text=rule, starts_at=starts_at, ends_at=ends_at, time_zone=zone))
    window_start = starts_at + timedelta(days=offset_days, hours=offset_days % 24)
    window_end = window_start + timedelta(days=window_days)
    kwargs = dict(
        starts_at=starts_at,
        ends_at=ends_at,
        time_zone=zone,
        rule_text=rule,
        window_start=window_start,
        window_end=window_end,
    )
    budget = ExpansionBudget()
    assert expand(budget, **kwargs) == naive_occurrences(**kwargs)
    assert not budget.exhausted


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=30",  # 02:30 falls in the spring gap
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;BYHOUR=1,2",
        "FREQ=MONTHLY;BYDAY=-1SU;BYHOUR=2",  # last Sunday: the European change days
        "FREQ=YEARLY;BYMONTH=3,11;BYDAY=2SU;BYHOUR=2",  # second Sunday: the American ones
    ],
)
def test_dst_days_far_from_the_start_match_the_naive_walk(zone: str, rule: str) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    starts_at = datetime(1999, 1, 3, 1, 30).replace(tzinfo=tz).astimezone(UTC)
    for window_start in (utc(2027, 3, 1), utc(2027, 10, 20), utc(2033, 3, 1)):
        kwargs = dict(
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=45),
            time_zone=zone,
            rule_text=rule,
            window_start=window_start,
            window_end=window_start + timedelta(days=30),
        )
        found = expand(**kwargs)
        assert found and found == naive_occurrences(**kwargs)


# --- caps, whatever is stored ------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    frequency=st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"]),
    interval=st.integers(0, 1000),
    hours=st.integers(1, 24),
    minutes=st.integers(1, 60),
    count=st.none() | st.integers(0, 10**9),
    start_year=st.integers(1, 9998),
    window_year=st.integers(1, 9998),
)
def test_expansion_never_exceeds_its_caps(
    frequency, interval, hours, minutes, count, start_year, window_year
) -> None:
    rule = (
        f"FREQ={frequency};INTERVAL={interval};BYHOUR={','.join(map(str, range(hours)))};"
        f"BYMINUTE={','.join(map(str, range(minutes)))}"
    ) + (f";COUNT={count}" if count is not None else "")
    budget = ExpansionBudget(max_occurrences=500, max_steps=2000)
    found = expand(
        budget,
        starts_at=datetime(start_year, 6, 1, tzinfo=UTC),
        ends_at=datetime(start_year, 6, 1, 1, tzinfo=UTC),
        time_zone="Europe/Paris",
        rule_text=rule,
        window_start=datetime(window_year, 1, 1, tzinfo=UTC),
        window_end=datetime(window_year, 4, 1, tzinfo=UTC),
    )
    assert len(found) <= 500
    assert budget.steps <= 2001
    if rule_problems(rule) or not 1970 <= start_year <= 2200:
        assert found == [] and budget.steps == 0


# --- the model door (fixtures: pre_save on raw saves) ------------------------------------------


@pytest.mark.django_db
def test_loaddata_cannot_smuggle_a_rule(tmp_path) -> None:
    import json

    from django.core.management import call_command

    from calendar_app.models import Event

    fixture = tmp_path / "bad.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "calendar_app.event",
                    "pk": 990001,
                    "fields": {
                        "title": "Every second",
                        "starts_at": "2027-01-01T00:00:00Z",
                        "ends_at": "2027-01-01T00:00:01Z",
                        "time_zone": "UTC",
                        "rrule": "FREQ=DAILY;INTERVAL=0",
                        "created_at": "2027-01-01T00:00:00Z",
                        "updated_at": "2027-01-01T00:00:00Z",
                    },
                }
            ]
        )
    )
    with pytest.raises(ValidationError) as info:
        call_command("loaddata", str(fixture), verbosity=0)
    assert "INTERVAL" in " ".join(info.value.message_dict["rrule"])
    assert not Event.objects.filter(pk=990001).exists()


@pytest.mark.django_db
def test_loaddata_stores_the_end_of_recurrence(tmp_path) -> None:
    import json

    from django.core.management import call_command

    from calendar_app.models import Event

    fixture = tmp_path / "good.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "calendar_app.event",
                    "pk": 990002,
                    "fields": {
                        "title": "Three days",
                        "starts_at": "2027-01-01T09:00:00Z",
                        "ends_at": "2027-01-01T10:00:00Z",
                        "time_zone": "UTC",
                        "rrule": "FREQ=DAILY;COUNT=3",
                        "created_at": "2027-01-01T00:00:00Z",
                        "updated_at": "2027-01-01T00:00:00Z",
                    },
                }
            ]
        )
    )
    call_command("loaddata", str(fixture), verbosity=0)
    assert Event.objects.get(pk=990002).recurrence_ends_at == utc(2027, 1, 3, 10)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=DAILY;INTERVAL=0"}, "rrule"),
        ({"ends_at": utc(3027, 1, 1)}, "ends_at"),
        ({"starts_at": utc(1900, 1, 1), "ends_at": utc(1900, 1, 2)}, "starts_at"),
    ],
)
def test_model_save_and_clean_refuse(changes, field) -> None:
    event = f.EventFactory.build(**changes)
    with pytest.raises(ValidationError) as info:
        event.full_clean()
    assert field in info.value.message_dict
    with pytest.raises(ValidationError):
        event.save()


@pytest.mark.django_db
def test_check_events_names_the_rows_written_around_the_checks() -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    from calendar_app.models import Event

    fine = f.EventFactory(rrule="FREQ=WEEKLY")
    out = StringIO()
    call_command("check_events", stdout=out)
    assert "Every event passes" in out.getvalue()

    Event.objects.filter(pk=fine.pk).update(rrule="FREQ=DAILY;INTERVAL=0")
    out = StringIO()
    with pytest.raises(CommandError, match="1 event"):
        call_command("check_events", stdout=out)
    assert f"event {fine.pk} (library)" in out.getvalue()
    assert "INTERVAL" in out.getvalue()
