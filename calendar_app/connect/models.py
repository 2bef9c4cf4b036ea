"""A connection in progress, and the OAuth clients Kairos registered on servers."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models

from calendar_app.fields import EncryptedJSONField
from calendar_app.models.base import Timestamped, WorkspaceOwned


class FlowStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the person to authorise"
    CONNECTED = "connected", "Connected"
    FAILED = "failed", "Failed"


class OAuthFlow(WorkspaceOwned):
    """One person's attempt to connect an account: single use, short-lived. The ``state`` sent
    to the network names it; the PKCE verifier and the client secret never leave the server."""

    brand = models.ForeignKey("calendar_app.Brand", on_delete=models.CASCADE, related_name="+")
    network = models.CharField(max_length=40)
    settings = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=64, unique=True)
    redirect_uri = models.URLField(max_length=500)
    client_id = models.CharField(max_length=500)
    secrets = EncryptedJSONField()
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=FlowStatus.choices, default=FlowStatus.PENDING)
    reason = models.CharField(max_length=500, blank=True)
    channel = models.ForeignKey(
        "calendar_app.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]


class OAuthRegistration(Timestamped):
    """The client Kairos registered on one server for one redirect URI (Mastodon instances
    each need their own); reused by every workspace connecting an account there."""

    network = models.CharField(max_length=40)
    server = models.CharField(max_length=500)
    redirect_uri = models.URLField(max_length=500)
    client_id = models.CharField(max_length=500)
    secrets = EncryptedJSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "server", "redirect_uri"], name="oauth_registration_unique"
            )
        ]
