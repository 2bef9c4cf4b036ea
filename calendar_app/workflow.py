"""The content life cycle: which transitions exist, who may make them, and what each one does.

Every door (admin, API, management commands, the delivery pipeline) goes through these functions,
so a rule is enforced once. The table below *is* the rule book::

    draft ──submit──▶ in_review ──approve──▶ approved ──schedule──▶ scheduled ──▶ publishing ──▶ published
      ▲                 │  ▲                     │                     │ reschedule            ├─▶ partly_failed
      └──reject/withdraw┘  └──── edit of approved content ─────────────┘                       └─▶ failed
    draft / in_review / approved / scheduled ──cancel──▶ cancelled ──reopen──▶ draft

An approval covers one exact version of the content (body, links, media, call to action):
editing any of those after approval sends the item back to review and withdraws what was
scheduled. A refused transition raises :class:`WorkflowError` saying what was tried, from which
state and why not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from calendar_app.models import (
    ApiToken,
    Approval,
    ApprovalDecision,
    ContentItem,
    ContentStatus,
    Membership,
    PublicationStatus,
    Role,
    Transition,
    Workspace,
)

S = ContentStatus


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, with the role they hold in the item's workspace.

    ``user`` is the person who authenticated: empty for workspace API keys and for the system
    itself (the delivery pipeline). ``token`` is the API token the call came with, if any. Audit
    records (transitions, approvals, fires) store both, so they name who really acted: a
    workspace key's approval names the key, never a person.
    """

    role: str | None
    label: str
    user: AbstractBaseUser | None = None
    is_system: bool = False
    token: ApiToken | None = None
    #: The signed approval link a person without an account decides through
    #: (:mod:`calendar_app.approvals.links`); they are named by ``label``, never a user.
    link: Any = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(role=None, label=label, is_system=True)

    @classmethod
    def for_user(cls, user: AbstractBaseUser, workspace: Workspace) -> Actor:
        """The user's role in ``workspace``; a superuser acts as an admin everywhere."""
        if getattr(user, "is_superuser", False):
            return cls(role=Role.ADMIN, label=user.get_username(), user=user)
        membership = Membership.objects.filter(workspace=workspace, user=user).only("role").first()
        return cls(
            role=membership.role if membership else None, label=user.get_username(), user=user
        )

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        """A member token never exceeds its member's current role; a workspace key has its own."""
        role: str | None = token.role
        if token.user_id is not None:
            membership = Membership.objects.filter(
                workspace_id=token.workspace_id, user_id=token.user_id
            ).first()
            if membership is None:
                role = None
            elif Role.rank(membership.role) < Role.rank(token.role):
                role = membership.role
        person = f" ({token.user.get_username()})" if token.user_id else " (workspace API key)"
        # Bounded: audit labels are 200 characters (a username alone may have 150).
        label = f"token {token.prefix} “{token.name[:30]}”{person}"[:200]
        return cls(role=role, label=label, user=token.user if token.user_id else None, token=token)

    def may(self, required: str | None) -> bool:
        if required is None:  # system-only transition
            return self.is_system
        if self.is_system:
            return True
        return self.role is not None and Role.at_least(self.role, required)


class WorkflowError(Exception):
    """A refused transition. ``code`` is stable for API clients; ``str()`` is for people."""

    def __init__(
        self, *, action: str, item: ContentItem, reason: str, code: str, field: str | None = None
    ):
        self.action = action
        self.from_status = item.status
        self.item_id = item.pk
        self.reason = reason
        self.code = code
        self.field = field
        super().__init__(
            f"Cannot {action.replace('_', ' ')} “{item.title}” while it is {item.get_status_display().lower()}: {reason}"
        )


@dataclass(frozen=True, slots=True)
class Rule:
    action: str
    sources: frozenset[str]
    target: str | None  # None: decided by the transition itself (settle)
    role: str | None  # None: only the system may
    summary: str


RULES: dict[str, Rule] = {
    rule.action: rule
    for rule in [
        Rule("submit", frozenset({S.DRAFT}), S.IN_REVIEW, Role.EDITOR, "Ask for approval."),
        Rule("withdraw", frozenset({S.IN_REVIEW}), S.DRAFT, Role.EDITOR, "Take back a submission."),
        Rule(
            "approve",
            frozenset({S.IN_REVIEW}),
            S.APPROVED,
            Role.APPROVER,
            "Approve this exact version.",
        ),
        Rule(
            "reject",
            frozenset({S.IN_REVIEW}),
            S.DRAFT,
            Role.APPROVER,
            "Send back to the editor with a note.",
        ),
        Rule("schedule", frozenset({S.APPROVED}), S.SCHEDULED, Role.EDITOR, "Plan its delivery."),
        Rule(
            "reschedule",
            frozenset({S.SCHEDULED}),
            S.SCHEDULED,
            Role.EDITOR,
            "Move its delivery time.",
        ),
        Rule(
            "cancel",
            frozenset({S.DRAFT, S.IN_REVIEW, S.APPROVED, S.SCHEDULED}),
            S.CANCELLED,
            Role.EDITOR,
            "Stop it; nothing more goes out.",
        ),
        Rule(
            "reopen",
            frozenset({S.CANCELLED}),
            S.DRAFT,
            Role.EDITOR,
            "Bring a cancelled item back as a draft.",
        ),
        Rule(
            "start_publishing",
            frozenset({S.SCHEDULED}),
            S.PUBLISHING,
            None,
            "A first publication is being delivered.",
        ),
        Rule(
            "resume",
            frozenset({S.FAILED, S.PARTLY_FAILED, S.PUBLISHED}),
            S.PUBLISHING,
            None,
            "A publication is being sent again after a retry.",
        ),
        Rule(
            "expire",
            frozenset({S.IN_REVIEW}),
            S.DRAFT,
            None,
            "Its time came before it was approved: nothing went out; back to draft.",
        ),
        Rule(
            "settle",
            frozenset({S.PUBLISHING, S.SCHEDULED, S.PUBLISHED, S.PARTLY_FAILED, S.FAILED}),
            None,
            None,
            "Follow the outcome of its publications.",
        ),
    ]
}

#: Fields :func:`edit` applies for the admin and the API (``channels`` is passed on its own).
EDITABLE_FIELDS = (
    "title",
    "body",
    "links",
    "media",
    "thread",
    "cta_text",
    "cta_url",
    "cta_button",
    "without_cta",
    "scheduled_at",
    "lateness_policy",
    "lateness_tolerance",
    "priority",
    "event",
    "experiment",
)

#: States in which the content may no longer be edited: it is (being) published.
LOCKED_STATES = frozenset({S.PUBLISHING, S.PUBLISHED, S.PARTLY_FAILED, S.FAILED})


def allowed_actions(item: ContentItem, actor: Actor, cache: dict | None = None) -> list[str]:
    """The actions ``actor`` may take on ``item`` now (for admin buttons and API hints).

    "approve" is listed only when the approval would be taken: not for the author under
    separation of duties, nor for someone who is not a member of the chain's step deciding now
    (or has voted on it), nor below the role an active crisis requires. ``cache``: see
    :func:`calendar_app.approvals.services.may_approve`; the rules' answer for a status is kept
    in it too (the same actor, a page of items with a handful of statuses)."""
    key = ("allowed_actions", item.status)
    by_rules = cache.get(key) if cache is not None else None
    if by_rules is None:
        by_rules = [
            rule.action
            for rule in RULES.values()
            if rule.role is not None and item.status in rule.sources and actor.may(rule.role)
        ]
        if cache is not None:
            cache[key] = by_rules
    actions = list(by_rules)
    if "approve" in actions:
        from calendar_app.approvals.services import may_approve  # it imports this module

        if not may_approve(item, actor, cache):
            actions.remove("approve")
    return actions


def _check(action: str, item: ContentItem, actor: Actor) -> Rule:
    rule = RULES[action]
    if item.status not in rule.sources:
        allowed_from = ", ".join(sorted(S(s).label.lower() for s in rule.sources))
        raise WorkflowError(
            action=action,
            item=item,
            code="invalid_transition",
            reason=f"this is only possible from: {allowed_from}.",
        )
    if not actor.may(rule.role):
        if rule.role is None:
            reason = "only Kairos itself does this, while delivering."
        else:
            held = actor.role or "no role in this workspace"
            reason = f"it needs the {rule.role} role; {actor.label} has {held}."
        raise WorkflowError(action=action, item=item, code="permission_denied", reason=reason)
    return rule


def _record(
    item: ContentItem, action: str, from_status: str, actor: Actor, note: str = ""
) -> Transition:
    return Transition.objects.create(
        content_item=item,
        action=action,
        from_status=from_status,
        to_status=item.status,
        actor=actor.user,
        actor_label=actor.label[:200],
        via_token=actor.token,
        version=item.version,
        note=note,
    )


def _move(item: ContentItem, action: str, actor: Actor, target: str, note: str = "") -> ContentItem:
    from_status = item.status
    item.status = target
    item.save(update_fields=["status", "updated_at"])
    _record(item, action, from_status, actor, note)
    return item


def _locked(item: ContentItem) -> ContentItem:
    """Re-read the item under a row lock, so two approvers clicking at once cannot both win."""
    return ContentItem.objects.select_for_update().get(pk=item.pk)


def _check_deliverable(action: str, item: ContentItem) -> None:
    """Refuse a step when a target channel's network would refuse the post (delivery's own
    checks, run now, while a person can still fix the text)."""
    from calendar_app.delivery.preflight import problems_for

    problems = problems_for(item)
    if not problems:
        return
    field = problems[0].problem.field or "channels"
    if field.startswith(("settings.", "secrets.")):
        field = "channels"  # the channel, not the item, needs fixing
    sentences = [p.sentence() for p in problems[:5]]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    raise WorkflowError(
        action=action,
        item=item,
        code="not_deliverable",
        field=field,
        reason=" ".join(sentences) + more,
    )


def _check_daily_caps(action: str, item: ContentItem, due: datetime) -> None:
    """Refuse a time that would put a channel over its network's daily posting cap, while the
    person can still pick another (the reason says the first time that fits)."""
    from calendar_app.delivery.daily_caps import cap_problems

    problems = cap_problems(item, due)
    if problems:
        raise WorkflowError(
            action=action,
            item=item,
            code="daily_cap_exceeded",
            field="scheduled_at",
            reason=" ".join(problems[:5]),
        )


@transaction.atomic
def submit(item: ContentItem, actor: Actor, note: str = "") -> ContentItem:
    item = _locked(item)
    _check("submit", item, actor)
    if not item.body.strip():
        raise WorkflowError(
            action="submit", item=item, code="empty_body", field="body", reason="the body is empty."
        )
    _check_deliverable("submit", item)
    return _move(item, "submit", actor, S.IN_REVIEW, note)


@transaction.atomic
def withdraw(item: ContentItem, actor: Actor, note: str = "") -> ContentItem:
    item = _locked(item)
    _check("withdraw", item, actor)
    return _move(item, "withdraw", actor, S.DRAFT, note)


@transaction.atomic
def approve(item: ContentItem, actor: Actor, note: str = "") -> ContentItem:
    item = _locked(item)
    _check("approve", item, actor)
    _check_deliverable("approve", item)
    from calendar_app.crisis.services import check_approval  # it imports this module

    check_approval(item, actor)
    from calendar_app.approvals.services import take_vote  # it imports this module

    if not take_vote(item, actor, note):
        return item  # a step of the brand's chain was approved; a later one decides next
    Approval.objects.create(
        content_item=item,
        version=item.version,
        content_hash=item.content_hash(),
        decision=ApprovalDecision.APPROVED,
        decided_by=actor.user,
        decided_by_label=actor.label[:200],
        via_token=actor.token,
        note=note,
    )
    return _move(item, "approve", actor, S.APPROVED, note)


@transaction.atomic
def reject(item: ContentItem, actor: Actor, note: str) -> ContentItem:
    item = _locked(item)
    _check("reject", item, actor)
    if not note.strip():
        raise WorkflowError(
            action="reject",
            item=item,
            code="note_required",
            field="note",
            reason="say what has to change, so the editor knows.",
        )
    Approval.objects.create(
        content_item=item,
        version=item.version,
        content_hash=item.content_hash(),
        decision=ApprovalDecision.REJECTED,
        decided_by=actor.user,
        decided_by_label=actor.label[:200],
        via_token=actor.token,
        note=note,
    )
    return _move(item, "reject", actor, S.DRAFT, note)


def current_approval(item: ContentItem) -> Approval | None:
    """The approval that still covers the item's content, if any."""
    approval = item.approvals.filter(version=item.version).first()
    if (
        approval
        and approval.decision == ApprovalDecision.APPROVED
        and approval.content_hash == item.content_hash()
    ):
        return approval
    return None


@transaction.atomic
def schedule(
    item: ContentItem, actor: Actor, when: datetime | None = None, note: str = ""
) -> ContentItem:
    """Plan delivery at ``when`` (aware, or naive in the brand's zone) or at the item's own time."""
    from calendar_app import scheduling

    item = _locked(item)
    _check("schedule", item, actor)
    if current_approval(item) is None:
        raise WorkflowError(
            action="schedule",
            item=item,
            code="not_approved",
            reason="its current version has no approval; submit it again.",
        )
    _check_deliverable("schedule", item)
    due = scheduling.resolve_due_time(item, when)
    if item.scheduled_at is not None and due != item.scheduled_at and time_needs_approval(item):
        raise WorkflowError(
            action="schedule",
            item=item,
            code="time_needs_approval",
            field="scheduled_at",
            reason=f"{item.brand.name}'s approval covers the time, and "
            f"{item.scheduled_at:%Y-%m-%d %H:%M} UTC was approved: schedule it then, or change "
            "its time (which sends it back for approval).",
        )
    _check_daily_caps("schedule", item, due)
    item.scheduled_at = due
    item.save(update_fields=["scheduled_at", "updated_at"])
    scheduling.create_publications(item)
    return _move(item, "schedule", actor, S.SCHEDULED, note)


def time_needs_approval(item: ContentItem) -> bool:
    """Does the brand's approval policy count the planned time as part of what is approved?"""
    from calendar_app.approvals.models import ApprovalPolicy  # it imports the models only

    return ApprovalPolicy.objects.filter(brand_id=item.brand_id, time_needs_approval=True).exists()


@transaction.atomic
def reschedule(item: ContentItem, actor: Actor, when: datetime, note: str = "") -> ContentItem:
    """Move a scheduled item's delivery; when the brand's chain approves the time too, the
    move sends it back for approval (its publications are withdrawn) instead."""
    from calendar_app import scheduling

    item = _locked(item)
    _check("reschedule", item, actor)
    due = scheduling.resolve_due_time(item, when)
    _check_daily_caps("reschedule", item, due)
    if due != item.scheduled_at and time_needs_approval(item):
        scheduling.cancel_publications(item)
        item.scheduled_at = due
        item.version += 1
        item.last_edited_by = actor.user
        item.save(update_fields=["scheduled_at", "version", "last_edited_by", "updated_at"])
        return _move(
            item,
            "reschedule",
            actor,
            S.IN_REVIEW,
            note
            or f"Moved to {due:%Y-%m-%d %H:%M} UTC; {item.brand.name}'s approval covers the "
            "time: back to review.",
        )
    item.scheduled_at = due
    item.save(update_fields=["scheduled_at", "updated_at"])
    scheduling.move_publications(item, due)
    return _move(item, "reschedule", actor, S.SCHEDULED, note)


@transaction.atomic
def cancel(item: ContentItem, actor: Actor, note: str = "") -> ContentItem:
    from calendar_app import scheduling

    item = _locked(item)
    _check("cancel", item, actor)
    scheduling.cancel_publications(item)
    return _move(item, "cancel", actor, S.CANCELLED, note)


@transaction.atomic
def reopen(item: ContentItem, actor: Actor, note: str = "") -> ContentItem:
    item = _locked(item)
    _check("reopen", item, actor)
    return _move(item, "reopen", actor, S.DRAFT, note)


@transaction.atomic
def edit(
    item: ContentItem,
    actor: Actor,
    changes: dict[str, Any],
    channels: Iterable[Any] | None = None,
    note: str = "",
) -> ContentItem:
    """Apply ``changes`` (field name to value) and, if approved content changed, send it back to
    review: an approval covers one exact version."""
    from calendar_app import scheduling

    item = _locked(item)
    if not actor.may(Role.EDITOR):
        raise WorkflowError(
            action="edit",
            item=item,
            code="permission_denied",
            reason=f"it needs the editor role; {actor.label} has {actor.role or 'no role'}.",
        )
    if item.status == S.CANCELLED:
        raise WorkflowError(
            action="edit", item=item, code="invalid_transition", reason="reopen it first."
        )
    before = item.content_hash()
    experiment_before = item.experiment_id
    time_before = item.scheduled_at
    for name, value in changes.items():
        setattr(item, name, value)
    # What goes out is the words *and* where they go and which calls to action they carry.
    channels_changed = channels is not None and {getattr(c, "pk", c) for c in channels} != set(
        item.channels.values_list("pk", flat=True)
    )
    content_changed = (
        item.content_hash() != before
        or item.experiment_id != experiment_before
        or channels_changed
        or (time_before != item.scheduled_at and time_needs_approval(item))
    )
    if item.status in LOCKED_STATES and (content_changed or channels is not None):
        raise WorkflowError(
            action="edit",
            item=item,
            code="locked",
            reason="it is already going out; cancel what is pending or write a new item.",
        )
    item.full_clean(
        exclude=["channels", "workspace", "brand", "created_by", "event", "experiment", "fire"]
    )
    if content_changed:
        item.version += 1
        # Separation of duties keeps them from approving it (a workspace key names nobody).
        item.last_edited_by = actor.user
    item.save()
    if channels is not None:
        item.channels.set(channels)
    if content_changed and item.status in {S.IN_REVIEW, S.APPROVED, S.SCHEDULED}:
        from_status = item.status
        if from_status == S.SCHEDULED:
            scheduling.cancel_publications(item)
        item.status = S.IN_REVIEW
        item.save(update_fields=["status", "updated_at"])
        _record(
            item,
            "edit",
            from_status,
            actor,
            note or "Content changed after approval: back to review.",
        )
    return item


_acting: ContextVar[Actor | None] = ContextVar("kairos_acting", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Name who acts for changes recorded away from the call that made them (a signal sending
    items back to review when a variant changes)."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def current_actor() -> Actor | None:
    return _acting.get()


def variants_changing(experiment_id: int) -> None:
    """Refuse a change to an experiment's calls to action while its posts are going out.

    :raises ValidationError: an item of the experiment is publishing; its remaining posts would
        carry calls to action nobody approved.
    """
    from django.core.exceptions import ValidationError

    going_out = ContentItem.objects.filter(experiment_id=experiment_id, status__in=LOCKED_STATES)
    if going_out.filter(status=S.PUBLISHING).exists():
        raise ValidationError(
            "Posts of this experiment are going out now: change its calls to action once they "
            "are out, or test the new wording in a new experiment.",
            code="experiment_publishing",
        )


@transaction.atomic
def variants_changed(experiment_id: int, note: str, actor: Actor | None = None) -> int:
    """An experiment's variants (their calls to action, or the arms themselves) changed: every
    approved or scheduled item of the experiment goes back to review, with its publications
    cancelled, and every approved reactive template of it needs a new approval. The variants are
    part of what was approved - without this, an editor could change a variant's link on an
    approved, scheduled item and it would go out unapproved.

    :returns: how many items went back to review.
    """
    from calendar_app import scheduling
    from calendar_app.models import ReactiveTemplate

    actor = actor or Actor.system("variant change")
    items = list(
        ContentItem.objects.select_for_update()
        .filter(experiment_id=experiment_id, status__in=[S.APPROVED, S.SCHEDULED])
        .order_by("pk")
    )
    for item in items:
        from_status = item.status
        if from_status == S.SCHEDULED:
            scheduling.cancel_publications(item)
        item.status = S.IN_REVIEW
        item.version += 1
        item.save(update_fields=["status", "version", "updated_at"])
        _record(item, "edit", from_status, actor, note)
    # A template's approval records its version: a new version is unapproved until approved.
    ReactiveTemplate.objects.filter(experiment_id=experiment_id).update(version=F("version") + 1)
    return len(items)


@transaction.atomic
def start_publishing(item: ContentItem, actor: Actor | None = None) -> ContentItem:
    item = _locked(item)
    actor = actor or Actor.system()
    if item.status == S.PUBLISHING:
        return item
    _check("start_publishing", item, actor)
    return _move(item, "start_publishing", actor, S.PUBLISHING)


@transaction.atomic
def resume(item: ContentItem, actor: Actor) -> ContentItem:
    """Back to publishing because a person retried one of its publications."""
    item = _locked(item)
    if item.status == S.PUBLISHING:
        return item
    _check("resume", item, actor)
    return _move(item, "resume", actor, S.PUBLISHING)


def settled_status(statuses: Iterable[str]) -> str | None:
    """What an item's status should be, given its publications' statuses (None: leave it)."""
    statuses = [s for s in statuses if s != PublicationStatus.CANCELLED]
    if not statuses:
        return None
    if any(s in PublicationStatus.open_states() for s in statuses):
        started = any(s not in PublicationStatus.waiting_states() for s in statuses)
        return S.PUBLISHING if started else None
    published = sum(1 for s in statuses if s == PublicationStatus.PUBLISHED)
    if published == len(statuses):
        return S.PUBLISHED
    if published == 0:
        return S.FAILED
    return S.PARTLY_FAILED


@transaction.atomic
def settle(item: ContentItem, actor: Actor | None = None) -> ContentItem:
    """Make the item's status follow its publications (called by the delivery pipeline)."""
    item = _locked(item)
    actor = actor or Actor.system()
    target = settled_status(item.publications.values_list("status", flat=True))
    if target is None or target == item.status or item.status not in RULES["settle"].sources:
        return item
    return _move(item, "settle", actor, target)
