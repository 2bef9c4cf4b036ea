"""Moments: a window (kick-off to final whistle), the templates armed for it, the team on duty.

Models live in this package because it owns them whole; ``calendar_app.models`` re-exports them
so Django registers them with the app.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from calendar_app.models.base import Timestamped, WorkspaceOwned
from calendar_app.validators import validate_json_object, validate_no_nul

MAX_TEAM = 50
#: When the automatic readiness checks run, before the window opens (label, seconds before).
DUE_CHECKS: tuple[tuple[str, int], ...] = (("T-24h", 24 * 3600), ("T-1h", 3600), ("T-5min", 300))


def validate_team(value: object) -> None:
    """The team on duty: ``[{"user": <member id>, "role": "<duty>"}, ...]`` (membership is
    checked by the API, which knows the workspace)."""
    from django.core.exceptions import ValidationError

    validate_no_nul(value)
    if not isinstance(value, list):
        raise ValidationError("Must be a list of {user, role}.", code="invalid_team")
    if len(value) > MAX_TEAM:
        raise ValidationError(f"At most {MAX_TEAM} people on duty.", code="invalid_team")
    for entry in value:
        if (
            not isinstance(entry, dict)
            or set(entry) - {"user", "role"}
            or not isinstance(entry.get("user"), int)
            or isinstance(entry.get("user"), bool)
            or not isinstance(entry.get("role", ""), str)
            or len(entry.get("role", "")) > 60
        ):
            raise ValidationError(
                'Each entry is {"user": <member id>, "role": "<duty, 60 characters at most>"}.',
                code="invalid_team",
            )


#: A moment's threshold: it holds the posts whose priority is below it.
HOLD_THRESHOLDS = (
    ("normal", "Hold low-priority posts"),
    ("high", "Hold low- and normal-priority posts"),
)


class Moment(WorkspaceOwned):
    """A live moment: an event (or an ad-hoc one) with a window, a brand, the reactive
    templates armed for it and the team on duty.

    The latest readiness report is kept on the row (``readiness``), so the API and the admin
    show it without running the check again; ``checks_done`` records which automatic checks
    (T-24h, T-1h, T-5min) have run, so each runs once.
    """

    name = models.CharField(max_length=120)
    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="moments"
    )
    event = models.ForeignKey(
        "calendar_app.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="moments",
        help_text="The calendar event, if any; empty for an ad-hoc moment.",
    )
    starts_at = models.DateTimeField(help_text="The window opens (e.g. kick-off), UTC.")
    ends_at = models.DateTimeField(help_text="The window closes (e.g. final whistle), UTC.")
    templates = models.ManyToManyField(
        "calendar_app.ReactiveTemplate",
        related_name="moments",
        blank=True,
        help_text="The armed templates: only these can be fired from the moment.",
    )
    sample_values = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_json_object],
        help_text="A sample value per placeholder, used by the readiness check.",
    )
    team = models.JSONField(default=list, blank=True, validators=[validate_team])
    readiness = models.JSONField(default=dict, blank=True, editable=False)
    readiness_ok = models.BooleanField(null=True, blank=True, editable=False)
    readiness_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    checks_done = models.JSONField(default=list, blank=True, editable=False)
    hold_below = models.CharField(
        max_length=8,
        blank=True,
        choices=HOLD_THRESHOLDS,
        default="",
        help_text="Hold the brand's scheduled posts of a lower priority than this, due inside "
        "the window, and release them when it closes. Empty: hold nothing.",
    )
    held_at = models.DateTimeField(null=True, blank=True, editable=False)
    released_at = models.DateTimeField(null=True, blank=True, editable=False)
    released_by_label = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["starts_at"], name="moment_starts")]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="moment_unique_name"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="moment_window"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def marker(self) -> str:
        """What a publication it holds carries in ``claimed_by`` (a crisis's reads ``crisis:``)."""
        return f"moment:{self.pk}"


class MomentHoldOutcome(models.TextChoices):
    HELD = "held", "Held"
    RELEASED = "released", "Released (goes out)"
    SKIPPED = "skipped", "Skipped (its moment had passed)"
    CRISIS = "crisis", "Handed to an active crisis (still held)"
    GONE = "gone", "Cancelled or changed while held"


class MomentHold(Timestamped):
    """One publication a moment held during its window, and what became of it."""

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="holds")
    publication = models.ForeignKey(
        "calendar_app.Publication", on_delete=models.CASCADE, related_name="moment_holds"
    )
    held_at = models.DateTimeField()
    outcome = models.CharField(
        max_length=16, choices=MomentHoldOutcome.choices, default=MomentHoldOutcome.HELD
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["moment", "publication"]
        constraints = [
            models.UniqueConstraint(
                fields=["moment", "publication"], name="moment_hold_unique_publication"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.publication_id} {self.outcome} by {self.moment}"
