"""Recurring content (series and their occurrences) and evergreen items.

Models live in this package because it owns them whole; ``calendar_app.models`` re-exports them
so Django registers them with the app.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q

from calendar_app.models.base import WorkspaceOwned
from calendar_app.validators import validate_no_nul


class ContentSeries(WorkspaceOwned):
    """An approved item repeated by a rule: ``source`` holds the words, each occurrence a copy.

    ``rrule`` is the RRULE part only, bounded like an event's (COUNT or UNTIL required, see
    :func:`calendar_app.recurring.services.series_problems`); ``starts_at`` is the first
    occurrence and gives the wall-clock time, repeated in the brand's zone; ``exdates`` are the
    skipped occurrences as local ``YYYY-MM-DDTHH:MM`` strings.
    """

    source = models.OneToOneField(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="series"
    )
    rrule = models.CharField(max_length=500, validators=[validate_no_nul])
    starts_at = models.DateTimeField(help_text="The first occurrence (UTC).")
    exdates = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "content series"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} ({self.rrule})"


class SeriesOccurrence(WorkspaceOwned):
    """One occurrence of a series: its own content item, planned at ``occurs_at``."""

    series = models.ForeignKey(ContentSeries, on_delete=models.CASCADE, related_name="occurrences")
    content_item = models.OneToOneField(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="occurrence_of"
    )
    occurs_at = models.DateTimeField(help_text="The rule's instant for it (UTC).")

    class Meta:
        ordering = ["series", "occurs_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["series", "occurs_at"], name="occurrence_unique_time")
        ]

    def __str__(self) -> str:
        return f"{self.series_id} at {self.occurs_at:%Y-%m-%d %H:%M}"


class EvergreenItem(WorkspaceOwned):
    """An approved item that may go out again in free posting slots, ``min_gap`` apart at least.

    Each repeat is a copy (its own item and publications) queued in a slot; ``last_planned_at``
    is the latest repeat planned, so the next one waits for the gap.
    """

    content_item = models.OneToOneField(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="evergreen"
    )
    min_gap = models.DurationField(
        default=timedelta(days=30), help_text="The shortest time between two repeats."
    )
    active = models.BooleanField(default=True)
    last_planned_at = models.DateTimeField(null=True, blank=True, editable=False)
    repeats = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["last_planned_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_gap__gte=timedelta(hours=1)), name="evergreen_gap_positive"
            )
        ]

    def __str__(self) -> str:
        return f"evergreen: {self.content_item}"
