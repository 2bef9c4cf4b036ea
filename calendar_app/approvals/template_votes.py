"""Reactive templates are approved through the brand's chain and duties, like content items.

Firing a template posts at once, without a new approval round: its approval is the only one
those posts get, so it must be at least as strict as an item's. :func:`take_template_vote` is
called by :func:`calendar_app.reactive.approve_template` under the template's row lock:

* **Separation of duties** (the brand's policy): the person who wrote or last changed the
  template cannot approve it; a workspace API key (nobody's person) cannot either.
* **The chain**: each step in order, one or all of its members (members who left the workspace
  never block an "all" step), votes on the template's exact version; a change bumps the version,
  so the chain starts again.
* **A crisis**: while an active crisis covers the template, approving it needs the role the
  playbook requires (its stricter chain), as approving an item in scope does.
"""

from __future__ import annotations

from calendar_app.approvals.models import ApprovalPolicy, ApprovalStep, TemplateStepVote
from calendar_app.approvals.services import StepState, _deciders, _is_done, chain_of
from calendar_app.models import ReactiveTemplate
from calendar_app.workflow import Actor


def _refused(code: str, message: str) -> Exception:
    from calendar_app.reactive import FireRefused  # it imports this module

    return FireRefused(code, message)


def check_separation(template: ReactiveTemplate, actor: Actor) -> None:
    """:raises FireRefused: ``separation_of_duties`` for the template's author or last editor,
    or for a workspace key, when the brand separates duties."""
    if actor.is_system:
        return
    if not ApprovalPolicy.objects.filter(brand_id=template.brand_id, separate_duties=True).exists():
        return
    brand = template.brand.name
    if actor.user is None:
        raise _refused(
            "separation_of_duties",
            f"{brand} separates duties and {actor.label} names no person; a member (or a "
            "member's own token) must approve the template.",
        )
    if actor.user.pk in {template.created_by_id, template.last_edited_by_id}:
        did = "wrote" if actor.user.pk == template.created_by_id else "last changed"
        raise _refused(
            "separation_of_duties",
            f"{actor.label} {did} this template and {brand} separates duties: someone else "
            "must approve it.",
        )


def check_crisis(template: ReactiveTemplate, actor: Actor) -> None:
    """:raises FireRefused: ``permission_denied`` below the role an active crisis covering the
    template requires."""
    from calendar_app.crisis import scope
    from calendar_app.crisis.services import active_activations, describe

    for activation in active_activations(template.workspace_id):
        playbook = activation.playbook
        if scope.covers_template(playbook, template) and not actor.may(playbook.required_role):
            raise _refused(
                "permission_denied",
                f"During {describe(activation)}, approving a template in its scope needs the "
                f"{playbook.required_role} role; {actor.label} has {actor.role or 'no role'}.",
            )


def template_progress(
    template: ReactiveTemplate, steps: list[ApprovalStep] | None = None
) -> list[StepState]:
    """Each step of the brand's chain and whether the template's current version passed it."""
    steps = chain_of(template.brand_id) if steps is None else steps
    votes = list(TemplateStepVote.objects.filter(template=template, version=template.version))
    states = []
    for step in steps:
        mine = [v for v in votes if v.step_id == step.pk]
        states.append(StepState(step=step, done=_is_done(step, mine), votes=mine))  # type: ignore[arg-type]
    return states


def take_template_vote(template: ReactiveTemplate, actor: Actor) -> bool:
    """Check ``actor`` may approve ``template`` now and record their step's vote.

    :returns: True when the approval is complete (no chain, or this vote completed its last
        step): the caller then records the template's approval.
    :raises FireRefused: ``separation_of_duties``, ``permission_denied`` (not a member of the
        step deciding now, or below a crisis's role), ``out_of_order``, ``already_voted``.
    """
    check_separation(template, actor)
    check_crisis(template, actor)
    steps = chain_of(template.brand_id)
    if not steps or actor.is_system:
        return True
    states = template_progress(template, steps)
    state = next((s for s in states if not s.done), None)
    if state is None:
        return True
    step = state.step
    where = f"“{step.name}” (step {steps.index(step) + 1} of {len(steps)})"
    user_id = actor.user.pk if actor.user is not None else None
    if user_id is None or user_id not in _deciders(step):
        later = [s for s in steps if user_id is not None and user_id in _deciders(s)]
        if later:
            raise _refused(
                "out_of_order",
                f"{where} decides first; {actor.label} decides “{later[0].name}”, which comes "
                "later.",
            )
        raise _refused(
            "permission_denied", f"{where} decides now and {actor.label} is not one of its members."
        )
    if any(v.decided_by_id == user_id for v in state.votes):
        raise _refused(
            "already_voted",
            f"{actor.label} already approved {where}; it waits for its other members.",
        )
    vote = TemplateStepVote.objects.create(
        workspace_id=template.workspace_id,
        template=template,
        version=template.version,
        step=step,
        decided_by=actor.user,
        decided_by_label=actor.label[:200],
        via_token=actor.token,
    )
    return _is_done(step, [*state.votes, vote]) and step is steps[-1]  # type: ignore[list-item]


def may_approve_template(template: ReactiveTemplate, actor: Actor) -> bool:
    """Would ``actor``'s approval count now (for buttons)? Writes nothing."""
    from calendar_app.reactive import FireRefused

    try:
        check_separation(template, actor)
        check_crisis(template, actor)
    except FireRefused:
        return False
    steps = chain_of(template.brand_id)
    if not steps or actor.is_system:
        return True
    state = next((s for s in template_progress(template, steps) if not s.done), None)
    if state is None:
        return True
    user_id = actor.user.pk if actor.user is not None else None
    return (
        user_id is not None
        and user_id in _deciders(state.step)
        and all(v.decided_by_id != user_id for v in state.votes)
    )
