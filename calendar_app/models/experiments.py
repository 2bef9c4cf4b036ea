"""Test-and-learn experiments on calls to action."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from calendar_app.models.base import Timestamped, WorkspaceOwned, call_to_action_fields
from calendar_app.models.tenancy import slug_validator


class Metric(models.TextChoices):
    CLICK_THROUGH = "click_through", "Click-through (clicks / impressions)"
    CONVERSION = "conversion", "Conversion (conversions / clicks)"
    CONVERSION_PER_IMPRESSION = "conversion_per_impression", "Conversions / impressions"


class ExperimentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    DECIDED = "decided", "Decided"
    STOPPED = "stopped", "Stopped"


class Experiment(WorkspaceOwned):
    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="experiments"
    )
    name = models.CharField(max_length=200)
    hypothesis = models.TextField(blank=True)
    metric = models.CharField(max_length=32, choices=Metric.choices, default=Metric.CLICK_THROUGH)
    minimum_detectable_effect = models.FloatField(
        default=0.10,
        validators=[MinValueValidator(0.001), MaxValueValidator(10)],
        help_text="Smallest relative lift worth detecting (0.10 = +10%).",
    )
    alpha = models.FloatField(
        default=0.05, validators=[MinValueValidator(0.0001), MaxValueValidator(0.5)]
    )
    power = models.FloatField(
        default=0.8, validators=[MinValueValidator(0.5), MaxValueValidator(0.999)]
    )
    status = models.CharField(
        max_length=16, choices=ExperimentStatus.choices, default=ExperimentStatus.DRAFT
    )
    started_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=32, blank=True)
    decision_summary = models.TextField(blank=True)
    decided_variant = models.ForeignKey(
        "calendar_app.Variant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    promoted_variant = models.ForeignKey(
        "calendar_app.Variant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(alpha__gt=0) & Q(alpha__lt=1) & Q(power__gt=0) & Q(power__lt=1),
                name="experiment_probabilities_valid",
            ),
            models.CheckConstraint(
                condition=Q(minimum_detectable_effect__gt=0), name="experiment_mde_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Variant(Timestamped):
    """One arm: the control or a challenger call to action."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.SlugField(max_length=40, validators=[slug_validator])
    name = models.CharField(max_length=120)
    is_control = models.BooleanField(default=False)
    cta_text, cta_url, cta_button = call_to_action_fields()
    weight = models.PositiveIntegerField(
        default=1, help_text="Planned share of traffic, relative to the others."
    )

    class Meta:
        ordering = ["experiment", "-is_control", "key"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="variant_unique_key"),
            models.UniqueConstraint(
                fields=["experiment"], condition=Q(is_control=True), name="variant_one_control"
            ),
            models.CheckConstraint(condition=Q(weight__gte=1), name="variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment}: {self.key}"
