"""A connection in progress, and the OAuth clients Kairos registered on servers."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models

from calendar_app.fields import EncryptedJSONField
from calendar_app.models.base import Timestamped, WorkspaceOwned


class FlowStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the person to authorise"
    CHOOSING = "choosing", "Waiting for the person to pick an account"
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
        verbose_name = "OAuth flow"
        ordering = ["-created_at", "-id"]


class OAuthRegistration(Timestamped):
    """The client Kairos registered on one server for one redirect URI (Mastodon instances
    each need their own); reused by every workspace connecting an account there."""

    network = models.CharField(max_length=40)
    server = models.CharField(max_length=500)
    redirect_uri = models.URLField(max_length=500)
    client_id = models.CharField(max_length=500)
    secrets = EncryptedJSONField()
    #: The scopes the client was registered with (space-separated). A server such as Mastodon
    #: refuses to authorise more than its app was registered for, so when Kairos asks for more
    #: (``read:search``) the client is registered again.
    scopes = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = "OAuth registration"
        constraints = [
            models.UniqueConstraint(
                fields=["network", "server", "redirect_uri"], name="oauth_registration_unique"
            )
        ]


class ChannelToken(WorkspaceOwned):
    """When a channel's access token expires, kept beside the channel (its secrets are
    encrypted, so they cannot be queried) for the refresh schedule to find what is due.

    ``refreshing_until`` is a short lease: the run that sets it is the only one spending the
    refresh token (refresh tokens rotate, so a second concurrent refresh would be refused and
    wrongly expire the channel)."""

    channel = models.OneToOneField(
        "calendar_app.Channel", on_delete=models.CASCADE, related_name="oauth_token"
    )
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refreshing_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"token of channel {self.channel_id} (expires {self.expires_at})"
