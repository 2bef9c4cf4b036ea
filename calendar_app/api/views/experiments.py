"""Experiments, their variants (nested), and their results."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app import experiments, workflow
from calendar_app.api.filters import ExperimentFilter
from calendar_app.api.serializers.experiments import (
    ExperimentResultsSerializer,
    ExperimentSerializer,
    PromoteSerializer,
    TimeSeriesQuerySerializer,
    VariantSerializer,
)
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.models import Experiment, Role, Variant


class ExperimentViewSet(WorkspaceViewSet):
    """Test-and-learn on calls to action. Editors write; everyone reads the results."""

    model = Experiment
    serializer_class = ExperimentSerializer
    write_permission = Role.EDITOR
    filterset_class = ExperimentFilter
    ordering_fields = ["created_at", "name", "id"]
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return Experiment.objects.filter(workspace=self.workspace).prefetch_related("variants")

    action_permissions = {
        "results": Role.VIEWER,
        "timeseries": Role.VIEWER,
        "start": Role.EDITOR,
        "decide": Role.APPROVER,
        "promote": Role.APPROVER,
    }

    @extend_schema(responses={200: ExperimentResultsSerializer})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Which variant wins, how sure we are, whether the split is broken, and when to stop."""
        return Response(experiments.analyse_experiment(self.get_object()))

    @extend_schema(
        parameters=[TimeSeriesQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
        description="Cumulative impressions, clicks and conversions per variant at the end of each "
        "hour or day (in the brand's time zone): the data behind a results chart.",
    )
    @action(detail=True, methods=["get"])
    def timeseries(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = TimeSeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        experiment = self.get_object()
        bucket = query.validated_data["bucket"]
        return Response(
            {
                "experiment": experiment.pk,
                "bucket": bucket,
                "points": experiments.time_series(experiment, bucket),
            }
        )

    @extend_schema(request=None, responses={200: ExperimentSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Check the design (one control, at least one distinct challenger) and start collecting."""
        experiment = experiments.start_experiment(self.get_object(), self.actor)
        return Response(self.get_serializer(experiment).data)

    @extend_schema(request=None, responses={200: ExperimentResultsSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Analyse now and record the decision with who and when; ship/stop closes the experiment."""
        return Response(experiments.record_decision(self.get_object(), self.actor))

    @extend_schema(request=PromoteSerializer, responses={200: ExperimentSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Make a variant's call to action the brand's default and the experiment's templates'."""
        experiment = (
            self.get_object()
        )  # another workspace's experiment is a 404 before anything else
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = body.validated_data["variant"]
        lookup = Q(key=wanted) | (
            Q(pk=int(wanted)) if wanted.isascii() and wanted.isdigit() else Q(pk__in=[])
        )
        variant = experiment.variants.filter(lookup).first()
        if variant is None:
            raise serializers.ValidationError(
                {"variant": [f"This experiment has no variant {wanted!r}."]}
            )
        experiment = experiments.promote_winner(experiment, variant, self.actor)
        return Response(self.get_serializer(experiment).data)


class VariantViewSet(WorkspaceViewSet):
    """The arms of one experiment: ``control`` and challengers."""

    model = Variant
    serializer_class = VariantSerializer
    write_permission = Role.EDITOR
    filter_backends: list = []
    ordering = ["-is_control", "key"]

    def experiment(self) -> Experiment:
        if not hasattr(self, "_experiment"):
            self._experiment = get_object_or_404(
                Experiment.objects.filter(workspace=self.workspace), pk=self.kwargs["experiment_pk"]
            )
        return self._experiment

    def base_queryset(self) -> QuerySet:
        return Variant.objects.filter(experiment=self.experiment()).order_by("-is_control", "key")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["experiment"] = self.experiment()
        return context

    # A change to the arms sends the experiment's approved items back to review
    # (calendar_app.signals); the transitions name who made it.
    def perform_create(self, serializer: VariantSerializer) -> None:
        with workflow.acting_as(self.actor):
            serializer.save(experiment=self.experiment())

    def perform_update(self, serializer: VariantSerializer) -> None:
        with workflow.acting_as(self.actor):
            serializer.save()

    def perform_destroy(self, instance: Variant) -> None:
        with workflow.acting_as(self.actor):
            instance.delete()
