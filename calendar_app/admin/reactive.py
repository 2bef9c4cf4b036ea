"""Reactive templates: approved ahead of the moment, fired in seconds when it comes.

Approval records who approved which version and the hash of everything the approval covers
(``ReactiveTemplate.content_hash``); editing any of it in the admin bumps the version, so the
approval lapses until someone approves again.

Firing is built in :mod:`calendar_app.reactive` (``fire_template(template, actor, values)``).
:func:`fire_function` is the hook point: the "Fire now…" action appears as soon as that function
exists, and asks for a value per placeholder of the body.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from calendar_app.admin.base import (
    ReadOnlyAdmin,
    ReadOnlyTabular,
    RelatedOnly,
    TenantAdmin,
    local_time,
    roles_of,
)
from calendar_app.admin.forms import SELECTED, FireForm, placeholders
from calendar_app.admin.previews import template_panel
from calendar_app.models import Fire, ReactiveTemplate, Role
from calendar_app.workflow import Actor

logger = logging.getLogger(__name__)


def reactive_module() -> ModuleType | None:
    """:mod:`calendar_app.reactive` (firing and approving templates) when it is installed."""
    try:
        return importlib.import_module("calendar_app.reactive")
    except ModuleNotFoundError as exc:
        if exc.name == "calendar_app.reactive":
            return None
        raise


def fire_function() -> Callable[..., Any] | None:
    """The firing hook point: ``calendar_app.reactive.fire_template(template, actor, values)``."""
    return getattr(reactive_module(), "fire_template", None)


def template_placeholders(template: ReactiveTemplate) -> list[str]:
    module = reactive_module()
    if module is not None and hasattr(module, "required_placeholders"):
        return sorted(module.required_placeholders(template))
    return placeholders(template.body)


def approve(template: ReactiveTemplate, actor: Actor) -> None:
    """Approve through ``calendar_app.reactive.approve_template`` when present (one rule book)."""
    module = reactive_module()
    if module is not None and hasattr(module, "approve_template"):
        module.approve_template(template, actor)
        return
    if not actor.may(Role.APPROVER):
        raise PermissionError(
            f"Approving needs the approver role; {actor.label} has {actor.role or 'no role'}."
        )
    if not template.body.strip():
        raise ValueError("the body is empty.")
    template.approved_by = actor.user
    template.approved_by_label = actor.label[:200]
    template.approved_via_token = actor.token
    template.approved_at = timezone.now()
    template.approved_version = template.version
    template.approved_hash = template.content_hash()
    template.save(
        update_fields=[
            "approved_by",
            "approved_by_label",
            "approved_via_token",
            "approved_at",
            "approved_version",
            "approved_hash",
            "updated_at",
        ]
    )


class FireInline(ReadOnlyTabular):
    model = Fire
    fields = ("fired_at", "fired_by_label", "template_version", "values", "first_delivered_at")
    ordering = ("-fired_at",)


@admin.register(ReactiveTemplate)
class ReactiveTemplateAdmin(TenantAdmin):
    list_display = (
        "name",
        "brand",
        "scenario",
        "is_active",
        "approved",
        "valid_from",
        "valid_until",
        "fire_count",
        "max_fires",
        "cooldown",
    )
    list_filter = ("scenario", "is_active", ("brand", RelatedOnly))
    search_fields = ("name", "body", "brand__name")
    autocomplete_fields = ("brand", "channels", "event", "experiment")
    list_select_related = ("brand",)
    readonly_fields = (
        "version",
        "approved",
        "approved_version",
        "approved_by",
        "approved_at",
        "local_window",
        "placeholder_names",
        "preview",
    )
    inlines = [FireInline]
    workspace_from = "brand"
    actions = ["approve_templates", "fire_template_action"]
    fieldsets = (
        (None, {"fields": ("brand", "name", "scenario", "is_active", "event", "experiment")}),
        (
            "Reaction",
            {
                "fields": (
                    "body",
                    "placeholder_names",
                    "links",
                    "cta_text",
                    "cta_url",
                    "cta_button",
                    "without_cta",
                    "channels",
                )
            },
        ),
        (
            "Preview",
            {
                "fields": ("preview",),
                "description": "What a fire would post on each connected channel, counted the "
                "way that network counts. Saved changes show here.",
            },
        ),
        (
            "Guardrails (covered by the approval; times in UTC)",
            {
                "fields": ("valid_from", "valid_until", "local_window", "cooldown", "max_fires"),
            },
        ),
        (
            "Approval",
            {"fields": ("version", "approved", "approved_version", "approved_by", "approved_at")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_fires=Count("fires"))
            .order_by(*self.model._meta.ordering)
        )

    @admin.display(boolean=True, description="approved")
    def approved(self, obj: ReactiveTemplate) -> bool:
        return obj.pk is not None and obj.is_approved

    @admin.display(description="fired", ordering="_fires")
    def fire_count(self, obj: ReactiveTemplate) -> int:
        return getattr(obj, "_fires", 0)

    @admin.display(description="window in the brand's time zone")
    def local_window(self, obj: ReactiveTemplate) -> str:
        if obj.pk is None:
            return "—"
        zone = obj.brand.time_zone
        return f"{local_time(obj.valid_from, zone)} → {local_time(obj.valid_until, zone)}"

    @admin.display(description="as each channel will show it")
    def preview(self, obj: ReactiveTemplate) -> str:
        return template_panel(obj)

    @admin.display(description="placeholders")
    def placeholder_names(self, obj: ReactiveTemplate) -> str:
        return ", ".join(placeholders(obj.body)) or "none"

    def save_model(self, request: HttpRequest, obj: ReactiveTemplate, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        if change:
            stored = ReactiveTemplate.objects.get(pk=obj.pk)
            if stored.content_hash() != obj.content_hash():
                obj.version = stored.version + 1
                obj.last_edited_by = request.user
                if stored.is_approved:
                    messages.warning(
                        request,
                        f"“{obj.name}” changed: it needs a new approval before it can fire.",
                    )
        super().save_model(request, obj, form, change)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if fire_function() is None:
            actions.pop("fire_template_action", None)
        # Firing and approving need the approver role: nobody is offered what they may not do.
        best = max((Role.rank(r) for r in roles_of(request).values()), default=-1)
        if not request.user.is_superuser and best < Role.rank(Role.APPROVER):
            actions.pop("fire_template_action", None)
            actions.pop("approve_templates", None)
        return actions

    @admin.action(description="Approve the current version")
    def approve_templates(self, request: HttpRequest, queryset: QuerySet) -> None:
        for template in queryset.select_related("workspace"):
            if template.is_approved:
                messages.info(
                    request, f"“{template.name}” v{template.version} was already approved."
                )
                continue
            actor = Actor.for_user(request.user, template.workspace)
            try:
                approve(template, actor)
            except Exception as exc:
                messages.error(request, f"Cannot approve “{template.name}”: {exc}")
            else:
                template.refresh_from_db()
                if template.is_approved:
                    messages.success(request, f"“{template.name}” v{template.version} approved.")
                else:
                    messages.info(
                        request,
                        f"“{template.name}”: your step of the approval chain is recorded; a "
                        "later step decides next.",
                    )

    @admin.action(description="Fire now…")
    def fire_template_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        fire = fire_function()
        if fire is None:
            messages.error(request, "Firing is not available in this installation yet.")
            return None
        templates = list(queryset.select_related("workspace", "brand")[:2])
        if len(templates) != 1:
            messages.error(request, "Select exactly one template to fire.")
            return None
        template = templates[0]
        names = template_placeholders(template)
        preview = template_panel(template)
        if "preview" in request.POST:
            form = FireForm(request.POST, names=names)
            if form.is_valid():
                preview = template_panel(template, form.values())
        elif "apply" in request.POST:
            form = FireForm(request.POST, names=names)
            if form.is_valid():
                actor = Actor.for_user(request.user, template.workspace)
                try:
                    result = fire(template, actor, form.values())
                except ValidationError as exc:
                    messages.error(
                        request, f"Cannot fire “{template.name}”: {' '.join(exc.messages)}"
                    )
                except Exception as exc:
                    if type(exc).__name__ != "FireRefused":
                        logger.exception("firing template %s failed", template.pk)
                    messages.error(request, f"Cannot fire “{template.name}”: {exc}")
                else:
                    messages.success(
                        request, f"“{template.name}” fired ({result}): it is going out now."
                    )
                return None
        else:
            form = FireForm(initial={"_selected_action": [template.pk]}, names=names)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Fire “{template.name}”",
            "opts": self.model._meta,
            "template": template,
            "form": form,
            "preview": preview,
            "action": "fire_template_action",
            "action_checkbox_name": SELECTED,
        }
        return TemplateResponse(request, "admin/calendar_app/reactivetemplate/fire.html", context)


@admin.register(Fire)
class FireAdmin(ReadOnlyAdmin):
    list_display = (
        "template",
        "fired_at",
        "fired_by_label",
        "template_version",
        "first_delivered_at",
        "last_delivered_at",
    )
    list_filter = (("template", RelatedOnly),)
    search_fields = ("template__name", "fired_by_label")
    date_hierarchy = "fired_at"
    list_select_related = ("template",)
