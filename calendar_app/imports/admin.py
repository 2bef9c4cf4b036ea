"""The admin's content import page: download the template, check a CSV (every problem by row
and column), then import it, all or nothing.

Served at ``admin/calendar_app/contentitem/import/`` and linked from the content items list;
added to :class:`~calendar_app.admin.content.ContentItemAdmin` from here so this package keeps
its admin pieces to itself. Imported by :mod:`calendar_app.admin`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import ngettext

from calendar_app.admin.base import workspace_ids
from calendar_app.admin.content import ContentItemAdmin
from calendar_app.imports import content
from calendar_app.models import Role, Workspace

TEMPLATE = "admin/calendar_app/contentitem/import.html"


def _workspaces(request: HttpRequest) -> list[Workspace]:
    if request.user.is_superuser:
        return list(Workspace.objects.order_by("name"))
    return list(
        Workspace.objects.filter(pk__in=workspace_ids(request, Role.EDITOR)).order_by("name")
    )


def import_view(model_admin: ContentItemAdmin, request: HttpRequest) -> HttpResponse:
    """GET: the form (``?template=<workspace id>`` downloads the CSV template); POST: check
    (``check``) or import (``import``) the uploaded file."""
    choices = _workspaces(request)
    if not choices:
        raise PermissionDenied
    by_id = {str(w.pk): w for w in choices}
    if "template" in request.GET:
        workspace = by_id.get(request.GET["template"]) or choices[0]
        response = HttpResponse(content.template_csv(workspace), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="kairos-content-import.csv"'
        return response
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Import content from a spreadsheet",
        "workspaces": choices,
        "columns": content.COLUMNS,
        "max_rows": content.MAX_ROWS,
        "problems": None,
    }
    if request.method == "POST":
        workspace = by_id.get(request.POST.get("workspace", "")) or (
            choices[0] if len(choices) == 1 else None
        )
        upload = request.FILES.get("file")
        context["selected"] = workspace.pk if workspace else None
        if workspace is None or upload is None:
            messages.error(request, "Pick a workspace and a CSV file.")
            return TemplateResponse(request, TEMPLATE, context)
        try:
            rows = content.read_csv(upload.read(content.MAX_CSV_BYTES + 1))
        except content.ImportRefused as exc:
            messages.error(request, str(exc))
            return TemplateResponse(request, TEMPLATE, context)
        checked = content.check_rows(workspace, rows, first_row=2, user=request.user)
        context["problems"] = checked.problems
        context["rows"] = checked.rows
        if checked.ok and "import" in request.POST:
            created = content.write(checked)
            messages.success(request, f"Imported {len(created)} items as drafts.")
            return redirect(reverse("admin:calendar_app_contentitem_changelist"))
        if checked.ok:
            messages.info(
                request,
                f"All {checked.rows} rows can be imported: choose the file again and "
                "press “Import”.",
            )
        else:
            messages.error(request, problems_summary(len(checked.problems), checked.rows))
    return TemplateResponse(request, TEMPLATE, context)


def problems_summary(problems: int, rows: int) -> str:
    """ "1 problem in a file of 2 rows", never "1 problems in 1 rows"."""
    found = ngettext("%(n)d problem", "%(n)d problems", problems) % {"n": problems}
    size = ngettext("%(n)d row", "%(n)d rows", rows) % {"n": rows}
    return f"{found} in a file of {size}; nothing was imported."


_urls_before = ContentItemAdmin.get_urls


def _get_urls(self: ContentItemAdmin) -> list:
    view = self.admin_site.admin_view(lambda request: import_view(self, request))
    return [
        path("import/", view, name="calendar_app_contentitem_import"),
        *_urls_before(self),
    ]


if getattr(ContentItemAdmin.get_urls, "__name__", "") != "_get_urls":
    ContentItemAdmin.get_urls = _get_urls
