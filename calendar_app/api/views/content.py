"""Content items and their workflow actions (one endpoint per action, through ``workflow``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app import workflow
from calendar_app.api.etag import not_modified
from calendar_app.api.exceptions import WorkflowConflict
from calendar_app.api.filters import ContentItemFilter
from calendar_app.api.pagination import cursor_pagination
from calendar_app.api.read import content_items
from calendar_app.api.read.content_pages import UnfilteredPages
from calendar_app.api.serializers.common import to_utc
from calendar_app.api.serializers.content import (
    ContentItemSerializer,
    RescheduleSerializer,
    ScheduleSerializer,
    TransitionSerializer,
)
from calendar_app.api.serializers.previews import PreviewsSerializer, previews_answer
from calendar_app.api.views.base import WorkspaceViewSet
from calendar_app.delivery.preflight import previews_for
from calendar_app.models import Channel, ContentItem, ContentStatus, Role

#: The workflow actions exposed as endpoints, each with the role the workflow's rule requires.
ACTIONS = ("submit", "withdraw", "approve", "reject", "schedule", "reschedule", "cancel", "reopen")
DELETABLE = frozenset({ContentStatus.DRAFT, ContentStatus.CANCELLED})
#: The query parameters of a list that nothing filters or reorders: a walk through its pages.
UNFILTERED = frozenset({"cursor", "page_size"})

IF_MATCH_DOC = "Send the ETag you read as If-Match; a stale one is answered 412."


def _transition(name: str) -> Callable[..., Response]:
    """An action endpoint that runs ``workflow.<name>`` and returns the item."""
    serializer_class = {"schedule": ScheduleSerializer, "reschedule": RescheduleSerializer}.get(
        name, TransitionSerializer
    )

    def view(self: ContentItemViewSet, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        options = dict(data.validated_data)
        if "scheduled_at" in options:
            when = to_utc(options, ("scheduled_at",), item.brand.time_zone).pop("scheduled_at")
            options["when"] = when
            options.pop("scheduled_at", None)
        item = getattr(workflow, name)(item, self.actor, **options)
        return self.item_response(item)

    rule = workflow.RULES[name]
    view.__name__ = name
    view.__doc__ = f"{rule.summary} Needs the {rule.role} role. {IF_MATCH_DOC}"
    examples = []
    if name == "schedule":
        examples = [
            OpenApiExample(
                "Tuesday 9:00 in the brand's zone",
                value={"scheduled_at": "2027-02-16T09:00:00", "note": "Morning slot"},
                request_only=True,
            )
        ]
    if name == "reject":
        examples = [
            OpenApiExample("With a note", value={"note": "Shorter, please."}, request_only=True)
        ]
    # extend_schema goes on top of @action: below it, the generator documented every action's
    # body as a whole content item (the fuzzer then sent those and got 400s).
    view = action(detail=True, methods=["post"])(view)
    return extend_schema(
        request=serializer_class, responses={200: ContentItemSerializer}, examples=examples
    )(view)


@extend_schema_view(
    create=extend_schema(
        examples=[
            OpenApiExample(
                "A draft for the big game",
                value={
                    "brand": 1,
                    "title": "Blackout reaction",
                    "body": "You can still dunk in the dark.",
                    "channels": [1],
                    "scheduled_at": "2027-02-14T20:30:00",
                    "cta_text": "Grab a pack",
                    "cta_url": "https://example.com/snacks",
                },
                request_only=True,
            )
        ]
    ),
    update=extend_schema(description=IF_MATCH_DOC),
    partial_update=extend_schema(description=IF_MATCH_DOC),
    destroy=extend_schema(
        description="Only drafts and cancelled items can be deleted. " + IF_MATCH_DOC
    ),
)
class ContentItemViewSet(WorkspaceViewSet):
    """Planned posts. Changes go through the workflow: editing approved content sends it back to
    review. Reads carry an ETag."""

    model = ContentItem
    serializer_class = ContentItemSerializer
    write_permission = Role.EDITOR
    action_permissions = {name: workflow.RULES[name].role for name in ACTIONS}
    filterset_class = ContentItemFilter
    pagination_class = cursor_pagination("-created_at")
    ordering_fields = ["created_at", "updated_at", "id"]
    # the id breaks ties: the cursor's offsets count items of equal creation time, which only
    # works if they come in the same order on every request (PostgreSQL gave them in any order)
    ordering = ["-created_at", "-id"]
    uses_etag = True

    def base_queryset(self) -> QuerySet:
        items = ContentItem.objects.filter(workspace=self.workspace)
        if getattr(self, "action", None) in ("list", "retrieve"):
            return items  # read as rows (below): no relations to load
        return (
            items.select_related("brand")
            # only the ids are shown: loading whole channels decrypted every channel's secrets
            # (a Fernet token each) on every page; ties broken by id, as the read path does
            .prefetch_related(
                Prefetch(
                    "channels",
                    queryset=Channel.objects.only("id").order_by(*Channel._meta.ordering, "pk"),
                )
            )
        )

    # The two reads skip the serializer and the model instances: rows of the shown columns,
    # written out by calendar_app.api.read.content_items, equal to the serializer's answer
    # (tests/api/test_content_read_path.py). No docstrings on them: the schema would take one
    # as the operation's description.

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        def filtered() -> QuerySet:
            return content_items.rows(self.filter_queryset(self.get_queryset()))

        if UNFILTERED.issuperset(request.query_params):
            # Only a position and a size: the page by a statement compiled once per process.
            rows: Any = UnfilteredPages(self.workspace.pk, filtered)
        else:
            rows = filtered()
        page = self.paginate_queryset(rows)
        items = content_items.facts(rows if page is None else page)
        data = content_items.represent(items, getattr(request, "actor", None))
        return Response(data) if page is None else self.get_paginated_response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        row = None
        if not request.query_params and lookup.isascii() and lookup.isdigit():
            # Nothing to filter: the row by its id, with SQL compiled once per process.
            row = content_items.row_by_id(self.workspace.pk, int(lookup))
            if row is None:
                raise Http404(f"No {ContentItem._meta.object_name} matches the given query.")
        if row is None:
            rows = content_items.rows(self.filter_queryset(self.get_queryset()))
            row = get_object_or_404(rows, **{self.lookup_field: lookup})
        item = content_items.ItemFacts(row)
        self.check_object_permissions(request, item)
        self.tag(item)
        if not_modified(request, item):
            return Response(status=304)
        return Response(content_items.represent([item], getattr(request, "actor", None))[0])

    def item_response(self, item: ContentItem, status: int = 200) -> Response:
        item = self.get_queryset().get(pk=item.pk)  # fresh, with its relations
        return Response(self.get_serializer(self.tag(item)).data, status=status)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.item_response(serializer.save(), status=201)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return self.item_response(serializer.save())

    @extend_schema(responses={200: PreviewsSerializer})
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The item on each of its connected channels (per variant of its experiment) as it will
        go out: the exact text with placeholders filled, call to action, tracked link and UTM
        tags, its length as that network counts it, and every problem that would stop it."""
        previews = previews_for(self.get_object())
        return Response(previews_answer(previews))

    def perform_destroy(self, instance: ContentItem) -> None:
        if instance.status not in DELETABLE:
            raise WorkflowConflict(
                f"Only drafts and cancelled items can be deleted; this one is {instance.status}. "
                "Cancel it first.",
                code="invalid_transition",
            )
        instance.delete()


for _name in ACTIONS:
    setattr(ContentItemViewSet, _name, _transition(_name))
