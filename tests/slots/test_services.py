"""Posting slots: when they fall (DST days included), the next free one, the queue, re-planning."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendar_app.models import ContentStatus, PostingSlot, QueueEntry, Role
from calendar_app.slots import services
from calendar_app.slots.models import Weekday
from tests import factories as f

NEW_YORK = "America/New_York"


def slot(**fields) -> PostingSlot:
    return PostingSlot(pk=fields.pop("pk", 1), **fields)


def test_a_slot_keeps_its_wall_clock_time_across_dst():
    tuesday_nine = slot(weekday=Weekday.TUESDAY, local_time=time(9, 0))
    found = list(
        services.occurrences(
            [tuesday_nine],
            NEW_YORK,
            datetime(2026, 3, 1, tzinfo=UTC),
            datetime(2026, 3, 20, tzinfo=UTC),
        )
    )
    # 09:00 EST is 14:00 UTC; after the change on 8 March, 09:00 EDT is 13:00 UTC.
    assert [o.at for o in found] == [
        datetime(2026, 3, 3, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 13, 0, tzinfo=UTC),
        datetime(2026, 3, 17, 13, 0, tzinfo=UTC),
    ]


def test_a_slot_in_the_spring_gap_goes_out_an_hour_later_that_day():
    """02:30 does not exist in New York on 8 March 2026: the slot falls at 03:30 EDT."""
    sunday_0230 = slot(weekday=Weekday.SUNDAY, local_time=time(2, 30))
    found = list(
        services.occurrences(
            [sunday_0230],
            NEW_YORK,
            datetime(2026, 3, 7, tzinfo=UTC),
            datetime(2026, 3, 16, tzinfo=UTC),
        )
    )
    assert [o.at for o in found] == [
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 EDT, once
        datetime(2026, 3, 15, 6, 30, tzinfo=UTC),  # 02:30 EDT the week after
    ]


def test_a_slot_in_the_autumn_overlap_happens_once_at_the_first_instant():
    """01:30 happens twice in New York on 1 November 2026: the slot takes the first (EDT)."""
    sunday_0130 = slot(weekday=Weekday.SUNDAY, local_time=time(1, 30))
    found = list(
        services.occurrences(
            [sunday_0130],
            NEW_YORK,
            datetime(2026, 10, 31, tzinfo=UTC),
            datetime(2026, 11, 2, tzinfo=UTC),
        )
    )
    assert [o.at for o in found] == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]


@settings(max_examples=60, deadline=None)
@given(
    weekday=st.integers(0, 6),
    local=st.times(),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    zone=st.sampled_from([NEW_YORK, "Europe/Paris", "Australia/Lord_Howe", "UTC", "Asia/Tokyo"]),
)
def test_one_occurrence_a_week_whatever_the_zone(weekday, local, start, zone):
    begin = start.replace(tzinfo=UTC)
    found = list(
        services.occurrences(
            [slot(weekday=weekday, local_time=local.replace(second=0, microsecond=0))],
            zone,
            begin,
            begin + timedelta(weeks=4),
        )
    )
    assert len(found) == 4
    assert all(b.at - a.at > timedelta(days=6) for a, b in itertools.pairwise(found))


@pytest.fixture
def editor(actor):
    return actor(Role.ADMIN)


def test_add_to_queue_takes_the_next_free_slot_and_skips_a_taken_one(brand, editor):
    channel = f.ChannelFactory(brand=brand)
    f.PostingSlotFactory(brand=brand, weekday=Weekday.TUESDAY, local_time=time(9, 0))
    after = datetime(2030, 1, 1, tzinfo=UTC)  # a Tuesday
    first = f.approved_item(brand, editor, channels=[channel])
    second = f.approved_item(brand, editor, channels=[channel])
    one = services.add_to_queue(first, editor, after=after)
    two = services.add_to_queue(second, editor, after=after)
    assert one.at == datetime(2030, 1, 1, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert two.at == datetime(2030, 1, 8, 8, 0, tzinfo=UTC)  # the Tuesday after
    first.refresh_from_db()
    assert first.status == ContentStatus.SCHEDULED
    assert first.scheduled_at == one.at
    assert first.publications.get().due_at == one.at
    assert QueueEntry.objects.get(content_item=second).planned_at == two.at


def test_a_channel_slot_serves_only_its_channel(brand, editor):
    mine, other = f.ChannelFactory(brand=brand), f.ChannelFactory(brand=brand)
    f.PostingSlotFactory(brand=brand, channel=other, weekday=Weekday.MONDAY)
    wanted = f.PostingSlotFactory(brand=brand, channel=mine, weekday=Weekday.WEDNESDAY)
    item = f.approved_item(brand, editor, channels=[mine])
    free = services.add_to_queue(item, editor, after=datetime(2030, 1, 1, tzinfo=UTC))
    assert free.slot == wanted


def test_queueing_refuses_what_is_not_approved_and_a_brand_without_slots(brand, editor):
    draft = f.ContentItemFactory(brand=brand)
    with pytest.raises(services.QueueError) as refused:
        services.add_to_queue(draft, editor)
    assert refused.value.code == "not_approved"
    item = f.approved_item(brand, editor)
    with pytest.raises(services.QueueError) as refused:
        services.add_to_queue(item, editor)
    assert refused.value.code == "no_free_slot"
    item.refresh_from_db()
    assert item.status == ContentStatus.APPROVED  # nothing half-done


def test_moving_a_slot_replans_what_was_queued_and_says_so(brand, editor):
    channel = f.ChannelFactory(brand=brand)
    tuesday = f.PostingSlotFactory(brand=brand, weekday=Weekday.TUESDAY)
    item = f.approved_item(brand, editor, channels=[channel])
    queued = services.add_to_queue(item, editor)
    report = services.change_slot(tuesday, editor, weekday=Weekday.THURSDAY)
    assert len(report) == 1
    assert report[0].planned_at == queued.at
    assert report[0].moved_to is not None
    assert "moved to Thursday 09:00" in report[0].message
    item.refresh_from_db()
    assert item.scheduled_at == report[0].moved_to
    assert item.publications.get().due_at == report[0].moved_to
    assert item.transitions.last().action == "reschedule"


def test_removing_a_slot_moves_its_items_to_another_or_keeps_their_time(brand, editor):
    channel = f.ChannelFactory(brand=brand)
    tuesday = f.PostingSlotFactory(brand=brand, weekday=Weekday.TUESDAY)
    friday = f.PostingSlotFactory(brand=brand, weekday=Weekday.FRIDAY)
    item = f.approved_item(brand, editor, channels=[channel])
    services.add_to_queue(item, editor)
    QueueEntry.objects.filter(content_item=item).update(slot=tuesday)
    report = services.remove_slot(tuesday, editor)
    assert report[0].slot == friday.pk
    assert not PostingSlot.objects.filter(pk=tuesday.pk).exists()
    kept_at = item.queue_entry.planned_at
    item.refresh_from_db()
    report = services.remove_slot(friday, editor)
    assert report[0].moved_to is None
    assert "keeps its time" in report[0].message
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    assert item.queue_entry.slot is None
    assert item.scheduled_at == kept_at
