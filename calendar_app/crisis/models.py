"""Crisis playbooks, their activations (and drills), and what each activation held.

Models live in this package because it owns them whole; ``calendar_app.models`` re-exports them
so Django registers them with the app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from calendar_app.models.base import Timestamped, WorkspaceOwned
from calendar_app.validators import validate_no_nul

#: The roles a playbook may require while it is active: stricter than an editor, always.
REQUIRED_ROLES = (("approver", "Approver"), ("admin", "Admin"))
MAX_NOTIFY_EMAILS = 50


class CrisisScenario(models.TextChoices):
    OUTAGE = "outage", "Service outage"
    PRODUCT_RECALL = "product_recall", "Product recall"
    DATA_INCIDENT = "data_incident", "Data incident"
    BAD_TASTE_POST = "bad_taste_post", "A post in bad taste"
    OTHER = "other", "Other"


def validate_email_list(value: object) -> None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    validate_no_nul(value)
    if not isinstance(value, list):
        raise ValidationError("Must be a list of email addresses.", code="invalid_emails")
    if len(value) > MAX_NOTIFY_EMAILS:
        raise ValidationError(f"At most {MAX_NOTIFY_EMAILS} addresses.", code="too_many_emails")
    for address in value:
        if not isinstance(address, str):
            raise ValidationError("Every entry must be an email address.", code="invalid_emails")
        validate_email(address)


class Playbook(WorkspaceOwned):
    """What to do when a crisis hits, agreed before it does.

    Scope: the whole workspace, or narrowed to a brand, to some channels, and/or to a tag (a
    theme of the item's event, e.g. "recall-x200"); every condition set must hold.
    """

    name = models.CharField(max_length=120)
    scenario = models.CharField(
        max_length=20, choices=CrisisScenario.choices, default=CrisisScenario.OTHER
    )
    description = models.TextField(blank=True, help_text="What happened, who decides, where.")
    brand = models.ForeignKey(
        "calendar_app.Brand",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="crisis_playbooks",
        help_text="Empty: every brand of the workspace.",
    )
    channels = models.ManyToManyField(
        "calendar_app.Channel",
        related_name="crisis_playbooks",
        blank=True,
        help_text="Empty: every channel (of the brand, if one is set).",
    )
    tag = models.CharField(
        max_length=60,
        blank=True,
        help_text="Only items whose event carries this theme (case-insensitive). Empty: any.",
    )
    holding_templates = models.ManyToManyField(
        "calendar_app.ReactiveTemplate",
        related_name="crisis_playbooks",
        blank=True,
        help_text="The holding statements, one reactive template per network or channel set.",
    )
    holding_values = models.JSONField(
        default=dict,
        blank=True,
        help_text="Placeholder values used when the holding statements are fired on activation.",
    )
    fire_holding_statement = models.BooleanField(
        default=False,
        help_text="Fire the holding statements on activation (otherwise they are offered).",
    )
    required_role = models.CharField(
        max_length=16,
        choices=REQUIRED_ROLES,
        default="admin",
        help_text="While active, firing the holding statements and approving anything in scope "
        "needs at least this role.",
    )
    auto_end_after = models.DurationField(
        null=True,
        blank=True,
        help_text="End the crisis (and resume what it held) this long after activation.",
    )
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", blank=True, help_text="Members emailed."
    )
    notify_emails = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_email_list],
        help_text="Other addresses emailed on activation and resume.",
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="playbook_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Activation(WorkspaceOwned):
    """One activation of a playbook, or one drill of it: who, why, when, and what it did.

    At most one real activation of a playbook is active at a time (a partial unique index, so
    even two racing calls cannot both succeed).
    """

    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="activations")
    is_drill = models.BooleanField(default=False)
    reason = models.TextField(max_length=2000, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    activated_by_label = models.CharField(max_length=200, help_text="User, token or 'system'.")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Automatic end, if any.")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_by_label = models.CharField(max_length=200, blank=True)
    held_count = models.PositiveIntegerField(default=0)
    not_recalled = models.JSONField(
        default=list,
        blank=True,
        help_text="Publications a worker was already sending at activation (cannot be recalled).",
    )
    holding_statements = models.JSONField(
        default=list,
        blank=True,
        help_text="Each holding statement: offered, fired (with its fire id) or refused (why).",
    )
    notified = models.JSONField(default=list, blank=True)
    duration_ms = models.FloatField(null=True, blank=True, help_text="How long activation took.")
    report = models.JSONField(default=dict, blank=True, help_text="A drill's report.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["workspace", "ended_at"], name="activation_ws_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["playbook"],
                condition=Q(ended_at__isnull=True, is_drill=False),
                name="activation_one_active",
            ),
        ]

    def __str__(self) -> str:
        kind = "drill" if self.is_drill else "crisis"
        return f"{kind} {self.playbook} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return not self.is_drill and self.ended_at is None

    @property
    def marker(self) -> str:
        """What a held publication carries in ``claimed_by``: the crisis holding it."""
        return f"crisis:{self.pk}"


class HeldOutcome(models.TextChoices):
    HELD = "held", "Held"
    RELEASED = "released", "Released (goes out)"
    SKIPPED = "skipped", "Skipped (its moment had passed)"
    GONE = "gone", "Cancelled or changed while held"


class HeldPublication(Timestamped):
    """One publication an activation held, and what became of it."""

    activation = models.ForeignKey(Activation, on_delete=models.CASCADE, related_name="held")
    publication = models.ForeignKey(
        "calendar_app.Publication", on_delete=models.CASCADE, related_name="crisis_holds"
    )
    held_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=HeldOutcome.choices, default=HeldOutcome.HELD)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["activation", "publication"]
        constraints = [
            models.UniqueConstraint(
                fields=["activation", "publication"], name="held_unique_publication"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.publication_id} {self.outcome} by {self.activation}"
