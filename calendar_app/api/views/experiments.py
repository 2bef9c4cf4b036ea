"""Experiments, their variants (nested), and their results."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.filters import ExperimentFilter
from calendar_app.api.serializers.experiments import (
    ExperimentResultsSerializer,
    ExperimentSerializer,
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

    @extend_schema(responses={200: ExperimentResultsSerializer})
    @action(detail=True, methods=["get"])
    def results(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Per-variant totals and the analysis: which variant wins, how sure, SRM, when to stop."""
        from calendar_app.api.results import experiment_results

        return Response(experiment_results(self.get_object()))


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

    def perform_create(self, serializer: VariantSerializer) -> None:
        serializer.save(experiment=self.experiment())
