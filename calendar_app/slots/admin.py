"""Posting slots in the admin, and the "Add to queue" action on content items.

A slot's page names the brand's time zone; saving a moved slot or deleting one re-plans what
was queued in it and lists, as messages, where each item went. The brand's page lists its slots
inline (the same re-planning on save and delete). "Add to queue" and the inline are added to the
content items' and the brands' admin from here, so this package keeps its admin pieces to itself.

Imported by :mod:`calendar_app.admin`, which registers it with the site.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminTimeWidget
from django.db.models import QuerySet
from django.http import HttpRequest

from calendar_app.admin.base import WORKSPACE_PATHS, TenantAdmin, TenantInline
from calendar_app.admin.brands import BrandAdmin
from calendar_app.admin.content import ContentItemAdmin
from calendar_app.models import Brand, Channel
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


class SlotInlineForm(forms.ModelForm):
    class Meta:
        model = PostingSlot
        fields = ("channel", "weekday", "local_time", "label")
        widgets = {"local_time": AdminTimeWidget(format="%H:%M")}  # slots are whole minutes

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        channel, brand_id = cleaned.get("channel"), self.instance.brand_id
        if channel is not None and brand_id is not None and channel.brand_id != brand_id:
            self.add_error("channel", "Pick a channel of this brand.")
        return cleaned


class SlotFormSet(forms.BaseInlineFormSet):
    """Saved one slot at a time, so what was queued in a moved or removed slot is re-planned
    (and the page says where each item went), exactly as on a slot's own page."""

    def save_with_request(self, request: HttpRequest) -> None:
        brand: Brand = self.instance
        actor = Actor.for_user(request.user, brand.workspace)
        slots = self.save(commit=False)
        for slot in self.deleted_objects:
            _report(request, services.remove_slot(slot, actor))
        for slot in slots:
            waiting = services.queued_in(slot) if slot.pk else []
            slot.workspace_id = brand.workspace_id
            slot.save()
            if waiting:
                _report(request, services.replan(waiting, actor))


class PostingSlotInline(TenantInline, admin.TabularInline):
    """The brand's weekly posting times, on the brand's page."""

    model = PostingSlot
    form = SlotInlineForm
    formset = SlotFormSet
    fields = ("weekday", "local_time", "channel", "label")
    extra = 0
    verbose_name = "posting slot"
    verbose_name_plural = "posting slots (times in the brand's time zone)"

    def get_formset(self, request: HttpRequest, obj: Brand | None = None, **kwargs: Any):
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields.get("channel")
        if field is not None:
            field.queryset = (
                Channel.objects.filter(brand=obj) if obj is not None else Channel.objects.none()
            )
            field.empty_label = "every channel of the brand"
        if "local_time" in formset.form.base_fields:
            zone = obj.time_zone if obj is not None else "the brand's time zone"
            formset.form.base_fields["local_time"].help_text = f"In {zone}."
        return formset


if PostingSlotInline not in BrandAdmin.inlines:
    BrandAdmin.inlines = [*BrandAdmin.inlines, PostingSlotInline]
