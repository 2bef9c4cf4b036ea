"""Content items: writing, the approval workflow as admin actions, and the month calendar.

Nothing here sets ``status`` by hand: every action and every edit goes through
:mod:`calendar_app.workflow`, with the acting user's role in the item's workspace. A refused
transition is reported per item with the workflow's own message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from calendar_app import workflow
from calendar_app.admin.approval_queue import approval_queue_view
from calendar_app.admin.base import (
    ReadOnlyAdmin,
    ReadOnlyTabular,
    RelatedOnly,
    TenantAdmin,
    has_role,
    local_time,
    roles_of,
    scope,
)
from calendar_app.admin.calendar_page import calendar_view
from calendar_app.admin.forms import SELECTED, LinkLinesField, RejectForm
from calendar_app.admin.media_field import MediaFormMixin, MediaUploadField, media_preview
from calendar_app.admin.move import move_view
from calendar_app.admin.previews import item_panel
from calendar_app.approvals.admin import (
    CommentInline,
    add_comment,
    approval_progress,
    send_approval_link,
)
from calendar_app.models import (
    Approval,
    Brand,
    ContentItem,
    ContentStatus,
    Publication,
    Role,
    Transition,
)
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


#: The buttons of the item page, by workflow action (the steps a person takes by hand).
BUTTON_LABELS = {
    "submit": "Submit for approval",
    "withdraw": "Withdraw",
    "approve": "Approve",
    "reject": "Reject",
    "schedule": "Schedule",
    "cancel": "Cancel",
    "reopen": "Reopen as draft",
}
#: List actions and the workflow rule each one runs.
ACTION_RULES = {
    "submit_items": "submit",
    "approve_items": "approve",
    "reject_items": "reject",
    "schedule_items": "schedule",
    "cancel_items": "cancel",
    "reopen_items": "reopen",
}


def zoned(value: datetime | None) -> str:
    """``value`` in the request's current zone with its abbreviation: the item page overrides
    the zone to the brand's, so an inline row reads like the form above it."""
    return local_time(value, timezone.get_current_timezone_name())


class PublicationInline(ReadOnlyTabular):
    model = Publication
    fields = (
        "channel",
        "variant",
        "status",
        "due",
        "attempts",
        "published",
        "live_post",
        "what_went_out",
        "last_error_reason",
    )

    @admin.display(description="due")
    def due(self, obj: Publication) -> str:
        """In the zone the page is shown in (the brand's), named, as everywhere on the page."""
        return zoned(obj.due_at)

    @admin.display(description="published")
    def published(self, obj: Publication) -> str:
        return zoned(obj.published_at)

    @admin.display(description="live post")
    def live_post(self, obj: Publication) -> str:
        """A working link to the post on its network, once it is out."""
        if not obj.external_url:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
            obj.external_url,
            obj.external_url,
        )

    @admin.display(description="text the network received")
    def what_went_out(self, obj: Publication) -> str:
        """The stored text as sent (not the item's current body, which may have changed since)."""
        if not obj.sent_text:
            return "—"
        return format_html(
            '<div class="sent-text" style="white-space: pre-wrap; max-width: 40em">{}</div>',
            obj.sent_text,
        )


class TransitionInline(ReadOnlyTabular):
    model = Transition
    fields = ("at", "action", "from_status", "to_status", "actor_label", "version", "note")
    show_change_link = False


class ApprovalInline(ReadOnlyTabular):
    model = Approval
    fields = ("created_at", "decision", "version", "decided_by_label", "note")
    show_change_link = False


class ContentItemForm(MediaFormMixin, forms.ModelForm):
    """The item's form: new media files are stored once the brand (their workspace) is known."""

    class Meta:
        model = ContentItem
        fields = ("brand", "media")  # the admin passes the fieldsets' fields


@admin.register(ContentItem)
class ContentItemAdmin(TenantAdmin):
    form = ContentItemForm
    change_list_template = "admin/calendar_app/contentitem/change_list.html"
    change_form_template = "admin/calendar_app/contentitem/change_form.html"
    list_display = (
        "title",
        "brand",
        "status",
        "local_time",  # the brand's wall clock, zone named (UTC beside it only confused)
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
                "description": "Times in this form are the brand's wall-clock time, in the "
                "time zone named beside the field (the brand's); “local time” repeats the saved "
                "time with the zone's abbreviation.",
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
            if self._locked(obj):
                fields += [*EDITABLE_FIELDS, "channels", "media_shown"]
        return fields

    @staticmethod
    def _locked(obj: ContentItem | None) -> bool:
        return obj is not None and obj.status in workflow.LOCKED_STATES | {ContentStatus.CANCELLED}

    def get_fieldsets(self, request: HttpRequest, obj: ContentItem | None = None):
        """A post that went out shows its media as thumbnails, not as the stored JSON."""
        fieldsets = super().get_fieldsets(request, obj)
        if not self._locked(obj):
            return fieldsets
        return [
            (
                name,
                {
                    **options,
                    "fields": tuple(
                        "media_shown" if f == "media" else f for f in options["fields"]
                    ),
                },
            )
            for name, options in fieldsets
        ]

    class Media:
        css = {"all": ["calendar_app/media_field.css"]}  # also for media shown read-only

    @admin.display(description="media")
    def media_shown(self, obj: ContentItem) -> str:
        return media_preview(obj.media)

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

    def get_actions(self, request: HttpRequest) -> dict:
        """Only the steps this person's best role allows: a viewer sees none, an editor no
        approval (the workflow would refuse them anyway, item by item)."""
        actions = super().get_actions(request)
        best = max((Role.rank(r) for r in roles_of(request).values()), default=-1)
        if request.user.is_superuser:
            return actions
        needs = {
            name: workflow.RULES[action].role
            for name, action in ACTION_RULES.items()
            if workflow.RULES[action].role is not None
        }
        needs.update({"send_approval_link": Role.EDITOR, "add_comment": Role.VIEWER})
        return {
            name: value
            for name, value in actions.items()
            if name not in needs or best >= Role.rank(needs[name])
        }

    # --- the brand's time zone in the form -------------------------------------------------
    def _form_zone(self, request: HttpRequest, object_id: str | None) -> Brand | None:
        """The brand whose wall clock the form shows: the item's, or the one being chosen."""
        if object_id is not None and object_id.isascii() and object_id.isdigit():
            item = (
                scope(request, ContentItem.objects.select_related("brand"))
                .filter(pk=int(object_id))
                .first()
            )
            return item.brand if item is not None else None
        wanted = request.POST.get("brand") or request.GET.get("brand") or ""
        brands = scope(request, Brand.objects.all())
        if wanted.isascii() and wanted.isdigit():
            return brands.filter(pk=int(wanted)).first()
        choices = list(brands[:2])
        return choices[0] if len(choices) == 1 else None

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        """Times are shown and typed in the brand's zone: Django's forms read and write the
        current time zone, so it is the brand's for the length of the request."""
        brand = self._form_zone(request, object_id)
        request._kairos_zone = brand.time_zone if brand is not None else None
        if brand is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(brand.tz):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()  # the template reads the zone too
        return response

    def get_form(self, request: HttpRequest, obj: ContentItem | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.may_add_media = staticmethod(
            lambda workspace_id: (
                request.user.is_superuser or has_role(request, workspace_id, Role.EDITOR)
            )
        )
        zone = getattr(request, "_kairos_zone", None)
        if "scheduled_at" in form.base_fields:
            form.base_fields["scheduled_at"].help_text = (
                f"Wall-clock time in {zone} (the brand's time zone)."
                if zone
                else "Pick the brand first: the time is read in the brand's time zone "
                "(UTC until then)."
            )
        return form

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "links":  # one address per line, not a raw JSON box
            return LinkLinesField(
                label="Links", **{k: v for k, v in kwargs.items() if k == "help_text"}
            )
        if db_field.name == "media":  # upload with a preview, not a raw JSON box
            return MediaUploadField(label="Media")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        """``?brand=<id>&scheduled_at=YYYY-MM-DDTHH:MM`` from a click on the calendar."""
        initial = super().get_changeform_initial_data(request)
        raw = request.GET.get("scheduled_at", "")
        initial.pop("scheduled_at", None)
        try:
            wall = datetime.fromisoformat(raw) if raw else None
        except ValueError:
            wall = None
        if wall is not None and wall.tzinfo is None:
            initial["scheduled_at"] = timezone.make_aware(wall, timezone.get_current_timezone())
        return initial

    # --- the workflow's buttons on the item page --------------------------------------------
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        item = self.get_object(request, object_id)
        if item is not None:
            actor = Actor.for_user(request.user, item.workspace)
            extra_context["workflow_buttons"] = [
                (action, BUTTON_LABELS[action], workflow.RULES[action].summary)
                for action in workflow.allowed_actions(item, actor)
                if action in BUTTON_LABELS
            ]
            extra_context["workflow_url"] = reverse(
                "admin:calendar_app_contentitem_workflow", args=[item.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def workflow_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST ``action`` (and ``note``) from the item page's buttons, through the workflow."""
        item = self.get_object(request, object_id)
        back = HttpResponseRedirect(
            reverse("admin:calendar_app_contentitem_change", args=[object_id])
            if item is not None
            else reverse("admin:calendar_app_contentitem_changelist")
        )
        action = request.POST.get("action", "")
        if request.method != "POST" or item is None or action not in BUTTON_LABELS:
            messages.error(request, "Pick one of the buttons of the item's page.")
            return back
        note = request.POST.get("note", "")
        actor = Actor.for_user(request.user, item.workspace)
        steps = {
            "submit": lambda: workflow.submit(item, actor, note),
            "withdraw": lambda: workflow.withdraw(item, actor, note),
            "approve": lambda: workflow.approve(item, actor, note),
            "reject": lambda: workflow.reject(item, actor, note),
            "schedule": lambda: workflow.schedule(item, actor, note=note),
            "cancel": lambda: workflow.cancel(item, actor, note),
            "reopen": lambda: workflow.reopen(item, actor, note),
        }
        try:
            done = steps[action]()
        except (WorkflowError, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            if done.status == item.status and action == "approve":
                messages.success(
                    request, f"“{item.title}”: your approval of this step is recorded."
                )
            else:
                messages.success(
                    request,
                    f"“{item.title}”: {BUTTON_LABELS[action].lower()} done — now "
                    f"{done.get_status_display().lower()}.",
                )
        return back

    # --- calendar --------------------------------------------------------------------------
    def get_urls(self) -> list:
        info = self.model._meta.app_label, self.model._meta.model_name
        wrap = self.admin_site.admin_view
        extra = [
            path(
                "calendar/",
                wrap(lambda request: calendar_view(self, request)),
                name=f"{info[0]}_{info[1]}_calendar",
            ),
            path(
                "waiting-for-me/",
                wrap(lambda request: approval_queue_view(self, request)),
                name=f"{info[0]}_{info[1]}_approval_queue",
            ),
            path("<str:object_id>/move/", wrap(move_view), name=f"{info[0]}_{info[1]}_move"),
            path(
                "<str:object_id>/workflow/",
                wrap(self.workflow_view),
                name=f"{info[0]}_{info[1]}_workflow",
            ),
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
