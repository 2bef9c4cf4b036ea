"""A brand's approval policy and chain, the votes of each step, and client approval links.

Models live in this package because it owns them whole; ``calendar_app.models`` re-exports them
so Django registers them with the app.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q

from calendar_app.crisis.models import validate_email_list
from calendar_app.models.base import Timestamped, WorkspaceOwned
from calendar_app.validators import validate_no_nul


def hash_link_token(token: str) -> str:
    """Only the hash of a link's token is stored: a database read gives nobody a working link."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApprovalPolicy(WorkspaceOwned):
    """How a brand's content is approved, beyond its chain of steps."""

    brand = models.OneToOneField(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="approval_policy"
    )
    separate_duties = models.BooleanField(
        default=False,
        help_text="The person who wrote or last edited an item cannot approve it, whatever "
        "their role; a workspace API key (nobody's person) cannot approve at all.",
    )
    time_needs_approval = models.BooleanField(
        default=False,
        help_text="The planned time is part of what is approved: moving an approved or "
        "scheduled item sends it back for approval (otherwise moving it keeps the approval).",
    )

    class Meta:
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"Approval policy of {self.brand}"


class StepRule(models.TextChoices):
    ONE = "one", "One member decides"
    ALL = "all", "Every member must approve"


class ApprovalStep(WorkspaceOwned):
    """One step of a brand's approval chain (e.g. legal, then brand), decided in ``order``."""

    brand = models.ForeignKey(
        "calendar_app.Brand", on_delete=models.CASCADE, related_name="approval_steps"
    )
    order = models.PositiveSmallIntegerField(help_text="Steps are decided from low to high.")
    name = models.CharField(max_length=80, validators=[validate_no_nul])
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="+",
        help_text="Who decides this step (they also need the approver role).",
    )
    rule = models.CharField(max_length=8, choices=StepRule.choices, default=StepRule.ONE)
    escalate_after = models.DurationField(
        null=True,
        blank=True,
        help_text="When an item has waited this long at this step, its members and "
        "escalate_to are emailed (once per version) and content.approval_escalated is sent.",
    )
    escalate_to = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_email_list],
        help_text="Other addresses told when this step is late (the account lead).",
    )

    class Meta:
        ordering = ["brand", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "order"], name="approval_step_brand_order"),
            models.UniqueConstraint(fields=["brand", "name"], name="approval_step_brand_name"),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"


class ApprovalLink(WorkspaceOwned):
    """A signed link for a named person without an account (the client) to decide one step of
    one exact version. The token itself is shown once, at creation."""

    content_item = models.ForeignKey(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="approval_links"
    )
    version = models.PositiveIntegerField()
    step = models.ForeignKey(
        ApprovalStep,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="links",
        help_text="The step it decides; empty for a brand without a chain.",
    )
    name = models.CharField(max_length=120, validators=[validate_no_nul])
    email = models.EmailField(max_length=254)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text="To recognise it.")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_label = models.CharField(max_length=200, blank=True)
    emailed_at = models.DateTimeField(
        null=True, blank=True, help_text="When Kairos last emailed the link to its person."
    )
    decision = models.CharField(max_length=16, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_label = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Approval link {self.prefix}… for {self.name}"

    @property
    def label(self) -> str:
        """How the decision names the external person in audit records."""
        return f"external: {self.name} <{self.email}>"[:200]


class StepVote(WorkspaceOwned):
    """One approval of one step on one exact version (old versions' votes no longer count)."""

    content_item = models.ForeignKey(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="step_votes"
    )
    version = models.PositiveIntegerField()
    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="votes")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=200)
    via_token = models.ForeignKey(
        "calendar_app.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via_link = models.ForeignKey(
        ApprovalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="votes"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["content_item", "version", "step__order", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_item", "version", "step", "decided_by"],
                condition=Q(decided_by__isnull=False),
                name="step_vote_once_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.step.name} v{self.version} by {self.decided_by_label}"


class TemplateStepVote(WorkspaceOwned):
    """One approval of one chain step on one exact version of a reactive template: templates
    are approved through the same chain as items, since firing one posts without a new round."""

    template = models.ForeignKey(
        "calendar_app.ReactiveTemplate", on_delete=models.CASCADE, related_name="step_votes"
    )
    version = models.PositiveIntegerField()
    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="template_votes")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_label = models.CharField(max_length=200)
    via_token = models.ForeignKey(
        "calendar_app.ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["template", "version", "step__order", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "version", "step", "decided_by"],
                condition=Q(decided_by__isnull=False),
                name="template_vote_once_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.step.name} v{self.version} by {self.decided_by_label}"


class Comment(Timestamped):
    """A remark on an item, for the people approving it; ``@username`` mentions a member."""

    workspace = models.ForeignKey(
        "calendar_app.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    content_item = models.ForeignKey(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="comments"
    )
    version = models.PositiveIntegerField(help_text="The version the comment was written on.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=200)
    body = models.TextField(max_length=5000, validators=[validate_no_nul])
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)

    class Meta:
        ordering = ["content_item", "created_at", "id"]

    def __str__(self) -> str:
        return f"Comment by {self.author_label}"


class StepEscalation(WorkspaceOwned):
    """A step's deadline passed for one version of an item: recorded so it is told once."""

    content_item = models.ForeignKey(
        "calendar_app.ContentItem", on_delete=models.CASCADE, related_name="step_escalations"
    )
    version = models.PositiveIntegerField()
    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="escalations")
    waiting_since = models.DateTimeField()
    notified = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_item", "version", "step"], name="step_escalation_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.step.name} late on v{self.version}"
