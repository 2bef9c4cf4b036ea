"""Posting slots in the admin, and the "Add to queue" action on content items.

A slot's page names the brand's time zone; saving a moved slot or deleting one re-plans what
was queued in it and lists, as messages, where each item went. "Add to queue" is added to the
content items' action menu from here, so this package keeps its admin pieces to itself.

Imported by :mod:`calendar_app.admin`, which registers it with the site.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from calendar_app.admin.base import WORKSPACE_PATHS, TenantAdmin
from calendar_app.admin.content import ContentItemAdmin
from calendar_app.slots import services
from calendar_app.slots.models import PostingSlot, QueueEntry
from calendar_app.workflow import Actor, WorkflowError

WORKSPACE_PATHS[PostingSlot] = "workspace"
WORKSPACE_PATHS[QueueEntry] = "workspace"


def _report(request: HttpRequest, report: list[services.Replanned]) -> None:
    for line in report:
        level = messages.SUCCESS if line.moved_to is not None else messages.WARNING
        messages.add_message(request, level, line.message)


@admin.register(PostingSlot)
class PostingSlotAdmin(TenantAdmin):
    list_display = ("brand", "weekday", "local_time", "channel", "label", "time_zone")
    list_filter = ("brand", "weekday")
    autocomplete_fields = ("brand", "channel")
    workspace_from = "brand"
    fields = ("brand", "channel", "weekday", "local_time", "label")

    @admin.display(description="Time zone")
    def time_zone(self, obj: PostingSlot) -> str:
        return obj.brand.time_zone

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change, **kwargs)
        if "local_time" in form.base_fields:
            zone = obj.brand.time_zone if obj is not None else "the brand's time zone"
            form.base_fields[
                "local_time"
            ].help_text = (
                f"Wall-clock time in {zone}. Moving a slot re-plans what was queued in it."
            )
        return form

    def save_model(self, request: HttpRequest, obj: PostingSlot, form: Any, change: bool) -> None:
        waiting = services.queued_in(obj) if change else []
        super().save_model(request, obj, form, change)
        if waiting:
            _report(request, services.replan(waiting, Actor.for_user(request.user, obj.workspace)))

    def delete_model(self, request: HttpRequest, obj: PostingSlot) -> None:
        _report(request, services.remove_slot(obj, Actor.for_user(request.user, obj.workspace)))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for slot in queryset.select_related("workspace"):
            self.delete_model(request, slot)


@admin.action(description="Add to queue (next free slot)")
def add_to_queue(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """Schedule each selected approved item in its brand's next free slot."""
    for item in queryset.select_related("workspace", "brand").order_by("pk"):
        actor = Actor.for_user(request.user, item.workspace)
        try:
            free = services.add_to_queue(item, actor)
        except (services.QueueError, WorkflowError) as exc:
            messages.error(request, str(exc))
        else:
            local = free.at.astimezone(zoneinfo.ZoneInfo(item.brand.time_zone))
            messages.success(
                request,
                f"“{item.title}” queued for {local:%A %d %B %Y, %H:%M} ({item.brand.time_zone}).",
            )


if add_to_queue not in ContentItemAdmin.actions:
    ContentItemAdmin.actions = [*ContentItemAdmin.actions, add_to_queue]
