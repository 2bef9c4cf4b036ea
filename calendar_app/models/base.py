"""Shared model plumbing: timestamps and the one rule of tenancy (every row has a workspace)."""

from __future__ import annotations

from django.db import models


class Timestamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace) -> WorkspaceQuerySet:
        """Every read of tenant data starts here, so a forgotten filter is easy to spot in review."""
        return self.filter(workspace=workspace)


class WorkspaceOwned(Timestamped):
    """A row that belongs to exactly one workspace."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        abstract = True
