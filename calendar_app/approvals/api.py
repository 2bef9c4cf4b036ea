"""REST API of approvals, under ``/api/v1/workspaces/<slug>/``.

approval-policies/                           a brand's policy: separation of duties (CRUD)
approval-steps/                              the steps of brands' chains (CRUD)
approval-links/                              client links: list, read, create (the URL once,
                                             emailed to the client with ``send_email``)
approval-links/<id>/revoke/                  POST: withdraw a link (it answers 410 from then)
content-items/<id>/approval-progress/        GET: each step and whether the current version
                                             passed it
content-items/<id>/comments/                 comments with @mentions: list, create
reactive-templates/<id>/approval-progress/   GET: the same for a reactive template's version

Roles: reading needs ``viewer``; policies and steps ``admin`` to change; links ``editor`` (they
carry clients' addresses, so listing them too); comments ``editor`` to write. Everything is
scoped to the workspace in the URL; another workspace's ids answer 404 (or "does not exist" in
a body field).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
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
    BoundedDurationField,
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
    ShownOnceField,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin, WorkspaceViewSet
from calendar_app.approvals import links, services
from calendar_app.approvals.models import ApprovalLink, ApprovalPolicy, ApprovalStep, Comment
from calendar_app.models import Brand, ContentItem, ReactiveTemplate, Role

MAX_STEPS = 20


def _members(workspace: Any) -> QuerySet:
    return get_user_model().objects.filter(memberships__workspace=workspace)


# --- serializers ------------------------------------------------------------------------------------


class ApprovalPolicySerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)

    class Meta:
        model = ApprovalPolicy
        fields = [
            "id",
            "brand",
            "separate_duties",
            "time_needs_approval",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []

    def validate_brand(self, brand: Brand) -> Brand:
        others = ApprovalPolicy.objects.filter(brand=brand)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError("This brand has a policy already: change that one.")
        return brand


class ApprovalStepSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    members = ScopedPrimaryKeyRelatedField(
        model=get_user_model(), scope=_members, many=True, allow_empty=False
    )
    order = serializers.IntegerField(min_value=1, max_value=100)
    escalate_after = BoundedDurationField(
        required=False, allow_null=True, min_value=timedelta(minutes=5)
    )
    escalate_to = serializers.ListField(
        child=serializers.EmailField(max_length=254),
        required=False,
        max_length=50,
        help_text="Other addresses told when this step is late (the account lead).",
    )

    class Meta:
        model = ApprovalStep
        fields = [
            "id",
            "brand",
            "order",
            "name",
            "rule",
            "members",
            "escalate_after",
            "escalate_to",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []  # (brand, order) and (brand, name) are checked below, on the field

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        brand = attrs.get("brand") or getattr(current, "brand", None)
        others = ApprovalStep.objects.filter(brand=brand)
        if current is not None:
            others = others.exclude(pk=current.pk)
        for name in ("order", "name"):
            value = attrs.get(name, getattr(current, name, None))
            if others.filter(**{name: value}).exists():
                raise ValidationError({name: [f"Another step of {brand.name} has this {name}."]})
        if current is None and others.count() >= MAX_STEPS:
            raise ValidationError({"brand": [f"A chain has at most {MAX_STEPS} steps."]})
        return attrs


class ApprovalLinkSerializer(serializers.ModelSerializer):
    step_name = serializers.CharField(
        source="step.name", read_only=True, default=None, allow_null=True
    )
    status = serializers.SerializerMethodField(
        help_text="`open` (usable until `expires_at`), `used`, `revoked` or `expired`."
    )

    def get_status(self, link: ApprovalLink) -> str:
        return links.link_status(link)

    class Meta:
        model = ApprovalLink
        fields = [
            "id",
            "content_item",
            "version",
            "step",
            "step_name",
            "name",
            "email",
            "prefix",
            "expires_at",
            "used_at",
            "revoked_at",
            "revoked_by_label",
            "emailed_at",
            "status",
            "decision",
            "note",
            "created_by_label",
            "created_at",
        ]
        read_only_fields = fields


class NewApprovalLinkSerializer(KairosSerializer):
    content_item = ScopedPrimaryKeyRelatedField(model=ContentItem)
    name = serializers.CharField(max_length=120)
    email = serializers.EmailField(max_length=254)
    expires_in_hours = serializers.IntegerField(
        min_value=1, max_value=720, default=72, help_text="How long the link works (1 to 720)."
    )
    send_email = serializers.BooleanField(
        default=False,
        help_text="Email the link to `email` now (the answer's `emailed_at` says it left).",
    )


class NewApprovalLinkAnswer(ApprovalLinkSerializer):
    # The link holds its secret: never kept for an idempotent replay (see api/idempotency.py).
    url = ShownOnceField(help_text="The link to send; shown once (only its hash is kept).")

    class Meta(ApprovalLinkSerializer.Meta):
        fields = [*ApprovalLinkSerializer.Meta.fields, "url"]
        read_only_fields = fields


class StepProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    order = serializers.IntegerField()
    name = serializers.CharField()
    rule = serializers.CharField()
    done = serializers.BooleanField()
    approved_by = serializers.ListField(child=serializers.CharField())


class CommentSerializer(serializers.ModelSerializer):
    mentions = serializers.SlugRelatedField(
        slug_field=get_user_model().USERNAME_FIELD, many=True, read_only=True
    )

    class Meta:
        model = Comment
        fields = ["id", "content_item", "version", "author_label", "body", "mentions", "created_at"]
        read_only_fields = ["id", "content_item", "version", "author_label", "created_at"]
        extra_kwargs = {"body": {"max_length": 5000}}


# --- views ------------------------------------------------------------------------------------------


class ApprovalPolicyViewSet(WorkspaceViewSet):
    """A brand's approval policy: separation of duties."""

    model = ApprovalPolicy
    serializer_class = ApprovalPolicySerializer
    write_permission = Role.ADMIN
    filterset_fields = ["brand"]
    ordering = ["brand", "id"]

    def perform_create(self, serializer: ApprovalPolicySerializer) -> None:
        serializer.save(workspace=self.workspace)


class ApprovalStepViewSet(WorkspaceViewSet):
    """The ordered steps of a brand's approval chain; a brand without steps needs one approver."""

    model = ApprovalStep
    serializer_class = ApprovalStepSerializer
    write_permission = Role.ADMIN
    filterset_fields = ["brand"]
    ordering_fields = ["order", "id"]
    ordering = ["brand", "order", "id"]

    def base_queryset(self) -> QuerySet:
        return ApprovalStep.objects.filter(workspace=self.workspace).prefetch_related("members")

    def perform_create(self, serializer: ApprovalStepSerializer) -> None:
        serializer.save(workspace=self.workspace)


class ApprovalLinkViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Links for a person without an account (the client) to approve one version, once."""

    model = ApprovalLink
    serializer_class = ApprovalLinkSerializer
    permission = links.CREATE_ROLE
    write_permission = links.CREATE_ROLE
    filterset_fields = ["content_item"]
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return ApprovalLink.objects.filter(workspace=self.workspace).select_related("step")

    @extend_schema(
        request=NewApprovalLinkSerializer,
        responses={201: NewApprovalLinkAnswer},
        description=(
            "A link for a named person to approve or reject the item's current version at its "
            "current step. `url` is shown once. 409 `invalid_transition` unless the item is in "
            "review. The link stops working when used, when it expires, or when the item "
            "changes. Needs editor."
        ),
        examples=[
            OpenApiExample(
                "The client",
                value={"content_item": 12, "name": "Dana Client", "email": "dana@client.example"},
                request_only=True,
            )
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = NewApprovalLinkSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        new = links.create_link(
            values["content_item"],
            self.actor,
            values["name"],
            values["email"],
            timedelta(hours=values["expires_in_hours"]),
        )
        # Rendered by the serializer that marks `url` shown once, so the idempotency store
        # keeps the answer without it.
        new.link.url = request.build_absolute_uri(new.path)
        if values["send_email"]:
            links.email_link(new, new.link.url)
        return Response(NewApprovalLinkAnswer(new.link).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: ApprovalLinkSerializer},
        description=(
            "Withdraw a link: from now on it answers 410 and decides nothing. 409 `link_used` "
            "(decided already) or `link_revoked` (withdrawn already). Needs editor."
        ),
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            link = links.revoke_link(self.get_object(), self.actor)
        except links.LinkRefused as exc:
            if exc.status == 403:
                raise PermissionDenied(exc.reason, code=exc.code) from None
            raise WorkflowConflict(exc.reason, code=exc.code) from None
        return Response(ApprovalLinkSerializer(link).data)


class _ItemNested(AtomicMixin, WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Nested under ``content-items/<item_pk>/``: the item must be of the URL's workspace."""

    def item(self) -> ContentItem:
        if not hasattr(self, "_item"):
            self._item = get_object_or_404(
                ContentItem.objects.filter(workspace=self.workspace), pk=self.kwargs["item_pk"]
            )
        return self._item

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """The item is found (or 404) right after the role check, before the body is read: an
        unknown or foreign item answers 404 whatever was sent."""
        super().initial(request, *args, **kwargs)
        if not getattr(self, "swagger_fake_view", False):
            self.item()


class ApprovalProgressViewSet(_ItemNested, mixins.ListModelMixin):
    """Where the item's current version stands in its brand's chain."""

    model = ApprovalStep
    serializer_class = StepProgressSerializer
    pagination_class = None
    filter_backends: list = []

    def base_queryset(self) -> QuerySet:
        return ApprovalStep.objects.none()

    @extend_schema(responses={200: StepProgressSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.item()
        return Response([state.as_dict() for state in services.progress(item)])


class TemplateApprovalProgressViewSet(AtomicMixin, WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Where a reactive template's current version stands in its brand's chain (templates are
    approved through the same chain and duties as items)."""

    model = ApprovalStep
    serializer_class = StepProgressSerializer
    pagination_class = None
    filter_backends: list = []

    def base_queryset(self) -> QuerySet:
        return ApprovalStep.objects.none()

    @extend_schema(responses={200: StepProgressSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from calendar_app.approvals.template_votes import template_progress

        template = get_object_or_404(
            ReactiveTemplate.objects.filter(workspace=self.workspace), pk=self.kwargs["template_pk"]
        )
        return Response([state.as_dict() for state in template_progress(template)])


class CommentViewSet(_ItemNested, mixins.ListModelMixin, mixins.CreateModelMixin):
    """Comments on an item; ``@username`` mentions a member (unknown names are refused)."""

    model = Comment
    serializer_class = CommentSerializer
    write_permission = Role.EDITOR
    filter_backends: list = []

    def base_queryset(self) -> QuerySet:
        return (
            Comment.objects.filter(workspace=self.workspace, content_item=self.item())
            .prefetch_related("mentions")
            .order_by("created_at", "id")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            comment = services.add_comment(self.item(), self.actor, data.validated_data["body"])
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


# --- URLs -------------------------------------------------------------------------------------------

#: Workspace-scoped resources of this package (tests/approvals/test_api.py covers every route).
approvals_router = SimpleRouter()
approvals_router.register("approval-policies", ApprovalPolicyViewSet, basename="approval-policy")
approvals_router.register("approval-steps", ApprovalStepViewSet, basename="approval-step")
approvals_router.register("approval-links", ApprovalLinkViewSet, basename="approval-link-api")

#: Under one content item.
item_router = SimpleRouter()
item_router.register(
    "approval-progress", ApprovalProgressViewSet, basename="content-item-approval-progress"
)
item_router.register("comments", CommentViewSet, basename="content-item-comment")

#: Under one reactive template.
template_router = SimpleRouter()
template_router.register(
    "approval-progress", TemplateApprovalProgressViewSet, basename="template-approval-progress"
)

urlpatterns = [
    path("workspaces/<slug:workspace_slug>/", include(approvals_router.urls)),
    path(
        "workspaces/<slug:workspace_slug>/reactive-templates/<int:template_pk>/",
        include(template_router.urls),
    ),
    path(
        "workspaces/<slug:workspace_slug>/content-items/<int:item_pk>/",
        include(item_router.urls),
    ),
]
