"""Events of the calendar and how well each fits each brand."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from calendar_app.admin.base import ReadOnlyTabular, RelatedOnly, TenantAdmin, local_time
from calendar_app.models import BrandFit, Event


class EventScopeFilter(admin.SimpleListFilter):
    title = "library"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("global", "Shared library"), ("workspace", "Workspace events")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "global":
            return queryset.filter(workspace__isnull=True)
        if self.value() == "workspace":
            return queryset.filter(workspace__isnull=False)
        return queryset


class BrandFitInline(ReadOnlyTabular):
    model = BrandFit
    fields = ("brand", "score", "override_score", "reasons")
    ordering = ("-score",)


@admin.register(Event)
class EventAdmin(TenantAdmin):
    list_display = (
        "title",
        "starts_at",
        "local_start",
        "time_zone",
        "location",
        "recurrence",
        "library",
    )
    list_filter = (EventScopeFilter, "source", "all_day", "time_zone")
    search_fields = ("title", "location", "description")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("workspace",)
    list_select_related = ("workspace",)
    readonly_fields = ("local_start", "local_end", "recurrence_ends_at")
    inlines = [BrandFitInline]
    fieldsets = (
        (
            None,
            {"fields": ("workspace", "title", "description", "location", "source", "external_uid")},
        ),
        (
            "When (times in UTC; the local times are shown below)",
            {
                "fields": (
                    "starts_at",
                    "ends_at",
                    "time_zone",
                    "local_start",
                    "local_end",
                    "all_day",
                    "rrule",
                    "recurrence_ends_at",
                ),
            },
        ),
        (
            "Fit",
            {
                "fields": ("themes", "audience"),
                "description": 'JSON lists of short tags, e.g. ["fashion", "luxury"].',
            },
        ),
    )

    @admin.display(description="local start", ordering="starts_at")
    def local_start(self, obj: Event) -> str:
        return local_time(obj.starts_at, obj.time_zone)

    @admin.display(description="local end")
    def local_end(self, obj: Event) -> str:
        return local_time(obj.ends_at, obj.time_zone)

    @admin.display(description="repeats")
    def recurrence(self, obj: Event) -> str:
        return obj.rrule or "—"

    @admin.display(description="owner", ordering="workspace")
    def library(self, obj: Event) -> str:
        return str(obj.workspace) if obj.workspace_id else "Shared library"


@admin.register(BrandFit)
class BrandFitAdmin(TenantAdmin):
    """Computed scores; a person may override one, with a note."""

    list_display = ("event", "brand", "score", "override_score", "effective", "event_start")
    list_filter = (("brand", RelatedOnly),)
    search_fields = ("event__title", "brand__name")
    list_select_related = ("event", "brand")
    ordering = ("brand", "-score")
    fields = (
        "brand",
        "event",
        "score",
        "reasons",
        "override_score",
        "override_note",
        "overridden_by",
        "overridden_at",
    )
    readonly_fields = ("brand", "event", "score", "reasons", "overridden_by", "overridden_at")
    workspace_from = "brand"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # computed for every (brand, event) pair

    @admin.display(description="effective score")
    def effective(self, obj: BrandFit) -> int:
        return obj.effective_score

    @admin.display(description="event starts", ordering="event__starts_at")
    def event_start(self, obj: BrandFit) -> str:
        return local_time(obj.event.starts_at, obj.event.time_zone)

    def save_model(self, request: HttpRequest, obj: BrandFit, form, change: bool) -> None:
        if {"override_score", "override_note"} & set(form.changed_data):
            obj.overridden_by = request.user if obj.override_score is not None else None
            obj.overridden_at = timezone.now() if obj.override_score is not None else None
        super().save_model(request, obj, form, change)
