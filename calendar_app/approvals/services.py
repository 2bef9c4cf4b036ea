"""Who may approve, and when an approval is complete.

:func:`take_vote` is called by :func:`calendar_app.workflow.approve` under the item's row lock,
after the role, deliverability and crisis checks. It refuses (``WorkflowError``, nothing
written) the author under separation of duties and anyone who is not a member of the step that
decides now; otherwise it records the step's vote and says whether the chain is complete. Only
then does ``approve`` record the :class:`~calendar_app.models.Approval` that scheduling needs.

Votes carry the version they approve. Editing what goes out bumps the version
(:func:`calendar_app.workflow.edit`), so every step's votes stop counting at once and the chain
starts again at its first step: no vote is deleted, the record stays whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from calendar_app import workflow
from calendar_app.approvals.models import (
    ApprovalPolicy,
    ApprovalStep,
    Comment,
    StepEscalation,
    StepRule,
    StepVote,
)
from calendar_app.models import ContentItem, ContentStatus, Membership, Transition
from calendar_app.workflow import Actor, WorkflowError

SEPARATION = "separation_of_duties"


def separates_duties(item: ContentItem) -> bool:
    return ApprovalPolicy.objects.filter(brand_id=item.brand_id, separate_duties=True).exists()


def check_separation(item: ContentItem, actor: Actor, action: str = "approve") -> None:
    """Under the brand's separation of duties, the item's writer and its last editor cannot
    approve it, whatever role or token they hold. A workspace API key belongs to nobody, so it
    could be anybody's (the author's script included): it cannot approve either.

    :raises WorkflowError: ``separation_of_duties``.
    """
    if actor.is_system or actor.link is not None or not separates_duties(item):
        return
    if actor.user is None:
        raise WorkflowError(
            action=action,
            item=item,
            code=SEPARATION,
            reason=f"{item.brand.name} separates duties and {actor.label} names no person; "
            "a member (or a member's own token) must approve.",
        )
    authors = {item.created_by_id, item.last_edited_by_id}
    if actor.user.pk in authors:
        did = "wrote" if actor.user.pk == item.created_by_id else "last edited"
        raise WorkflowError(
            action=action,
            item=item,
            code=SEPARATION,
            reason=f"{actor.label} {did} it and {item.brand.name} separates duties: someone "
            "else must approve it.",
        )


def chain_of(brand_id: int) -> list[ApprovalStep]:
    """The brand's steps in the order they decide (empty: a single approver decides)."""
    return list(
        ApprovalStep.objects.filter(brand_id=brand_id)
        .prefetch_related("members")
        .order_by("order", "id")
    )


def _deciders(step: ApprovalStep) -> set[int]:
    """The step's members who still belong to its workspace (a departed member never blocks an
    'all' step, and never decides one)."""
    ids = {u.pk for u in step.members.all()}
    return set(
        Membership.objects.filter(workspace_id=step.workspace_id, user_id__in=ids).values_list(
            "user_id", flat=True
        )
    )


def _is_done(step: ApprovalStep, votes: list[StepVote]) -> bool:
    if any(getattr(v, "via_link_id", None) is not None for v in votes):
        return True  # the step's link was sent to its external decider, who approved
    voters = {v.decided_by_id for v in votes if v.decided_by_id is not None}
    deciders = _deciders(step)
    if step.rule == StepRule.ALL:
        return bool(deciders) and deciders <= voters
    return bool(voters & deciders)


@dataclass
class StepState:
    step: ApprovalStep
    done: bool
    votes: list[StepVote] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "step": self.step.pk,
            "order": self.step.order,
            "name": self.step.name,
            "rule": self.step.rule,
            "done": self.done,
            "approved_by": [v.decided_by_label for v in self.votes],
        }


def progress(item: ContentItem, steps: list[ApprovalStep] | None = None) -> list[StepState]:
    """Each step of the chain and whether the item's *current* version has passed it."""
    steps = chain_of(item.brand_id) if steps is None else steps
    votes = list(StepVote.objects.filter(content_item=item, version=item.version))
    states = []
    for step in steps:
        mine = [v for v in votes if v.step_id == step.pk]
        states.append(StepState(step=step, done=_is_done(step, mine), votes=mine))
    return states


def current_step(item: ContentItem, steps: list[ApprovalStep] | None = None) -> StepState | None:
    """The first step the current version has not passed; None without a chain or once all
    passed."""
    for state in progress(item, steps):
        if not state.done:
            return state
    return None


def _position(steps: list[ApprovalStep], step: ApprovalStep) -> str:
    return f"step {steps.index(step) + 1} of {len(steps)}"


def check_vote(item: ContentItem, actor: Actor) -> tuple[list[ApprovalStep], StepState | None]:
    """Would ``actor``'s approval of ``item`` count now? Writes nothing, so the API and the
    admin ask it before showing an "approve" button (:func:`calendar_app.workflow.allowed_actions`).

    :returns: the chain and the step deciding now (``None`` without a chain, for the system, or
        once every step passed: the approval is then complete).
    :raises WorkflowError: as :func:`take_vote`.
    """
    check_separation(item, actor)
    steps = chain_of(item.brand_id)
    if not steps or actor.is_system:
        return steps, None
    state = current_step(item, steps)
    if state is None:  # every step passed, yet not approved: complete it now
        return steps, None
    step = state.step
    where = f"“{step.name}” ({_position(steps, step)})"
    if actor.link is not None:
        if actor.link.step_id != step.pk:
            raise WorkflowError(
                action="approve",
                item=item,
                code="out_of_order",
                reason=f"this link was for another step; {where} decides now.",
            )
    else:
        user_id = actor.user.pk if actor.user is not None else None
        if user_id is None or user_id not in _deciders(step):
            later = [s for s in steps if user_id is not None and user_id in _deciders(s)]
            if later:
                raise WorkflowError(
                    action="approve",
                    item=item,
                    code="out_of_order",
                    reason=f"{where} decides first; {actor.label} decides “{later[0].name}”, "
                    "which comes later.",
                )
            raise WorkflowError(
                action="approve",
                item=item,
                code="permission_denied",
                reason=f"{where} decides now and {actor.label} is not one of its members.",
            )
        if any(v.decided_by_id == user_id for v in state.votes):
            raise WorkflowError(
                action="approve",
                item=item,
                code="already_voted",
                reason=f"{actor.label} already approved {where}; it waits for its other members.",
            )
    return steps, state


def may_approve(item: ContentItem, actor: Actor, cache: dict | None = None) -> bool:
    """True when an approval by ``actor`` would be taken now (role apart: the caller checks it).

    The same rules as :func:`take_vote` and the crisis guard, read without writing. ``cache``
    (one dict per API page) keeps what items of a page share - the active crises, each brand's
    policy and chain, each step's members - and :func:`prime_votes` loads the page's votes in
    one query, so a list answers in a fixed number of queries whatever it holds.
    """
    from calendar_app.crisis import scope
    from calendar_app.crisis.services import active_activations

    cache = {} if cache is None else cache

    def cached(key: tuple, compute: Any) -> Any:
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    for activation in cached(
        ("crises", item.workspace_id), lambda: active_activations(item.workspace_id)
    ):
        playbook = activation.playbook
        if scope.covers_item(playbook, item) and not actor.may(playbook.required_role):
            return False
    if actor.is_system:
        return True
    separated = actor.link is None and cached(
        ("separates", item.brand_id), lambda: separates_duties(item)
    )
    if separated and (
        actor.user is None or actor.user.pk in {item.created_by_id, item.last_edited_by_id}
    ):
        return False
    steps = cached(("chain", item.brand_id), lambda: chain_of(item.brand_id))
    if not steps:
        return True
    votes = cache.get(("votes", item.pk, item.version))
    if votes is None:
        votes = list(StepVote.objects.filter(content_item=item, version=item.version))
    user_id = actor.user.pk if actor.user is not None else None
    for step in steps:
        deciders = cached(("deciders", step.pk), lambda step=step: _deciders(step))
        mine = [v for v in votes if v.step_id == step.pk]
        voters = {v.decided_by_id for v in mine if v.decided_by_id is not None}
        if any(v.via_link_id is not None for v in mine):
            continue
        done = (
            bool(deciders) and deciders <= voters
            if step.rule == StepRule.ALL
            else bool(voters & deciders)
        )
        if done:
            continue
        return user_id is not None and user_id in deciders and user_id not in voters
    return True  # every step passed: the next approval completes it


def prime_votes(items: list[ContentItem], cache: dict) -> None:
    """Load the votes of ``items``' current versions into ``cache`` in one query (for
    :func:`may_approve` over a page of items)."""
    waiting = [i for i in items if i.status == ContentStatus.IN_REVIEW]
    if not waiting:
        return
    from django.db.models import Q

    condition = Q()
    for item in waiting:
        condition |= Q(content_item_id=item.pk, version=item.version)
        cache.setdefault(("votes", item.pk, item.version), [])
    for vote in StepVote.objects.filter(condition):
        cache[("votes", vote.content_item_id, vote.version)].append(vote)


def take_vote(item: ContentItem, actor: Actor, note: str = "") -> bool:
    """Check ``actor`` may approve ``item`` now and record their vote.

    :returns: True when the approval is complete (no chain, or this vote completed its last
        step): the caller then approves the item.
    :raises WorkflowError: ``separation_of_duties``, ``not_in_step`` (403: not a member of the
        step deciding now), ``out_of_order`` (their step comes later), ``already_voted``.
    """
    steps, state = check_vote(item, actor)
    if state is None:
        return True
    step = state.step
    vote = StepVote.objects.create(
        workspace_id=item.workspace_id,
        content_item=item,
        version=item.version,
        step=step,
        decided_by=actor.user,
        decided_by_label=actor.label[:200],
        via_token=actor.token,
        via_link=actor.link,
        note=note,
    )
    done = _is_done(step, [*state.votes, vote])
    if done and step is steps[-1]:
        return True
    if done:
        nxt = steps[steps.index(step) + 1]
        summary = f"{step.name}: approved; next “{nxt.name}”."
    else:
        summary = f"{step.name}: approved by {actor.label}; waiting for its other members."
    Transition.objects.create(
        content_item=item,
        action="approve_step",
        from_status=item.status,
        to_status=item.status,
        actor=actor.user,
        actor_label=actor.label[:200],
        via_token=actor.token,
        version=item.version,
        note=(f"{summary} {note}".strip()),
    )
    return False


# --- expiry -----------------------------------------------------------------------------------------


def expire_waiting(now: datetime | None = None, limit: int = 500) -> int:
    """Items still in review when their planned time comes do not go out (nothing was
    scheduled for them) and are sent back to draft with a notice, so nobody believes they went
    out. Run every minute by the ``approvals-expire`` schedule.

    :returns: how many items expired.
    """
    now = now or timezone.now()
    ids = list(
        ContentItem.objects.filter(status=ContentStatus.IN_REVIEW, scheduled_at__lte=now)
        .order_by("scheduled_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for pk in ids:
        with transaction.atomic():
            item = ContentItem.objects.select_for_update().get(pk=pk)
            if item.status != ContentStatus.IN_REVIEW or not item.scheduled_at:
                continue
            if item.scheduled_at > now:
                continue
            expire(item)
            expired += 1
    return expired


def expire(item: ContentItem) -> None:
    """One item's approval expired: back to draft with a transition saying why (the
    ``content.approval_expired`` webhook event follows from it, see
    :mod:`calendar_app.outbound.receivers`)."""
    actor = Actor.system("approval expiry")
    workflow._check("expire", item, actor)
    workflow._move(
        item,
        "expire",
        actor,
        ContentStatus.DRAFT,
        f"Its time ({item.scheduled_at:%Y-%m-%d %H:%M} UTC) came before it was approved: it "
        "did not go out. Pick a new time and submit it again.",
    )


# --- comments ---------------------------------------------------------------------------------------

#: ``@username`` where a username starts (not inside an email address such as ana@example.com).
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]{1,150})")
MAX_MENTIONS = 20


def mentioned_usernames(body: str) -> list[str]:
    """The usernames a comment mentions, in order, without duplicates or trailing dots."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(body):
        seen.setdefault(match.group(1).rstrip("."), None)
    return [name for name in seen if name]


def add_comment(item: ContentItem, actor: Actor, body: str) -> Comment:
    """A comment on ``item``; each ``@username`` must name a member of its workspace.

    :raises ValidationError: on ``body``: an unknown username, or too many mentions.
    """
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    names = mentioned_usernames(body)
    if len(names) > MAX_MENTIONS:
        raise ValidationError({"body": f"At most {MAX_MENTIONS} mentions in one comment."})
    User = get_user_model()
    users = list(
        User.objects.filter(
            memberships__workspace_id=item.workspace_id,
            **{f"{User.USERNAME_FIELD}__in": names},
        )
    )
    found = {u.get_username() for u in users}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidationError(
            {"body": "Not a member of this workspace: " + ", ".join(f"@{n}" for n in unknown)}
        )
    comment = Comment.objects.create(
        workspace_id=item.workspace_id,
        content_item=item,
        version=item.version,
        author=actor.user,
        author_label=actor.label[:200],
        body=body,
    )
    comment.mentions.set(users)
    return comment


# --- step deadlines ---------------------------------------------------------------------------------


def waiting_since(item: ContentItem) -> datetime | None:
    """When the current version started waiting at its current step: its submission, the edit
    that made it, or the last approval recorded in the chain, whichever came last."""
    from django.db.models import Max

    return (
        Transition.objects.filter(
            content_item=item, version=item.version, action__in=["submit", "edit", "approve_step"]
        )
        .aggregate(last=Max("at"))
        .get("last")
    )


def escalate_late_steps(now: datetime | None = None, limit: int = 500) -> int:
    """Items waiting at a step longer than the step's ``escalate_after``: the step's members and
    its ``escalate_to`` addresses are emailed and ``content.approval_escalated`` is sent, once
    per item, version and step (:class:`StepEscalation`). Run every five minutes by the
    ``approvals-escalate`` schedule.

    :returns: how many escalations were sent.
    """
    from django.db import IntegrityError

    now = now or timezone.now()
    brand_ids = set(
        ApprovalStep.objects.filter(escalate_after__isnull=False).values_list("brand_id", flat=True)
    )
    if not brand_ids:
        return 0
    items = ContentItem.objects.filter(
        status=ContentStatus.IN_REVIEW, brand_id__in=brand_ids
    ).order_by("pk")[:limit]
    sent = 0
    for item in items:
        state = current_step(item)
        if state is None or state.step.escalate_after is None:
            continue
        since = waiting_since(item)
        if since is None or now - since < state.step.escalate_after:
            continue
        try:
            with transaction.atomic():
                escalation, created = StepEscalation.objects.get_or_create(
                    content_item=item,
                    version=item.version,
                    step=state.step,
                    defaults={"workspace_id": item.workspace_id, "waiting_since": since},
                )
                if not created:
                    continue
                _escalate(item, state.step, escalation)
        except IntegrityError:  # another run recorded it first
            continue
        sent += 1
    return sent


def _escalate(item: ContentItem, step: ApprovalStep, escalation: StepEscalation) -> None:
    from calendar_app.crisis.services import _notify_after_commit
    from calendar_app.outbound import events

    members = [u.email for u in step.members.all() if u.pk in _deciders(step) and u.email]
    recipients = sorted({*members, *step.escalate_to})
    escalation.notified = recipients
    escalation.save(update_fields=["notified", "updated_at"])
    waited = timezone.now() - escalation.waiting_since
    hours = int(waited.total_seconds() // 3600)
    _notify_after_commit(
        recipients,
        f"[Kairos] Waiting for “{step.name}”: {item.title}"[:200],
        f"“{item.title}” ({item.brand.name}) has waited {hours} hour(s) for the approval step "
        f"“{step.name}”, longer than its deadline. "
        + (
            f"It is planned for {item.scheduled_at:%Y-%m-%d %H:%M} UTC; if it is not approved by "
            "then, it will not go out."
            if item.scheduled_at
            else ""
        ),
    )
    events.emit(
        item.workspace_id,
        events.CONTENT_APPROVAL_ESCALATED,
        {
            "content_item": {
                "id": item.pk,
                "title": item.title,
                "brand": item.brand_id,
                "version": item.version,
                "scheduled_at": events.iso(item.scheduled_at),
            },
            "step": {"id": step.pk, "name": step.name, "order": step.order},
            "waiting_since": events.iso(escalation.waiting_since),
            "notified": recipients,
        },
        item.brand_id,
    )


# --- membership changes -----------------------------------------------------------------------------


def recompute_after_departure(workspace_id: int, user_id: int) -> dict[str, int]:
    """A member left the workspace: items waiting at a step they
    belonged to are looked at again, so an "all of the group" step never waits for them.

    * When every remaining member of the step has approved, the step is done; if it was the
      last one, the item is approved now, by the system, saying why.
    * When nobody is left to decide a step, the item cannot move: the workspace's admins are
      emailed and the item's history says so, once per version.

    :returns: ``{"approved": n, "stuck": m}``.
    """
    from calendar_app.crisis.services import _notify_after_commit

    steps = ApprovalStep.objects.filter(workspace_id=workspace_id, members__pk=user_id)
    brand_ids = set(steps.values_list("brand_id", flat=True))
    done = {"approved": 0, "stuck": 0}
    if not brand_ids:
        return done
    ids = list(
        ContentItem.objects.filter(
            workspace_id=workspace_id, status=ContentStatus.IN_REVIEW, brand_id__in=brand_ids
        ).values_list("pk", flat=True)
    )
    actor = Actor.system("approval chain (a member left)")
    for pk in ids:
        with transaction.atomic():
            item = ContentItem.objects.select_for_update().get(pk=pk)
            if item.status != ContentStatus.IN_REVIEW:
                continue
            state = current_step(item)
            if state is None:
                try:
                    workflow.approve(
                        item,
                        actor,
                        "Every remaining member of its last step had approved; the member it "
                        "waited for left the workspace.",
                    )
                except WorkflowError as exc:  # it could no longer go out, say
                    workflow._record(item, "approve_step", item.status, actor, str(exc)[:2000])
                    continue
                done["approved"] += 1
            elif not _deciders(state.step):
                note = (
                    f"Nobody left to decide “{state.step.name}”: its members left the "
                    "workspace. An admin must add a member to the step."
                )
                if Transition.objects.filter(
                    content_item=item, version=item.version, note=note
                ).exists():
                    continue
                workflow._record(item, "approve_step", item.status, actor, note)
                admins = Membership.objects.filter(workspace_id=workspace_id, role="admin").exclude(
                    user__email=""
                )
                _notify_after_commit(
                    sorted({m.user.email for m in admins.select_related("user")}),
                    f"[Kairos] Nobody can approve “{item.title}”"[:200],
                    f"“{item.title}” ({item.brand.name}) waits at the approval step "
                    f"“{state.step.name}”, whose members have all left the workspace. Add a "
                    "member to the step so it can be decided.",
                )
                done["stuck"] += 1
    return done


def _member_left(sender: type, instance: Membership, **kwargs: object) -> None:
    workspace_id, user_id = instance.workspace_id, instance.user_id
    transaction.on_commit(lambda: recompute_after_departure(workspace_id, user_id))


def connect() -> None:
    """Called by :class:`calendar_app.apps.CalendarAppConfig` at start-up."""
    from django.db.models.signals import post_delete

    post_delete.connect(_member_left, sender=Membership, dispatch_uid="kairos_approvals_left")
