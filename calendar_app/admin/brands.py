"""Brands and their channels. Channel secrets are write-only: set or replaced, never displayed."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from calendar_app.admin.base import RelatedOnly, TenantAdmin, TenantInline, local_time
from calendar_app.admin.forms import BrandForm, ChannelForm
from calendar_app.connect.admin import ConnectButtons
from calendar_app.models import Brand, Channel, Role


@admin.display(description="secrets")
def secrets_state(channel: Channel) -> str:
    """Whether credentials are stored: the only thing the admin ever says about them."""
    if channel.pk is None:
        return "not set"
    return "set" if channel.has_secrets else "not set"


class ChannelInline(TenantInline, admin.TabularInline):
    model = Channel
    fields = ("network", "handle", "display_name", "status", "secrets_state")
    readonly_fields = ("secrets_state",)
    extra = 0
    show_change_link = True
    change_role = Role.ADMIN

    @admin.display(description="secrets")
    def secrets_state(self, channel: Channel) -> str:
        return secrets_state(channel)


@admin.register(Brand)
class BrandAdmin(ConnectButtons, TenantAdmin):
    form = BrandForm
    list_display = ("name", "workspace", "time_zone", "local_now", "language", "channel_count")
    list_filter = (("workspace", RelatedOnly), "time_zone", "language")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("workspace",)
    list_select_related = ("workspace",)
    inlines = [ChannelInline]
    readonly_fields = ("connect_buttons",)
    fieldsets = (
        (None, {"fields": ("workspace", "name", "slug", "time_zone", "language", "description")}),
        (
            "Channels",
            {
                "fields": ("connect_buttons",),
                "description": "Connect an account by signing in on its network; the channel "
                "appears below once the network sends you back.",
            },
        ),
        (
            "Brand fit profile",
            {
                "fields": ("themes", "values", "audience", "avoid"),
                "description": "Which events fit this brand (the fit score on the calendar). "
                "One per line, or separated by commas.",
            },
        ),
        (
            "Default call to action",
            {"fields": ("default_cta_text", "default_cta_url", "default_cta_button")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_channels=Count("channels"))
            .order_by(*self.model._meta.ordering)
        )

    @admin.display(description="channels", ordering="_channels")
    def channel_count(self, obj: Brand) -> int:
        return obj._channels

    @admin.display(description="local time now")
    def local_now(self, obj: Brand) -> str:
        return local_time(timezone.now(), obj.time_zone)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        saver = getattr(formset, "save_with_request", None)
        if saver is not None:  # an inline that saves through its services (posting slots)
            return saver(request)
        if formset.model is not Channel:
            return super().save_formset(request, form, formset, change)
        for channel in formset.save(commit=False):
            channel.workspace_id = form.instance.workspace_id
            channel.save()
        for channel in formset.deleted_objects:
            channel.delete()
        formset.save_m2m()


@admin.register(Channel)
class ChannelAdmin(TenantAdmin):
    form = ChannelForm
    list_display = ("handle", "brand", "network", "status", "secrets_state", "status_changed_at")
    list_filter = ("network", "status", ("brand", RelatedOnly))
    search_fields = ("handle", "display_name", "brand__name", "network")
    autocomplete_fields = ("brand",)
    list_select_related = ("brand",)
    readonly_fields = ("secrets_state", "status_changed_at")
    workspace_from = "brand"
    change_role = Role.ADMIN
    fieldsets = (
        (None, {"fields": ("brand", "network", "handle", "display_name", "daily_post_cap")}),
        ("Status", {"fields": ("status", "status_reason", "status_changed_at")}),
        (
            "Settings",
            {
                "fields": ("settings",),
                "description": "Plain settings the network plugin reads (not secret).",
            },
        ),
        ("Credentials", {"fields": ("secrets_state", "new_secrets", "clear_secrets")}),
    )

    @admin.display(description="secrets")
    def secrets_state(self, channel: Channel) -> str:
        return secrets_state(channel)

    def save_model(self, request: HttpRequest, obj: Channel, form, change: bool) -> None:
        if change and "status" in form.changed_data:
            obj.status_changed_at = timezone.now()
        super().save_model(request, obj, form, change)
