"""Pagination for every list: numbered pages for small lists, cursors for the large ones.

Cursor pagination keeps a page stable while rows are added (content, publications, metrics,
events grow all day) and uses the index of its ordering instead of ``OFFSET``.

``page_size`` and ``page`` are strict: DRF would silently fall back to the default size for
``page_size=abc`` or ``page_size=0`` and clamp ``page_size=5000``, so a client never learned its
request was wrong, and the schema (integer, 1..200) said otherwise. Here a value outside the
declared range is a 400 naming the parameter, and the schema declares exactly that range.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request

MAX_PAGE_SIZE = 200


def strict_positive_int(request: Request, name: str, maximum: int | None = None) -> int | None:
    """The query parameter ``name`` as an integer in ``1..maximum``; ``None`` when absent.

    Anything else (not a number, zero, negative, over the maximum, given twice with different
    values) is a 400 with a message on ``name``.
    """
    values = request.query_params.getlist(name)
    if not values:
        return None
    message = (
        f"Must be a whole number between 1 and {maximum}."
        if maximum
        else "Must be a whole number of 1 or more."
    )
    if len(set(values)) > 1:
        raise ValidationError({name: ["Give this parameter once."]}, code="invalid")
    raw = values[0]
    if not raw.isascii() or not raw.isdigit():
        raise ValidationError({name: [message]}, code="invalid")
    value = int(raw)
    if value < 1 or (maximum is not None and value > maximum):
        raise ValidationError({name: [message]}, code="invalid")
    return value


def _size_parameter(maximum: int, default: int) -> dict[str, Any]:
    return {
        "name": "page_size",
        "required": False,
        "in": "query",
        "description": f"Rows per page, 1 to {maximum} (default {default}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum},
    }


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    #: no ``?page=last``: the page is a number, as the schema says
    last_page_strings = ()

    def get_page_size(self, request: Request) -> int:
        return strict_positive_int(request, "page_size", self.max_page_size) or self.page_size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return strict_positive_int(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1; past the last page is a 404.",
                "schema": {"type": "integer", "minimum": 1},
            },
            _size_parameter(self.max_page_size, self.page_size),
        ]


class KairosCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-created_at"

    def get_page_size(self, request: Request) -> int:
        return strict_positive_int(request, "page_size", self.max_page_size) or self.page_size

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = [p for p in super().get_schema_operation_parameters(view) if p["name"] == "cursor"]
        for param in params:
            param["description"] = (
                "Opaque position from a `next` or `previous` link; an unknown one is a 404."
            )
        return [*params, _size_parameter(self.max_page_size, self.page_size)]


def cursor_pagination(default_ordering: str) -> type[KairosCursorPagination]:
    """A cursor paginator ordered by ``default_ordering`` unless ``?ordering=`` says otherwise."""
    return type(
        f"CursorBy{default_ordering.strip('-').title().replace('_', '')}",
        (KairosCursorPagination,),
        {"ordering": default_ordering},
    )
