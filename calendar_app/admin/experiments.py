"""Experiments on calls to action, with their variants inline (the results page comes later)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from calendar_app.admin.base import RelatedOnly, TenantAdmin, TenantInline
from calendar_app.models import Experiment, Variant


class VariantFormSet(BaseInlineFormSet):
    """Exactly one control among the variants that stay (checked here, not by the database)."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        controls = sum(1 for form in kept if form.cleaned_data.get("is_control"))
        if controls > 1:
            raise ValidationError("Only one variant can be the control.")
        if kept and controls == 0:
            raise ValidationError("Mark one variant as the control (the current call to action).")


class VariantInline(TenantInline, admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    fields = ("key", "name", "is_control", "cta_text", "cta_url", "cta_button", "weight")
    extra = 0


@admin.register(Experiment)
class ExperimentAdmin(TenantAdmin):
    list_display = (
        "name",
        "brand",
        "metric",
        "status",
        "variant_count",
        "started_at",
        "decided_variant",
    )
    list_filter = ("status", "metric", ("brand", RelatedOnly))
    search_fields = ("name", "hypothesis", "brand__name")
    autocomplete_fields = ("brand",)
    list_select_related = ("brand", "decided_variant")
    readonly_fields = (
        "decided_variant",
        "decided_by",
        "decided_at",
        "promoted_variant",
        "promoted_by",
        "promoted_at",
    )
    inlines = [VariantInline]
    workspace_from = "brand"
    fieldsets = (
        (None, {"fields": ("brand", "name", "hypothesis", "status", "started_at")}),
        ("How to judge", {"fields": ("metric", "minimum_detectable_effect", "alpha", "power")}),
        (
            "Decision",
            {
                "fields": (
                    "decision",
                    "decision_summary",
                    "decided_variant",
                    "decided_by",
                    "decided_at",
                    "promoted_variant",
                    "promoted_by",
                    "promoted_at",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_variants=Count("variants"))
            .order_by(*self.model._meta.ordering)
        )

    @admin.display(description="variants", ordering="_variants")
    def variant_count(self, obj: Experiment) -> int:
        return getattr(obj, "_variants", 0)


@admin.register(Variant)
class VariantAdmin(TenantAdmin):
    list_display = ("experiment", "key", "name", "is_control", "cta_text", "weight")
    list_filter = ("is_control", ("experiment", RelatedOnly))
    search_fields = ("key", "name", "experiment__name", "cta_text")
    autocomplete_fields = ("experiment",)
    list_select_related = ("experiment",)

    def target_workspace_id(self, form, obj: Variant | None) -> int | None:
        experiment = form.cleaned_data.get("experiment") or (obj.experiment if obj else None)
        return experiment.workspace_id if experiment else None
