"""The installed networks and what each can do (from the publisher plugins)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.pagination import PagePagination
from calendar_app.api.serializers.strict import KairosSerializer


class SettingFieldSerializer(KairosSerializer):
    name = serializers.CharField()
    label = serializers.CharField()
    required = serializers.BooleanField()
    help_text = serializers.CharField(required=False, allow_blank=True)


class NetworkSerializer(KairosSerializer):
    key = serializers.CharField()
    display_name = serializers.CharField()
    capabilities = serializers.DictField(
        help_text="Text length, media, links, threads, idempotency, readable metrics, deletion."
    )
    settings_schema = serializers.ListField(child=serializers.DictField())
    secret_fields = serializers.ListField(child=serializers.DictField())
    connects_by_oauth = serializers.BooleanField(
        help_text="Channels can be connected with a button (POST .../connections/) instead of "
        "pasted credentials."
    )
    plugin = serializers.CharField()
    distribution = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)


class NetworkListView(ListAPIView):
    """Every network an installed plugin provides. Any authenticated caller may read it."""

    serializer_class = NetworkSerializer
    pagination_class = PagePagination
    filter_backends: list = []

    def get_queryset(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from calendar_app.api.networks import describe_networks

        return describe_networks()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
