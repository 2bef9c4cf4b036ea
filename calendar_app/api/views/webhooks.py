"""Outbound webhooks: subscriptions (admins) and their delivery log with replay (approvers)."""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import WorkflowConflict
from calendar_app.api.filters import InstantFilter, KairosFilterSet
from calendar_app.api.pagination import cursor_pagination
from calendar_app.api.serializers.webhooks import (
    SubscriptionSecretSerializer,
    WebhookDeliverySerializer,
    WebhookSubscriptionSerializer,
)
from calendar_app.api.views.base import ReadOnlyWorkspaceViewSet, WorkspaceViewSet
from calendar_app.models import (
    Role,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from calendar_app.outbound import sender
from calendar_app.outbound.events import EVENT_TYPES, WEBHOOK_TEST


def _refusal(exc: sender.WebhookActionError) -> exceptions.APIException:
    if exc.code == "permission_denied":
        return exceptions.PermissionDenied(str(exc), code=exc.code)
    return WorkflowConflict(str(exc), code=exc.code)


@extend_schema_view(
    create=extend_schema(
        responses={201: SubscriptionSecretSerializer},
        description="Subscribe a URL. The answer holds the signing secret, once: an answer "
        "replayed for a repeated `Idempotency-Key` has `secret: null` (`Idempotent-Redacted: "
        "secret`), since the secret is never kept in clear.",
        examples=[
            OpenApiExample(
                "Approved and published posts of one brand",
                value={
                    "url": "https://hooks.example.com/kairos",
                    "description": "Agency dashboard",
                    "event_types": ["content.approved", "publication.succeeded"],
                    "brands": [1],
                },
                request_only=True,
            )
        ],
    ),
)
class WebhookSubscriptionViewSet(WorkspaceViewSet):
    """Where Kairos sends life-cycle events, signed the Standard Webhooks way. Admins only: a
    subscription can carry every post of the workspace to an outside system."""

    model = WebhookSubscription
    serializer_class = WebhookSubscriptionSerializer
    permission = Role.ADMIN
    write_permission = Role.ADMIN
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]
    filterset_fields = ["is_active"]

    def base_queryset(self) -> QuerySet:
        return WebhookSubscription.objects.filter(workspace=self.workspace).prefetch_related(
            "brands"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stored, clear = sender.new_secret_value()
        subscription = serializer.save(
            workspace=self.workspace, created_by=self.actor.user, secret=stored
        )
        subscription = self.get_queryset().get(pk=subscription.pk)
        subscription.secret = clear
        return Response(
            SubscriptionSecretSerializer(subscription, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={200: SubscriptionSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A new signing secret, shown once. For 24 hours the old one signs too (a second
        `v1,` entry), so receivers can switch without losing a message. A replay for a repeated
        `Idempotency-Key` does not rotate again and answers `secret: null`."""
        subscription = self.get_object()
        try:
            clear = sender.rotate_secret(subscription, self.actor)
        except sender.WebhookActionError as exc:
            raise _refusal(exc) from None
        subscription = self.get_queryset().get(pk=subscription.pk)
        subscription.secret = clear
        return Response(
            SubscriptionSecretSerializer(subscription, context=self.get_serializer_context()).data
        )

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send a `webhook.test` event to this subscription only; follow its delivery in the
        log."""
        subscription = self.get_object()
        try:
            delivery = sender.send_test(subscription, self.actor)
        except sender.WebhookActionError as exc:
            raise _refusal(exc) from None
        return Response(
            WebhookDeliverySerializer(delivery_queryset(self.workspace).get(pk=delivery.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


def delivery_queryset(workspace: Any) -> QuerySet:
    return (
        WebhookDelivery.objects.filter(workspace=workspace)
        .select_related("event")
        .prefetch_related("attempt_log")
    )


class WebhookDeliveryFilter(KairosFilterSet):
    status = df.ChoiceFilter(choices=WebhookDeliveryStatus.choices)
    event_type = df.ChoiceFilter(
        field_name="event__type", choices=[(t, t) for t in (*EVENT_TYPES, WEBHOOK_TEST)]
    )
    event_id = df.CharFilter(field_name="event__event_id", help_text="The `webhook-id`.")
    subscription = df.NumberFilter(field_name="subscription_id")
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type", "event_id", "subscription"]


class WebhookDeliveryViewSet(ReadOnlyWorkspaceViewSet):
    """Every delivery of every event, with its attempts and the receiver's last answer
    (first 2 KB). Approvers read and replay."""

    model = WebhookDelivery
    serializer_class = WebhookDeliverySerializer
    permission = Role.APPROVER
    action_permissions = {"replay": Role.APPROVER}
    filterset_class = WebhookDeliveryFilter
    pagination_class = cursor_pagination("-created_at")
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at"]

    def base_queryset(self) -> QuerySet:
        return delivery_queryset(self.workspace)

    @extend_schema(request=None, responses={201: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send this delivery's event again, as a new delivery. It keeps the event's
        `webhook-id`, so a receiver that processed it already can tell. Needs the approver
        role."""
        delivery = self.get_object()
        try:
            replayed = sender.replay(delivery, self.actor)
        except sender.WebhookActionError as exc:
            raise _refusal(exc) from None
        return Response(
            self.get_serializer(self.get_queryset().get(pk=replayed.pk)).data,
            status=status.HTTP_201_CREATED,
        )
