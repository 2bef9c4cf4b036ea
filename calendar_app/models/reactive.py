"""Reactive templates: reactions agreed before the moment, fired in seconds when it comes."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from calendar_app.models.base import Timestamped, WorkspaceOwned, call_to_action_fields
from calendar_app.validators import without_cta_problem


class Scenario(models.TextChoices):
    LIVE_MOMENT = "live_moment", "Live moment"
    WIN = "win", "Win / good news"
    CRISIS = "crisis", "Crisis"
    OUTAGE = "outage", "Service outage"
    OTHER = "other", "Other"


class ReactiveTemplate(WorkspaceOwned):
    """A pre-approved reaction. Firing it posts at once, without a new approval round, which is why
    its guardrails (validity window, cool-down, maximum fires) are part of the approval."""

    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="reactive_templates"
    )
    name = models.CharField(max_length=200)
    scenario = models.CharField(
        max_length=16, choices=Scenario.choices, default=Scenario.LIVE_MOMENT
    )
    body = models.TextField(
        max_length=10000, help_text="Text with placeholders such as {{ score }}."
    )
    links = models.JSONField(default=list, blank=True)
    cta_text, cta_url, cta_button = call_to_action_fields()
    without_cta = models.BooleanField(
        default=False,
        help_text="Goes out with no call to action at all, not even the brand's default "
        "(an apology, a holding statement).",
    )
    channels = models.ManyToManyField(
        "calendar_app.Channel", related_name="reactive_templates", blank=True
    )
    event = models.ForeignKey(
        "calendar_app.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reactive_templates",
    )
    experiment = models.ForeignKey(
        "calendar_app.Experiment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reactive_templates",
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    cooldown = models.DurationField(default=timedelta(minutes=10))
    max_fires = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="Who last changed what the approval covers (separation of duties keeps them "
        "from approving it).",
    )
    approved_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    approved_hash = models.CharField(max_length=64, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    approved_by_label = models.CharField(
        max_length=200,
        blank=True,
        editable=False,
        help_text="User name or token (prefix, name, person) that approved, as it acted.",
    )
    approved_via_token = models.ForeignKey(
        "calendar_app.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="The API token the approval came with, if any.",
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["brand", "name"]
        indexes = [
            models.Index(
                fields=["workspace", "valid_from", "valid_until"], name="template_validity"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="template_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(cooldown__gte=timedelta(0)), name="template_cooldown_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_fires__gte=1), name="template_max_fires_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        problem = without_cta_problem(
            self.without_cta, self.cta_text, self.cta_url, self.experiment_id
        )
        if problem:
            raise ValidationError({"without_cta": problem})

    APPROVED_FIELDS = (
        "body",
        "links",
        "cta_text",
        "cta_url",
        "cta_button",
        "valid_from",
        "valid_until",
        "cooldown",
        "max_fires",
        "without_cta",
    )
    #: Approved fields added after approvals were first given (see :meth:`content_hash`).
    LATER_FIELDS = frozenset({"without_cta"})

    def content_hash(self) -> str:
        # Fields added later count only once set, so approvals given before they existed hold.
        names = [n for n in self.APPROVED_FIELDS if n not in self.LATER_FIELDS or getattr(self, n)]
        text = "\x1f".join(repr(getattr(self, name)) for name in names)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def is_approved(self) -> bool:
        """Approved, and nothing the approval covered has changed since."""
        return (
            self.approved_version == self.version
            and bool(self.approved_hash)
            and self.approved_hash == self.content_hash()
        )


class Fire(Timestamped):
    """One firing of a template: who, with which values, and how fast it reached each network."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    template = models.ForeignKey(ReactiveTemplate, on_delete=models.CASCADE, related_name="fires")
    template_version = models.PositiveIntegerField()
    fired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fired_by_label = models.CharField(max_length=200)
    via_token = models.ForeignKey(
        "calendar_app.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The API token the actor used, if any (a workspace API key has no user).",
    )
    values = models.JSONField(default=dict, blank=True)
    fired_at = models.DateTimeField(db_index=True)
    first_delivered_at = models.DateTimeField(null=True, blank=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at"]
        indexes = [models.Index(fields=["template", "-fired_at"], name="fire_template_recent")]

    def __str__(self) -> str:
        return f"{self.template} fired at {self.fired_at:%Y-%m-%d %H:%M:%S}"
