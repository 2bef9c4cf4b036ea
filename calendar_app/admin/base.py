"""Tenancy for the admin: who sees which rows, and which role each change needs.

Permissions in the Kairos admin come from workspace memberships, not from Django's per-model
permissions: a staff user sees the rows of the workspaces they are a member of, may change what
their role allows there, and sees nothing of any other workspace. Superusers see everything.

Every admin class here derives from :class:`TenantAdmin` (or :class:`TenantInline`), which scopes:

* the change list (``get_queryset``);
* the choices of every foreign key and many-to-many field (``get_field_queryset``), including
  autocompletes, which read the related admin's (scoped) ``get_queryset``;
* the list filters (use :data:`RelatedOnly` for relations, which lists only values present in
  the scoped change list);
* writes: the form refuses a row whose workspace the user may not write to, and a relation that
  points into another workspace.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format

from calendar_app import models as m
from calendar_app.models import Role

User = get_user_model()

#: The list filter to use for every relation: only values present in the (scoped) change list.
RelatedOnly = admin.RelatedOnlyFieldListFilter

#: How to reach the owning workspace from each model ("pk" for the workspace itself; None: no
#: tenant, superusers only). Events are special: an empty workspace is the shared library.
WORKSPACE_PATHS: dict[type[Model], str | None] = {
    m.Workspace: "pk",
    m.Membership: "workspace",
    m.ApiToken: "workspace",
    m.Brand: "workspace",
    m.Channel: "workspace",
    m.Event: "workspace",
    m.BrandFit: "workspace",
    m.ContentItem: "workspace",
    m.Transition: "content_item__workspace",
    m.Approval: "content_item__workspace",
    m.ReactiveTemplate: "workspace",
    m.Fire: "workspace",
    m.Experiment: "workspace",
    m.Variant: "experiment__workspace",
    m.Publication: "workspace",
    m.DeliveryAttempt: "publication__workspace",
    m.MetricSnapshot: "workspace",
    m.WorkerHeartbeat: None,
    m.TrackedLink: "workspace",
    m.Click: "link__workspace",
    m.Conversion: "workspace",
    m.RecipientSplit: "workspace",
    m.ConversionKey: "workspace",
    User: "memberships__workspace",
}


def roles_of(request: HttpRequest) -> dict[int, str]:
    """``{workspace_id: role}`` for the requesting user, read once per request."""
    cached = getattr(request, "_kairos_roles", None)
    if cached is None:
        user = request.user
        if not user.is_authenticated:
            cached = {}
        else:
            cached = dict(
                m.Membership.objects.filter(user=user).values_list("workspace_id", "role")
            )
        request._kairos_roles = cached
    return cached


def workspace_ids(request: HttpRequest, role: str = Role.VIEWER) -> list[int]:
    return [ws for ws, held in roles_of(request).items() if Role.at_least(held, role)]


def has_role(request: HttpRequest, workspace_id: int | None, role: str) -> bool:
    if request.user.is_superuser:
        return True
    held = roles_of(request).get(workspace_id) if workspace_id is not None else None
    return held is not None and Role.at_least(held, role)


def scope(request: HttpRequest, qs: QuerySet, role: str = Role.VIEWER) -> QuerySet:
    """``qs`` reduced to what the user may see (superusers: everything)."""
    if request.user.is_superuser:
        return qs
    path = WORKSPACE_PATHS.get(qs.model, "workspace")
    if path is None:
        return qs.none()
    ids = workspace_ids(request, role)
    if qs.model is m.Event:
        return qs.filter(Q(workspace__isnull=True) | Q(workspace__in=ids))
    if qs.model is User:
        return qs.filter(memberships__workspace__in=ids).distinct()
    return qs.filter(**{f"{path}__in": ids})


def workspace_id_of(obj: Model) -> int | None:
    """The id of the workspace owning ``obj`` (None for a shared-library event)."""
    path = WORKSPACE_PATHS.get(type(obj), "workspace")
    if path is None:
        return None
    if path == "pk":
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id")


def local_time(value: datetime | None, time_zone: str | None) -> str:
    """``value`` as wall-clock time in ``time_zone``, with the zone's abbreviation."""
    if value is None:
        return "—"
    try:
        tz = zoneinfo.ZoneInfo(time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{date_format(value.astimezone(UTC), 'Y-m-d H:i')} UTC (unknown time zone {time_zone!r})"
    local = value.astimezone(tz)
    return f"{date_format(local, 'Y-m-d H:i')} {local.tzname()}"


class TenantAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows, choices and permissions follow workspace memberships."""

    #: Role needed in the row's workspace to see, change, add and delete.
    view_role: str = Role.VIEWER
    change_role: str = Role.EDITOR
    add_role: str | None = None  # defaults to change_role
    delete_role: str | None = None  # defaults to change_role
    #: Field the row's workspace is derived from (e.g. "brand"); the workspace is then not in the
    #: form but set on save.
    workspace_from: str | None = None
    list_per_page = 50
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    # --- rows ------------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope(request, super().get_queryset(request))

    def get_field_queryset(self, db: str | None, db_field: Any, request: HttpRequest) -> QuerySet:
        qs = super().get_field_queryset(db, db_field, request)
        if qs is None:
            qs = db_field.remote_field.model._default_manager.using(db).all()
        return scope(request, qs)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        exclude = list(super().get_exclude(request, obj) or [])
        if self.workspace_from and "workspace" not in exclude:
            exclude.append("workspace")
        return exclude

    # --- permissions -----------------------------------------------------------------------
    def _any(self, request: HttpRequest, role: str) -> bool:
        if WORKSPACE_PATHS.get(self.model, "workspace") is None:
            return False
        return bool(workspace_ids(request, role))

    def _on(self, request: HttpRequest, obj: Model | None, role: str) -> bool:
        if request.user.is_superuser:
            return True
        if not (request.user.is_active and request.user.is_staff):
            return False
        if obj is None:
            return self._any(request, role)
        ws = workspace_id_of(obj)
        if ws is None:  # the shared event library: everyone reads, superusers write
            return role == self.view_role and self._any(request, role)
        return has_role(request, ws, role)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._on(request, None, self.view_role)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._on(request, obj, self.view_role)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._on(request, obj, self.change_role)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._on(request, None, self.add_role or self.change_role)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._on(request, obj, self.delete_role or self.change_role)

    # --- writes ----------------------------------------------------------------------------
    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ):
        form_class = super().get_form(request, obj, change, **kwargs)
        model_admin = self

        class TenantForm(form_class):
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                model_admin.check_workspace(request, self, obj)
                return cleaned

        TenantForm.__name__ = form_class.__name__
        return TenantForm

    def target_workspace_id(self, form: forms.ModelForm, obj: Model | None) -> int | None:
        data = form.cleaned_data
        if "workspace" in data and WORKSPACE_PATHS.get(self.model) == "workspace":
            return data["workspace"].pk if data["workspace"] else None
        if self.workspace_from and data.get(self.workspace_from) is not None:
            return workspace_id_of(data[self.workspace_from])
        if obj is not None:
            return workspace_id_of(obj)
        return None

    def check_workspace(
        self, request: HttpRequest, form: forms.ModelForm, obj: Model | None
    ) -> None:
        """Refuse writing into a workspace the user may not write to, or linking across tenants."""
        if WORKSPACE_PATHS.get(self.model) == "pk":
            return
        ws = self.target_workspace_id(form, obj)
        role = self.change_role if obj is not None else (self.add_role or self.change_role)
        if ws is None:
            if self.model is m.Event and not request.user.is_superuser:
                form.add_error(
                    "workspace", "Pick your workspace: only superusers edit the shared library."
                )
            return
        if not has_role(request, ws, role):
            form.add_error(None, f"You need the {role} role in this workspace to save this.")
            return
        for name, value in form.cleaned_data.items():
            values = list(value) if isinstance(value, QuerySet) else [value]
            for related in values:
                if not isinstance(related, Model) or isinstance(related, m.Workspace | User):
                    continue
                related_ws = workspace_id_of(related)
                if related_ws is not None and related_ws != ws:
                    form.add_error(name, f"“{related}” belongs to another workspace.")
                    break

    def save_model(
        self, request: HttpRequest, obj: Model, form: forms.ModelForm, change: bool
    ) -> None:
        if self.workspace_from:
            source = getattr(obj, self.workspace_from)
            obj.workspace_id = workspace_id_of(source)
        super().save_model(request, obj, form, change)


class TenantInline:
    """Mixin for inlines: rows and choices scoped like :class:`TenantAdmin`; permissions follow
    the parent row. ``read_only`` inlines never add, change or delete."""

    read_only: bool = False
    change_role: str = Role.EDITOR
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope(request, super().get_queryset(request))

    def get_field_queryset(self, db: str | None, db_field: Any, request: HttpRequest) -> QuerySet:
        qs = super().get_field_queryset(db, db_field, request)
        if qs is None:
            qs = db_field.remote_field.model._default_manager.using(db).all()
        return scope(request, qs)

    def _parent_role(self, request: HttpRequest, obj: Model | None, role: str) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return bool(workspace_ids(request, role))
        return has_role(request, workspace_id_of(obj), role)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_role(request, obj, Role.VIEWER)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._parent_role(request, obj, self.change_role)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._parent_role(request, obj, self.change_role)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._parent_role(request, obj, self.change_role)


class ReadOnlyTabular(TenantInline, admin.TabularInline):
    read_only = True
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return list(self.fields or []) + list(super().get_readonly_fields(request, obj))


class ReadOnlyAdmin(TenantAdmin):
    """Rows written by Kairos itself (delivery, audit trail): shown, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
