"""Experiments and their variants."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from calendar_app.api.serializers.common import KairosModelSerializer, ScopedPrimaryKeyRelatedField
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


class ArmTotalsSerializer(serializers.Serializer):
    key = serializers.CharField()
    variant = serializers.IntegerField()
    is_control = serializers.BooleanField()
    publications = serializers.IntegerField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    conversions = serializers.IntegerField()


class ExperimentResultsSerializer(serializers.Serializer):
    experiment = serializers.IntegerField()
    metric = serializers.CharField()
    arms = ArmTotalsSerializer(many=True)
    report = serializers.JSONField(
        allow_null=True,
        help_text="The full analysis (frequentist, Bayesian, sequential, SRM, plan, decision); "
        "null when it cannot run yet.",
    )
    problem = serializers.CharField(allow_null=True, help_text="Why there is no report, if none.")
