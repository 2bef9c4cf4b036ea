"""REST API of audience lists, under ``/api/v1/workspaces/<slug>/``.

audiences/                               lists of the workspace's brands (list, create)
audiences/<id>/                          one list (read, update)
audiences/<id>/subscribers/              its subscribers (list, add)
audiences/<id>/subscribers/<id>/         one subscriber (read, remove)
audiences/<id>/import/                   CSV upload: per-row errors and a summary
audience-sends/                          each publication's send: recipients per state
audience-feedback/                       bounces and complaints reported after a send

Everything is scoped to the workspace in the URL (another workspace's ids answer 404). Reading
needs ``viewer``, changing lists and subscribers ``editor``, reporting feedback ``admin`` (it is
what a mail provider's webhook integration does, with an admin API key). The unsubscribe token
is never returned: whoever holds it can unsubscribe the person.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import include, path
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from calendar_app.api.etag import ETagMixin
from calendar_app.api.exceptions import RequestTooLarge
from calendar_app.api.serializers.common import KairosModelSerializer, ScopedPrimaryKeyRelatedField
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin
from calendar_app.audiences import services
from calendar_app.audiences.models import (
    AudienceList,
    AudienceSend,
    RecipientState,
    SendRecipient,
    Subscriber,
    SubscriberStatus,
)
from calendar_app.models import Brand, Role

# --- serializers ------------------------------------------------------------------------------------


def _refuse(exc: services.AudienceError) -> ValidationError:
    return ValidationError({exc.field: [serializers.ErrorDetail(str(exc), code=exc.code)]})


class AudienceListSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    subscribed_count = serializers.IntegerField(
        read_only=True, help_text="Addresses that will receive the next send."
    )
    subscriber_count = serializers.IntegerField(
        read_only=True, help_text="Every address on the list, whatever its status."
    )

    class Meta:
        model = AudienceList
        fields = [
            "id",
            "brand",
            "name",
            "description",
            "subscribed_count",
            "subscriber_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list = []  # the (brand, name) rule is checked below, against the name field

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        brand = attrs.get("brand") or getattr(self.instance, "brand", None)
        name = attrs.get("name") or getattr(self.instance, "name", None)
        others = AudienceList.objects.filter(brand=brand, name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if brand is not None and others.exists():
            raise ValidationError(
                {"name": [serializers.ErrorDetail("This brand has a list of that name.", "unique")]}
            )
        return attrs


class SubscriberSerializer(KairosModelSerializer):
    class Meta:
        model = Subscriber
        fields = [
            "id",
            "email",
            "name",
            "consent_at",
            "consent_source",
            "status",
            "status_changed_at",
            "status_reason",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "status_changed_at",
            "status_reason",
            "created_at",
        ]
        extra_kwargs = {
            "email": {"validators": []},  # normalised and checked by the service
            "consent_source": {"required": True, "allow_blank": False},
            "consent_at": {"required": True},
        }


class CsvUploadSerializer(KairosSerializer):
    file = serializers.FileField(help_text="UTF-8 CSV with a header row; at most 2 MiB.")
    consent_source = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Used for rows whose consent_source cell is empty.",
    )
    consent_at = serializers.DateTimeField(
        required=False, help_text="Used for rows whose consent_at cell is empty."
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Check the file and report; write nothing."
    )


class RowErrorSerializer(KairosSerializer):
    row = serializers.IntegerField(help_text="Line in the file; the header is line 1.")
    field = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["invalid_email", "duplicate", "missing_consent", "invalid_consent_at"]
    )
    message = serializers.CharField()


class ImportResultSerializer(KairosSerializer):
    rows = serializers.IntegerField()
    valid = serializers.IntegerField()
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    error_counts = serializers.DictField(child=serializers.IntegerField())
    errors = RowErrorSerializer(many=True)
    errors_truncated = serializers.BooleanField()


class AudienceSendSerializer(KairosModelSerializer):
    states = serializers.SerializerMethodField(
        help_text="Recipients per state: pending, sending, sent, bounced, deferred, failed, "
        "in_doubt (may have been sent when a worker stopped; never resent), skipped."
    )
    sent_per_variant = serializers.SerializerMethodField()

    class Meta:
        model = AudienceSend
        fields = [
            "id",
            "publication",
            "audience",
            "total",
            "states",
            "sent_per_variant",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_states(self, send: AudienceSend) -> dict[str, int]:
        return {state: getattr(send, f"n_{state}", 0) for state in RecipientState.values}

    def get_sent_per_variant(self, send: AudienceSend) -> dict[str, int]:
        counted = self.context.get("sent_per_variant")
        if counted is not None:  # a page counted at once (the list)
            return counted.get(send.pk, {})
        return sent_per_variant([send.pk]).get(send.pk, {})


def sent_per_variant(send_ids: list[int]) -> dict[int, dict[str, int]]:
    """Recipients sent per variant for each of these sends, in one query."""
    counted: dict[int, dict[str, int]] = {}
    rows = (
        SendRecipient.objects.filter(
            send_id__in=send_ids, state=RecipientState.SENT, variant_key__isnull=False
        )
        .values_list("send_id", "variant_key")
        .annotate(n=Count("id"))
        .order_by()
    )
    for send_id, variant_key, n in rows:
        counted.setdefault(send_id, {})[variant_key] = n
    return counted


class FeedbackSerializer(KairosSerializer):
    email = serializers.CharField(max_length=254)
    kind = serializers.ChoiceField(
        choices=["bounce", "complaint"],
        help_text="bounce: the address does not exist (hard bounce); complaint: spam report.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
    audience = ScopedPrimaryKeyRelatedField(
        model=AudienceList, required=False, help_text="Only this list; default: every list."
    )

    def validate_email(self, value: str) -> str:
        try:
            return services.normalise_email(value)
        except services.AudienceError as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from None


class FeedbackResultSerializer(KairosSerializer):
    updated = serializers.IntegerField(help_text="Subscriber rows whose status changed.")


# --- views ------------------------------------------------------------------------------------------


def _audience_counts(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        subscribed_count=Count(
            "subscribers", filter=Q(subscribers__status=SubscriberStatus.SUBSCRIBED)
        ),
        subscriber_count=Count("subscribers"),
    )


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "A newsletter list",
                value={"brand": 1, "name": "Weekly news", "description": "Opt-in on the site"},
                request_only=True,
            )
        ]
    )
)
class AudienceListViewSet(
    ETagMixin,
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Audience lists of the workspace's brands (an email channel names one in its settings)."""

    model = AudienceList
    serializer_class = AudienceListSerializer
    permission = Role.VIEWER
    write_permission = Role.EDITOR
    filterset_fields = ["brand"]
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]

    def base_queryset(self) -> QuerySet:
        rows = _audience_counts(AudienceList.objects.filter(workspace=self.workspace))
        return rows.select_related("brand")

    def perform_create(self, serializer: AudienceListSerializer) -> None:
        serializer.save(workspace=self.workspace)

    def _fresh(self, pk: int) -> AudienceList:
        return self.base_queryset().get(pk=pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        body = self.get_serializer(self._fresh(serializer.instance.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(self.get_serializer(self._fresh(instance.pk)).data)


class _InAudience(WorkspaceScopedMixin):
    """Views under ``audiences/<audience_pk>/``: the list must be the workspace's."""

    def audience(self) -> AudienceList:
        if getattr(self, "swagger_fake_view", False):
            raise Http404
        cached = getattr(self, "_audience", None)
        if cached is None:
            raw = self.kwargs.get("audience_pk", "")
            if not (str(raw).isascii() and str(raw).isdigit()) or not 0 < int(raw) < 2**63:
                raise Http404
            cached = AudienceList.objects.filter(workspace=self.workspace, pk=int(raw)).first()
            if cached is None:
                raise Http404
            self._audience = cached
        return cached

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """The list is found (or 404) right after the role check, before the body is read: an
        unknown or foreign list answers 404 whatever was sent."""
        super().initial(request, *args, **kwargs)
        self.audience()


class SubscriberViewSet(
    AtomicMixin,
    _InAudience,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Subscribers of one list. Adding needs consent (time and source); removing deletes the
    address from the list for good (to stop sending but keep the record, it unsubscribes)."""

    model = Subscriber
    serializer_class = SubscriberSerializer
    permission = Role.VIEWER
    write_permission = Role.EDITOR
    filterset_fields = ["status"]
    ordering_fields = ["email", "created_at", "id"]
    ordering = ["id"]

    def base_queryset(self) -> QuerySet:
        return Subscriber.objects.filter(workspace=self.workspace, audience=self.audience())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            subscriber = services.add_subscriber(
                self.audience(),
                email=data["email"],
                name=data.get("name", ""),
                consent_at=data["consent_at"],
                consent_source=data["consent_source"],
            )
        except services.AudienceError as exc:
            raise _refuse(exc) from None
        return Response(self.get_serializer(subscriber).data, status=status.HTTP_201_CREATED)


class SubscriberImportView(AtomicMixin, _InAudience, GenericAPIView):
    """Import subscribers from a CSV file into one list."""

    model = Subscriber
    permission = Role.EDITOR
    write_permission = Role.EDITOR
    parser_classes = [MultiPartParser]
    serializer_class = CsvUploadSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="audiences_import",
        request={"multipart/form-data": CsvUploadSerializer},
        responses={200: ImportResultSerializer},
        description=(
            "Upload a CSV file (multipart field `file`, UTF-8, header row, at most 2 MiB → 413). "
            "Columns: `email` (required), `name`, `consent_at` (ISO 8601), `consent_source`; "
            "`consent_source` / `consent_at` fields fill empty cells. Each bad row is skipped "
            "and listed with its line, field and code (`invalid_email`, `duplicate` - on the "
            "list already or earlier in the file -, `missing_consent`, `invalid_consent_at`); "
            "the good rows are written together. A file that is not a CSV with an `email` "
            "column is refused with 400 and nothing is written. An address already on the list "
            "is never re-subscribed. `dry_run=true` reports without writing."
        ),
        examples=[
            OpenApiExample(
                "Imported with two bad rows",
                value={
                    "rows": 4,
                    "valid": 2,
                    "created": 2,
                    "skipped": 2,
                    "dry_run": False,
                    "error_counts": {"invalid_email": 1, "missing_consent": 1},
                    "errors": [
                        {
                            "row": 3,
                            "field": "email",
                            "code": "invalid_email",
                            "message": "'ada@' is not a valid email address.",
                        },
                        {
                            "row": 5,
                            "field": "consent_at",
                            "code": "missing_consent",
                            "message": "Every subscriber needs a consent time and a consent "
                            "source.",
                        },
                    ],
                    "errors_truncated": False,
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        audience = self.audience()
        length = request.META.get("CONTENT_LENGTH") or "0"
        if (
            length.isascii()
            and length.isdigit()
            and int(length) > services.MAX_CSV_BYTES + 64 * 1024
        ):
            raise RequestTooLarge(f"The file is larger than {services.MAX_CSV_BYTES} bytes.")
        upload = CsvUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        if file.size > services.MAX_CSV_BYTES:
            raise RequestTooLarge(f"The file is larger than {services.MAX_CSV_BYTES} bytes.")
        try:
            result = services.import_csv(
                audience,
                file.read(services.MAX_CSV_BYTES + 1),
                default_consent_source=upload.validated_data.get("consent_source", ""),
                default_consent_at=upload.validated_data.get("consent_at"),
                dry_run=upload.validated_data["dry_run"],
            )
        except services.AudienceError as exc:
            if exc.code == "too_large":
                raise RequestTooLarge(str(exc)) from None
            raise _refuse(exc) from None
        return Response(ImportResultSerializer(result.to_dict()).data)


class AudienceSendViewSet(WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Each publication's send to a list, with its recipients per state: how far it got, who
    bounced, and how many are *in doubt* (being sent when a worker stopped; never resent)."""

    model = AudienceSend
    serializer_class = AudienceSendSerializer
    permission = Role.VIEWER
    filterset_fields = ["publication", "audience"]
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One query counts the page's sends per variant, whatever the page size."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {
            **self.get_serializer_context(),
            "sent_per_variant": sent_per_variant([send.pk for send in page]),
        }
        data = AudienceSendSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    def base_queryset(self) -> QuerySet:
        counts = {
            f"n_{state}": Count("recipients", filter=Q(recipients__state=state))
            for state in RecipientState.values
        }
        return AudienceSend.objects.filter(workspace=self.workspace).annotate(**counts)


class FeedbackView(AtomicMixin, WorkspaceScopedMixin, GenericAPIView):
    """Record a bounce or a complaint reported after the send (a provider's feedback loop)."""

    model = Subscriber
    permission = Role.ADMIN
    write_permission = Role.ADMIN
    serializer_class = FeedbackSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="audience_feedback_create",
        request=FeedbackSerializer,
        responses={200: FeedbackResultSerializer},
        description=(
            "Report an asynchronous bounce or complaint for an address (what the SMTP "
            "provider's bounce or feedback-loop webhook says). Every list of the workspace, "
            "or only `audience`, stops sending to it: status `bounced` or `complained`. A "
            "complaint is never downgraded to a bounce. Idempotent."
        ),
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = FeedbackSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        updated = services.record_feedback(
            self.workspace,
            data["email"],
            data["kind"],
            data.get("reason", ""),
            audience=data.get("audience"),
        )
        return Response(FeedbackResultSerializer({"updated": updated}).data)


# --- URLs -------------------------------------------------------------------------------------------

#: Workspace-scoped resources of this package (the tenancy tests are generated from them).
audience_router = SimpleRouter()
audience_router.register("audiences", AudienceListViewSet, basename="audience")
audience_router.register("audience-sends", AudienceSendViewSet, basename="audience-send")

subscriber_router = SimpleRouter()
subscriber_router.register("subscribers", SubscriberViewSet, basename="subscriber")

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/audiences/<str:audience_pk>/import/",
        SubscriberImportView.as_view(),
        name="audience-import",
    ),
    path(
        "workspaces/<slug:workspace_slug>/audience-feedback/",
        FeedbackView.as_view(),
        name="audience-feedback",
    ),
    path(
        "workspaces/<slug:workspace_slug>/audiences/<str:audience_pk>/",
        include(subscriber_router.urls),
    ),
    path("workspaces/<slug:workspace_slug>/", include(audience_router.urls)),
]
