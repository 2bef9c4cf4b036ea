"""``GET /api/v1/workspaces/{ws}/calendar/``: everything on the calendar between two instants."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiTypes,
    extend_schema,
)
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from calendar_app.api.pagination import PagePagination
from calendar_app.api.read.calendar_entries import represent
from calendar_app.api.serializers.calendar import CalendarEntrySerializer, CalendarQuerySerializer
from calendar_app.api.views.base import WorkspaceScopedMixin
from calendar_app.calendar_view import (
    MAX_RANGE_DAYS,
    CalendarEntry,
    CalendarPage,
    calendar_page,
)
from calendar_app.models import Brand, Event, Role
from calendar_app.sql.prepared import PreparedRows


class OnePage:
    """The page :func:`calendar_page` computed, seen by Django's paginator as the whole list:
    ``count()`` is the range's total and slicing at the page's bounds gives the page's entries."""

    def __init__(self, page: CalendarPage, offset: int) -> None:
        self.page, self.offset = page, offset

    def count(self) -> int:
        return self.page.count

    def __len__(self) -> int:
        return self.page.count

    def __getitem__(self, bounds: slice) -> list[CalendarEntry]:
        if bounds.start != self.offset:  # the paginator asks for the page it validated
            raise IndexError("Only the computed page can be read.")
        return self.page.entries


class CalendarPagination(PagePagination):
    """Numbered pages over the entries (sorted by start, kind, id), with the range the page
    belongs to. Only the page asked for is computed (:func:`calendar_page` sorts, counts and
    slices in the database), so a request costs its page, not the rows in its range."""

    page_size = 100

    def bounds(self, request: Request) -> tuple[int, int]:
        """``(offset, limit)`` of the page asked for (a bad number is a 400 on its parameter)."""
        size = self.get_page_size(request)
        number = self.get_page_number(request, None)
        return (number - 1) * size, size

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        meta = getattr(self, "calendar_meta", {})
        response.data = OrderedDict([*meta.items(), *response.data.items()])
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        base["properties"] = {
            "start": {
                "type": "string",
                "format": "date-time",
                "example": "2027-03-22T00:00:00Z",
                "description": "The range's start, UTC.",
            },
            "end": {
                "type": "string",
                "format": "date-time",
                "example": "2027-04-05T00:00:00Z",
                "description": "The range's end (exclusive), UTC.",
            },
            "time_zone": {
                "type": "string",
                "example": "Europe/Paris",
                "description": "The zone of the `*_local` times.",
            },
            "brand": {"type": "integer", "nullable": True, "example": 1},
            **base["properties"],
        }
        return base


ENTRY_EXAMPLE = [
    {
        "kind": "event",
        "id": 7,
        "title": "Team stand-up",
        "start": "2027-03-26T08:00:00Z",
        "end": "2027-03-26T08:30:00Z",
        "start_local": "2027-03-26T09:00:00+01:00",
        "end_local": "2027-03-26T09:30:00+01:00",
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "time_zone": "Europe/Paris",
        "recurring": True,
        "brand": None,
        "brand_name": None,
        "status": None,
        "channels_count": None,
        "fit_score": 64,
        "details": {"location": "", "themes": ["work"], "is_global": False},
    },
    {
        "kind": "content",
        "id": 42,
        "title": "Spring launch teaser",
        "start": "2027-03-29T07:00:00Z",
        "end": "2027-03-29T07:15:00Z",
        "start_local": "2027-03-29T09:00:00+02:00",
        "end_local": "2027-03-29T09:15:00+02:00",
        "all_day": False,
        "start_date": None,
        "end_date": None,
        "time_zone": None,
        "recurring": False,
        "brand": 1,
        "brand_name": "Crunchy",
        "status": "scheduled",
        "channels_count": 2,
        "fit_score": None,
        "details": {"scheduled_at": "2027-03-29T07:00:00Z", "event": None},
    },
]


class CalendarView(WorkspaceScopedMixin, generics.ListAPIView):
    """Everything on a brand's or the workspace's calendar in ``[start, end)``.

    Events with their recurrences expanded (each in its own zone, DST-correct), content items
    scheduled or published in the range, and reactive templates whose validity window overlaps
    it, sorted by start. Times are UTC plus ``*_local`` in ``tz``.
    """

    permission = Role.VIEWER
    serializer_class = CalendarEntrySerializer
    pagination_class = CalendarPagination
    filter_backends: list = []
    model = Event  # for the schema generator only

    @extend_schema(
        operation_id="calendar_list",
        parameters=[
            OpenApiParameter(
                "start",
                OpenApiTypes.STR,
                required=True,
                description="Inclusive start: `2027-03-22T00:00:00+01:00`, `2027-03-22T09:00` "
                "(read in tz) or `2027-03-22` (the first instant of that day in tz).",
            ),
            OpenApiParameter(
                "end",
                OpenApiTypes.STR,
                required=True,
                description="Exclusive end, same formats; a date means *through* that day. "
                f"At most {MAX_RANGE_DAYS} days after start (400 beyond).",
            ),
            OpenApiParameter(
                "brand",
                OpenApiTypes.INT,
                description="One brand's calendar (its items, templates and fit scores). "
                "Another workspace's brand is 404.",
            ),
            OpenApiParameter(
                "tz",
                OpenApiTypes.STR,
                description="IANA zone for `*_local` and for date bounds (default: the brand's "
                "zone, else UTC). On a DST day a date covers 23 or 25 hours.",
                examples=[OpenApiExample("Paris", value="Europe/Paris")],
            ),
            OpenApiParameter(
                "kinds",
                OpenApiTypes.STR,
                description="Comma-separated subset of `event,content,template`.",
                examples=[OpenApiExample("Only posts and events", value="event,content")],
            ),
        ],
        examples=[
            OpenApiExample(
                "Two weeks of one brand across the spring DST change",
                value=ENTRY_EXAMPLE,
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    def get_queryset(self):  # the entries are not a queryset; see ``list``
        return Event.objects.none()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = CalendarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        brand = None
        brand_id = query.validated_data.get("brand")
        if brand_id is not None:
            brand = _brand(self.workspace.pk, brand_id)
            if brand is None:
                raise NotFound("No such brand in this workspace.")
        params = query.resolve(brand.time_zone if brand else None)
        paginator = self.paginator
        offset, limit = paginator.bounds(request)
        computed = calendar_page(
            self.workspace,
            start=params["start"],
            end=params["end"],
            brand=brand,
            tz=params["tz"],
            kinds=params["kinds"],
            offset=offset,
            limit=limit,
        )
        paginator.calendar_meta = {
            "start": params["start"].isoformat().replace("+00:00", "Z"),
            "end": params["end"].isoformat().replace("+00:00", "Z"),
            "time_zone": params["tz"],
            "brand": brand.pk if brand else None,
        }
        page = self.paginate_queryset(OnePage(computed, offset))
        # CalendarEntrySerializer's answer, without the list serializer (calendar_entries.py)
        return self.get_paginated_response(represent(page))


#: A workspace's brand by id, as the calendar needs it, compiled once
#: (calendar_app.sql.prepared).
_BRAND_COLUMNS = ("id", "workspace_id", "time_zone")
_BRAND = PreparedRows(
    lambda workspace_id, pk: (
        Brand.objects.filter(workspace_id=workspace_id, pk=pk)
        .order_by()
        .values_list(*_BRAND_COLUMNS)
    ),
    stand_ins=[-7_392_301, -7_392_302],
)


def _brand(workspace_id: int, pk: int) -> Brand | None:
    """The brand ``pk`` of the workspace with the columns the calendar reads (the others are
    deferred), or None."""
    found = _BRAND.rows(workspace_id, pk)
    return Brand.from_db("default", list(_BRAND_COLUMNS), found[0]) if found else None
