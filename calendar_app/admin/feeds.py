"""Calendar feeds in the admin: listed by prefix only (the secret is never stored), revocable.

Feeds are created through the API, which shows the secret URL once.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from calendar_app.admin.base import RelatedOnly, TenantAdmin
from calendar_app.models import CalendarFeed, Role


@admin.register(CalendarFeed)
class CalendarFeedAdmin(TenantAdmin):
    list_display = (
        "name",
        "brand",
        "workspace",
        "token_prefix",
        "is_active",
        "created_at",
        "last_fetched_at",
        "revoked_at",
    )
    list_filter = (("workspace", RelatedOnly), ("brand", RelatedOnly))
    search_fields = ("name", "token_prefix", "brand__name")
    list_select_related = ("workspace", "brand")
    fields = (
        "workspace",
        "brand",
        "name",
        "token_prefix",
        "created_by",
        "created_at",
        "last_fetched_at",
        "revoked_at",
    )
    readonly_fields = (
        "workspace",
        "brand",
        "token_prefix",
        "created_by",
        "created_at",
        "last_fetched_at",
        "revoked_at",
    )
    actions = ["revoke_feeds"]
    change_role = Role.EDITOR

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: CalendarFeed) -> bool:
        return obj.is_active

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created through the API, which shows the secret URL once

    @admin.action(description="Revoke selected feeds")
    def revoke_feeds(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for feed in queryset:
            if not self.has_change_permission(request, feed):
                messages.error(request, f"You need the editor role to revoke “{feed}”.")
                continue
            if feed.revoked_at is None:
                feed.revoke()
                done += 1
        messages.info(request, f"{done} feed(s) revoked.")
