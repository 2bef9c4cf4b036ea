"""Stored answers to API calls that carried an ``Idempotency-Key`` (pretix's middleware model).

A key belongs to one caller in one workspace (the token, or the session's user), never to
everyone: two integrations choosing the same key do not see each other's answers, and a replay
needs the stored token, user and workspace to be the caller's own. No shown-once secret is ever
kept in ``response_body`` (see :mod:`calendar_app.api.idempotency`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    workspace = models.ForeignKey(
        "calendar_app.Workspace",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The workspace named in the URL, when there was one.",
    )
    token = models.ForeignKey(
        "calendar_app.ApiToken",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The token that sent the call; empty for a logged-in session.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The person behind the call; empty for a workspace API key.",
    )
    key = models.CharField(max_length=255)
    credential_hash = models.CharField(
        max_length=64, help_text="A hash of the caller (token or user) and the workspace."
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=1000)
    body_hash = models.CharField(max_length=64)
    in_flight = models.BooleanField(default=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["credential_hash", "key"], name="idempotency_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
