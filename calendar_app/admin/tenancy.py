"""Workspaces, memberships and API tokens (the workspace admin's corner)."""

from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from calendar_app.admin.base import RelatedOnly, TenantAdmin, TenantInline
from calendar_app.models import ApiToken, Brand, Membership, Role, Workspace
from calendar_app.models.tenancy import TOKEN_PREFIX_LENGTH, hash_token_secret
from calendar_app.token_policy import TokenRefused, check_issue
from calendar_app.workflow import Actor


class MembershipInline(TenantInline, admin.TabularInline):
    model = Membership
    change_role = Role.ADMIN
    fields = ("user", "role")
    extra = 0


@admin.register(Workspace)
class WorkspaceAdmin(TenantAdmin):
    list_display = ("name", "slug", "member_count", "brand_count", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
    change_role = Role.ADMIN

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _members=Count("memberships", distinct=True),
                _brands=Coalesce(
                    Subquery(
                        Brand.objects.filter(workspace=OuterRef("pk"))
                        .values("workspace")
                        .annotate(n=Count("pk"))
                        .values("n")
                    ),
                    0,
                ),
            )
            .order_by(*self.model._meta.ordering)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Workspace | None = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="members", ordering="_members")
    def member_count(self, obj: Workspace) -> int:
        return obj._members

    @admin.display(description="brands", ordering="_brands")
    def brand_count(self, obj: Workspace) -> int:
        return obj._brands


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", ("workspace", RelatedOnly))
    search_fields = ("user__username", "user__email", "workspace__name")
    autocomplete_fields = ("workspace",)
    list_select_related = ("user", "workspace")
    change_role = Role.ADMIN


class MintedByFilter(admin.SimpleListFilter):
    """Finds personal tokens someone else created (possible before the token rules): each one
    lets its creator act as the person it names, and should be reviewed and revoked."""

    title = "created by"
    parameter_name = "minted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("self", "its own person"),
            ("other", "someone else (review)"),
            ("key", "workspace API keys"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "self":
            return queryset.filter(user__isnull=False, created_by=F("user"))
        if self.value() == "other":
            return queryset.filter(user__isnull=False).exclude(created_by=F("user"))
        if self.value() == "key":
            return queryset.filter(user__isnull=True)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(TenantAdmin):
    """Tokens: the clear text is shown once, in a message, when the token is created."""

    list_display = (
        "name",
        "prefix",
        "workspace",
        "user",
        "role",
        "is_usable",
        "expires_at",
        "last_used_at",
    )
    list_filter = ("role", MintedByFilter, ("workspace", RelatedOnly))
    search_fields = ("name", "prefix", "user__username")
    autocomplete_fields = ("workspace",)
    list_select_related = ("workspace", "user")
    fields = (
        "workspace",
        "user",
        "name",
        "role",
        "expires_at",
        "prefix",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = ("prefix", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke_tokens"]
    change_role = Role.ADMIN

    @admin.display(boolean=True, description="usable")
    def is_usable(self, obj: ApiToken) -> bool:
        return obj.is_usable

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple:
        """A token's workspace, person and role are fixed once issued: changing them would be
        minting a new token behind its holder's back. Revoke and issue a new one instead."""
        if obj is not None:
            return (*self.readonly_fields, "workspace", "user", "role")
        return self.readonly_fields

    def check_workspace(self, request: HttpRequest, form, obj: ApiToken | None) -> None:
        """The token rules of :mod:`calendar_app.token_policy`, as in the API."""
        super().check_workspace(request, form, obj)
        workspace = form.cleaned_data.get("workspace")
        if obj is not None or workspace is None or form.errors:
            return
        user = form.cleaned_data.get("user")
        if (
            user is not None
            and not Membership.objects.filter(workspace=workspace, user=user).exists()
        ):
            form.add_error("user", "Not a member of this workspace.")
            return
        try:
            check_issue(
                Actor.for_user(request.user, workspace),
                user=user,
                role=form.cleaned_data.get("role") or Role.VIEWER,
            )
        except TokenRefused as refused:
            form.add_error(
                "user" if refused.field == "username" else refused.field, refused.message
            )

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if not change:
            secret = secrets.token_urlsafe(32)
            obj.prefix = secrets.token_hex(TOKEN_PREFIX_LENGTH // 2)
            obj.secret_hash = hash_token_secret(secret)
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                f"Copy the token now, it will not be shown again: {obj.prefix}.{secret}",
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for token in queryset:
            if not self.has_change_permission(request, token):
                messages.error(request, f"You need the admin role to revoke “{token}”.")
                continue
            if token.revoked_at is None:
                token.revoked_at = timezone.now()
                token.save(update_fields=["revoked_at", "updated_at"])
                done += 1
        messages.info(request, f"{done} token(s) revoked.")
