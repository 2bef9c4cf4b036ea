"""Listening rows: what people said back, where Kairos is in each stream, what a brand watches,
and the alerts a surge raised.

Models live in this package because it owns them whole; ``calendar_app.models`` re-exports them
so Django registers them with the app.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from calendar_app.models.base import WorkspaceOwned


class MessageKind(models.TextChoices):
    REPLY = "reply", "Reply to our post"
    MENTION = "mention", "Mention of the account"
    WATCH = "watch", "Matches a watch"


class Category(models.TextChoices):
    QUESTION = "question", "Question"
    COMPLAINT = "complaint", "Complaint"
    PRAISE = "praise", "Praise"
    OTHER = "other", "Other"


class Tone(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class ListeningPolicy(WorkspaceOwned):
    """How long a workspace keeps raw messages, and how long it listens to a post's replies."""

    retention_days = models.PositiveIntegerField(
        default=180,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Messages older than this are deleted by a daily schedule.",
    )
    reply_window_days = models.PositiveIntegerField(
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="How long after a post went out its replies are still read.",
    )

    class Meta:
        verbose_name_plural = "listening policies"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="listening_policy_one_per_workspace")
        ]


class Watch(WorkspaceOwned):
    """Terms a brand watches (its name, products, campaign hashtags, risk words), with what
    counts as a surge for them."""

    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="listening_watches"
    )
    name = models.CharField(max_length=120)
    terms = models.JSONField(default=list, help_text="Words, phrases or #hashtags (any matches).")
    active = models.BooleanField(default=True)
    window_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    surge_factor = models.FloatField(
        default=3.0,
        validators=[MinValueValidator(1.0), MaxValueValidator(1000.0)],
        help_text="A window holding this many times the baseline is a surge.",
    )
    negative_jump = models.FloatField(
        default=0.25,
        validators=[MinValueValidator(0.01), MaxValueValidator(1.0)],
        help_text="A rise of the negative share by this much (0.25 = 25 points) is a surge.",
    )
    min_messages = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text="Fewer messages in a window never make a surge.",
    )

    class Meta:
        verbose_name_plural = "watches"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "brand", "name"], name="watch_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Message(WorkspaceOwned):
    """One message as the network showed it, stored once per (channel, network id)."""

    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="listening_messages"
    )
    channel = models.ForeignKey(
        "calendar_app.Channel", on_delete=models.CASCADE, related_name="listening_messages"
    )
    kind = models.CharField(max_length=8, choices=MessageKind.choices)
    network_id = models.CharField(max_length=255)
    author_handle = models.CharField(max_length=255, blank=True)
    author_name = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    language = models.CharField(max_length=35, blank=True, help_text="As the network gave it.")
    published_at = models.DateTimeField()
    url = models.CharField(max_length=2000, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    publication = models.ForeignKey(
        "calendar_app.Publication",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="listening_replies",
        help_text="Our post it answers (replies only).",
    )
    variant = models.ForeignKey(
        "calendar_app.Variant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    watch = models.ForeignKey(
        Watch, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    # Understanding: the classifier's labels, and a person's corrections which always win.
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.OTHER)
    tone = models.CharField(max_length=8, choices=Tone.choices, default=Tone.NEUTRAL)
    tone_score = models.FloatField(default=0.0, help_text="-1 (negative) to 1 (positive).")
    detected_language = models.CharField(max_length=8, blank=True)
    method = models.CharField(max_length=60, blank=True, help_text="What classified it.")
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "network_id"], name="listening_message_once_per_channel"
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "brand", "-published_at", "-id"], name="listening_inbox"
            ),
            models.Index(fields=["workspace", "published_at"], name="listening_retention"),
            models.Index(fields=["workspace", "author_handle"], name="listening_author"),
            models.Index(fields=["watch", "published_at"], name="listening_watch_time"),
        ]

    def __str__(self) -> str:
        return f"{self.author_handle}: {self.text[:60]}"


class StreamCursor(WorkspaceOwned):
    """Where Kairos is in one stream of one channel (``replies``, ``mentions``,
    ``search:<watch id>``), and when it may ask again after a rate limit."""

    channel = models.ForeignKey(
        "calendar_app.Channel", on_delete=models.CASCADE, related_name="listening_cursors"
    )
    stream = models.CharField(max_length=40)
    cursor = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    stored_total = models.PositiveBigIntegerField(default=0)
    skipped_total = models.PositiveBigIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0, help_text="Stale cursors started over.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "stream"], name="listening_cursor_once")
        ]


class AlertReason(models.TextChoices):
    VOLUME = "volume", "Messages well above the baseline"
    NEGATIVE = "negative", "Jump in the share of negative tone"


class Alert(WorkspaceOwned):
    """A surge on a watch. It informs and links to what the team prepared; it never posts."""

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="alerts")
    brand = models.ForeignKey("calendar_app.Brand", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=10, choices=AlertReason.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    count = models.PositiveIntegerField()
    baseline = models.FloatField(help_text="Mean messages per window over the previous week.")
    negative_share = models.FloatField()
    baseline_negative_share = models.FloatField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["watch", "reason", "window_start"], name="listening_alert_once_per_window"
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "acknowledged_at"],
                name="listening_open_alerts",
                condition=Q(acknowledged_at__isnull=True),
            )
        ]
