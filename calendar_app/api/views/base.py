"""The base of every workspace-scoped viewset: scoping, roles, transactions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponseBase
from rest_framework import viewsets

from calendar_app.api.etag import ETagMixin
from calendar_app.models import Role

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AtomicMixin:
    """Writes run in one transaction: a refused or failed request leaves nothing half-written
    (the exception handler marks the transaction for rollback on every 4xx)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method in UNSAFE:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)


class WorkspaceScopedMixin:
    """A resource that belongs to the workspace named in the URL.

    Subclasses set ``model`` and the role levels; ``get_queryset`` always starts from
    ``request.workspace`` (set by :class:`~calendar_app.api.permissions.WorkspacePermission`).
    """

    model: type[Model]
    permission = Role.VIEWER
    write_permission = Role.EDITOR
    action_permissions: dict[str, str] = {}

    def base_queryset(self) -> QuerySet:
        return self.model.objects.filter(workspace=self.request.workspace)

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request workspace
            return self.model.objects.none()
        return self.base_queryset()

    @property
    def actor(self) -> Any:
        return self.request.actor

    @property
    def workspace(self) -> Any:
        return self.request.workspace


class WorkspaceViewSet(ETagMixin, AtomicMixin, WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Create, read, update, delete within one workspace.

    Every resource that can be changed carries an ``ETag`` on read and honours ``If-Match`` on
    write (412 when stale), so two people editing the same row never silently undo each other.
    """


class ReadOnlyWorkspaceViewSet(AtomicMixin, WorkspaceScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Read-only within one workspace (actions may still write)."""
