"""Brands (the voices that post) and their channels (one account on one network)."""

from __future__ import annotations

import zoneinfo

from django.db import models
from django.utils import timezone

from calendar_app.fields import EncryptedJSONField
from calendar_app.models.base import WorkspaceOwned
from calendar_app.models.tenancy import slug_validator
from calendar_app.validators import (
    validate_json_object,
    validate_language,
    validate_profile,
    validate_time_zone,
)


class Brand(WorkspaceOwned):
    """A brand. Its time zone is the one marketers think in; everything is stored in UTC."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, validators=[slug_validator])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(max_length=16, default="en", validators=[validate_language])
    description = models.TextField(blank=True)
    profile = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_profile],
        help_text='Used to judge which events fit: {"themes": [], "values": [], "audience": [], "avoid": []}.',
    )
    default_cta_text = models.CharField(
        "call-to-action text",
        max_length=200,
        blank=True,
        help_text="For posts that set no call to action of their own (and do not opt out).",
    )
    default_cta_url = models.URLField("call-to-action link", max_length=1000, blank=True)
    default_cta_button = models.CharField("button label", max_length=60, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="brand_unique_slug"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def profile_list(self, key: str) -> list[str]:
        return list(self.profile.get(key, [])) if isinstance(self.profile, dict) else []


class ChannelStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    EXPIRED = "expired", "Expired — reconnect"
    DISABLED = "disabled", "Disabled"


class Channel(WorkspaceOwned):
    """One account of a brand on one network. Credentials are encrypted and never displayed."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="channels")
    network = models.CharField(max_length=40, help_text="Key of the network plugin, e.g. sandbox.")
    handle = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    settings = models.JSONField(default=dict, blank=True, validators=[validate_json_object])
    secrets = EncryptedJSONField()
    facts = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the network told about this channel's server (its limits), refreshed "
        "when the channel is saved or tested and daily.",
    )
    facts_checked_at = models.DateTimeField(null=True, blank=True)
    rate_limit = models.JSONField(
        default=dict,
        blank=True,
        help_text="The last budget the network announced: limit, remaining, reset_at, observed_at.",
    )
    paused_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The network's budget is spent until then: nothing is sent to this channel "
        "before (instead of collecting 429s).",
    )
    daily_post_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most posts this account may make in 24 hours, if its plan caps it (the "
        "network's own cap applies too). A moment's readiness check is red when a template's "
        "remaining fires do not fit in what is left.",
    )
    status = models.CharField(
        max_length=16, choices=ChannelStatus.choices, default=ChannelStatus.CONNECTED
    )
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["brand", "network", "handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "network", "handle"], name="channel_unique_handle"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in ChannelStatus]),
                name="channel_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} on {self.network} ({self.handle})"

    def set_status(self, status: str, reason: str = "") -> None:
        self.status = status
        self.status_reason = reason[:500]
        self.status_changed_at = timezone.now()
        self.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])

    @property
    def has_secrets(self) -> bool:
        return bool(self.secrets)
