"""The REST side of connecting: start a connection, follow it, and the public callback."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.serializers.common import (
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
    ShownOnceMethodField,
)
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin
from calendar_app.connect.flow import (
    ConnectError,
    choices,
    choose_account,
    finish_flow,
    start_flow,
)
from calendar_app.connect.models import FlowStatus, OAuthFlow
from calendar_app.models import Brand, Role

__all__ = ["ConnectionViewSet", "oauth_callback"]


class ConnectionSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    network = serializers.CharField(max_length=40)
    settings = serializers.JSONField(
        required=False,
        help_text="The channel's settings the network needs to know where to connect (for "
        "Mastodon: instance).",
    )
    authorize_url = ShownOnceMethodField(
        help_text="Send the person here to sign in and allow Kairos (only in the answer to the "
        "POST that started the connection; it holds the connection's single-use `state`, so "
        "it is `null` in an answer replayed for a repeated `Idempotency-Key`: start a new "
        "connection instead)."
    )

    class Meta:
        model = OAuthFlow
        fields = [
            "id",
            "brand",
            "network",
            "settings",
            "status",
            "reason",
            "channel",
            "expires_at",
            "authorize_url",
            "choices",
            "created_at",
        ]
        read_only_fields = ["id", "status", "reason", "channel", "expires_at", "created_at"]

    choices = serializers.SerializerMethodField(
        help_text="While `status` is `choosing`: the accounts this login can connect (Facebook "
        "Pages, Instagram business accounts, LinkedIn organisations); POST one's `id` to "
        "`.../connections/<id>/choose/`."
    )

    def get_choices(self, flow: OAuthFlow) -> list[dict[str, str]]:
        return choices(flow)

    def get_authorize_url(self, flow: OAuthFlow) -> str | None:
        return getattr(flow, "authorize_url", None)

    def validate_settings(self, value: Any) -> dict[str, Any]:
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("Settings must be an object.")
        return value

    def create(self, validated_data: dict[str, Any]) -> OAuthFlow:
        request = self.context["request"]
        try:
            flow, url = start_flow(
                validated_data["brand"],
                validated_data["network"],
                validated_data.get("settings") or {},
                request.actor.user,
            )
        except ConnectError as exc:
            raise serializers.ValidationError(
                {exc.field or "non_field_errors": [exc.message]}
            ) from None
        flow.authorize_url = url  # type: ignore[attr-defined]
        return flow


class ChooseSerializer(serializers.Serializer):
    account = serializers.CharField(
        max_length=200, help_text="The `id` of one of the connection's `choices`."
    )


@extend_schema(tags=["channels"])
class ConnectionViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Connect a channel by signing in on the network (OAuth 2.0 authorisation code with PKCE).

    ``POST`` starts a connection and answers the ``authorize_url`` to send the person to; the
    network sends them back to Kairos' callback, which creates the channel (or reconnects the
    brand's existing channel for that account). ``GET .../connections/<id>/`` tells how it
    ended: ``connected`` with the ``channel``, or ``failed`` with the ``reason``. A connection
    is single use and expires after 10 minutes."""

    model = OAuthFlow
    serializer_class = ConnectionSerializer
    permission = Role.ADMIN
    write_permission = Role.ADMIN

    @extend_schema(request=ChooseSerializer, responses=ConnectionSerializer)
    @action(detail=True, methods=["post"])
    def choose(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Pick the account to connect when one login gives several (``status: choosing``)."""
        flow = self.get_object()
        body = ChooseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            flow = choose_account(flow.pk, flow.workspace_id, body.validated_data["account"])
        except ConnectError as exc:
            # Every refusal here is about the pick: name the one field this call has.
            raise serializers.ValidationError({"account": [exc.message]}) from None
        return Response(self.get_serializer(flow).data)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Kairos</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto;">
<h1>{title}</h1><p>{message}</p></body></html>"""


@require_safe
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where a network sends the person back after they allowed (or refused) Kairos. Public:
    the single-use ``state`` is what identifies the connection."""
    params = request.GET
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        flow = finish_flow(
            str(params.get("state", ""))[:200],
            code=str(params.get("code", ""))[:2000],
            error=str(params.get("error", ""))[:200],
            error_description=str(params.get("error_description", ""))[:500],
        )
    except ConnectError as exc:
        if wants_json:
            return JsonResponse({"code": exc.code, "detail": exc.message, "fields": {}}, status=400)
        page = format_html(_PAGE, title="Not connected", message=exc.message)
        return HttpResponse(page, status=400)
    if flow.status == FlowStatus.CHOOSING:
        if wants_json:
            return JsonResponse(
                {"connection": flow.pk, "status": flow.status, "choices": choices(flow)}
            )
        message = format_html(
            'You signed in. <a href="{}">Pick which of the {} accounts to connect for {}</a> '
            "(or answer the connection's choices through the API).",
            reverse("admin:calendar_app_brand_choose", args=[flow.brand_id, flow.pk]),
            len(choices(flow)),
            flow.brand.name,
        )
        return HttpResponse(format_html(_PAGE, title="Pick an account", message=message))
    channel = flow.channel
    if wants_json:
        return JsonResponse(
            {"connection": flow.pk, "channel": channel.pk, "handle": channel.handle}
        )
    message = format_html(
        "{} is now connected for {}. You can close this window.", channel.handle, flow.brand.name
    )
    return HttpResponse(format_html(_PAGE, title="Connected", message=message))
