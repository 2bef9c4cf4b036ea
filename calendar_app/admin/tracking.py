"""Tracked links, clicks, conversions and conversion keys (the keys' secrets are never shown)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from calendar_app.admin.base import ReadOnlyAdmin, RelatedOnly, TenantAdmin
from calendar_app.models import Click, Conversion, ConversionKey, RecipientSplit, Role, TrackedLink


@admin.register(TrackedLink)
class TrackedLinkAdmin(ReadOnlyAdmin):
    list_display = ("code", "publication", "variant", "target_url", "created_at")
    search_fields = ("code", "target_url", "publication__content_item__title")
    list_select_related = ("publication__channel__brand", "variant__experiment")


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    list_display = ("token", "link", "clicked_at", "is_counted")
    list_filter = ("is_counted",)
    search_fields = ("token", "link__code")
    date_hierarchy = "clicked_at"
    list_select_related = ("link",)
    exclude = ("visitor_hash",)


@admin.register(Conversion)
class ConversionAdmin(ReadOnlyAdmin):
    list_display = (
        "external_event_id",
        "publication",
        "variant",
        "value",
        "currency",
        "occurred_at",
    )
    search_fields = ("external_event_id", "publication__content_item__title")
    date_hierarchy = "occurred_at"
    list_select_related = ("publication__channel__brand", "variant__experiment")


@admin.register(RecipientSplit)
class RecipientSplitAdmin(ReadOnlyAdmin):
    list_display = ("publication", "variant", "recipients")
    list_select_related = ("publication__channel__brand", "variant__experiment")


@admin.register(ConversionKey)
class ConversionKeyAdmin(TenantAdmin):
    """Keys for signing conversion calls: the secret is shown once, in a message, at creation."""

    list_display = (
        "name",
        "key_id",
        "workspace",
        "is_active",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (("workspace", RelatedOnly),)
    search_fields = ("name", "key_id")
    autocomplete_fields = ("workspace",)
    fields = ("workspace", "name", "key_id", "created_by", "last_used_at", "revoked_at")
    readonly_fields = ("key_id", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke_keys"]
    change_role = Role.ADMIN

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ConversionKey) -> bool:
        return obj.revoked_at is None

    def save_model(self, request: HttpRequest, obj: ConversionKey, form, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        key, secret = ConversionKey.issue(
            workspace=obj.workspace, name=obj.name, created_by=request.user
        )
        obj.pk, obj.key_id = key.pk, key.key_id
        obj._state.adding = False
        messages.warning(
            request, f"Copy the signing secret now, it will not be shown again: {secret}"
        )
        return None

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset:
            if not self.has_change_permission(request, key):
                messages.error(request, f"You need the admin role to revoke “{key}”.")
            elif key.revoked_at is None:
                key.revoked_at = timezone.now()
                key.save(update_fields=["revoked_at", "updated_at"])
                messages.success(request, f"“{key}” revoked.")
