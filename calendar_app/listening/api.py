"""REST API of listening, under ``/api/v1/workspaces/<slug>/listening/``.

messages/                         the inbox, newest first, cursor-paginated; filters below
messages/<id>/                    one message; PATCH ``category`` / ``tone`` to correct it
messages/<id>/reply/              POST ``body``: a draft reply (an ordinary content item)
messages/purge/                   POST ``handle``: delete one person's messages (on request)
watches/                          watched terms per brand (CRUD)
alerts/                           surges, newest first; ``alerts/<id>/acknowledge/`` (POST)
policy/                           GET / PUT the workspace's retention and reply window
experiments/<id>/replies/         reply rate and tone per variant of an experiment

Roles: reading needs ``viewer``; correcting, replying, watches and acknowledging ``editor``;
purging and the policy ``admin``. Everything is scoped to the workspace in the URL; another
workspace's ids answer 404.
"""

from __future__ import annotations

from typing import Any

import django_filters as df
from django.db.models import QuerySet
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from calendar_app.api.etag import ETagMixin
from calendar_app.api.filters import InstantFilter, RangeFilterSet, StrictBooleanFilter
from calendar_app.api.pagination import cursor_pagination
from calendar_app.api.serializers.common import KairosModelSerializer, ScopedPrimaryKeyRelatedField
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin, WorkspaceViewSet
from calendar_app.listening import services
from calendar_app.listening.models import (
    Alert,
    Category,
    ListeningPolicy,
    Message,
    MessageKind,
    Tone,
    Watch,
)
from calendar_app.listening.surges import fitting, fitting_many
from calendar_app.listening.terms import term_problems
from calendar_app.models import Brand, Channel, Experiment, Publication, Role

# --- serializers ------------------------------------------------------------------------------------


class MessageSerializer(KairosModelSerializer):
    answered = serializers.BooleanField(read_only=True, default=False)
    corrected = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "brand",
            "channel",
            "kind",
            "network_id",
            "author_handle",
            "author_name",
            "text",
            "language",
            "detected_language",
            "published_at",
            "url",
            "in_reply_to",
            "publication",
            "variant",
            "watch",
            "category",
            "tone",
            "tone_score",
            "method",
            "corrected",
            "corrected_at",
            "answered",
        ]
        read_only_fields = [f for f in fields if f not in ("category", "tone")]

    def get_corrected(self, message: Message) -> bool:
        return message.corrected_at is not None


class CorrectionSerializer(KairosSerializer):
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    tone = serializers.ChoiceField(choices=Tone.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise ValidationError({"category": ["Give a category, a tone or both."]})
        return attrs


class ReplySerializer(KairosSerializer):
    body = serializers.CharField(max_length=10_000, help_text="What to answer.")


class ReplyResultSerializer(serializers.Serializer):
    content_item = serializers.IntegerField()
    status = serializers.CharField()


class PurgeSerializer(KairosSerializer):
    handle = serializers.CharField(
        max_length=255, help_text="The person's handle as the network shows it."
    )


class PurgeResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


class WatchSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    terms = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True),
        max_length=20,
        help_text="Words, phrases or #hashtags; any of them matches.",
    )

    class Meta:
        model = Watch
        fields = [
            "id",
            "brand",
            "name",
            "terms",
            "active",
            "window_minutes",
            "surge_factor",
            "negative_jump",
            "min_messages",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []

    def validate_terms(self, terms: list[str]) -> list[str]:
        problems = term_problems(terms)
        if problems:
            raise ValidationError(problems)
        return terms

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        brand = attrs.get("brand") or getattr(self.instance, "brand", None)
        name = attrs.get("name") or getattr(self.instance, "name", None)
        others = Watch.objects.filter(workspace=request.workspace, brand=brand, name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError({"name": ["This brand already has a watch of that name."]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Watch:
        return Watch.objects.create(workspace=self.context["request"].workspace, **validated_data)


class AlertSerializer(KairosModelSerializer):
    links = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "watch",
            "brand",
            "reason",
            "window_start",
            "window_end",
            "count",
            "baseline",
            "negative_share",
            "baseline_negative_share",
            "acknowledged_at",
            "links",
            "created_at",
        ]
        read_only_fields = fields

    def get_links(self, alert: Alert) -> dict[str, Any]:
        """The crisis playbooks and reactive templates that fit; nothing is fired from here.
        A list reads them for its whole page at once (``links`` in the context)."""
        page = self.context.get("links") or {}
        return page[alert.pk] if alert.pk in page else fitting(alert)


class PolicySerializer(KairosModelSerializer):
    class Meta:
        model = ListeningPolicy
        fields = ["retention_days", "reply_window_days"]


class VariantRepliesSerializer(serializers.Serializer):
    variant = serializers.IntegerField()
    key = serializers.CharField()
    publications = serializers.IntegerField()
    replies = serializers.IntegerField()
    replies_per_publication = serializers.FloatField(allow_null=True)
    by_tone = serializers.DictField(child=serializers.IntegerField())
    negative_share = serializers.FloatField(allow_null=True)
    positive_share = serializers.FloatField(allow_null=True)


# --- filters ----------------------------------------------------------------------------------------


def _scoped(model: type) -> Any:
    def queryset(request: Request | None) -> QuerySet:
        if request is None or not hasattr(request, "workspace"):
            return model.objects.none()
        return model.objects.filter(workspace=request.workspace)

    return queryset


class MessageFilter(RangeFilterSet):
    ranges = (("published_after", "published_before"),)
    brand = df.ModelChoiceFilter(queryset=_scoped(Brand))
    channel = df.ModelChoiceFilter(queryset=_scoped(Channel))
    publication = df.ModelChoiceFilter(queryset=_scoped(Publication))
    watch = df.ModelChoiceFilter(queryset=_scoped(Watch))
    kind = df.MultipleChoiceFilter(choices=MessageKind.choices)
    category = df.MultipleChoiceFilter(choices=Category.choices)
    tone = df.MultipleChoiceFilter(choices=Tone.choices)
    unanswered = StrictBooleanFilter(method="filter_unanswered")
    published_after = InstantFilter(field_name="published_at", lookup_expr="gte")
    published_before = InstantFilter(field_name="published_at", lookup_expr="lt")

    class Meta:
        model = Message
        fields = ["brand", "channel", "publication", "watch", "kind", "category", "tone"]

    def filter_unanswered(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(answered=not value)


class AlertFilter(RangeFilterSet):
    brand = df.ModelChoiceFilter(queryset=_scoped(Brand))
    watch = df.ModelChoiceFilter(queryset=_scoped(Watch))
    open = StrictBooleanFilter(field_name="acknowledged_at", lookup_expr="isnull")

    class Meta:
        model = Alert
        fields = ["brand", "watch"]


# --- views ------------------------------------------------------------------------------------------


def _refuse(exc: services.ListeningError) -> ValidationError:
    return ValidationError({exc.field or "non_field_errors": [str(exc)]}, code=exc.code)


class MessageViewSet(
    ETagMixin,
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The inbox: replies, mentions and watch matches, newest first."""

    model = Message
    serializer_class = MessageSerializer
    permission = Role.VIEWER
    write_permission = Role.EDITOR
    action_permissions = {"reply": Role.EDITOR, "purge": Role.ADMIN}
    filterset_class = MessageFilter
    pagination_class = cursor_pagination("-published_at")
    ordering_fields: list[str] = []
    ordering = ["-published_at", "-id"]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def base_queryset(self) -> QuerySet:
        return Message.objects.filter(workspace=self.workspace).annotate(
            answered=services.answered()
        )

    @extend_schema(request=CorrectionSerializer, responses={200: MessageSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Correct the category and/or the tone; the correction is kept for good."""
        message = self.get_object()
        data = CorrectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.correct(message, self.actor, **data.validated_data)
        # Read back with its annotations (the locked row has none); the new ETag goes along.
        fresh = self.tag(self.get_queryset().get(pk=message.pk))
        return Response(MessageSerializer(fresh).data)

    @extend_schema(request=ReplySerializer, responses={201: ReplyResultSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Draft a reply: an ordinary content item on the message's channel answering it, to
        submit, approve and schedule like any other post. Asking again returns the same draft."""
        message = self.get_object()
        data = ReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            item = services.draft_reply(message, self.actor, data.validated_data["body"])
        except services.ListeningError as exc:
            raise _refuse(exc) from None
        body = {"content_item": item.pk, "status": item.status}
        return Response(ReplyResultSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PurgeSerializer, responses={200: PurgeResultSerializer})
    @action(detail=False, methods=["post"])
    def purge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete every message of one person in this workspace (a privacy request)."""
        data = PurgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            deleted = services.purge_author(
                self.workspace.pk, data.validated_data["handle"], self.actor
            )
        except services.ListeningError as exc:
            raise _refuse(exc) from None
        return Response(PurgeResultSerializer({"deleted": deleted}).data)


class WatchViewSet(WorkspaceViewSet):
    """Terms a brand watches, and what counts as a surge for them."""

    model = Watch
    serializer_class = WatchSerializer
    write_permission = Role.EDITOR
    filterset_fields = ["brand", "active"]
    ordering_fields = ["name", "id"]
    ordering = ["name", "id"]


class AlertViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Surges, newest first; acknowledging one takes its banner down."""

    model = Alert
    serializer_class = AlertSerializer
    action_permissions = {"acknowledge": Role.EDITOR}
    filterset_class = AlertFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return Alert.objects.filter(workspace=self.workspace).select_related("watch")

    def paginate_queryset(self, queryset: QuerySet) -> list | None:
        """The page, with the playbooks and templates of all its alerts read at once."""
        page = super().paginate_queryset(queryset)
        if page is not None:
            self._links = fitting_many(page)
        return page

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "links": getattr(self, "_links", {})}

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        if alert.acknowledged_at is None:
            alert.acknowledged_at = timezone.now()
            alert.acknowledged_by = self.actor.user
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        return Response(AlertSerializer(alert).data)


class PolicyViewSet(AtomicMixin, WorkspaceScopedMixin, viewsets.GenericViewSet):
    """The workspace's retention period and reply window (one per workspace)."""

    model = ListeningPolicy
    serializer_class = PolicySerializer
    write_permission = Role.ADMIN
    action_permissions = {"show": Role.VIEWER, "change": Role.ADMIN}
    pagination_class = None
    filter_backends: list = []

    def _policy(self) -> ListeningPolicy:
        policy, _ = ListeningPolicy.objects.get_or_create(workspace=self.workspace)
        return policy

    def get_object(self) -> ListeningPolicy:
        """The one policy of the URL's workspace (DRF's OPTIONS asks for it, without a pk)."""
        policy = ListeningPolicy.objects.filter(workspace=self.workspace).first()
        return policy or ListeningPolicy(workspace=self.workspace)

    @extend_schema(responses={200: PolicySerializer})
    def show(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        policy = ListeningPolicy.objects.filter(workspace=self.workspace).first()
        return Response(PolicySerializer(policy or ListeningPolicy()).data)

    @extend_schema(request=PolicySerializer, responses={200: PolicySerializer})
    def change(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PolicySerializer(self._policy(), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(data.data)


class ExperimentRepliesViewSet(AtomicMixin, WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Reply rate and reply tone per variant, from the replies listening stored."""

    model = Experiment
    serializer_class = VariantRepliesSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(responses={200: VariantRepliesSerializer(many=True)})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        experiment = self.get_object()
        rows = [r.as_dict() for r in services.replies_per_variant(experiment.pk)]
        return Response(VariantRepliesSerializer(rows, many=True).data)


# --- URLs -------------------------------------------------------------------------------------------

#: Workspace-scoped resources of this package (tests/listening/test_api.py covers every route).
listening_router = SimpleRouter()
listening_router.register("messages", MessageViewSet, basename="listening-message")
listening_router.register("watches", WatchViewSet, basename="listening-watch")
listening_router.register("alerts", AlertViewSet, basename="listening-alert")

PREFIX = "workspaces/<slug:workspace_slug>/listening/"
urlpatterns = [
    path(
        PREFIX + "policy/",
        PolicyViewSet.as_view({"get": "show", "put": "change", "patch": "change"}),
        name="listening-policy",
    ),
    path(
        PREFIX + "experiments/<int:pk>/replies/",
        ExperimentRepliesViewSet.as_view({"get": "retrieve"}),
        name="listening-experiment-replies",
    ),
    path(PREFIX, include(listening_router.urls)),
]
