"""A stored medium: one file a workspace uploaded, with what Kairos learned from its bytes."""

from __future__ import annotations

import secrets

from django.db import models

from calendar_app.models.base import WorkspaceOwned


def new_media_token() -> str:
    return secrets.token_urlsafe(24)


def media_path(asset: MediaAsset, filename: str) -> str:
    # The token, not the name a person gave, names the file: no collisions, nothing to guess.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"media/{asset.workspace_id}/{asset.token}.{extension[:8]}"


class MediaAsset(WorkspaceOwned):
    """A picture or video kept by Kairos, attachable to any item of its workspace."""

    file = models.FileField(upload_to=media_path, max_length=255)
    token = models.CharField(max_length=64, unique=True, default=new_media_token, editable=False)
    original_name = models.CharField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    alt_text = models.CharField(
        max_length=1500,
        blank=True,
        help_text="Describes the medium for people who cannot see it; networks show it as alt text.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "medium"
        verbose_name_plural = "media"

    def __str__(self) -> str:
        return self.original_name or f"medium {self.pk}"

    @property
    def kind(self) -> str:
        return self.mime_type.split("/", 1)[0]
