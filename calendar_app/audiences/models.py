"""Audience lists, their subscribers, and the ledger of each send.

Models live in this package (not in ``calendar_app/models/``) because the package owns them
whole; ``calendar_app.models`` re-exports them so Django registers them with the app.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models.functions import Lower

from calendar_app.models.base import WorkspaceOwned

#: 32 random bytes, url-safe base64: 43 characters nobody can guess.
UNSUBSCRIBE_TOKEN_BYTES = 32


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(UNSUBSCRIBE_TOKEN_BYTES)


class AudienceList(WorkspaceOwned):
    """A list of people who agreed to hear from one brand (a newsletter's subscribers)."""

    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="audience_lists"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="audience_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class SubscriberStatus(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained (marked as spam)"


class Subscriber(WorkspaceOwned):
    """One address on one list, with the consent that allows sending to it.

    Only ``subscribed`` addresses are sent to. An unsubscribe, a hard bounce or a complaint is
    kept (not deleted), so a later CSV import cannot silently re-subscribe the address.
    """

    audience = models.ForeignKey(AudienceList, on_delete=models.CASCADE, related_name="subscribers")
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    consent_at = models.DateTimeField(help_text="When the person agreed to receive the list.")
    consent_source = models.CharField(
        max_length=200, help_text="Where the consent was given: a form, an event, an import."
    )
    status = models.CharField(
        max_length=16, choices=SubscriberStatus.choices, default=SubscriberStatus.SUBSCRIBED
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    unsubscribe_token = models.CharField(
        max_length=64, unique=True, default=new_unsubscribe_token, editable=False
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                "audience", Lower("email"), name="subscriber_unique_email_per_list"
            ),
        ]
        indexes = [models.Index(fields=["audience", "status", "id"], name="subscriber_by_status")]

    def __str__(self) -> str:
        return self.email


class AudienceSend(WorkspaceOwned):
    """One publication's send to one list: the snapshot of recipients taken at its first attempt."""

    publication = models.OneToOneField(
        "calendar_app.Publication", on_delete=models.CASCADE, related_name="audience_send"
    )
    audience = models.ForeignKey(AudienceList, on_delete=models.PROTECT, related_name="sends")
    total = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"send of publication {self.publication_id} to {self.audience_id}"


class RecipientState(models.TextChoices):
    """Mirrors :class:`publishers.audience.RecipientState`."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    BOUNCED = "bounced", "Bounced"
    DEFERRED = "deferred", "Deferred (tried again later)"
    FAILED = "failed", "Failed"
    IN_DOUBT = "in_doubt", "In doubt (may have been sent; not resent)"
    SKIPPED = "skipped", "Skipped (left the list meanwhile)"


class SendRecipient(models.Model):
    """Where one recipient of one send stands: the row that makes a send resumable.

    Not ``WorkspaceOwned`` on purpose: a send writes one of these per subscriber, and its
    workspace is its send's (``send.workspace``); every read goes through the send.
    """

    send = models.ForeignKey(AudienceSend, on_delete=models.CASCADE, related_name="recipients")
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    unsubscribe_token = models.CharField(max_length=64)
    variant_key = models.CharField(max_length=40, null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=RecipientState.choices, default=RecipientState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_reason = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["send", "email"], name="send_recipient_unique_email"),
        ]
        indexes = [models.Index(fields=["send", "state", "id"], name="send_recipient_by_state")]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"
