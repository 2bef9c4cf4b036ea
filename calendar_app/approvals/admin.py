"""Approvals in the admin: a brand's policy (separation of duties) and chain of steps, the
client links sent (read-only), and - on the content item's page - where it stands in its chain,
its comments, and the *Send an approval link…* action.

Imported by :mod:`calendar_app.admin` (the policy, steps and links) and by
:mod:`calendar_app.admin.content` (the inline, the column and the action). The rules are the
services' own: a refusal is shown as the message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from calendar_app.admin.base import WORKSPACE_PATHS, ReadOnlyAdmin, ReadOnlyTabular, TenantAdmin
from calendar_app.approvals import links, services
from calendar_app.approvals.models import (
    ApprovalLink,
    ApprovalPolicy,
    ApprovalStep,
    Comment,
    StepVote,
)
from calendar_app.models import ContentItem, Membership, Role
from calendar_app.workflow import Actor, WorkflowError

WORKSPACE_PATHS[ApprovalPolicy] = "workspace"
WORKSPACE_PATHS[ApprovalStep] = "workspace"
WORKSPACE_PATHS[ApprovalLink] = "workspace"
WORKSPACE_PATHS[StepVote] = "workspace"
WORKSPACE_PATHS[Comment] = "workspace"

LINK_TEMPLATE = "admin/calendar_app/contentitem/approval_link.html"
COMMENT_TEMPLATE = "admin/calendar_app/contentitem/comment.html"


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(TenantAdmin):
    list_display = ("brand", "separate_duties", "time_needs_approval")
    list_filter = ("separate_duties", "time_needs_approval")
    autocomplete_fields = ("brand",)
    workspace_from = "brand"
    change_role = Role.ADMIN


class StepForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        brand, members = cleaned.get("brand"), cleaned.get("members")
        if brand is not None and members is not None:
            inside = set(
                Membership.objects.filter(
                    workspace_id=brand.workspace_id, user__in=members
                ).values_list("user_id", flat=True)
            )
            outside = [u.get_username() for u in members if u.pk not in inside]
            if outside:
                self.add_error("members", f"Not members of this workspace: {', '.join(outside)}.")
        return cleaned


@admin.register(ApprovalStep)
class ApprovalStepAdmin(TenantAdmin):
    form = StepForm
    list_display = ("brand", "order", "name", "rule", "member_names")
    list_filter = ("rule",)
    ordering = ("brand", "order")
    autocomplete_fields = ("brand",)
    filter_horizontal = ("members",)
    workspace_from = "brand"
    change_role = Role.ADMIN

    @admin.display(description="members")
    def member_names(self, obj: ApprovalStep) -> str:
        return ", ".join(u.get_username() for u in obj.members.all())


@admin.register(ApprovalLink)
class ApprovalLinkAdmin(ReadOnlyAdmin):
    list_display = (
        "content_item",
        "name",
        "email",
        "step",
        "version",
        "link_status",
        "expires_at",
        "emailed_at",
        "used_at",
        "revoked_at",
    )
    list_filter = ("decision",)
    search_fields = ("name", "email", "content_item__title")
    view_role = Role.EDITOR
    actions = ["revoke_links"]

    @admin.display(description="status")
    def link_status(self, obj: ApprovalLink) -> str:
        return links.link_status(obj)

    @admin.action(description="Revoke the selected links")
    def revoke_links(self, request: HttpRequest, queryset: QuerySet) -> None:
        for link in queryset.select_related("workspace"):
            actor = Actor.for_user(request.user, link.workspace)
            try:
                links.revoke_link(link, actor)
            except links.LinkRefused as exc:
                messages.error(request, f"{link}: {exc.reason}")
            else:
                messages.success(request, f"{link} revoked: it no longer works.")


class CommentInline(ReadOnlyTabular):
    model = Comment
    fields = ("created_at", "author_label", "version", "body", "mentioned")
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="mentions")
    def mentioned(self, obj: Comment) -> str:
        return ", ".join(f"@{u.get_username()}" for u in obj.mentions.all()) or "—"


def approval_progress(item: ContentItem) -> str:
    """The chain as a line: each step, done or waiting, with who approved it (this version)."""
    if item.pk is None:
        return "—"
    states = services.progress(item)
    if not states:
        return "One approver decides (this brand has no approval chain)."
    return format_html_join(
        " → ",
        "<span>{} {} ({})</span>",
        (
            (
                "✓" if s.done else "…",
                s.step.name,
                ", ".join(v.decided_by_label for v in s.votes) or s.step.get_rule_display(),
            )
            for s in states
        ),
    )


class LinkForm(forms.Form):
    name = forms.CharField(max_length=120)
    email = forms.EmailField(max_length=254)
    expires_in_hours = forms.IntegerField(min_value=1, max_value=720, initial=72)
    send_email = forms.BooleanField(
        required=False, initial=True, label="Email the link to this address now"
    )


def send_approval_link(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Admin action: a link for a client to approve one item (shown once, to copy)."""
    rows = list(queryset[:2])
    if len(rows) != 1:
        messages.error(request, "Select exactly one item to send an approval link for.")
        return None
    item = rows[0]
    form = LinkForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        from datetime import timedelta

        actor = Actor.for_user(request.user, item.workspace)
        try:
            new = links.create_link(
                item,
                actor,
                form.cleaned_data["name"],
                form.cleaned_data["email"],
                timedelta(hours=form.cleaned_data["expires_in_hours"]),
            )
        except WorkflowError as exc:
            messages.error(request, str(exc))
            return None
        url = request.build_absolute_uri(new.path)
        if form.cleaned_data.get("send_email"):
            if links.email_link(new, url):
                messages.info(request, f"Emailed to {new.link.email}.")
            else:
                messages.warning(request, "The email could not be sent: copy the link below.")
        messages.success(
            request,
            format_html(
                "Send this link to {} (shown once; it works once, until {} UTC): <code>{}</code>",
                new.link.name,
                new.link.expires_at.strftime("%Y-%m-%d %H:%M"),
                url,
            ),
        )
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Send an approval link",
        "opts": model_admin.model._meta,
        "item": item,
        "form": form,
        "action": "send_approval_link",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, LINK_TEMPLATE, context)


send_approval_link.short_description = "Send an approval link to a client…"  # type: ignore[attr-defined]


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Mention a member with @username.",
    )


def add_comment(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Admin action: a comment on one item (editors), its @mentions resolved to members."""
    from django.core.exceptions import ValidationError

    rows = list(queryset[:2])
    if len(rows) != 1:
        messages.error(request, "Select exactly one item to comment on.")
        return None
    item = rows[0]
    form = CommentForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        actor = Actor.for_user(request.user, item.workspace)
        if not actor.may(Role.EDITOR):
            messages.error(request, f"Commenting needs the editor role; you have {actor.role}.")
            return None
        try:
            comment = services.add_comment(item, actor, form.cleaned_data["body"])
        except ValidationError as exc:
            form.add_error("body", " ".join(exc.messages))
        else:
            names = ", ".join(f"@{u.get_username()}" for u in comment.mentions.all())
            messages.success(
                request, f"Comment added to “{item.title}”" + (f" ({names})." if names else ".")
            )
            return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Add a comment",
        "opts": model_admin.model._meta,
        "item": item,
        "form": form,
        "action": "add_comment",
        "button": "Add the comment",
        "explanation": f"A comment on “{item.title}” for the people approving it.",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, COMMENT_TEMPLATE, context)


add_comment.short_description = "Add a comment…"  # type: ignore[attr-defined]
