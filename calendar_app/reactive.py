"""Firing a reactive template: from "the stadium just went dark" to posts on every channel in seconds.

A template was approved with its words *and* its guardrails, so firing it needs no new approval
round — which is exactly why every guardrail is checked here, under a row lock, before anything
is created: the approver role, the approval still covering the current text, the validity
window, the cool-down since the last fire, the maximum number of fires, and placeholder values
for every placeholder. Then one content item and its publications are created, due now, and
handed straight to the queue (no dispatcher tick). ``Fire`` records who, with what, and when the
first and last posts landed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from calendar_app import scheduling, workflow
from calendar_app.delivery.daily_caps import channel_cap_problem
from calendar_app.delivery.dispatcher import wake
from calendar_app.models import (
    Channel,
    ChannelStatus,
    ContentItem,
    ContentStatus,
    Fire,
    LatenessPolicy,
    PublicationStatus,
    ReactiveTemplate,
    Role,
    Transition,
)
from publishers import check_template, fill, placeholders_in

MAX_VALUE_LENGTH = 500


class FireRefused(Exception):
    """A guardrail said no. ``code`` is stable for API clients; ``field`` names the culprit."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message)


def required_placeholders(template: ReactiveTemplate) -> set[str]:
    names = placeholders_in(template.body)
    for link in template.links or ():
        names |= placeholders_in(link)
    return names


def _check_guardrails(template: ReactiveTemplate, actor: workflow.Actor, now: datetime) -> None:
    if not actor.may(Role.APPROVER):
        raise FireRefused(
            "permission_denied",
            f"Firing needs the approver role; {actor.label} has {actor.role or 'no role'}.",
        )
    if not template.is_active:
        raise FireRefused("inactive", "This template is switched off.")
    if not template.is_approved:
        raise FireRefused(
            "not_approved",
            "This template's current text or guardrails have not been approved; approve it first.",
        )
    if template.valid_from and now < template.valid_from:
        raise FireRefused(
            "not_yet_valid",
            f"This template can be fired from {template.valid_from:%Y-%m-%d %H:%M} UTC.",
        )
    if template.valid_until and now >= template.valid_until:
        raise FireRefused(
            "expired", f"This template expired at {template.valid_until:%Y-%m-%d %H:%M} UTC."
        )
    fired = template.fires.count()
    if fired >= template.max_fires:
        raise FireRefused(
            "max_fires_reached", f"This template has been fired {fired} time(s), its maximum."
        )
    last = template.fires.order_by("-fired_at").first()
    if last and now < last.fired_at + template.cooldown:
        wait = int((last.fired_at + template.cooldown - now).total_seconds()) + 1
        raise FireRefused(
            "cooling_down",
            f"Cooling down: it was fired at {last.fired_at:%H:%M:%S} UTC; wait {wait} s.",
        )


def _check_daily_caps(channels: list[Channel], now: datetime) -> None:
    """A channel already at its network's daily cap would refuse the reaction when it is sent,
    seconds later, as a failed post in the middle of the moment. Say so before anything is
    written, so the person fires on the other channels (or later) instead."""
    problems = [p for channel in channels if (p := channel_cap_problem(channel, now))]
    if problems:
        raise FireRefused(
            "daily_cap_exceeded",
            " ".join(problems[:5]) + " Fire on the other channels, or later.",
            "channels",
        )


def _check_crisis(template: ReactiveTemplate, actor: workflow.Actor) -> None:
    """While a crisis covers the template, only its holding statements may be fired, by the
    role the playbook requires (see :mod:`calendar_app.crisis.services`)."""
    from calendar_app.crisis.services import check_fire

    check_fire(template, actor)


def _clean_values(template: ReactiveTemplate, values: Mapping[str, object]) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise FireRefused(
            "invalid_values", "Values must be an object of placeholder names to text.", "values"
        )
    cleaned: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise FireRefused("invalid_values", f"The value of {name!r} must be text.", "values")
        text = str(value)
        if "\x00" in text or "\x00" in str(name):
            raise FireRefused(
                "invalid_values", f"The value of {name!r} contains a null character.", "values"
            )
        if len(text) > MAX_VALUE_LENGTH:
            raise FireRefused(
                "invalid_values",
                f"The value of {name!r} is longer than {MAX_VALUE_LENGTH} characters.",
                "values",
            )
        cleaned[str(name)] = text
    missing = sorted(required_placeholders(template) - set(cleaned))
    if missing:
        raise FireRefused(
            "missing_values", "Give a value for: " + ", ".join(missing) + ".", "values"
        )
    return cleaned


def _render(template: ReactiveTemplate, values: dict[str, str]) -> tuple[str, list[str]]:
    problems = check_template(template.body)
    body, fill_problems = fill(template.body, values)
    links = []
    for link in template.links or ():
        rendered, link_problems = fill(link, values, field="links")
        links.append(rendered)
        fill_problems += link_problems
    problems += fill_problems
    if problems:
        raise FireRefused(problems[0].code, problems[0].message, problems[0].field or "body")
    return body, links


@transaction.atomic
def _create(
    template: ReactiveTemplate,
    actor: workflow.Actor,
    values: dict[str, str],
    channels: list[Channel],
    now: datetime,
) -> tuple[Fire, ContentItem, list[int]]:
    body, links = _render(template, values)
    fire = Fire.objects.create(
        workspace_id=template.workspace_id,
        template=template,
        template_version=template.version,
        fired_by=actor.user,
        fired_by_label=actor.label[:200],
        via_token=actor.token,
        values=values,
        fired_at=now,
    )
    item = ContentItem.objects.create(
        workspace_id=template.workspace_id,
        brand_id=template.brand_id,
        title=f"{template.name} — fired {now:%Y-%m-%d %H:%M:%S} UTC",
        body=body,
        links=links,
        cta_text=template.cta_text,
        cta_url=template.cta_url,
        cta_button=template.cta_button,
        without_cta=template.without_cta,
        event_id=template.event_id,
        experiment_id=template.experiment_id,
        fire=fire,
        status=ContentStatus.SCHEDULED,
        scheduled_at=now,
        # A reaction is only worth it live: one that could not go out within minutes is skipped.
        lateness_policy=LatenessPolicy.SKIP,
        created_by=actor.user,
    )
    item.channels.set(channels)
    Transition.objects.create(
        content_item=item,
        action="fire",
        from_status=ContentStatus.APPROVED,
        to_status=ContentStatus.SCHEDULED,
        actor=actor.user,
        actor_label=actor.label[:200],
        via_token=actor.token,
        version=item.version,
        note=f"Fired from the pre-approved template “{template.name}” (v{template.version}).",
    )
    publications = scheduling.create_publications(item)
    ids = [p.pk for p in publications if p.status == PublicationStatus.PENDING]
    # Straight to a worker, without waiting for the dispatcher's next look; if this wake-up is
    # lost, the rows are due and pending, and the next look finds them.
    transaction.on_commit(lambda: wake(ids))
    return fire, item, ids


def fire_template(
    template: ReactiveTemplate,
    actor: workflow.Actor,
    values: Mapping[str, object],
    *,
    channel_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> Fire:
    """Fire ``template`` now; raises :class:`FireRefused` with the guardrail that said no."""
    now = now or timezone.now()
    with transaction.atomic():
        # The row lock serialises two approvers pressing "fire" in the same second: the second
        # one sees the first fire and hits the cool-down instead of posting twice.
        template = ReactiveTemplate.objects.select_for_update().get(pk=template.pk)
        _check_guardrails(template, actor, now)
        _check_crisis(template, actor)
        cleaned = _clean_values(template, values)
        allowed = template.channels.filter(status=ChannelStatus.CONNECTED)
        if channel_ids is not None:
            wanted = set(channel_ids)
            unknown = wanted - set(template.channels.values_list("pk", flat=True))
            if unknown:
                raise FireRefused(
                    "invalid_channels",
                    "These channels are not allowed for this template: "
                    + ", ".join(map(str, sorted(unknown)))
                    + ".",
                    "channels",
                )
            allowed = allowed.filter(pk__in=wanted)
        channels = list(allowed)
        if not channels:
            raise FireRefused(
                "no_channels", "None of this template's channels is connected.", "channels"
            )
        _check_daily_caps(channels, now)
        fire, _, _ = _create(template, actor, cleaned, channels, now)
    return fire


@transaction.atomic
def approve_template(template: ReactiveTemplate, actor: workflow.Actor) -> ReactiveTemplate:
    """Approve the template's current words *and* guardrails; any later change voids it.

    Through the brand's approval chain and separation of duties, and the stricter role of an
    active crisis covering it (:mod:`calendar_app.approvals.template_votes`): the approval is
    recorded once the chain's last step approves."""
    if not actor.may(Role.APPROVER):
        raise FireRefused(
            "permission_denied",
            f"Approving needs the approver role; {actor.label} has {actor.role or 'no role'}.",
        )
    template = ReactiveTemplate.objects.select_for_update().get(pk=template.pk)
    problems = check_template(template.body)
    if problems:
        raise FireRefused(problems[0].code, problems[0].message, "body")
    from calendar_app.approvals.template_votes import take_template_vote  # it imports this module

    if not take_template_vote(template, actor):
        return template  # a step of the brand's chain approved; a later one decides next
    template.approved_version = template.version
    template.approved_hash = template.content_hash()
    template.approved_by = actor.user
    template.approved_by_label = actor.label[:200]
    template.approved_via_token = actor.token
    template.approved_at = timezone.now()
    template.save(
        update_fields=[
            "approved_version",
            "approved_hash",
            "approved_by",
            "approved_by_label",
            "approved_via_token",
            "approved_at",
            "updated_at",
        ]
    )
    return template
