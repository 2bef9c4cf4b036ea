"""Counting what networks do not report: tracked links, their clicks, and attributed conversions.

Why these rows exist: many networks report impressions but not clicks, and none report what
happened on the brand's site. Kairos serves a short redirect for each call-to-action link of a
publication (``/r/<code>``), counts the clicks itself, and hands the target site a click id
(``kc=…``) that the site's server sends back with a conversion (``POST /api/v1/conversions/``).

Privacy: no IP address and no user agent is stored. A click keeps only ``visitor_hash``, an HMAC
of (IP, user agent) keyed by a secret derived from ``SECRET_KEY`` and the UTC day, so the same
visitor can be recognised for the de-duplication window but not followed across days, and the
hash cannot be reversed without the deployment's secret.

Signing conversions: each workspace issues one or more :class:`ConversionKey` rows. The secret
has to be *read back* to verify an HMAC (unlike an API token, a hash is not enough), so it is
stored encrypted with the deployment's Fernet keys (:class:`~calendar_app.fields.EncryptedJSONField`),
shown once at creation, and identified in requests by its public ``key_id``. Several keys per
workspace allow rotation without downtime: issue a new key, switch the sender, revoke the old.
"""

from __future__ import annotations

import secrets as _secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from calendar_app.fields import EncryptedJSONField
from calendar_app.models.base import Timestamped, WorkspaceOwned

#: Length of the short code in ``/r/<code>``: 6 random bytes, url-safe base64 → 8 characters.
SHORT_CODE_BYTES = 6


def new_short_code() -> str:
    return _secrets.token_urlsafe(SHORT_CODE_BYTES)


def new_click_token() -> str:
    """The public click id (``kc``): random, so it reveals nothing about click volume."""
    return _secrets.token_urlsafe(12)


class TrackedLink(WorkspaceOwned):
    """One call-to-action link of one publication for one variant, served as ``/r/<code>``.

    ``variant`` is normally the publication's variant. On networks that split one post per
    recipient (an email list), the publication has no variant and there is one link per variant.
    """

    publication = models.ForeignKey(
        "calendar_app.Publication", on_delete=models.CASCADE, related_name="tracked_links"
    )
    variant = models.ForeignKey(
        "calendar_app.Variant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tracked_links",
    )
    code = models.CharField(max_length=16, unique=True, default=new_short_code, editable=False)
    target_url = models.URLField(max_length=2000)

    class Meta:
        ordering = ["publication", "id"]
        indexes = [
            models.Index(fields=["publication", "variant"], name="trackedlink_pub_variant"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "variant", "target_url"],
                condition=Q(variant__isnull=False),
                name="trackedlink_unique_variant",
            ),
            models.UniqueConstraint(
                fields=["publication", "target_url"],
                condition=Q(variant__isnull=True),
                name="trackedlink_unique_plain",
            ),
        ]

    def __str__(self) -> str:
        return f"/r/{self.code} → {self.target_url}"


class Click(models.Model):
    """One human click on a tracked link (bots are not recorded at all).

    ``is_counted`` is false for a repeat click of the same visitor on the same link within the
    de-duplication window, and for clicks of a client past its limit per link and window
    (calendar_app.tracking): such a click is kept (a conversion may come back with its click id)
    but does not count towards the variant's clicks. ``visitor_hash`` and ``client_hash`` are
    day-keyed HMACs of (address, user agent) and of the address alone (an IPv6 /64).
    """

    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks")
    token = models.CharField(max_length=24, unique=True, default=new_click_token, editable=False)
    clicked_at = models.DateTimeField()
    visitor_hash = models.CharField(max_length=64)
    client_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    is_counted = models.BooleanField(default=True)

    class Meta:
        ordering = ["link", "clicked_at"]
        indexes = [
            # The click's two checks read counted clicks only: with ``is_counted`` before the
            # time, a flood of uncounted clicks from one visitor or client (a bot, an office
            # behind one address) is never scanned, so each click costs the same however many
            # came before it (a benchmark of one client slowed 3x as its clicks piled up).
            models.Index(
                fields=["link", "visitor_hash", "is_counted", "clicked_at"],
                name="click_dedupe_counted",
            ),
            models.Index(fields=["link", "clicked_at"], name="click_link_time"),
            models.Index(
                fields=["link", "client_hash", "is_counted", "clicked_at"],
                name="click_client_counted",
            ),
        ]

    def __str__(self) -> str:
        return f"click {self.token} on {self.link_id} at {self.clicked_at:%Y-%m-%d %H:%M:%S}"


class Conversion(WorkspaceOwned):
    """A conversion reported by the brand's server, attributed to the click that led to it.

    ``publication`` and ``variant`` are copied from the click's link when it is recorded, so the
    conversion keeps its attribution even if old clicks are purged (``click`` becomes null).
    """

    click = models.ForeignKey(
        Click, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversions"
    )
    publication = models.ForeignKey(
        "calendar_app.Publication", on_delete=models.CASCADE, related_name="conversions"
    )
    variant = models.ForeignKey(
        "calendar_app.Variant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="conversions",
    )
    external_event_id = models.CharField(max_length=200)
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    payload_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the signed body: a reused event id must match it."
    )

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["publication", "variant"], name="conversion_pub_variant"),
            models.Index(fields=["workspace", "occurred_at"], name="conversion_ws_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_event_id"], name="conversion_unique_event"
            ),
        ]

    def __str__(self) -> str:
        return f"conversion {self.external_event_id} on #{self.publication_id}"


class RecipientSplit(Timestamped):
    """How many recipients of a per-recipient publication (an email list) got each variant.

    On such networks the publication has no variant and the network's metrics cannot be split;
    these counts are the variant's exposures, written by the delivery once the recipients are
    split (see :func:`calendar_app.allocation.record_recipient_split`).
    """

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    publication = models.ForeignKey(
        "calendar_app.Publication", on_delete=models.CASCADE, related_name="recipient_splits"
    )
    variant = models.ForeignKey(
        "calendar_app.Variant", on_delete=models.PROTECT, related_name="recipient_splits"
    )
    recipients = models.PositiveIntegerField()

    class Meta:
        ordering = ["publication", "variant"]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "variant"], name="recipientsplit_unique_variant"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.publication_id}: {self.recipients} recipients for {self.variant_id}"


KEY_ID_BYTES = 9


class ConversionKeyQuerySet(models.QuerySet):
    def usable(self) -> ConversionKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ConversionKey(WorkspaceOwned):
    """A workspace's secret for signing conversion calls (HMAC-SHA256), encrypted at rest."""

    name = models.CharField(max_length=120)
    key_id = models.CharField(max_length=24, unique=True, editable=False)
    secrets = EncryptedJSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ConversionKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @classmethod
    def issue(cls, *, workspace, name: str, created_by=None) -> tuple[ConversionKey, str]:
        """Create a key and return it with its secret in clear; show the secret once."""
        secret = _secrets.token_urlsafe(32)
        key = cls.objects.create(
            workspace=workspace,
            name=name,
            key_id="ck_" + _secrets.token_urlsafe(KEY_ID_BYTES),
            secrets={"secret": secret},
            created_by=created_by,
        )
        return key, secret

    @property
    def secret(self) -> str:
        return self.secrets.get("secret", "")

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at", "updated_at"])
