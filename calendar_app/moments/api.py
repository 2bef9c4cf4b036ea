"""REST API of moments (war-room mode), under ``/api/v1/workspaces/<slug>/``.

moments/                     moments (list, create)
moments/<id>/                one moment, with its latest readiness report (read, update, delete)
moments/<id>/readiness/      POST: run the readiness check now; the report (200)
moments/<id>/fire/           POST: fire an armed template (201, the fire); 400 ``not_armed``
moments/<id>/live/           GET: fires, publications, fire-to-live, failures (``?since=cursor``)
moments/<id>/report/         GET: fired count, latency per network, engagement per template
moments/<id>/hold/           POST: hold the brand's lower-priority posts now (window open)
moments/<id>/release/        POST: release what the moment holds now (lateness policy applies)
moments/<id>/holds/          GET: each post the moment held and what became of it

Roles: reading needs ``viewer``; writing moments, running the check, holding and releasing
``editor``; firing
``approver`` (as firing any template does). Everything is scoped to the workspace in the URL;
another workspace's ids answer 404.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from calendar_app.api.exceptions import WorkflowConflict
from calendar_app.api.serializers.common import (
    MAX_ID,
    YEAR_1900_TO_9998,
    KairosModelSerializer,
    ScopedPrimaryKeyRelatedField,
)
from calendar_app.api.serializers.strict import KairosSerializer
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.models import Brand, Event, Membership, ReactiveTemplate, Role
from calendar_app.moments import holds, readiness, services
from calendar_app.moments.models import MAX_TEAM, Moment
from calendar_app.outbound import events
from calendar_app.validators import validate_no_nul

MAX_ARMED = 100


def refuse(exc: services.MomentError) -> Exception:
    """A service refusal as the API's one error shape: 403, 400 on a field, else 409."""
    if exc.code == "permission_denied":
        return PermissionDenied(str(exc), code=exc.code)
    if exc.field:
        return ValidationError({exc.field: [serializers.ErrorDetail(str(exc), code=exc.code)]})
    return WorkflowConflict(str(exc), code=exc.code)


class TeamEntrySerializer(KairosSerializer):
    user = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    role = serializers.CharField(max_length=60, allow_blank=True, required=False)


class MomentSerializer(KairosModelSerializer):
    brand = ScopedPrimaryKeyRelatedField(model=Brand)
    event = ScopedPrimaryKeyRelatedField(model=Event, required=False, allow_null=True)
    templates = ScopedPrimaryKeyRelatedField(model=ReactiveTemplate, many=True, required=False)
    sample_values = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        required=False,
        validators=[validate_no_nul],  # keys too: PostgreSQL cannot store NUL
        help_text="Sample values for the armed templates' placeholders, by name.",
    )
    team = serializers.ListField(
        child=TeamEntrySerializer(),
        required=False,
        max_length=MAX_TEAM,
        help_text='The team on duty: [{"user": <member id>, "role": "<duty>"}].',
    )

    class Meta:
        model = Moment
        fields = [
            "id",
            "name",
            "brand",
            "event",
            "starts_at",
            "ends_at",
            "templates",
            "sample_values",
            "team",
            "readiness_ok",
            "readiness_checked_at",
            "readiness",
            "checks_done",
            "hold_below",
            "held_at",
            "released_at",
            "released_by_label",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "readiness_ok",
            "readiness_checked_at",
            "readiness",
            "checks_done",
            "held_at",
            "released_at",
            "released_by_label",
            "created_at",
            "updated_at",
        ]
        validators: list = []  # (workspace, name) and the window are checked below, by field

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        current = self.instance

        def value(name: str) -> Any:
            return attrs[name] if name in attrs else getattr(current, name, None)

        name, brand = value("name"), value("brand")
        starts, ends = value("starts_at"), value("ends_at")
        if starts and ends and ends <= starts:
            raise ValidationError({"ends_at": ["The window must end after it starts."]})
        others = Moment.objects.filter(workspace=request.workspace, name=name)
        if current is not None:
            others = others.exclude(pk=current.pk)
        if others.exists():
            raise ValidationError({"name": ["This workspace has a moment of that name."]})
        templates = attrs.get("templates")
        if templates is None:  # a new brand must still fit the armed templates
            templates = list(current.templates.all()) if current is not None else []
        if len(templates) > MAX_ARMED:
            raise ValidationError({"templates": [f"At most {MAX_ARMED} armed templates."]})
        wrong = sorted(t.pk for t in templates if brand is not None and t.brand_id != brand.pk)
        if wrong:
            raise ValidationError({"templates": [f"Not of the moment's brand: {wrong}."]})
        team = attrs.get("team") or []
        members = set(
            Membership.objects.filter(
                workspace=request.workspace, user_id__in=[e["user"] for e in team]
            ).values_list("user_id", flat=True)
        )
        strangers = sorted({e["user"] for e in team} - members)
        if strangers:
            raise ValidationError({"team": [f"Not members of this workspace: {strangers}."]})
        return attrs


class MomentFireSerializer(KairosSerializer):
    template = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    values = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        required=False,
        validators=[validate_no_nul],  # keys too: PostgreSQL cannot store NUL
        help_text="Placeholder values, by name.",
    )
    channels = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_empty=False,
        max_length=100,
        help_text="Only these of the template's channels; absent: all connected ones.",
    )


class MomentFireResultSerializer(serializers.Serializer):
    fire = serializers.IntegerField()
    template = serializers.IntegerField()
    fired_at = serializers.DateTimeField()
    content_item = serializers.IntegerField(allow_null=True)


class MomentViewSet(WorkspaceViewSet):
    """Moments: a window, the templates armed for it, its readiness, the live war room."""

    model = Moment
    serializer_class = MomentSerializer
    write_permission = Role.EDITOR
    action_permissions = {
        "readiness": Role.EDITOR,
        "fire": services.FIRE_ROLE,
        "live": Role.VIEWER,
        "report": Role.VIEWER,
        "hold": Role.EDITOR,
        "release": Role.EDITOR,
        "holds": Role.VIEWER,
    }
    filterset_fields = ["brand", "event"]
    ordering_fields = ["starts_at", "name", "id"]
    ordering = ["-starts_at", "-id"]

    def base_queryset(self):
        return Moment.objects.filter(workspace=self.workspace).prefetch_related("templates")

    def perform_create(self, serializer: MomentSerializer) -> None:
        serializer.save(workspace=self.workspace)

    @extend_schema(
        request=None,
        responses={200: dict},
        description=(
            "Run the readiness check now: every armed template × channel, green or red with "
            "the reasons (rendering with the sample values, length and media the network's "
            "way, links, credentials, pause and rate-limit headroom, max fires, crisis). The "
            "report is kept on the moment; a red item sends `moment.readiness_failed`."
        ),
    )
    @action(detail=True, methods=["post"])
    def readiness(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(readiness.check(self.get_object(), trigger="manual"))

    @extend_schema(
        request=MomentFireSerializer,
        responses={201: MomentFireResultSerializer},
        description=(
            "Fire one armed template now, with its placeholder values. 400 `not_armed` for a "
            "template the moment does not arm (including another workspace's), 409 "
            "`outside_window` outside the window, and every refusal of ordinary firing "
            "(cool-down, max fires, crisis, missing values) with its code. Needs approver."
        ),
        examples=[
            OpenApiExample(
                "Goal", value={"template": 7, "values": {"player": "Mbappé"}}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def fire(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        moment = self.get_object()
        data = MomentFireSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            fired = services.fire(
                moment,
                data.validated_data["template"],
                self.actor,
                data.validated_data.get("values") or {},
                channel_ids=data.validated_data.get("channels"),
            )
        except services.MomentError as exc:
            raise refuse(exc) from None
        item = getattr(fired, "content_item", None)
        body = {
            "fire": fired.pk,
            "template": fired.template_id,
            "fired_at": fired.fired_at,
            "content_item": item.pk if item else None,
        }
        return Response(MomentFireResultSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since",
                {"type": "string", "format": "date-time", "pattern": YEAR_1900_TO_9998},
                description="The previous answer's `cursor`: only changes since.",
            )
        ],
        responses={200: dict},
        description=(
            "The live war room: the window's fires, each publication with its status and "
            "`fire_to_live_s`, failures, and each post's first engagement. Poll it with the "
            "previous answer's `cursor` as `since`."
        ),
    )
    @action(detail=True, methods=["get"])
    def live(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        moment = self.get_object()
        since = None
        raw = request.query_params.get("since")
        if raw:
            try:
                since = parse_datetime(raw)
            except ValueError:
                since = None
            if since is not None and since.tzinfo is None:
                since = None  # a cursor is an instant, with its offset
            if since is None or not 1900 <= since.year <= 9998:
                raise ValidationError({"since": ["Give the `cursor` of a previous answer."]})
        return Response(services.live(moment, since))

    @extend_schema(
        request=None,
        responses={200: dict},
        description=(
            "Hold the brand's scheduled posts below the moment's `hold_below` priority that "
            "are due inside the window, now (the schedule does it every minute while the window "
            "is open). 409 `no_threshold`, `outside_window` or `already_released`."
        ),
    )
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        moment = self.get_object()
        try:
            count = holds.hold(moment, on_demand=True)
        except holds.HoldError as exc:
            raise WorkflowConflict(str(exc), code=exc.code) from None
        return Response({"moment": moment.pk, "held": count, "holding": _holding(moment)})

    @extend_schema(
        request=None,
        responses={200: dict},
        description=(
            "Release what the moment holds now (the schedule does it when the window closes): "
            "each post goes out or follows its lateness policy; a post an active crisis covers "
            "stays held, by the crisis. 409 `already_released` or `nothing_held`."
        ),
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            result = holds.release(self.get_object(), self.actor)
        except holds.HoldError as exc:
            raise WorkflowConflict(str(exc), code=exc.code) from None
        body = result.as_dict()
        body["released_at"] = events.iso(body["released_at"])
        return Response(body)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def holds(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Each post the moment held (priority, due time) and what became of it: held,
        released, skipped, handed to a crisis, or gone (cancelled while held)."""
        moment = self.get_object()
        rows = [
            r | {k: events.iso(r[k]) for k in ("due_at", "held_at", "released_at")}
            for r in holds.holds_of(moment)
        ]
        return Response({"moment": moment.pk, "hold_below": moment.hold_below, "holds": rows})

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def report(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """After the window: fired count, latency per network (median, p95), engagement per
        template (the sum of each post's latest metrics)."""
        return Response(services.report(self.get_object()))


def _holding(moment: Moment) -> int:
    from calendar_app.moments.models import MomentHold, MomentHoldOutcome

    return MomentHold.objects.filter(moment=moment, outcome=MomentHoldOutcome.HELD).count()


#: Workspace-scoped resources of this package (tests/moments/test_api.py covers every route).
moments_router = SimpleRouter()
moments_router.register("moments", MomentViewSet, basename="moment")

urlpatterns = [path("workspaces/<slug:workspace_slug>/", include(moments_router.urls))]
