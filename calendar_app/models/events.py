"""Events on the calendar and how well each fits a brand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from calendar_app.models.base import Timestamped, WorkspaceQuerySet
from calendar_app.recurrence import (
    ExpansionBudget,
    Occurrence,
    event_problems,
    last_occurrence_end,
    occurrences,
)
from calendar_app.validators import validate_rrule, validate_tag_list, validate_time_zone


class EventQuerySet(WorkspaceQuerySet):
    def visible_to(self, workspace) -> EventQuerySet:
        """The shared library plus the workspace's own events."""
        return self.filter(Q(workspace__isnull=True) | Q(workspace=workspace))

    def overlapping(self, start: datetime, end: datetime) -> EventQuerySet:
        """Events with at least one occurrence that may overlap ``[start, end)``.

        Uses ``starts_at`` and ``recurrence_ends_at`` (both indexed) instead of expanding rules;
        callers expand the recurring ones with :meth:`Event.occurrences_between`.
        """
        return self.filter(starts_at__lt=end).filter(
            Q(recurrence_ends_at__isnull=True, rrule__gt="") | Q(recurrence_ends_at__gt=start)
        )


class EventSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    LIBRARY = "library", "Shared library"
    ICS = "ics", "iCalendar import"


class Event(Timestamped):
    """A moment: a final, a fashion week, a fair. Global when ``workspace`` is empty."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        help_text="Empty for the shared library every workspace sees.",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    location = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    all_day = models.BooleanField(default=False)
    rrule = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_rrule],
        help_text="RFC 5545 rule, e.g. FREQ=YEARLY",
    )
    recurrence_ends_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="End of the last occurrence; empty if endless.",
    )
    themes = models.JSONField(default=list, blank=True, validators=[validate_tag_list])
    audience = models.JSONField(default=list, blank=True, validators=[validate_tag_list])
    source = models.CharField(
        max_length=16, choices=EventSource.choices, default=EventSource.MANUAL
    )
    external_uid = models.CharField(
        max_length=255, blank=True, help_text="UID from an iCalendar import."
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["starts_at", "recurrence_ends_at"], name="event_time_range"),
            models.Index(fields=["workspace", "starts_at"], name="event_workspace_start"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=models.F("starts_at")), name="event_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["workspace", "external_uid"],
                condition=~Q(external_uid=""),
                name="event_unique_external_uid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValidationError({"ends_at": "The event cannot end before it starts."})
        self.check_timing()

    def check_timing(self) -> None:
        """Refuse a rule or dates that expansion would not bound (see ``recurrence``).

        Every door runs it: ``clean()`` (admin, forms), ``save()`` (API, shell, import), and a
        ``pre_save`` receiver for raw saves (``loaddata`` of fixtures).
        """
        if not (self.starts_at and self.ends_at) or self.ends_at < self.starts_at:
            return  # clean() says so, and the event_ends_after_start constraint refuses it
        problems = event_problems(
            rule_text=self.rrule,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            time_zone=self.time_zone or "UTC",
        )
        if problems:
            raise ValidationError(problems, code="invalid_timing")

    def refresh_recurrence_end(self) -> None:
        self.recurrence_ends_at = last_occurrence_end(
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            time_zone=self.time_zone,
            rule_text=self.rrule,
        )

    def save(self, *args, **kwargs) -> None:
        # Checked here as well as in clean(): every door (API, admin, import, shell) saves, and a
        # rule that never matches, or repeats every minute, would stall each request expanding it.
        self.check_timing()
        self.refresh_recurrence_end()
        super().save(*args, **kwargs)

    def occurrences_between(
        self, start: datetime, end: datetime, budget: ExpansionBudget | None = None
    ) -> Iterator[Occurrence]:
        return occurrences(
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            time_zone=self.time_zone,
            rule_text=self.rrule,
            window_start=start,
            window_end=end,
            budget=budget,
            label=f"event {self.pk}",
        )


class BrandFit(Timestamped):
    """How legitimate an event is for a brand: a computed score with reasons, or a person's call."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    brand = models.ForeignKey("calendar_app.Brand", on_delete=models.CASCADE, related_name="fits")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="fits")
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    reasons = models.JSONField(default=list, blank=True)
    override_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    override_note = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["brand", "-score"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "event"], name="brandfit_unique"),
            models.CheckConstraint(condition=Q(score__lte=100), name="brandfit_score_range"),
            models.CheckConstraint(
                condition=Q(override_score__isnull=True) | Q(override_score__lte=100),
                name="brandfit_override_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} × {self.event}: {self.effective_score}"

    @property
    def effective_score(self) -> int:
        return self.override_score if self.override_score is not None else self.score

    def clean(self) -> None:
        super().clean()
        if self.override_score is not None and not self.override_note.strip():
            raise ValidationError({"override_note": "Say why the computed score is overridden."})
