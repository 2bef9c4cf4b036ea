"""Audience lists in the admin: lists, subscribers (with a CSV import page), and each send's
recipients - including those *in doubt* after a stopped worker - read-only.

Imported by :mod:`calendar_app.admin`, which registers it with the site.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from calendar_app.admin.base import (
    WORKSPACE_PATHS,
    ReadOnlyAdmin,
    RelatedOnly,
    TenantAdmin,
    has_role,
)
from calendar_app.audiences import services
from calendar_app.audiences.models import (
    AudienceList,
    AudienceSend,
    RecipientState,
    SendRecipient,
    Subscriber,
    SubscriberStatus,
)
from calendar_app.models import Role

# A send's recipients belong to the send's workspace.
WORKSPACE_PATHS[SendRecipient] = "send__workspace"


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="UTF-8 CSV with a header row: email, name, consent_at, consent_source."
    )
    consent_source = forms.CharField(
        required=False, max_length=200, help_text="For rows whose consent_source is empty."
    )
    consent_at = forms.DateTimeField(
        required=False, help_text="For rows whose consent_at is empty (UTC)."
    )
    dry_run = forms.BooleanField(required=False, help_text="Check only; write nothing.")


@admin.register(AudienceList)
class AudienceListAdmin(TenantAdmin):
    list_display = ("name", "brand", "workspace", "subscribed", "subscribers_link", "import_link")
    list_filter = (("workspace", RelatedOnly), ("brand", RelatedOnly))
    search_fields = ("name", "brand__name")
    list_select_related = ("workspace", "brand")
    fields = ("workspace", "brand", "name", "description")
    change_role = Role.EDITOR

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_subscribed=Count(
                    "subscribers", filter=Q(subscribers__status=SubscriberStatus.SUBSCRIBED)
                )
            )
        )

    @admin.display(description="subscribed", ordering="n_subscribed")
    def subscribed(self, obj: AudienceList) -> int:
        return getattr(obj, "n_subscribed", 0)

    @admin.display(description="subscribers")
    def subscribers_link(self, obj: AudienceList) -> str:
        url = reverse("admin:calendar_app_subscriber_changelist") + f"?audience__id__exact={obj.pk}"
        return format_html('<a href="{}">Subscribers</a>', url)

    @admin.display(description="import")
    def import_link(self, obj: AudienceList) -> str:
        url = reverse("admin:calendar_app_audiencelist_import", args=[obj.pk])
        return format_html('<a href="{}">Import CSV</a>', url)

    def get_urls(self):
        extra = [
            path(
                "<int:pk>/import/",
                self.admin_site.admin_view(self.import_view),
                name="calendar_app_audiencelist_import",
            )
        ]
        return extra + super().get_urls()

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Upload a CSV into one list; show the summary and each refused row."""
        audience = get_object_or_404(self.get_queryset(request), pk=pk)
        if not has_role(request, audience.workspace_id, Role.EDITOR):
            raise PermissionDenied
        result = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                outcome = services.import_csv(
                    audience,
                    upload.read(services.MAX_CSV_BYTES + 1),
                    default_consent_source=form.cleaned_data.get("consent_source") or "",
                    default_consent_at=form.cleaned_data.get("consent_at"),
                    dry_run=form.cleaned_data.get("dry_run", False),
                )
            except services.AudienceError as exc:
                form.add_error("file", str(exc))
            else:
                result = outcome.to_dict()
                verb = "would be imported" if outcome.dry_run else "imported"
                messages.info(
                    request,
                    f"{outcome.valid} of {outcome.rows} rows {verb}; {len(outcome.errors)} skipped.",
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import subscribers into {audience.name}",
            "opts": self.model._meta,
            "original": audience,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/calendar_app/audiencelist/import.html", context)


@admin.register(Subscriber)
class SubscriberAdmin(TenantAdmin):
    list_display = ("email", "name", "audience", "status", "consent_at", "consent_source")
    list_filter = ("status", ("audience", RelatedOnly), ("workspace", RelatedOnly))
    search_fields = ("email", "name")
    list_select_related = ("audience",)
    fields = (
        "workspace",
        "audience",
        "email",
        "name",
        "consent_at",
        "consent_source",
        "status",
        "status_changed_at",
        "status_reason",
    )
    readonly_fields = ("status_changed_at", "status_reason")
    actions = ["unsubscribe_selected"]
    change_role = Role.EDITOR

    @admin.action(description="Unsubscribe selected addresses")
    def unsubscribe_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = 0
        for subscriber in queryset:
            if not has_role(request, subscriber.workspace_id, Role.EDITOR):
                continue
            if subscriber.status == SubscriberStatus.SUBSCRIBED:
                changed += services.set_status(
                    subscriber, SubscriberStatus.UNSUBSCRIBED, "Unsubscribed in the admin."
                )
        messages.success(request, f"{changed} address(es) unsubscribed.")


@admin.register(AudienceSend)
class AudienceSendAdmin(ReadOnlyAdmin):
    list_display = (
        "publication",
        "audience",
        "total",
        "sent",
        "bounced",
        "in_doubt",
        "left",
        "created_at",
        "finished_at",
    )
    list_filter = (("audience", RelatedOnly), ("workspace", RelatedOnly))
    list_select_related = ("audience",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        counts = {
            f"n_{state}": Count("recipients", filter=Q(recipients__state=state))
            for state in RecipientState.values
        }
        return super().get_queryset(request).annotate(**counts)

    @admin.display(description="sent")
    def sent(self, obj: AudienceSend) -> int:
        return obj.n_sent

    @admin.display(description="bounced")
    def bounced(self, obj: AudienceSend) -> int:
        return obj.n_bounced

    @admin.display(description="in doubt (not resent)")
    def in_doubt(self, obj: AudienceSend) -> str:
        if not obj.n_in_doubt:
            return "0"
        url = (
            reverse("admin:calendar_app_sendrecipient_changelist")
            + f"?send__id__exact={obj.pk}&state__exact=in_doubt"
        )
        return format_html('<a href="{}">{}</a>', url, obj.n_in_doubt)

    @admin.display(description="still to send")
    def left(self, obj: AudienceSend) -> int:
        return obj.n_pending + obj.n_deferred + obj.n_sending


@admin.register(SendRecipient)
class SendRecipientAdmin(ReadOnlyAdmin):
    list_display = ("email", "send", "variant_key", "state", "attempts", "error_code", "updated_at")
    list_filter = ("state", ("send", RelatedOnly))
    search_fields = ("email", "message_id")
    list_select_related = ("send",)
    exclude = ("unsubscribe_token",)
