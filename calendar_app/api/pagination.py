"""Pagination for every list: numbered pages for small lists, cursors for the large ones.

Cursor pagination keeps a page stable while rows are added (content, publications, metrics,
events grow all day) and uses the index of its ordering instead of ``OFFSET``.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination

MAX_PAGE_SIZE = 200


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class KairosCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-created_at"


def cursor_pagination(default_ordering: str) -> type[KairosCursorPagination]:
    """A cursor paginator ordered by ``default_ordering`` unless ``?ordering=`` says otherwise."""
    return type(
        f"CursorBy{default_ordering.strip('-').title().replace('_', '')}",
        (KairosCursorPagination,),
        {"ordering": default_ordering},
    )
