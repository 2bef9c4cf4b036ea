"""When posting slots fall, which one is free next, adding to the queue and re-planning.

A slot's weekly occurrence is *taken* when an item of the brand that shares a channel with the
slot (any channel, for a brand-wide slot) is planned at that very instant and has not been
cancelled or sent back to draft: a hand-scheduled item takes a slot as much as a queued one.

Every change goes through :mod:`calendar_app.workflow` (schedule, reschedule), so the queue
never bypasses approval, crisis holds or the audit trail.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import Brand, ContentItem, ContentStatus
from calendar_app.recurrence import wall_clock_to_utc
from calendar_app.slots.models import PostingSlot, QueueEntry
from calendar_app.workflow import Actor

#: How far ahead "next free slot" looks: a queue longer than a year is a plan, not a queue.
HORIZON = timedelta(days=366)
#: Item states that hold their time: everything planned, going or gone out.
HOLDING = (
    ContentStatus.APPROVED,
    ContentStatus.SCHEDULED,
    ContentStatus.PUBLISHING,
    ContentStatus.PUBLISHED,
    ContentStatus.PARTLY_FAILED,
    ContentStatus.FAILED,
)


class QueueError(Exception):
    """A refusal a marketer can act on; ``code`` is stable for API clients."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class FreeSlot:
    at: datetime  # UTC
    slot: PostingSlot


@dataclass(frozen=True, slots=True)
class Replanned:
    """What happened to one queued item when its slot moved or went."""

    content_item: int
    title: str
    slot: int | None
    planned_at: datetime
    moved_to: datetime | None  # None: no free slot; it keeps its time
    message: str

    def as_dict(self) -> dict:
        return {
            "content_item": self.content_item,
            "title": self.title,
            "slot": self.slot,
            "planned_at": self.planned_at,
            "moved_to": self.moved_to,
            "message": self.message,
        }


def occurrences(
    slots: Iterable[PostingSlot], time_zone: str, start: datetime, end: datetime
) -> Iterator[FreeSlot]:
    """Every occurrence of ``slots`` in ``[start, end)``, in time order (ties by slot id).

    Computed day by day in the brand's zone, so a slot keeps its wall-clock time across DST;
    see the package docstring for the spring gap and the autumn overlap.
    """
    tz = zoneinfo.ZoneInfo(time_zone)
    by_weekday: dict[int, list[PostingSlot]] = {}
    for slot in slots:
        by_weekday.setdefault(slot.weekday, []).append(slot)
    if not by_weekday:
        return
    day: date = start.astimezone(tz).date() - timedelta(days=1)
    last: date = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        found = [
            FreeSlot(wall_clock_to_utc(datetime.combine(day, slot.local_time), tz), slot)
            for slot in by_weekday.get(day.weekday(), ())
        ]
        for entry in sorted(found, key=lambda f: (f.at, f.slot.pk)):
            if start <= entry.at < end:
                yield entry
        day += timedelta(days=1)


def applicable_slots(brand: Brand, channel_ids: Iterable[int] | None) -> list[PostingSlot]:
    """The brand's slots that can carry an item for ``channel_ids`` (None: any channel)."""
    slots = list(PostingSlot.objects.filter(brand=brand).select_related("channel"))
    if channel_ids is None:
        return slots
    wanted = set(channel_ids)
    return [s for s in slots if s.channel_id is None or s.channel_id in wanted]


def _taken(
    brand: Brand, start: datetime, end: datetime, exclude_item: int | None
) -> dict[datetime, set[int]]:
    """Instant -> channel ids of the brand's items planned then (one query)."""
    rows = ContentItem.objects.filter(
        brand=brand, status__in=HOLDING, scheduled_at__gte=start, scheduled_at__lt=end
    )
    if exclude_item is not None:
        rows = rows.exclude(pk=exclude_item)
    taken: dict[datetime, set[int]] = {}
    for at, channel in rows.values_list("scheduled_at", "channels"):
        taken.setdefault(at.astimezone(UTC), set()).add(channel or 0)
    return taken


def _is_free(entry: FreeSlot, taken: dict[datetime, set[int]]) -> bool:
    there = taken.get(entry.at)
    if not there:
        return True
    return entry.slot.channel_id is not None and entry.slot.channel_id not in there


def next_free_slot(
    brand: Brand,
    *,
    channel_ids: Iterable[int] | None = None,
    after: datetime | None = None,
    exclude_item: int | None = None,
    exclude_slot: int | None = None,
    horizon: timedelta = HORIZON,
) -> FreeSlot | None:
    """The earliest free slot occurrence after ``after`` (default: now), or None within the
    horizon. ``channel_ids`` limits it to slots that serve those channels."""
    start = (after or timezone.now()).astimezone(UTC)
    end = start + horizon
    slots = [s for s in applicable_slots(brand, channel_ids) if s.pk != exclude_slot]
    if not slots:
        return None
    taken = _taken(brand, start, end, exclude_item)
    for entry in occurrences(slots, brand.time_zone, start, end):
        if _is_free(entry, taken):
            return entry
    return None


@transaction.atomic
def add_to_queue(item: ContentItem, actor: Actor, *, after: datetime | None = None) -> FreeSlot:
    """Schedule an approved item in its brand's next free slot (for its channels)."""
    item = ContentItem.objects.select_for_update().get(pk=item.pk)
    if item.status != ContentStatus.APPROVED:
        raise QueueError(
            f"Only approved items can be queued; “{item.title}” is "
            f"{item.get_status_display().lower()}.",
            code="not_approved",
            field="content_item",
        )
    channel_ids = list(item.channels.values_list("pk", flat=True))
    if not channel_ids:
        raise QueueError(
            "Pick at least one channel before queueing.", code="no_channels", field="content_item"
        )
    # One queue per brand: lock the brand so two "add to queue" clicks never take one slot.
    Brand.objects.select_for_update().filter(pk=item.brand_id).first()
    free = next_free_slot(item.brand, channel_ids=channel_ids, after=after, exclude_item=item.pk)
    if free is None:
        raise QueueError(
            f"No free slot for “{item.title}” in the next {HORIZON.days} days: add posting "
            "slots to the brand or its channels.",
            code="no_free_slot",
        )
    workflow.schedule(item, actor, when=free.at, note=f"Queued in the slot {free.slot}.")
    QueueEntry.objects.update_or_create(
        content_item=item,
        defaults={"workspace_id": item.workspace_id, "slot": free.slot, "planned_at": free.at},
    )
    return free


def queued_in(slot: PostingSlot) -> list[QueueEntry]:
    """Entries of ``slot`` still waiting: their item scheduled, their time to come."""
    return list(
        QueueEntry.objects.filter(
            slot=slot,
            planned_at__gt=timezone.now(),
            content_item__status=ContentStatus.SCHEDULED,
        )
        .select_related("content_item__brand")
        .order_by("planned_at", "pk")
    )


@transaction.atomic
def replan(
    entries: list[QueueEntry], actor: Actor, *, gone: PostingSlot | None = None
) -> list[Replanned]:
    """Move each queued item to the next free slot (the slot ``gone`` excluded), earliest first.

    Called after a slot moved (its items re-planned against the slots as they are now) and
    before a slot is removed (``gone``). An item with no free slot keeps its time and loses its
    slot; the report says so.
    """
    report: list[Replanned] = []
    for entry in entries:
        item = entry.content_item
        channel_ids = list(item.channels.values_list("pk", flat=True))
        brand = item.brand
        free = next_free_slot(
            brand,
            channel_ids=channel_ids,
            exclude_item=item.pk,
            exclude_slot=gone.pk if gone is not None else None,
        )
        before = entry.planned_at
        if free is None:
            entry.slot = None
            entry.save(update_fields=["slot", "updated_at"])
            report.append(
                Replanned(
                    item.pk,
                    item.title,
                    None,
                    before,
                    None,
                    f"“{item.title}” keeps its time: no other slot is free.",
                )
            )
            continue
        if free.at != item.scheduled_at:
            workflow.reschedule(
                item, actor, free.at, note=f"Re-planned: its slot changed; now {free.slot}."
            )
        entry.slot, entry.planned_at = free.slot, free.at
        entry.save(update_fields=["slot", "planned_at", "updated_at"])
        report.append(
            Replanned(
                item.pk,
                item.title,
                free.slot.pk,
                before,
                free.at,
                f"“{item.title}” moved to {free.slot} "
                f"({free.at.astimezone(zoneinfo.ZoneInfo(brand.time_zone)):%Y-%m-%d %H:%M %Z}).",
            )
        )
    return report


@transaction.atomic
def change_slot(slot: PostingSlot, actor: Actor, **changes: object) -> list[Replanned]:
    """Save a slot's new weekday, time or channel, then re-plan what was queued in it."""
    waiting = queued_in(slot)
    for name, value in changes.items():
        setattr(slot, name, value)
    slot.save()
    return replan(waiting, actor)


@transaction.atomic
def remove_slot(slot: PostingSlot, actor: Actor) -> list[Replanned]:
    """Re-plan what was queued in ``slot`` into the other slots, then delete it."""
    report = replan(queued_in(slot), actor, gone=slot)
    slot.delete()
    return report
