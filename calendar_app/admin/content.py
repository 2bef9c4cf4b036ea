"""Content items: writing, the approval workflow as admin actions, and the month calendar.

Nothing here sets ``status`` by hand: every action and every edit goes through
:mod:`calendar_app.workflow`, with the acting user's role in the item's workspace. A refused
transition is reported per item with the workflow's own message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from calendar_app import workflow
from calendar_app.admin.base import (
    ReadOnlyAdmin,
    ReadOnlyTabular,
    RelatedOnly,
    TenantAdmin,
    local_time,
)
from calendar_app.admin.forms import SELECTED, RejectForm
from calendar_app.admin.month_view import calendar_view
from calendar_app.admin.previews import item_panel
from calendar_app.approvals.admin import (
    CommentInline,
    add_comment,
    approval_progress,
    send_approval_link,
)
from calendar_app.models import Approval, ContentItem, ContentStatus, Publication, Transition
from calendar_app.workflow import Actor, WorkflowError

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = workflow.EDITABLE_FIELDS


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def run_transition(
    request: HttpRequest,
    queryset: QuerySet,
    verb: str,
    step: Callable[[ContentItem, Actor], ContentItem],
) -> None:
    """Apply one workflow step to every selected item and report each outcome."""
    for item in queryset.select_related("workspace"):
        actor = Actor.for_user(request.user, item.workspace)
        try:
            step(item, actor)
        except WorkflowError as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, f"Cannot {verb} “{item.title}”: {error_text(exc)}")
        else:
            messages.success(request, f"“{item.title}”: {verb} done.")


class PublicationInline(ReadOnlyTabular):
    model = Publication
    fields = (
        "channel",
        "variant",
        "status",
        "due_at",
        "attempts",
        "published_at",
        "external_url",
        "last_error_reason",
    )


class TransitionInline(ReadOnlyTabular):
    model = Transition
    fields = ("at", "action", "from_status", "to_status", "actor_label", "version", "note")
    show_change_link = False


class ApprovalInline(ReadOnlyTabular):
    model = Approval
    fields = ("created_at", "decision", "version", "decided_by_label", "note")
    show_change_link = False


@admin.register(ContentItem)
class ContentItemAdmin(TenantAdmin):
    change_list_template = "admin/calendar_app/contentitem/change_list.html"
    list_display = (
        "title",
        "brand",
        "status",
        "scheduled_at",
        "local_time",
        "event",
        "version",
        "channel_count",
        "comment_count",
    )
    list_filter = (
        "status",
        ("brand", RelatedOnly),
        ("event", RelatedOnly),
        "priority",
        "lateness_policy",
    )
    search_fields = ("title", "body", "brand__name", "event__title")
    date_hierarchy = "scheduled_at"
    autocomplete_fields = ("brand", "event", "experiment", "channels")
    list_select_related = ("brand", "event")
    readonly_fields = (
        "status",
        "version",
        "local_time",
        "allowed_next",
        "created_by",
        "fire",
        "preview",
        "approval_chain",
    )
    inlines = [PublicationInline, ApprovalInline, CommentInline, TransitionInline]
    workspace_from = "brand"
    actions = [
        "submit_items",
        "approve_items",
        "reject_items",
        "schedule_items",
        "cancel_items",
        "reopen_items",
        send_approval_link,
        add_comment,
    ]
    fieldsets = (
        (
            None,
            {"fields": ("brand", "title", "status", "version", "allowed_next", "approval_chain")},
        ),
        ("Content", {"fields": ("body", "links", "media")}),
        ("Call to action", {"fields": ("cta_text", "cta_url", "cta_button", "without_cta")}),
        (
            "Preview",
            {
                "fields": ("preview",),
                "description": "Exactly what each connected channel will receive, counted the "
                "way that network counts, with anything that would stop it. Saved changes "
                "show here.",
            },
        ),
        (
            "Delivery",
            {
                "fields": (
                    "channels",
                    "scheduled_at",
                    "local_time",
                    "lateness_policy",
                    "lateness_tolerance",
                    "priority",
                ),
                "description": "Times in this form are UTC; “local time” shows the brand's wall-clock time.",
            },
        ),
        ("Context", {"fields": ("event", "experiment", "fire", "created_by")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            # Two counts over two joins: distinct, or each multiplies the other.
            .annotate(
                _channels=Count("channels", distinct=True),
                _comments=Count("comments", distinct=True),
            )
            .order_by(*self.model._meta.ordering)
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: ContentItem | None = None
    ) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("brand")  # a post belongs to its brand; write a new one for another brand
            if obj.status in workflow.LOCKED_STATES | {ContentStatus.CANCELLED}:
                fields += [*EDITABLE_FIELDS, "channels"]
        return fields

    # --- columns ---------------------------------------------------------------------------
    @admin.display(description="local time", ordering="scheduled_at")
    def local_time(self, obj: ContentItem) -> str:
        return local_time(obj.scheduled_at, obj.brand.time_zone) if obj.brand_id else "—"

    @admin.display(description="channels", ordering="_channels")
    def channel_count(self, obj: ContentItem) -> int:
        return getattr(obj, "_channels", 0)

    @admin.display(description="comments", ordering="_comments")
    def comment_count(self, obj: ContentItem) -> int:
        """Shown in the approval queue (filter by status “in review”): there is talk to read."""
        return getattr(obj, "_comments", 0)

    @admin.display(description="as each channel will show it")
    def preview(self, obj: ContentItem) -> str:
        return item_panel(obj)

    @admin.display(description="approval chain")
    def approval_chain(self, obj: ContentItem) -> str:
        return approval_progress(obj)

    @admin.display(description="next steps you may take")
    def allowed_next(self, obj: ContentItem) -> str:
        request = getattr(obj, "_admin_request", None)
        if obj.pk is None or request is None:
            return "—"
        actor = Actor.for_user(request.user, obj.workspace)
        return ", ".join(workflow.allowed_actions(obj, actor)) or "none (with your role)"

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._admin_request = request  # for allowed_next: the next steps depend on who asks
        return obj

    # --- saving through the workflow -------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: ContentItem, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
            obj.status = ContentStatus.DRAFT
            super().save_model(request, obj, form, change)
        # An existing item is changed in save_related, through workflow.edit, once the
        # many-to-many choices are known too.

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        if not change:
            return super().save_related(request, form, formsets, change)
        item = form.instance
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS
        }
        channels = form.cleaned_data["channels"] if "channels" in form.changed_data else None
        new_time = (
            changes.pop("scheduled_at", None) if item.status == ContentStatus.SCHEDULED else None
        )
        actor = Actor.for_user(request.user, item.workspace)
        before = ContentItem.objects.only("status").get(pk=item.pk).status
        try:
            with transaction.atomic():  # all of the edit, or none of it
                item = workflow.edit(item, actor, changes, channels=channels)
                if new_time is not None and item.status == ContentStatus.SCHEDULED:
                    item = workflow.reschedule(item, actor, new_time, note="Moved in the admin.")
                elif new_time is not None:
                    item = workflow.edit(item, actor, {"scheduled_at": new_time})
        except (WorkflowError, ValidationError) as exc:
            request._kairos_refused = True
            messages.error(request, error_text(exc))
            item = form.instance
        form.instance = item
        for formset in formsets:  # the inlines are read-only: this records that nothing changed
            self.save_formset(request, form, formset, change=change)
        if (
            before in {ContentStatus.APPROVED, ContentStatus.SCHEDULED}
            and item.status == ContentStatus.IN_REVIEW
        ):
            messages.warning(
                request, f"“{item.title}” changed after approval: it is back in review."
            )

    def response_change(self, request: HttpRequest, obj: ContentItem) -> HttpResponse:
        if getattr(request, "_kairos_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    # --- actions ---------------------------------------------------------------------------
    @admin.action(description="Submit for approval")
    def submit_items(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_transition(request, queryset, "submit", workflow.submit)

    @admin.action(description="Approve")
    def approve_items(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_transition(request, queryset, "approve", workflow.approve)

    @admin.action(description="Reject with a note…")
    def reject_items(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if "apply" in request.POST:
            form = RejectForm(request.POST)
            if form.is_valid():
                note = form.cleaned_data["note"]
                run_transition(
                    request,
                    queryset,
                    "reject",
                    lambda item, actor: workflow.reject(item, actor, note),
                )
                return None
        else:
            form = RejectForm(initial={"_selected_action": request.POST.getlist(SELECTED)})
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject with a note",
            "opts": self.model._meta,
            "items": queryset,
            "form": form,
            "action": "reject_items",
            "action_checkbox_name": SELECTED,
        }
        return TemplateResponse(request, "admin/calendar_app/contentitem/reject.html", context)

    @admin.action(description="Schedule at its planned time")
    def schedule_items(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_transition(request, queryset, "schedule", workflow.schedule)

    @admin.action(description="Cancel")
    def cancel_items(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_transition(request, queryset, "cancel", workflow.cancel)

    @admin.action(description="Reopen as draft")
    def reopen_items(self, request: HttpRequest, queryset: QuerySet) -> None:
        run_transition(request, queryset, "reopen", workflow.reopen)

    # --- calendar --------------------------------------------------------------------------
    def get_urls(self) -> list:
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(
                "calendar/",
                self.admin_site.admin_view(lambda request: calendar_view(self, request)),
                name=f"{info[0]}_{info[1]}_calendar",
            )
        ]
        return extra + super().get_urls()


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = (
        "content_item",
        "action",
        "from_status",
        "to_status",
        "actor_label",
        "version",
        "at",
    )
    list_filter = ("action", "to_status")
    search_fields = ("content_item__title", "actor_label", "note")
    date_hierarchy = "at"
    list_select_related = ("content_item",)


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ("content_item", "decision", "version", "decided_by_label", "created_at")
    list_filter = ("decision",)
    search_fields = ("content_item__title", "decided_by_label", "note")
    date_hierarchy = "created_at"
    list_select_related = ("content_item",)
