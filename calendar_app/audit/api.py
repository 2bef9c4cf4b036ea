"""REST API of the audit trail, under ``/api/v1/workspaces/<slug>/`` (read-only, ``viewer``).

transitions/        every workflow step of every item (``?content_item=``), oldest first
approval-records/   every approval or rejection, with the version and content hash it covers
fires/              the fire history of reactive templates (``?template=``), newest first
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers

from calendar_app.api.views.base import ReadOnlyWorkspaceViewSet
from calendar_app.models import Approval, Fire, Transition


class TransitionRecordSerializer(serializers.ModelSerializer):
    via_token = serializers.CharField(
        source="via_token.prefix", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Transition
        fields = [
            "id",
            "content_item",
            "action",
            "from_status",
            "to_status",
            "actor",
            "actor_label",
            "via_token",
            "version",
            "note",
            "at",
        ]


class ApprovalRecordSerializer(serializers.ModelSerializer):
    via_token = serializers.CharField(
        source="via_token.prefix", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Approval
        fields = [
            "id",
            "content_item",
            "version",
            "content_hash",
            "decision",
            "decided_by",
            "decided_by_label",
            "via_token",
            "note",
            "created_at",
        ]


class FireRecordSerializer(serializers.ModelSerializer):
    via_token = serializers.CharField(
        source="via_token.prefix", default=None, read_only=True, allow_null=True
    )
    content_item = serializers.SerializerMethodField()

    class Meta:
        model = Fire
        fields = [
            "id",
            "template",
            "template_version",
            "fired_by",
            "fired_by_label",
            "via_token",
            "values",
            "fired_at",
            "first_delivered_at",
            "last_delivered_at",
            "content_item",
        ]

    def get_content_item(self, obj: Fire) -> int | None:
        item = getattr(obj, "content_item", None)
        return item.pk if item is not None else None


class TransitionViewSet(ReadOnlyWorkspaceViewSet):
    """Every workflow step: who moved which item from where to where, when and why."""

    model = Transition
    serializer_class = TransitionRecordSerializer
    filterset_fields = ["content_item", "action"]
    ordering_fields = ["at", "id"]
    ordering = ["at", "id"]

    def base_queryset(self) -> QuerySet:
        return Transition.objects.filter(content_item__workspace=self.workspace).select_related(
            "via_token"
        )


class ApprovalRecordViewSet(ReadOnlyWorkspaceViewSet):
    """Every approval and rejection, with the exact version and content hash it covers."""

    model = Approval
    serializer_class = ApprovalRecordSerializer
    filterset_fields = ["content_item", "decision"]
    ordering_fields = ["created_at", "id"]
    ordering = ["created_at", "id"]

    def base_queryset(self) -> QuerySet:
        return Approval.objects.filter(content_item__workspace=self.workspace).select_related(
            "via_token"
        )


class FireViewSet(ReadOnlyWorkspaceViewSet):
    """The fire history: every fire of every reactive template, with its values and timings."""

    model = Fire
    serializer_class = FireRecordSerializer
    filterset_fields = ["template"]
    ordering_fields = ["fired_at", "id"]
    ordering = ["-fired_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return Fire.objects.filter(workspace=self.workspace).select_related(
            "via_token", "content_item"
        )
