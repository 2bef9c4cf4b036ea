"""Calendar feeds (``calendar-feeds/``) and the iCalendar import (``events/import/``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.exceptions import RequestTooLarge
from calendar_app.api.serializers.feeds import (
    CalendarFeedSerializer,
    IcsImportResultSerializer,
    IcsUploadSerializer,
    IssuedCalendarFeedSerializer,
)
from calendar_app.api.views.base import AtomicMixin, WorkspaceScopedMixin
from calendar_app.ical import MAX_ICS_BYTES, IcsRefused, import_ics
from calendar_app.models import CalendarFeed, Event, Role

#: The feed view's URL name (config/urls.py) and the path used if it is not wired.
FEED_URL_NAME = "calendar-feed-ics"


def feed_path(token: str) -> str:
    try:
        return reverse(FEED_URL_NAME, kwargs={"token": token})
    except NoReverseMatch:
        return f"/feeds/ical/{token}.ics"


@extend_schema_view(
    create=extend_schema(
        responses={201: IssuedCalendarFeedSerializer},
        examples=[
            OpenApiExample(
                "A feed for the social team's Google Calendar",
                value={"brand": 1, "name": "Social team"},
                request_only=True,
            )
        ],
        description="Create a secret feed URL for a brand. The response holds the URL once; "
        "only a hash of its secret is kept, and an answer replayed for a repeated "
        "`Idempotency-Key` has `token`, `url` and `webcal_url` set to `null`.",
    ),
    destroy=extend_schema(
        description="Revoke the feed: its URL answers 404 from now on. The row stays, listed "
        "with `revoked_at`."
    ),
)
class CalendarFeedViewSet(
    AtomicMixin,
    WorkspaceScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Secret iCalendar feed URLs, one brand each: viewers list them, editors create and revoke."""

    model = CalendarFeed
    serializer_class = CalendarFeedSerializer
    permission = Role.VIEWER
    write_permission = Role.EDITOR
    ordering_fields = ["created_at", "last_fetched_at", "id"]
    ordering = ["-created_at", "-id"]

    def base_queryset(self) -> QuerySet:
        return CalendarFeed.objects.filter(workspace=self.workspace).select_related(
            "brand", "created_by"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feed, token = CalendarFeed.issue(
            brand=serializer.validated_data["brand"],
            name=serializer.validated_data["name"],
            created_by=self.actor.user,
        )
        url = request.build_absolute_uri(feed_path(token))
        feed.token = token
        feed.url = url
        feed.webcal_url = "webcal://" + url.split("://", 1)[-1]
        feed = self._with_relations(feed)
        return Response(IssuedCalendarFeedSerializer(feed).data, status=status.HTTP_201_CREATED)

    def _with_relations(self, feed: CalendarFeed) -> CalendarFeed:
        fresh = self.base_queryset().get(pk=feed.pk)
        for name in ("token", "url", "webcal_url"):
            setattr(fresh, name, getattr(feed, name))
        return fresh

    def perform_destroy(self, instance: CalendarFeed) -> None:
        instance.revoke()


class EventImportView(AtomicMixin, WorkspaceScopedMixin, GenericAPIView):
    """Import events from an iCalendar file: created or updated by UID, all or nothing."""

    model = Event
    permission = Role.EDITOR
    write_permission = Role.EDITOR
    parser_classes = [MultiPartParser]
    serializer_class = IcsUploadSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="events_import",
        request={"multipart/form-data": IcsUploadSerializer},
        responses={200: IcsImportResultSerializer},
        description=(
            "Upload an .ics file (multipart field `file`, at most 1 MiB → 413). Each VEVENT "
            "becomes an event of the workspace, keyed by its UID (`external_uid`, source `ics`): "
            "new UIDs are created, known ones updated. DTSTART/DTEND/DURATION/RRULE/TZID/DATE "
            "(all-day)/SUMMARY/DESCRIPTION/LOCATION/CATEGORIES (themes) are read. All or nothing: "
            "one bad event and nothing is written; errors are keyed `events[<n>].<property>`."
        ),
        examples=[
            OpenApiExample(
                "Imported",
                value={
                    "created": 12,
                    "updated": 1,
                    "skipped": 2,
                    "warnings": ["events[4]: EXDATE is not supported and was ignored."],
                    "events": [101, 102],
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isascii() and length.isdigit() and int(length) > MAX_ICS_BYTES + 64 * 1024:
            raise RequestTooLarge(f"The file is larger than {MAX_ICS_BYTES} bytes.")
        upload = IcsUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        if file.size > MAX_ICS_BYTES:
            raise RequestTooLarge(f"The file is larger than {MAX_ICS_BYTES} bytes.")
        data = file.read(MAX_ICS_BYTES + 1)
        try:
            result = import_ics(self.workspace, data)
        except IcsRefused as exc:
            if exc.code == "too_large":
                raise RequestTooLarge(str(exc)) from None
            raise ValidationError(exc.fields, code=exc.code) from None
        body = {
            "created": result.created,
            "updated": result.updated,
            "skipped": result.skipped,
            "warnings": result.warnings,
            "events": result.event_ids,
        }
        return Response(IcsImportResultSerializer(body).data, status=status.HTTP_200_OK)
