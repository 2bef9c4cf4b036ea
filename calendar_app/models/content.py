"""Content items and the record of what happened to them (transitions and approvals)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from calendar_app.media.entries import validate_media_entries, validate_thread
from calendar_app.models.base import Timestamped, WorkspaceOwned, call_to_action_fields
from calendar_app.validators import validate_string_list, without_cta_problem


class ContentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    PARTLY_FAILED = "partly_failed", "Partly failed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class LatenessPolicy(models.TextChoices):
    """What to do with a post found overdue (the worker was down): a live reaction an hour late is
    worse than none, an evergreen post is better late than never."""

    SEND_LATE = "send_late", "Send late and flag it"
    SKIP = "skip", "Skip if its moment has passed"


class Priority(models.TextChoices):
    """How much a post matters against a live moment: a moment can hold the brand's posts below
    a threshold during its window so they do not step on the live conversation."""

    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"

    @classmethod
    def below(cls, threshold: str) -> list[str]:
        """The priorities strictly below ``threshold`` (none for an unknown or empty one)."""
        order = [cls.LOW, cls.NORMAL, cls.HIGH]
        return [p.value for p in order[: order.index(threshold)]] if threshold in order else []


class ContentItem(WorkspaceOwned):
    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="content_items"
    )
    title = models.CharField(max_length=200, help_text="Internal name; never posted.")
    body = models.TextField(max_length=10000)
    links = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    media = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_media_entries],
        help_text='Media: {"asset": id, "alt_text": ...} for stored media, or URLs.',
    )
    thread = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_thread],
        help_text='Later parts of a thread, each {"body": ..., "media": [...]}, posted in order '
        "as replies to the part before (networks that take threads only).",
    )
    cta_text, cta_url, cta_button = call_to_action_fields()
    without_cta = models.BooleanField(
        default=False,
        help_text="Goes out with no call to action at all, not even the brand's default "
        "(an apology, a holding statement).",
    )
    channels = models.ManyToManyField(
        "calendar_app.Channel", related_name="content_items", blank=True
    )
    event = models.ForeignKey(
        "calendar_app.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="content_items",
    )
    experiment = models.ForeignKey(
        "calendar_app.Experiment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="content_items",
    )
    fire = models.OneToOneField(
        "calendar_app.Fire",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="content_item",
    )
    in_reply_to = models.ForeignKey(
        "calendar_app.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reply_items",
        help_text="The message this item answers (a reply from the listening inbox).",
    )
    status = models.CharField(
        max_length=16, choices=ContentStatus.choices, default=ContentStatus.DRAFT
    )
    scheduled_at = models.DateTimeField(
        null=True, blank=True, help_text="When it goes out (stored in UTC)."
    )
    lateness_policy = models.CharField(
        max_length=16, choices=LatenessPolicy.choices, default=LatenessPolicy.SEND_LATE
    )
    lateness_tolerance = models.DurationField(
        default=timedelta(minutes=15),
        help_text="With 'skip', how late a post may still go out.",
    )
    priority = models.CharField(
        max_length=8,
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text="A moment that holds lower-priority posts during its window holds this one "
        "when its priority is below the moment's threshold. Not part of the approval.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    first_published_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the first of its publications went out. Kept by the database "
        "(calendar_app.models.first_published), whatever writes the publications.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        help_text="Who last changed what goes out (separation of duties keeps them from "
        "approving it).",
    )

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "scheduled_at"], name="content_ws_scheduled"),
            models.Index(fields=["brand", "scheduled_at"], name="content_brand_scheduled"),
            # The calendar's ranges: each status group is one range of these, and its count
            # and its slice (placement, id) are read from the index alone.
            models.Index(
                fields=["workspace", "status", "scheduled_at", "first_published_at", "id"],
                name="content_ws_placed_covering",
            ),
            models.Index(
                fields=["brand", "status", "scheduled_at", "first_published_at", "workspace", "id"],
                name="content_brand_placed_covering",
            ),
            # The API lists items newest first with a cursor on created_at, ties by id: the
            # whole ordering in the index, so a page is read from it without a sort (PostgreSQL
            # sorted each page's equal creation times by id: 0.2-0.4 ms a request).
            models.Index(fields=["workspace", "-created_at", "-id"], name="content_ws_created_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ContentStatus]),
                name="content_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(scheduled_at__isnull=False),
                name="content_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=Q(lateness_tolerance__gte=timedelta(0)), name="content_tolerance_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    #: The fields an approval covers: changing any of them after approval needs a new approval.
    def clean(self) -> None:
        super().clean()
        problem = without_cta_problem(
            self.without_cta, self.cta_text, self.cta_url, self.experiment_id
        )
        if problem:
            raise ValidationError({"without_cta": problem})

    APPROVED_FIELDS = (
        "body",
        "links",
        "media",
        "thread",
        "cta_text",
        "cta_url",
        "cta_button",
        "without_cta",
    )

    def content_hash(self) -> str:
        payload = {name: getattr(self, name) for name in self.APPROVED_FIELDS}
        for name in ("thread", "without_cta"):
            if not payload[name]:
                # Items approved before these existed keep their approval.
                del payload[name]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Transition(models.Model):
    """One step of an item's life cycle: who moved it, from where to where, when, and why."""

    content_item = models.ForeignKey(
        ContentItem, on_delete=models.CASCADE, related_name="transitions"
    )
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, choices=ContentStatus.choices)
    to_status = models.CharField(max_length=16, choices=ContentStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="User name, token prefix or 'system'.")
    via_token = models.ForeignKey(
        "calendar_app.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The API token the actor used, if any (a workspace API key has no user).",
    )
    version = models.PositiveIntegerField()
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["content_item", "at", "id"]
        indexes = [models.Index(fields=["content_item", "at"], name="transition_item_at")]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_status} → {self.to_status}"


class ApprovalDecision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Approval(Timestamped):
    """An approver's decision on one exact version of an item's content."""

    content_item = models.ForeignKey(
        ContentItem, on_delete=models.CASCADE, related_name="approvals"
    )
    version = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    decision = models.CharField(max_length=16, choices=ApprovalDecision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=200)
    via_token = models.ForeignKey(
        "calendar_app.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The API token the actor used, if any (a workspace API key has no user).",
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["content_item", "-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} v{self.version} by {self.decided_by_label}"
