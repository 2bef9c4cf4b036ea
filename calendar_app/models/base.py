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


def call_to_action_fields() -> tuple[models.CharField, models.URLField, models.CharField]:
    """The call to action of a post, a template and a variant: text, link and button label, the
    same on all three so the brand's default and a variant's override mean the same thing."""
    return (
        models.CharField(
            "call-to-action text",
            max_length=200,
            blank=True,
            help_text='The line that asks for the click, after the text ("Shop the look").',
        ),
        models.URLField(
            "call-to-action link",
            max_length=1000,
            blank=True,
            help_text="Where the click goes; counted as a tracked link when tracking is set up.",
        ),
        models.CharField(
            "button label",
            max_length=60,
            blank=True,
            help_text='On networks and emails that show a button ("Shop now").',
        ),
    )
