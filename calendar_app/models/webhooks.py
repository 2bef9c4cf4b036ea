"""Outbound webhooks for integrators: subscriptions, the events they hear, and every delivery.

An *event* (``WebhookEvent``) is recorded once per occurrence, in the same transaction as the
change it reports (an outbox): a rolled-back approval announces nothing. Each active subscription
whose filters match gets one *delivery* (``WebhookDelivery``), sent by a task after commit and
retried with back-off; every try is logged as a ``WebhookAttempt`` (pretix's ``WebHookCall``).
A manual replay is a new delivery of the same event, so it carries the same ``webhook-id``.
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.db import models
from django.db.models import Q

from calendar_app.fields import EncryptedJSONField
from calendar_app.models.base import WorkspaceOwned
from calendar_app.validators import validate_string_list

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id() -> str:
    """``msg_`` + a ULID (48-bit milliseconds + 80 random bits, Crockford base32): unique and
    sortable by time, so receivers' logs read in order."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "msg_" + "".join(reversed(chars))


class WebhookSubscription(WorkspaceOwned):
    """Where to send which events. Empty ``event_types`` or ``brands`` mean "all of them".

    ``secret`` holds the Standard Webhooks signing secret(s), encrypted: ``{"current":
    "whsec_…"}`` plus, for a day after a rotation, ``{"previous": …, "previous_until": ISO}`` so
    receivers can switch keys without losing a message. It is shown once, at creation and
    rotation, and never again.
    """

    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text="Event types to send (empty: every type).",
    )
    brands = models.ManyToManyField(
        "calendar_app.Brand",
        blank=True,
        related_name="webhook_subscriptions",
        help_text="Only events of these brands (empty: every brand).",
    )
    secret = EncryptedJSONField()
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "is_active"], name="webhook_sub_ws_active")]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str, brand_id: int | None, brand_ids: set[int]) -> bool:
        """Whether this subscription's filters let an event through (``brand_ids``: its brands)."""
        if self.event_types and event_type not in self.event_types:
            return False
        if brand_ids:
            return brand_id is not None and brand_id in brand_ids
        return True


class WebhookEvent(models.Model):
    """One occurrence, as integrators see it: ``event_id`` is the Standard Webhooks ``webhook-id``."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    event_id = models.CharField(max_length=40, unique=True, editable=False, default=new_event_id)
    type = models.CharField(max_length=64)
    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "occurred_at"], name="webhook_event_ws_time"),
            models.Index(fields=["occurred_at"], name="webhook_event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (not retried)"
    GAVE_UP = "gave_up", "Gave up after retries"

    @classmethod
    def open_states(cls) -> list[str]:
        return [cls.PENDING, cls.RETRYING]


class WebhookDelivery(WorkspaceOwned):
    """One event for one subscription: its status, retries and the last answer."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is sending it until then."
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.TextField(
        blank=True, help_text="The last answer: a short, sanitised excerpt."
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replays"
    )
    requested_by = models.CharField(
        max_length=200, blank=True, help_text="Who asked for a replay or a test."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["workspace", "created_at"], name="webhook_delivery_ws_time"),
            models.Index(fields=["subscription", "created_at"], name="webhook_delivery_sub_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in WebhookDeliveryStatus]),
                name="webhook_delivery_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_id and self.event.type} → {self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP try of a delivery (pretix's ``WebHookCall``)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=WebhookDeliveryStatus.choices)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhook_attempt_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery #{self.delivery_id}: {self.outcome}"
