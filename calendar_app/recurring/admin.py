"""Content series and evergreen items in the admin: the same operations as the API, through
:mod:`calendar_app.recurring.services`.

* **A series** is created from an approved item with its rule, first time (the brand's wall
  clock) and skipped dates; its page lists every occurrence with its own state and links to
  each item ("edit one" is editing that item). "Stop" cancels what is still to come. A series is
  not edited in place: its rule made the occurrences (stop it and plan another).
* **An evergreen item** names an approved item and the shortest gap between repeats; "Refill
  now" plans the repeats of the selected items' brands at once (the hourly schedule does it
  anyway).

Imported by :mod:`calendar_app.admin`, which registers it with the site.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from calendar_app.admin.base import (
    WORKSPACE_PATHS,
    ReadOnlyTabular,
    TenantAdmin,
    local_time,
)
from calendar_app.models import ContentItem, ContentStatus, Role
from calendar_app.recurring import services
from calendar_app.recurring.models import ContentSeries, EvergreenItem, SeriesOccurrence
from calendar_app.timeutils import local_to_utc
from calendar_app.workflow import Actor, WorkflowError

WORKSPACE_PATHS[ContentSeries] = "workspace"
WORKSPACE_PATHS[SeriesOccurrence] = "workspace"
WORKSPACE_PATHS[EvergreenItem] = "workspace"

#: States an item must be in to repeat (series) or to go out again (evergreen).
EVERGREEN_STATES = ("approved", "scheduled", "published", "partly_failed")


class SeriesForm(forms.ModelForm):
    """The API's series fields: the first time in the brand's zone, skipped dates one per line."""

    starts_at = forms.DateTimeField(
        label="First occurrence",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Wall-clock time in the brand's time zone.",
    )
    exdates = forms.CharField(
        label="Skipped dates",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2030-01-14T09:00"}),
        help_text="One per line, YYYY-MM-DDTHH:MM in the brand's time zone.",
    )

    class Meta:
        model = ContentSeries
        fields = ("source", "rrule", "starts_at", "exdates")
        help_texts = {
            "source": "An approved item: its words and channels repeat.",
            "rrule": "When it repeats, ending with COUNT or UNTIL, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=8.",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        source: ContentItem | None = cleaned.get("source")
        wall: datetime | None = cleaned.get("starts_at")
        if source is None or wall is None or not cleaned.get("rrule"):
            return cleaned
        if SeriesOccurrence.objects.filter(content_item=source).exists():
            self.add_error("source", "An occurrence cannot repeat itself: pick the series' item.")
            return cleaned
        if source.status != ContentStatus.APPROVED:
            self.add_error(
                "source",
                f"Only an approved item can repeat; “{source.title}” is "
                f"{source.get_status_display().lower()}.",
            )
            return cleaned
        zone = source.brand.time_zone
        try:
            starts = local_to_utc(wall.replace(tzinfo=None), zone)
        except ValidationError as exc:
            self.add_error("starts_at", exc)
            return cleaned
        exdates = [line.strip() for line in cleaned.get("exdates", "").splitlines() if line.strip()]
        planned = services.plan(cleaned["rrule"], starts, zone, exdates)
        for name, problems in planned.problems.items():
            self.add_error(name if name in self.fields else None, problems)
        cleaned["starts_at"], cleaned["exdates"] = starts, exdates
        return cleaned


class OccurrenceInline(ReadOnlyTabular):
    model = SeriesOccurrence
    fields = ("local_time", "content_item", "status")
    ordering = ("occurs_at",)
    show_change_link = False
    verbose_name_plural = "occurrences (each its own item: open one to edit only it)"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("content_item__brand")

    @admin.display(description="when")
    def local_time(self, obj: SeriesOccurrence) -> str:
        return local_time(obj.occurs_at, obj.content_item.brand.time_zone)

    @admin.display(description="status")
    def status(self, obj: SeriesOccurrence) -> str:
        return obj.content_item.get_status_display()


@admin.register(ContentSeries)
class ContentSeriesAdmin(TenantAdmin):
    form = SeriesForm
    workspace_from = "source"
    list_display = ("source", "rrule", "first", "occurrence_count", "created_at")
    search_fields = ("source__title", "rrule")
    list_select_related = ("source__brand",)
    autocomplete_fields = ("source",)
    inlines = [OccurrenceInline]
    actions = ["stop_series"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_occurrences=Count("occurrences"))

    def get_inlines(self, request: HttpRequest, obj: ContentSeries | None = None) -> list:
        return self.inlines if obj is not None else []  # occurrences come from the rule

    def get_fields(self, request: HttpRequest, obj: ContentSeries | None = None) -> list[str]:
        if obj is None:
            return ["source", "rrule", "starts_at", "exdates"]
        return ["source", "rrule", "first", "exdates"]

    def get_readonly_fields(self, request: HttpRequest, obj: ContentSeries | None = None):
        if obj is None:
            return []
        return ["source", "rrule", "first", "exdates"]  # its rule made the occurrences

    @admin.display(description="first occurrence", ordering="starts_at")
    def first(self, obj: ContentSeries) -> str:
        return local_time(obj.starts_at, obj.source.brand.time_zone)

    @admin.display(description="occurrences", ordering="_occurrences")
    def occurrence_count(self, obj: ContentSeries) -> int:
        return getattr(obj, "_occurrences", 0)

    def save_model(self, request: HttpRequest, obj: ContentSeries, form, change: bool) -> None:
        """A new series plans its occurrences through the service (checked again there)."""
        data = form.cleaned_data
        source = data["source"]
        actor = Actor.for_user(request.user, source.workspace)
        series = services.create_series(
            source, actor, rrule=data["rrule"], starts_at=data["starts_at"], exdates=data["exdates"]
        )
        obj.__dict__.update({k: v for k, v in series.__dict__.items() if k != "_state"})
        obj._state.adding = False
        count = series.occurrences.count()
        messages.success(request, f"“{source.title}”: {count} occurrence(s) scheduled.")

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The occurrences are written by the service; nothing else to save."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting would take the occurrences' history with it: "Stop" is the way

    @admin.action(description="Stop: cancel every occurrence still to come")
    def stop_series(self, request: HttpRequest, queryset: QuerySet) -> None:
        for series in queryset.select_related("source__workspace"):
            actor = Actor.for_user(request.user, series.workspace)
            if not actor.may(Role.EDITOR):
                messages.error(request, f"Stopping “{series}” needs the editor role.")
                continue
            try:
                cancelled = services.stop_series(series, actor)
            except (WorkflowError, ValidationError) as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"{series}: {cancelled} occurrence(s) cancelled.")


class EvergreenForm(forms.ModelForm):
    class Meta:
        model = EvergreenItem
        fields = ("content_item", "min_gap", "active")
        help_texts = {
            "min_gap": "The shortest time between two repeats, e.g. “30 00:00:00” for 30 days "
            "(at least an hour).",
        }

    def clean_content_item(self) -> ContentItem:
        item = self.cleaned_data["content_item"]
        current = self.instance.content_item_id if self.instance.pk else None
        if current is not None and item.pk != current:
            raise ValidationError("An evergreen entry's item cannot change.")
        if current is None and item.status not in EVERGREEN_STATES:
            raise ValidationError("Only approved content can be evergreen.")
        return item


@admin.register(EvergreenItem)
class EvergreenItemAdmin(TenantAdmin):
    form = EvergreenForm
    workspace_from = "content_item"
    list_display = ("content_item", "brand", "min_gap", "active", "last_planned", "repeats")
    list_filter = ("active",)
    search_fields = ("content_item__title",)
    list_select_related = ("content_item__brand",)
    autocomplete_fields = ("content_item",)
    readonly_fields = ("last_planned", "repeats")
    fields = ("content_item", "min_gap", "active", "last_planned", "repeats")
    actions = ["refill_now"]

    @admin.display(description="brand", ordering="content_item__brand__name")
    def brand(self, obj: EvergreenItem) -> str:
        return obj.content_item.brand.name

    @admin.display(description="last repeat planned", ordering="last_planned_at")
    def last_planned(self, obj: EvergreenItem) -> str:
        return local_time(obj.last_planned_at, obj.content_item.brand.time_zone)

    @admin.action(description="Refill now: plan repeats in the brands' free slots (14 days)")
    def refill_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        brands = {e.content_item.brand for e in queryset.select_related("content_item__brand")}
        for brand in sorted(brands, key=lambda b: b.pk):
            actor = Actor.for_user(request.user, brand.workspace)
            if not actor.may(Role.EDITOR):
                messages.error(request, f"Refilling {brand.name} needs the editor role.")
                continue
            try:
                planned = services.refill_evergreen(brand, actor)
            except (services.SeriesError, WorkflowError, ValidationError) as exc:
                messages.error(request, f"{brand.name}: {exc}")
                continue
            if not planned:
                messages.info(request, f"{brand.name}: no repeat is due in a free slot.")
            tz = zoneinfo.ZoneInfo(brand.time_zone)
            for pk, at in planned:
                messages.success(
                    request,
                    f"{brand.name}: repeat #{pk} planned for "
                    f"{at.astimezone(tz):%A %d %B %Y, %H:%M} ({brand.time_zone}).",
                )
