"""Delivery: one publication per (item × channel × variant), its attempts and its metrics."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from calendar_app.models.base import Timestamped, WorkspaceOwned


class PublicationStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for its time or its next attempt)"
    PUBLISHING = "publishing", "Publishing (claimed by a worker)"
    PUBLISHED = "published", "Published"
    FAILED = "failed", "Failed"
    UNCONFIRMED = "unconfirmed", "Unconfirmed — check the network"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped (its moment had passed)"
    HELD = "held", "Held by a crisis (resumed when it ends)"

    @classmethod
    def open_states(cls) -> list[str]:
        """States in which the publication may still be delivered (a held one, once resumed)."""
        return [cls.PENDING, cls.PUBLISHING, cls.HELD]

    @classmethod
    def waiting_states(cls) -> list[str]:
        """Not gone out and nobody sending it: what a reschedule or a cancellation still moves."""
        return [cls.PENDING, cls.HELD]

    @classmethod
    def final_states(cls) -> list[str]:
        return [cls.PUBLISHED, cls.FAILED, cls.UNCONFIRMED, cls.CANCELLED, cls.SKIPPED]


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class Publication(WorkspaceOwned):
    """The unit of work of the publishing pipeline, and its own queue entry: a ``pending`` row whose
    ``next_attempt_at`` has come is work to do, whatever happened to the task that was meant to
    do it. Delivered at most once: a worker claims the row atomically (``claimed_by``, with a
    lease in ``claim_expires_at`` that the worker keeps renewing) and passes ``idempotency_key``
    to networks that support one."""

    content_item = models.ForeignKey(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="publications"
    )
    channel = models.ForeignKey(
        "calendar_app.Channel", on_delete=models.PROTECT, related_name="publications"
    )
    variant = models.ForeignKey(
        "calendar_app.Variant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="publications",
    )
    status = models.CharField(
        max_length=16, choices=PublicationStatus.choices, default=PublicationStatus.PENDING
    )
    due_at = models.DateTimeField(help_text="When it should reach the network (UTC).")
    next_attempt_at = models.DateTimeField(help_text="When a worker should next try it (UTC).")
    attempts = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(
        max_length=64, unique=True, default=new_idempotency_key, editable=False
    )
    claimed_by = models.CharField(max_length=120, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    external_url = models.URLField(max_length=1000, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    needs_reconcile = models.BooleanField(
        default=False,
        help_text="The last attempt may have posted (crash or time-out): ask the network before posting again.",
    )
    may_have_posted = models.BooleanField(
        default=False,
        help_text="An earlier attempt may have reached the network (a time-out after sending, a "
        "lost connection, a worker that died mid-attempt): giving up then ends 'unconfirmed', "
        "never 'failed'.",
    )
    continued_attempts = models.PositiveIntegerField(
        default=0,
        help_text="Attempts that stopped on purpose part of the way (a long send at its time "
        "budget) and continued: they do not count against the retry budget.",
    )
    progress = models.JSONField(
        default=dict,
        blank=True,
        help_text="What earlier attempts did: the thread parts that went out and the media "
        "uploaded, so a retry continues where the last attempt stopped.",
    )
    first_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first attempt started (UTC)."
    )
    delivered_late = models.BooleanField(
        default=False, help_text="Sent after its due time by the overdue sweep."
    )
    sent_text = models.TextField(
        blank=True,
        help_text=(
            "The exact text the network received (placeholders filled, call to action, UTM tags "
            "and transforms applied; a thread's later parts follow), stored when it went out."
        ),
    )
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="publication_due"),
            models.Index(fields=["status", "claim_expires_at"], name="publication_claims"),
            models.Index(fields=["workspace", "due_at"], name="publication_ws_due"),
            models.Index(fields=["channel", "published_at"], name="publication_channel_pub"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["content_item", "channel", "variant"],
                condition=Q(variant__isnull=False),
                name="publication_unique_variant",
            ),
            models.UniqueConstraint(
                fields=["content_item", "channel"],
                condition=Q(variant__isnull=True),
                name="publication_unique_plain",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in PublicationStatus]),
                name="publication_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="publication_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} ({self.status})"


class AttemptOutcome(models.TextChoices):
    PUBLISHED = "published", "Published"
    RETRY = "retry", "Transient failure, will retry"
    FAILED = "failed", "Permanent failure"
    CREDENTIALS_EXPIRED = "credentials_expired", "Credentials expired"
    UNCONFIRMED = "unconfirmed", "Outcome unknown"
    PLUGIN_ERROR = "plugin_error", "Plugin error"
    RECONCILED = "reconciled", "Found already published"


class DeliveryAttempt(models.Model):
    """One try at delivering a publication, kept for the audit trail and for lateness figures."""

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=120, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=AttemptOutcome.choices, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["publication", "number"]
        constraints = [
            models.UniqueConstraint(fields=["publication", "number"], name="attempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of #{self.publication_id}: {self.outcome or 'running'}"


class MetricSnapshot(Timestamped):
    """Engagement read back for one publication at one time. Counts are cumulative; None means the
    network cannot read that metric (different from zero)."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="snapshots")
    collected_at = models.DateTimeField()
    impressions = models.PositiveBigIntegerField(null=True, blank=True)
    clicks = models.PositiveBigIntegerField(null=True, blank=True)
    reactions = models.PositiveBigIntegerField(null=True, blank=True)
    shares = models.PositiveBigIntegerField(null=True, blank=True)
    replies = models.PositiveBigIntegerField(null=True, blank=True)
    conversions = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["publication", "-collected_at"]
        indexes = [
            models.Index(fields=["publication", "-collected_at"], name="snapshot_latest"),
            models.Index(fields=["workspace", "collected_at"], name="snapshot_ws_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.publication_id} at {self.collected_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """Written by the dispatcher and by workers, read by the health endpoint: proof the worker path
    is alive, not only the web server."""

    name = models.CharField(max_length=120, unique=True)
    role = models.CharField(max_length=32)
    beat_at = models.DateTimeField()
    pid = models.PositiveIntegerField(null=True, blank=True)
    info = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role}) at {self.beat_at}"
