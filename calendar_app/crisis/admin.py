"""Crisis playbooks in the admin: write them, rehearse them (Drill…), activate them
(Activate…), and resume a crisis (Resume…), each behind a confirmation page; every crisis and
drill is listed with who, why, when, and what it held and released.

Imported by :mod:`calendar_app.admin`, which registers it with the site. The rules are the
services' own (:mod:`calendar_app.crisis.services`): a refusal is shown as the message.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from calendar_app.admin.base import (
    WORKSPACE_PATHS,
    ReadOnlyAdmin,
    ReadOnlyTabular,
    RelatedOnly,
    TenantAdmin,
)
from calendar_app.crisis import services
from calendar_app.crisis.models import Activation, HeldPublication, Playbook
from calendar_app.models import Role
from calendar_app.workflow import Actor

WORKSPACE_PATHS[Playbook] = "workspace"
WORKSPACE_PATHS[Activation] = "workspace"
WORKSPACE_PATHS[HeldPublication] = "activation__workspace"

CONFIRM_TEMPLATE = "admin/calendar_app/playbook/confirm.html"


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


def _confirm(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    obj: Any,
    *,
    action: str,
    title: str,
    explanation: str,
    button: str,
    form: ReasonForm | None,
) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "object": obj,
        "explanation": explanation,
        "button": button,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def _one(request: HttpRequest, queryset: QuerySet, what: str) -> Any | None:
    rows = list(queryset[:2])
    if len(rows) != 1:
        messages.error(request, f"Select exactly one {what}.")
        return None
    return rows[0]


class ActivationInline(ReadOnlyTabular):
    model = Activation
    fields = ("started_at", "is_drill", "activated_by_label", "reason", "held_count", "ended_at")
    ordering = ("-started_at",)
    show_change_link = True


@admin.register(Playbook)
class PlaybookAdmin(TenantAdmin):
    list_display = ("name", "scenario", "brand", "tag", "required_role", "fire_holding_statement")
    list_filter = ("scenario", ("brand", RelatedOnly))
    search_fields = ("name", "description")
    autocomplete_fields = ("brand", "channels", "holding_templates")
    filter_horizontal = ("notify_users",)
    change_role = Role.APPROVER
    inlines = [ActivationInline]
    actions = ["activate_action", "drill_action"]
    fieldsets = (
        (None, {"fields": ("workspace", "name", "scenario", "description")}),
        ("Scope (every condition set must hold)", {"fields": ("brand", "channels", "tag")}),
        (
            "Holding statements",
            {"fields": ("holding_templates", "holding_values", "fire_holding_statement")},
        ),
        (
            "While active",
            {"fields": ("required_role", "auto_end_after", "notify_users", "notify_emails")},
        ),
    )

    @admin.action(description="Activate (hold everything in scope)…")
    def activate_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        playbook = _one(request, queryset, "playbook to activate")
        if playbook is None:
            return None
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            actor = Actor.for_user(request.user, playbook.workspace)
            try:
                activation = services.activate(playbook, actor, form.cleaned_data["reason"])
            except services.CrisisError as exc:
                messages.error(request, f"Cannot activate “{playbook.name}”: {exc}")
            else:
                messages.warning(
                    request,
                    f"Crisis “{playbook.name}” is active: {activation.held_count} scheduled "
                    f"post(s) held, {len(activation.not_recalled)} already being sent. Resume "
                    "it from Crises when it is over.",
                )
            return None
        return _confirm(
            self,
            request,
            playbook,
            action="activate_action",
            title=f"Activate “{playbook.name}”",
            explanation="Every scheduled post in this playbook's scope is held now (nothing is "
            "lost: approvals and times are kept), other templates in scope cannot be fired, "
            "the holding statements are "
            + ("fired" if playbook.fire_holding_statement else "offered")
            + ", and the people on the list are told.",
            button="Activate the crisis",
            form=form,
        )

    @admin.action(description="Drill (rehearse, change nothing)…")
    def drill_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        playbook = _one(request, queryset, "playbook to drill")
        if playbook is None:
            return None
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            actor = Actor.for_user(request.user, playbook.workspace)
            try:
                record = services.drill(playbook, actor, form.cleaned_data["reason"])
            except services.CrisisError as exc:
                messages.error(request, f"Cannot drill “{playbook.name}”: {exc}")
            else:
                report = record.report
                messages.info(
                    request,
                    f"Drill of “{playbook.name}”: {report['would_hold']} post(s) would be held, "
                    f"{len(report['would_post'])} holding statement(s) posted; activation took "
                    f"{report['activation_ms']} ms. Nothing was changed.",
                )
                # Each failed check as its own sentence: what to fix before a real crisis.
                for check in report["checks"]:
                    if not check["ok"]:
                        messages.warning(request, f"To fix before a real crisis: {check['reason']}")
            return None
        return _confirm(
            self,
            request,
            playbook,
            action="drill_action",
            title=f"Drill “{playbook.name}”",
            explanation="A rehearsal: the activation runs and is undone. Nothing is held, "
            "posted or sent; the drill's report is kept under Crises.",
            button="Run the drill",
            form=form,
        )


class HeldPublicationInline(ReadOnlyTabular):
    model = HeldPublication
    fields = ("publication", "held_at", "outcome", "released_at", "released_by_label")
    ordering = ("publication__due_at", "publication_id")
    show_change_link = False


@admin.register(Activation)
class ActivationAdmin(ReadOnlyAdmin):
    list_display = (
        "playbook",
        "is_drill",
        "active",
        "started_at",
        "activated_by_label",
        "reason",
        "held_count",
        "ended_at",
        "ended_by_label",
    )
    list_filter = ("is_drill", ("playbook", RelatedOnly))
    search_fields = ("playbook__name", "reason", "activated_by_label")
    list_select_related = ("playbook",)
    date_hierarchy = "started_at"
    inlines = [HeldPublicationInline]
    actions = ["resume_action"]
    readonly_fields = ("report_pretty",)
    exclude = ("report",)

    @admin.display(boolean=True, description="active")
    def active(self, obj: Activation) -> bool:
        return obj.is_active

    @admin.display(description="drill report")
    def report_pretty(self, obj: Activation) -> str:
        if not obj.report:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.report, indent=2, sort_keys=True))

    @admin.action(description="Resume (release everything held, end the crisis)…")
    def resume_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        activation = _one(request, queryset.select_related("playbook"), "crisis to resume")
        if activation is None:
            return None
        if "apply" in request.POST:
            actor = Actor.for_user(request.user, activation.playbook.workspace)
            try:
                result = services.resume(activation, actor)
            except services.CrisisError as exc:
                messages.error(request, f"Cannot resume: {exc}")
            else:
                messages.success(
                    request,
                    f"Crisis “{activation.playbook.name}” resumed: {len(result.released)} post(s) "
                    f"released, {len(result.skipped)} skipped because their moment had passed.",
                )
            return None
        return _confirm(
            self,
            request,
            activation,
            action="resume_action",
            title=f"Resume “{activation.playbook.name}”",
            explanation="Every post this crisis still holds goes back to the queue: each goes "
            "out at its time, or, if its moment passed while it was held and its item skips late "
            "posts, it is skipped. The crisis ends.",
            button="Resume and end the crisis",
            form=None,
        )
