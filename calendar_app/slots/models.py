"""Posting slots (a brand's weekly posting times) and queue entries (items waiting in them).

Models live in this package because it owns them whole; ``calendar_app.models`` re-exports them
so Django registers them with the app.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from calendar_app.models.base import WorkspaceOwned


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class PostingSlot(WorkspaceOwned):
    """A weekly posting time: a weekday and a wall-clock time in the brand's time zone.

    With a channel, the slot is that channel's; without one, it serves every channel of the
    brand. Each week's occurrence of a slot holds one item: "add to queue" fills the earliest
    free one.
    """

    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="posting_slots"
    )
    channel = models.ForeignKey(
        "calendar_app.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="posting_slots",
        help_text="Empty: the slot serves every channel of the brand.",
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    local_time = models.TimeField(
        help_text="Wall-clock time in the brand's time zone (minutes; seconds are dropped)."
    )
    label = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["brand", "weekday", "local_time", "id"]
        indexes = [models.Index(fields=["brand", "weekday"], name="slot_brand_weekday")]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "channel", "weekday", "local_time"],
                condition=Q(channel__isnull=False),
                name="slot_unique_channel_time",
            ),
            models.UniqueConstraint(
                fields=["brand", "weekday", "local_time"],
                condition=Q(channel__isnull=True),
                name="slot_unique_brand_time",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="slot_weekday_valid"
            ),
        ]

    def __str__(self) -> str:
        where = self.channel.handle if self.channel_id else "all channels"
        return f"{self.get_weekday_display()} {self.local_time:%H:%M} ({where})"


class QueueEntry(WorkspaceOwned):
    """An item put in a slot by "add to queue": which slot, and the instant it was planned for.

    Kept so that moving or removing a slot knows what to re-plan; the item's own schedule (its
    ``scheduled_at`` and publications) stays the truth of when it goes out.
    """

    content_item = models.OneToOneField(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="queue_entry"
    )
    slot = models.ForeignKey(
        PostingSlot,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="queue_entries",
        help_text="Empty when its slot was removed and no other slot was free.",
    )
    planned_at = models.DateTimeField(help_text="The slot's instant it was planned for (UTC).")

    class Meta:
        verbose_name_plural = "queue entries"
        ordering = ["planned_at", "id"]
        indexes = [models.Index(fields=["slot", "planned_at"], name="queue_slot_planned")]

    def __str__(self) -> str:
        return f"{self.content_item} at {self.planned_at:%Y-%m-%d %H:%M} UTC"
