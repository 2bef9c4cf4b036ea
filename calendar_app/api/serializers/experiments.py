"""Experiments and their variants."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from calendar_app.api.serializers.common import KairosModelSerializer, ScopedPrimaryKeyRelatedField
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.models import Brand, Experiment, ExperimentStatus, Variant


class VariantSerializer(KairosModelSerializer):
    weight = serializers.IntegerField(min_value=1, max_value=1000000, required=False)

    class Meta:
        model = Variant
        fields = [
            "id",
            "experiment",
            "key",
            "name",
            "is_control",
            "cta_text",
            "cta_url",
            "cta_button",
            "weight",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "experiment", "created_at", "updated_at"]
        validators = []  # uniqueness is checked in validate() with the experiment from the URL

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        experiment = self.context["experiment"]
        others = experiment.variants.all()
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        key = attrs.get("key", getattr(self.instance, "key", None))
        if key is not None and others.filter(key=key).exists():
            raise serializers.ValidationError(
                {"key": ["This experiment already has a variant with this key."]}
            )
        is_control = attrs.get("is_control", getattr(self.instance, "is_control", False))
        if is_control and others.filter(is_control=True).exists():
            raise serializers.ValidationError(
                {"is_control": ["This experiment already has a control."]}
            )
        return attrs


class ExperimentSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    variants = VariantSerializer(many=True, read_only=True)
    status = serializers.ChoiceField(
        choices=[ExperimentStatus.DRAFT, ExperimentStatus.RUNNING, ExperimentStatus.STOPPED],
        required=False,
    )

    class Meta:
        model = Experiment
        fields = [
            "id",
            "brand",
            "name",
            "hypothesis",
            "metric",
            "minimum_detectable_effect",
            "alpha",
            "power",
            "status",
            "started_at",
            "decision",
            "decision_summary",
            "decided_variant",
            "decided_at",
            "promoted_variant",
            "promoted_at",
            "variants",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "started_at",
            "decision",
            "decision_summary",
            "decided_variant",
            "decided_at",
            "promoted_variant",
            "promoted_at",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            self.instance is not None
            and "brand" in attrs
            and attrs["brand"].pk != self.instance.brand_id
        ):
            raise serializers.ValidationError({"brand": ["An experiment's brand cannot change."]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Experiment:
        return Experiment.objects.create(
            workspace=self.context["request"].workspace, **validated_data
        )

    def update(self, instance: Experiment, validated_data: dict[str, Any]) -> Experiment:
        from django.utils import timezone

        if validated_data.get("status") == ExperimentStatus.RUNNING and instance.started_at is None:
            instance.started_at = timezone.now()
        return super().update(instance, validated_data)


class DecisionSerializer(KairosSerializer):
    action = serializers.ChoiceField(
        choices=[
            "keep_running",
            "ship",
            "no_difference",
            "worse",
            "below_mde",
            "srm",
            "not_ready",
            "data_problem",
        ],
        help_text="ship: a challenger is better; worse: every challenger is significantly worse "
        "than control; below_mde: a real gain smaller than the minimum detectable effect; "
        "no_difference: no effect worth having; keep_running; srm: the traffic split is broken.",
    )
    label = serializers.CharField(help_text='For people: "Keep running", "Ship Grab a pack", …')
    variant = serializers.CharField(allow_null=True, help_text="The variant to ship, if any.")
    variant_name = serializers.CharField(allow_null=True)
    sentence = serializers.CharField(
        help_text="The decision with the numbers behind it, naming the test that decided."
    )


class ExperimentResultsSerializer(KairosSerializer):
    experiment = serializers.IntegerField()
    status = serializers.CharField()
    metric = serializers.CharField()
    computed_at = serializers.DateTimeField()
    counts = serializers.JSONField(
        help_text="Per-variant totals (latest snapshot per publication, tracked clicks where the "
        "network reports none), per-network strata and publications per variant."
    )
    report = serializers.JSONField(
        allow_null=True,
        help_text="The full analysis (frequentist, Bayesian, sequential, SRM, design effects, plan); "
        "null when it cannot run yet.",
    )
    decision = DecisionSerializer()


class TimeSeriesQuerySerializer(KairosSerializer):
    bucket = serializers.ChoiceField(choices=["hour", "day"], default="hour")


class PromoteSerializer(KairosSerializer):
    variant = serializers.CharField(help_text="The key (or id) of the variant to promote.")
