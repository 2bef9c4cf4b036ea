"""REST API of crisis playbooks, under ``/api/v1/workspaces/<slug>/``.

crisis-playbooks/                    playbooks (list, create)
crisis-playbooks/<id>/               one playbook (read, update, delete while never activated)
crisis-playbooks/<id>/activate/      POST: hold everything in scope now (201, the crisis)
crisis-playbooks/<id>/drill/         POST: rehearse; report only (201, the drill record)
crises/                              activations and drills, newest first
crises/<id>/                         one, with who, why, when, and what it held
crises/<id>/held/                    the publications it held and what became of each
crises/<id>/resume/                  POST: release all (ends the crisis) or ``publications``

Roles: reading needs ``viewer``; writing playbooks, activating and resuming ``approver``; a
drill ``editor`` (rehearsing must be open to the team that will live the crisis). Everything is
scoped to the workspace in the URL; another workspace's ids answer 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.urls import include, path
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from calendar_app.api.exceptions import WorkflowConflict
from calendar_app.api.serializers.common import (
    MAX_ID,
    BoundedDurationField,
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin, WorkspaceViewSet
from calendar_app.crisis import services
from calendar_app.crisis.models import (
    REQUIRED_ROLES,
    Activation,
    HeldOutcome,
    HeldPublication,
    Playbook,
)
from calendar_app.models import Brand, Channel, ReactiveTemplate, Role
from calendar_app.validators import validate_no_nul

MAX_RESUME_IDS = 5000


def refuse(exc: services.CrisisError) -> Exception:
    """A service refusal as the API's one error shape: 403, 400 on a field, else 409."""
    if exc.code == "permission_denied":
        return PermissionDenied(str(exc), code=exc.code)
    if exc.field:
        return ValidationError({exc.field: [serializers.ErrorDetail(str(exc), code=exc.code)]})
    return WorkflowConflict(str(exc), code=exc.code)


# --- serializers ------------------------------------------------------------------------------------


def _members(workspace: Any) -> QuerySet:
    return get_user_model().objects.filter(memberships__workspace=workspace)


class PlaybookSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand, required=False, allow_null=True)
    channels = ScopedPrimaryKeyRelatedField(model=Channel, many=True, required=False)
    holding_templates = ScopedPrimaryKeyRelatedField(
        model=ReactiveTemplate, many=True, required=False
    )
    notify_users = ScopedPrimaryKeyRelatedField(
        model=get_user_model(), scope=_members, many=True, required=False
    )
    required_role = serializers.ChoiceField(choices=REQUIRED_ROLES, required=False)
    auto_end_after = BoundedDurationField(required=False, allow_null=True)
    holding_values = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        required=False,
        validators=[validate_no_nul],  # keys too: PostgreSQL cannot store NUL
        help_text="Values for the holding statements' placeholders, by name.",
    )
    notify_emails = serializers.ListField(
        child=serializers.EmailField(max_length=254),
        required=False,
        max_length=50,
        help_text="Addresses told on activation and end, besides notify_users.",
    )
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Playbook
        fields = [
            "id",
            "name",
            "scenario",
            "description",
            "brand",
            "channels",
            "tag",
            "holding_templates",
            "holding_values",
            "fire_holding_statement",
            "required_role",
            "auto_end_after",
            "notify_users",
            "notify_emails",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []  # (workspace, name) is checked below, on the name field

    def get_is_active(self, playbook: Playbook) -> bool:
        return any(a.is_active for a in playbook.activations.all())

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        current = self.instance
        brand = attrs["brand"] if "brand" in attrs else getattr(current, "brand", None)
        name = attrs.get("name") or getattr(current, "name", None)
        others = Playbook.objects.filter(workspace=request.workspace, name=name)
        if current is not None:
            others = others.exclude(pk=current.pk)
        if others.exists():
            raise ValidationError({"name": ["This workspace has a playbook of that name."]})
        if brand is not None:
            for name_, rows in (
                ("channels", attrs.get("channels", [])),
                ("holding_templates", attrs.get("holding_templates", [])),
            ):
                wrong = sorted(r.pk for r in rows if r.brand_id != brand.pk)
                if wrong:
                    raise ValidationError(
                        {name_: [f"Not of the playbook's brand {brand.name}: {wrong}."]}
                    )
        return attrs


class HoldingStatementSerializer(serializers.Serializer):
    template = serializers.IntegerField()
    name = serializers.CharField()
    channels = serializers.ListField(child=serializers.IntegerField())
    status = serializers.ChoiceField(choices=["offered", "fired", "refused"])
    fire = serializers.IntegerField(required=False)
    code = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)


class ActivationSerializer(serializers.ModelSerializer):
    holding_statements = HoldingStatementSerializer(many=True, read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    still_held = serializers.SerializerMethodField()

    class Meta:
        model = Activation
        fields = [
            "id",
            "playbook",
            "is_drill",
            "is_active",
            "reason",
            "activated_by_label",
            "started_at",
            "ends_at",
            "ended_at",
            "ended_by_label",
            "held_count",
            "still_held",
            "not_recalled",
            "holding_statements",
            "notified",
            "duration_ms",
            "report",
        ]
        read_only_fields = fields

    def get_still_held(self, activation: Activation) -> int:
        annotated = getattr(activation, "n_still_held", None)
        if annotated is not None:
            return annotated
        return HeldPublication.objects.filter(
            activation=activation, outcome=HeldOutcome.HELD
        ).count()


class ActivateSerializer(KairosSerializer):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Why, for the record."
    )


class ResumeSerializer(KairosSerializer):
    publications = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_empty=False,
        max_length=MAX_RESUME_IDS,
        help_text="Release only these held publications; absent: release all and end the crisis.",
    )


class ResumeResultSerializer(serializers.Serializer):
    crisis = serializers.IntegerField()
    released = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Their moment passed while held: not sent late.")
    released_ids = serializers.ListField(child=serializers.IntegerField())
    skipped_ids = serializers.ListField(child=serializers.IntegerField())
    ended = serializers.BooleanField()
    still_held = serializers.IntegerField()


class HeldPublicationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(source="publication.status", read_only=True)
    due_at = serializers.DateTimeField(source="publication.due_at", read_only=True)
    channel = serializers.IntegerField(source="publication.channel_id", read_only=True)
    content_item = serializers.IntegerField(source="publication.content_item_id", read_only=True)

    class Meta:
        model = HeldPublication
        fields = [
            "publication",
            "content_item",
            "channel",
            "due_at",
            "status",
            "outcome",
            "held_at",
            "released_at",
            "released_by_label",
        ]
        read_only_fields = fields


# --- views ------------------------------------------------------------------------------------------


class PlaybookViewSet(WorkspaceViewSet):
    """Crisis playbooks: written ahead, activated in one call, rehearsed with drills."""

    model = Playbook
    serializer_class = PlaybookSerializer
    write_permission = Role.APPROVER
    action_permissions = {
        "activate": services.ACTIVATE_ROLE,
        "drill": services.DRILL_ROLE,
    }
    filterset_fields = ["brand", "scenario"]
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]

    def base_queryset(self) -> QuerySet:
        return Playbook.objects.filter(workspace=self.workspace).prefetch_related(
            "channels", "holding_templates", "notify_users", "activations"
        )

    def perform_create(self, serializer: PlaybookSerializer) -> None:
        serializer.save(workspace=self.workspace)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        playbook = self.get_object()
        if playbook.activations.exists():
            raise WorkflowConflict(
                "This playbook has been activated or drilled; its record is kept, so it cannot "
                "be deleted.",
                code="has_history",
            )
        playbook.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ActivateSerializer,
        responses={201: ActivationSerializer},
        description=(
            "Activate now, in one transaction: every publication in scope that has not gone out "
            "becomes `held` (approvals and due times kept); firing other templates in scope is "
            "refused; the holding statements are fired (`fire_holding_statement`) or offered; "
            "`crisis.activated` is sent. 409 `already_active` when this playbook is active, "
            "`crisis_active` when another active crisis covers the same posts. Needs approver."
        ),
        examples=[OpenApiExample("Outage", value={"reason": "Checkout down"}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        playbook = self.get_object()
        data = ActivateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            activation = services.activate(
                playbook, self.actor, data.validated_data.get("reason", "")
            )
        except services.CrisisError as exc:
            raise refuse(exc) from None
        return Response(ActivationSerializer(activation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ActivateSerializer,
        responses={201: ActivationSerializer},
        description=(
            "Rehearse: run the activation and roll it back. The drill record's `report` says "
            "what would be held (`would_hold`, a sample), what would be posted (`would_post`), "
            "who would be notified, which `checks` fail, and `activation_ms`. Nothing is held, "
            "posted or sent. 409 `crisis_active` during a real crisis over the same posts. "
            "Needs editor."
        ),
    )
    @action(detail=True, methods=["post"])
    def drill(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        playbook = self.get_object()
        data = ActivateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            record = services.drill(playbook, self.actor, data.validated_data.get("reason", ""))
        except services.CrisisError as exc:
            raise refuse(exc) from None
        return Response(ActivationSerializer(record).data, status=status.HTTP_201_CREATED)


class ActivationViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Crises and drills: who activated, why, when, what was held and what became of it."""

    model = Activation
    serializer_class = ActivationSerializer
    permission = Role.VIEWER
    write_permission = services.RESUME_ROLE
    action_permissions = {"resume": services.RESUME_ROLE, "held": Role.VIEWER}
    filterset_fields = ["playbook", "is_drill"]
    ordering_fields = ["started_at", "id"]
    ordering = ["-started_at", "-id"]

    def base_queryset(self) -> QuerySet:
        still = Count("held", filter=Q(held__outcome=HeldOutcome.HELD))
        return Activation.objects.filter(workspace=self.workspace).annotate(n_still_held=still)

    @extend_schema(responses={200: HeldPublicationSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def held(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The publications this crisis held, with their outcome (held, released, skipped, gone)."""
        activation = self.get_object()
        rows = (
            HeldPublication.objects.filter(activation=activation)
            .select_related("publication")
            .order_by("publication__due_at", "publication_id")
        )
        outcome = request.query_params.get("outcome")
        if outcome:
            rows = rows.filter(outcome=outcome)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(HeldPublicationSerializer(page, many=True).data)

    @extend_schema(
        request=ResumeSerializer,
        responses={200: ResumeResultSerializer},
        description=(
            "Release held publications: all of them (no body; ends the crisis) or the "
            "`publications` named (the crisis stays active). Each follows its item's lateness "
            "policy: one whose moment passed while held is `skipped`, not sent late. 400 "
            "`not_held` (nothing released) when a named publication is not held by this crisis; "
            "409 `not_active` once it ended, `is_drill` for a drill. Needs approver."
        ),
        examples=[
            OpenApiExample("Two of them", value={"publications": [41, 42]}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        activation = self.get_object()
        data = ResumeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.resume(
                activation, self.actor, data.validated_data.get("publications")
            )
        except services.CrisisError as exc:
            raise refuse(exc) from None
        return Response(ResumeResultSerializer(result.as_dict()).data)


# --- URLs -------------------------------------------------------------------------------------------

#: Workspace-scoped resources of this package (tests/crisis/test_api.py covers every route).
crisis_router = SimpleRouter()
crisis_router.register("crisis-playbooks", PlaybookViewSet, basename="crisis-playbook")
crisis_router.register("crises", ActivationViewSet, basename="crisis")

urlpatterns = [path("workspaces/<slug:workspace_slug>/", include(crisis_router.urls))]
