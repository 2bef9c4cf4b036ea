"""Reactive templates: write, approve, fire. Firing goes through ``calendar_app.reactive``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import NotAvailable
from calendar_app.api.filters import ReactiveTemplateFilter
from calendar_app.api.serializers.previews import (
    PreviewsSerializer,
    TemplatePreviewRequestSerializer,
    previews_answer,
)
from calendar_app.api.serializers.reactive import (
    FireResultSerializer,
    FireSerializer,
    ReactiveTemplateSerializer,
)
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.delivery.preflight import template_previews
from calendar_app.models import ChannelStatus, Fire, ReactiveTemplate, Role


def _reactive_function(name: str) -> Any:
    """``calendar_app.reactive.<name>``, or 503 while that module is not installed."""
    try:
        from calendar_app import reactive
    except ImportError:
        raise NotAvailable(
            f"Reactive templates cannot be {name.split('_')[0]}d on this server yet."
        ) from None
    function = getattr(reactive, name, None)
    if function is None:
        raise NotAvailable(f"calendar_app.reactive.{name} is not available on this server yet.")
    return function


class ReactiveTemplateViewSet(WorkspaceViewSet):
    """Pre-approved reactions. Editors write them; approvers approve and fire them. Changing
    approved content bumps the version, so the approval lapses. Reads carry an ETag."""

    model = ReactiveTemplate
    serializer_class = ReactiveTemplateSerializer
    write_permission = Role.EDITOR
    action_permissions = {"approve": Role.APPROVER, "fire": Role.APPROVER, "preview": Role.VIEWER}
    filterset_class = ReactiveTemplateFilter
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]
    uses_etag = True
    may_be_unavailable = ("fire", "approve")

    def base_queryset(self) -> QuerySet:
        return (
            ReactiveTemplate.objects.filter(workspace=self.workspace)
            .select_related("brand")
            .prefetch_related("channels")
        )

    def template_response(self, template: ReactiveTemplate, status: int = 200) -> Response:
        template = self.get_queryset().get(pk=template.pk)
        return Response(self.get_serializer(self.tag(template)).data, status=status)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.template_response(serializer.save(), status=201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self.template_response(serializer.save())

    @extend_schema(request=None, responses={200: ReactiveTemplateSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Approve this exact version (words, window and guardrails); any later change voids it."""
        approve_template = _reactive_function("approve_template")
        return self.template_response(approve_template(self.get_object(), self.actor))

    @extend_schema(
        request=FireSerializer,
        responses={201: FireResultSerializer},
        examples=[
            OpenApiExample(
                "The lights went out",
                value={"values": {"moment": "the stadium went dark"}},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def fire(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Fire now: fill the placeholders, check guardrails and window, deliver at once,
        without a new approval round. Needs the approver role."""
        fire_template = _reactive_function("fire_template")
        template = self.get_object()
        data = FireSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fire = fire_template(
            template,
            self.actor,
            data.validated_data["values"],
            channel_ids=data.validated_data.get("channels"),
        )
        fire = Fire.objects.select_related("content_item").get(pk=fire.pk)
        return Response(FireResultSerializer(fire).data, status=201)

    @extend_schema(
        request=TemplatePreviewRequestSerializer,
        responses={200: PreviewsSerializer},
        examples=[
            OpenApiExample(
                "Before the click",
                value={"values": {"moment": "the stadium went dark"}},
                request_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """What a fire with these values would post, per channel: the exact text, its length as
        each network counts it, and every problem - before anything goes out. Changes nothing;
        any member may ask."""
        template = self.get_object()
        data = TemplatePreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channels = template.channels.filter(status=ChannelStatus.CONNECTED).order_by("pk")
        wanted = data.validated_data.get("channels")
        if wanted is not None:
            unknown = set(wanted) - {c.pk for c in template.channels.all()}
            if unknown:
                raise ValidationError(
                    {
                        "channels": [
                            "These channels are not allowed for this template: "
                            + ", ".join(map(str, sorted(unknown)))
                            + "."
                        ]
                    }
                )
            channels = channels.filter(pk__in=wanted)
        previews = template_previews(template, data.validated_data["values"], list(channels))
        return Response(previews_answer(previews))
