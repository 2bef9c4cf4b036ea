"""Activating, resuming and drilling crisis playbooks, and the guards used while one is active.

* **Activate** is one transaction. The workspace row is locked first, so two activations in
  one workspace queue behind each other, and a partial unique index refuses a second active
  activation of the same playbook even if the lock were bypassed. Every waiting publication in
  scope moves to ``held`` in one ``UPDATE`` (its ``claimed_by`` names the crisis), and the
  record of what was held is written by one ``INSERT ... SELECT``: the number of queries does
  not grow with the number of publications. Rows a worker is already sending cannot be
  recalled; they are listed in the result. Then the holding statements are fired through the
  ordinary firing path (or offered), the ``crisis.activated`` webhook event is recorded in the
  same transaction (sent after commit), and the people to notify are emailed after commit.
* **Resume** gives held publications back to the queue - all of them (which ends the crisis) or
  the ones named - and applies each item's lateness policy with the delivery code's own
  :func:`~calendar_app.delivery.attempt.lateness_decision`: a post whose moment passed during
  the crisis is skipped at once, not sent late into it.
* **Drill** runs the real activation inside a savepoint and rolls it back, so it reports exactly
  what activation would do (what would be held and posted, which checks fail, how long it took)
  and leaves nothing behind but its own record.
* **Guards**: while a crisis is active, firing a template in its scope is refused unless it is
  one of the playbook's holding statements, and firing those or approving anything in scope
  needs the playbook's ``required_role``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from calendar_app import workflow
from calendar_app.crisis import scope
from calendar_app.crisis.models import Activation, HeldOutcome, HeldPublication, Playbook
from calendar_app.models import (
    Channel,
    ChannelStatus,
    ContentItem,
    Membership,
    Publication,
    PublicationStatus,
    ReactiveTemplate,
    Role,
    Workspace,
)
from calendar_app.outbound import events
from calendar_app.outbound.catalogue import CRISIS_ACTIVATED, CRISIS_RESUMED

logger = logging.getLogger("kairos.crisis")
P = PublicationStatus
#: How many publication ids a result or a report lists (the counts are always complete).
LISTED = 100
ACTIVATE_ROLE = Role.APPROVER
RESUME_ROLE = Role.APPROVER
DRILL_ROLE = Role.EDITOR


class CrisisError(Exception):
    """A refusal with a stable ``code``; ``field`` names the input at fault (then it is a 400),
    otherwise it is a conflict with the current state (409), or ``permission_denied`` (403)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message)


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _require(actor: workflow.Actor, role: str, doing: str) -> None:
    if not actor.may(role):
        raise CrisisError(
            "permission_denied",
            f"{_first_upper(doing)} needs the {role} role; {actor.label} has "
            f"{actor.role or 'no role'}.",
        )


# --- reading -----------------------------------------------------------------------------------


def active_activations(workspace_id: int) -> list[Activation]:
    """The workspace's active crises, with what the guards read (three queries when there are
    some, one when there are none)."""
    return list(
        Activation.objects.filter(workspace_id=workspace_id, ended_at__isnull=True, is_drill=False)
        .select_related("playbook")
        .prefetch_related(
            Prefetch("playbook__channels", queryset=Channel.objects.only("pk")),
            Prefetch("playbook__holding_templates", queryset=ReactiveTemplate.objects.only("pk")),
        )
    )


def _overlaps(a: Playbook, b: Playbook) -> bool:
    """Two playbooks may hold the same publications unless they name two different brands."""
    return not (a.brand_id and b.brand_id and a.brand_id != b.brand_id)


def _active_overlapping(playbook: Playbook) -> Activation | None:
    for activation in active_activations(playbook.workspace_id):
        if activation.playbook_id == playbook.pk or _overlaps(activation.playbook, playbook):
            return activation
    return None


def describe(activation: Activation) -> str:
    return (
        f"the crisis “{activation.playbook.name}” (activated "
        f"{activation.started_at:%Y-%m-%d %H:%M} UTC by {activation.activated_by_label})"
    )


# --- activation --------------------------------------------------------------------------------


def _hold(activation: Activation, playbook: Playbook, now: datetime) -> tuple[int, list[int]]:
    """Hold every waiting publication in scope: one UPDATE, one INSERT ... SELECT, one read."""
    in_scope = Publication.objects.filter(scope.publication_filter(playbook))
    held = in_scope.filter(status=P.PENDING).update(
        status=P.HELD, claimed_by=activation.marker, updated_at=now
    )
    if held:
        ops = connection.ops
        table = ops.quote_name(HeldPublication._meta.db_table)
        source = ops.quote_name(Publication._meta.db_table)
        stamp = ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (activation_id, publication_id, held_at, outcome, "
                f"released_by_label, created_at, updated_at) "
                f"SELECT %s, id, %s, %s, '', %s, %s FROM {source} "
                f"WHERE status = %s AND claimed_by = %s",
                [activation.pk, stamp, HeldOutcome.HELD, stamp, stamp, P.HELD, activation.marker],
            )
    busy = list(in_scope.filter(status=P.PUBLISHING).values_list("pk", flat=True)[:LISTED])
    return held, busy


def _fire_holding_statements(
    activation: Activation, playbook: Playbook, actor: workflow.Actor, fire: bool
) -> list[dict[str, Any]]:
    """Fire each holding statement through the ordinary path (or just offer it). The playbook
    was agreed ahead, so it fires on the activator's behalf; a guardrail that says no (not
    approved, a missing value) is reported, and the hold stands."""
    from calendar_app.reactive import FireRefused, fire_template

    done = []
    on_behalf = workflow.Actor(
        role=actor.role,
        label=f"{actor.label} (crisis {activation.pk})"[:200],
        user=actor.user,
        is_system=True,
    )
    templates = playbook.holding_templates.order_by("name", "pk").prefetch_related("channels")
    for template in templates:
        entry: dict[str, Any] = {
            "template": template.pk,
            "name": template.name,
            "channels": sorted(c.pk for c in template.channels.all()),
        }
        if not fire:
            done.append({**entry, "status": "offered"})
            continue
        try:
            fired = fire_template(template, on_behalf, playbook.holding_values or {})
        except FireRefused as exc:
            done.append({**entry, "status": "refused", "code": exc.code, "reason": str(exc)})
        else:
            done.append({**entry, "status": "fired", "fire": fired.pk})
    return done


def _recipients(playbook: Playbook) -> list[str]:
    users = playbook.notify_users.exclude(email="").values_list("email", flat=True)
    return sorted({*users, *(playbook.notify_emails or [])})


def _notify_after_commit(recipients: list[str], subject: str, body: str) -> None:
    def send() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:  # a mail server outage must not undo the crisis
            logger.exception("could not email the crisis notice to %s", recipients)

    if recipients:
        transaction.on_commit(send)


def _payload(activation: Activation, **extra: Any) -> dict[str, Any]:
    playbook = activation.playbook
    return {
        "crisis": {
            "id": activation.pk,
            "playbook": {"id": playbook.pk, "name": playbook.name, "scenario": playbook.scenario},
            "brand": playbook.brand_id,
            "reason": activation.reason,
            "activated_by": activation.activated_by_label,
            "started_at": events.iso(activation.started_at),
            "ends_at": events.iso(activation.ends_at),
            "ended_at": events.iso(activation.ended_at),
            "held": activation.held_count,
            "not_recalled": activation.not_recalled,
        },
        **extra,
    }


def _activate_locked(
    playbook: Playbook, actor: workflow.Actor, reason: str, now: datetime, *, drill: bool = False
) -> Activation:
    Workspace.objects.select_for_update().filter(pk=playbook.workspace_id).first()
    playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
    running = _active_overlapping(playbook)
    if running is not None:
        if running.playbook_id == playbook.pk:
            raise CrisisError(
                "already_active", f"This playbook is already active: {describe(running)}."
            )
        raise CrisisError(
            "crisis_active",
            f"{_first_upper(describe(running))} covers the same posts; resume it first.",
        )
    try:
        with transaction.atomic():
            activation = Activation.objects.create(
                workspace_id=playbook.workspace_id,
                playbook=playbook,
                reason=reason,
                activated_by=actor.user,
                activated_by_label=actor.label[:200],
                started_at=now,
                ends_at=now + playbook.auto_end_after if playbook.auto_end_after else None,
            )
    except IntegrityError:
        raise CrisisError("already_active", "This playbook is already active.") from None
    activation.held_count, activation.not_recalled = _hold(activation, playbook, now)
    activation.holding_statements = _fire_holding_statements(
        activation, playbook, actor, playbook.fire_holding_statement or drill
    )
    activation.notified = _recipients(playbook)
    return activation


def activate(playbook: Playbook, actor: workflow.Actor, reason: str = "") -> Activation:
    """Activate ``playbook`` now; raises :class:`CrisisError` (nothing changed) when refused."""
    _require(actor, ACTIVATE_ROLE, "activating a crisis playbook")
    started = time.perf_counter()
    with transaction.atomic():
        activation = _activate_locked(playbook, actor, reason, timezone.now())
        activation.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        activation.save(
            update_fields=[
                "held_count",
                "not_recalled",
                "holding_statements",
                "notified",
                "duration_ms",
                "updated_at",
            ]
        )
        events.emit(
            activation.workspace_id,
            CRISIS_ACTIVATED,
            _payload(activation, holding_statements=activation.holding_statements),
            activation.playbook.brand_id,
        )
        _notify_after_commit(
            activation.notified,
            f"[Kairos] Crisis: {activation.playbook.name} activated",
            f"{activation.activated_by_label} activated the crisis playbook "
            f"“{activation.playbook.name}” at {activation.started_at:%Y-%m-%d %H:%M} UTC.\n"
            f"Reason: {reason or '(none given)'}\n"
            f"{activation.held_count} scheduled post(s) are held until it is resumed.",
        )
    return activation


# --- resuming ----------------------------------------------------------------------------------


@dataclass
class ResumeResult:
    activation: Activation
    released: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    ended: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "crisis": self.activation.pk,
            "released": len(self.released),
            "skipped": len(self.skipped),
            "released_ids": self.released[:LISTED],
            "skipped_ids": self.skipped[:LISTED],
            "ended": self.ended,
            "still_held": HeldPublication.objects.filter(
                activation=self.activation, outcome=HeldOutcome.HELD
            ).count(),
        }


def sort_by_lateness(
    rows: list[Publication], now: datetime
) -> tuple[list[int], list[int], list[int]]:
    """(release, keep the channel's hold, skip) - with the delivery code's own lateness rule,
    read as if the row were released from a hold (so a retry's delay is no excuse either)."""
    from calendar_app.delivery import held
    from calendar_app.delivery.attempt import lateness_decision

    release, channel_held, skip = [], [], []
    for publication in rows:
        if publication.last_error_code in held.HELD_CODES:
            channel_held.append(publication.pk)  # waits for its channel; judged on reconnect
            continue
        publication.last_error_code = held.RELEASED
        if lateness_decision(publication, now) == "skip":
            skip.append(publication.pk)
        else:
            release.append(publication.pk)
    return release, channel_held, skip


def resume(
    activation: Activation,
    actor: workflow.Actor,
    publication_ids: list[int] | None = None,
) -> ResumeResult:
    """Give held publications back: all of them (which ends the crisis), or those named.

    Naming one that this crisis does not hold is refused, and nothing is released."""
    from calendar_app.delivery import held

    _require(actor, RESUME_ROLE, "resuming a crisis")
    now = timezone.now()
    with transaction.atomic():
        activation = Activation.objects.select_for_update().get(pk=activation.pk)
        if activation.is_drill:
            raise CrisisError("is_drill", "A drill holds nothing, so there is nothing to resume.")
        if activation.ended_at is not None:
            raise CrisisError(
                "not_active",
                f"This crisis ended at {activation.ended_at:%Y-%m-%d %H:%M} UTC; nothing is held.",
            )
        waiting = Publication.objects.filter(
            workspace_id=activation.workspace_id, status=P.HELD, claimed_by=activation.marker
        )
        if publication_ids is not None:
            wanted = set(publication_ids)
            waiting = waiting.filter(pk__in=wanted)
            present = set(waiting.values_list("pk", flat=True))
            missing = sorted(wanted - present)
            if missing:
                raise CrisisError(
                    "not_held",
                    "Not held by this crisis: " + ", ".join(map(str, missing[:LISTED])) + ".",
                    "publications",
                )
        rows = list(
            waiting.select_related("content_item").only(
                "pk",
                "due_at",
                "attempts",
                "last_error_code",
                "content_item__lateness_policy",
                "content_item__lateness_tolerance",
            )
        )
        release, channel_held, skip = sort_by_lateness(rows, now)
        label = actor.label[:200]
        name = activation.playbook.name
        held.apply_release(
            go=release,
            channel_held=channel_held,
            skip=skip,
            released_reason=f"Released when the crisis “{name}” was resumed at "
            f"{now:%Y-%m-%d %H:%M} UTC.",
            skipped_reason=f"Skipped when the crisis “{name}” was resumed: its moment "
            "passed while it was held, and its item's policy skips late posts.",
            now=now,
        )
        records = HeldPublication.objects.filter(activation=activation, outcome=HeldOutcome.HELD)
        done = {"released_at": now, "released_by_label": label, "updated_at": now}
        if skip:
            records.filter(publication_id__in=skip).update(outcome=HeldOutcome.SKIPPED, **done)
        if release or channel_held:
            records.filter(publication_id__in=release + channel_held).update(
                outcome=HeldOutcome.RELEASED, **done
            )
        result = ResumeResult(activation, release + channel_held, skip)
        if publication_ids is None:
            # Cancelled or changed while held: nothing left to release.
            records.update(outcome=HeldOutcome.GONE, **done)
            activation.ended_at = now
            activation.ended_by = actor.user
            activation.ended_by_label = label
            activation.save(update_fields=["ended_at", "ended_by", "ended_by_label", "updated_at"])
            result.ended = True
        for item in ContentItem.objects.filter(publications__pk__in=skip).distinct():
            workflow.settle(item)
        events.emit(
            activation.workspace_id,
            CRISIS_RESUMED,
            _payload(
                activation,
                released=len(result.released),
                skipped=len(result.skipped),
                ended=result.ended,
                resumed_by=label,
            ),
            activation.playbook.brand_id,
        )
        if result.ended:
            _notify_after_commit(
                activation.notified,
                f"[Kairos] Crisis: {name} resumed",
                f"{label} resumed the crisis “{name}” at {now:%Y-%m-%d %H:%M} UTC: "
                f"{len(result.released)} post(s) released, {len(result.skipped)} skipped "
                "because their moment had passed.",
            )
    return result


def end_due_activations(now: datetime | None = None) -> int:
    """Resume every crisis whose automatic end has come (the ``kairos.crisis_auto_end``
    schedule, every minute); each in its own transaction, so one failure stops no other."""
    now = now or timezone.now()
    due = Activation.objects.filter(
        is_drill=False, ended_at__isnull=True, ends_at__isnull=False, ends_at__lte=now
    ).values_list("pk", flat=True)
    ended = 0
    for pk in list(due):
        try:
            resume(Activation(pk=pk), workflow.Actor.system("automatic end"))
            ended += 1
        except CrisisError:
            pass  # resumed by a person meanwhile
        except Exception:
            logger.exception("could not end crisis %s automatically", pk)
    return ended


# --- drills ------------------------------------------------------------------------------------


class _Rollback(Exception):
    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report


def _drill_report(activation: Activation, playbook: Playbook) -> dict[str, Any]:
    """What the (about to be rolled back) activation did, read before it is undone."""
    held_rows = Publication.objects.filter(status=P.HELD, claimed_by=activation.marker)
    sample = list(
        held_rows.order_by("due_at", "pk").values(
            "pk", "due_at", "channel_id", "content_item_id", "content_item__title"
        )[:LISTED]
    )
    fired = [s["fire"] for s in activation.holding_statements if s.get("fire")]
    posts = list(
        ContentItem.objects.filter(fire_id__in=fired).prefetch_related("channels") if fired else []
    )
    would_post = [
        {
            "template": item.fire.template_id,
            "text": item.body,
            "channels": sorted(c.pk for c in item.channels.all()),
        }
        for item in posts
    ]
    if not playbook.fire_holding_statement:
        activation.holding_statements = [
            {k: v for k, v in s.items() if k != "fire"} | {"status": "offered"}
            if s["status"] == "fired"
            else s
            for s in activation.holding_statements
        ]
    checks = _checks(activation, playbook)
    return {
        "would_hold": activation.held_count,
        "would_hold_sample": [
            {
                "publication": row["pk"],
                "content_item": row["content_item_id"],
                "title": row["content_item__title"],
                "channel": row["channel_id"],
                "due_at": events.iso(row["due_at"]),
            }
            for row in sample
        ],
        "not_recalled": activation.not_recalled,
        "holding_statements": activation.holding_statements,
        "would_post": would_post if playbook.fire_holding_statement else [],
        "would_notify": activation.notified,
        "checks": checks,
        "failed_checks": [c["check"] for c in checks if not c["ok"]],
    }


def _checks(activation: Activation, playbook: Playbook) -> list[dict[str, Any]]:
    checks = []

    def check(name: str, ok: bool, reason: str) -> None:
        checks.append({"check": name, "ok": ok, "reason": "" if ok else reason})

    statements = activation.holding_statements
    check(
        "holding_statement",
        bool(statements),
        "No holding statement is prepared: add one reactive template per network.",
    )
    for entry in statements:
        check(
            f"holding_statement:{entry['template']}",
            entry["status"] != "refused",
            f"“{entry['name']}” could not be fired: {entry.get('reason', '')}",
        )
    channel_ids = {c for entry in statements for c in entry["channels"]}
    broken = list(
        Channel.objects.filter(pk__in=channel_ids)
        .exclude(status=ChannelStatus.CONNECTED)
        .values_list("pk", "handle", "status")
    )
    check(
        "holding_channels_connected",
        not broken,
        "Holding statement channels not connected: "
        + ", ".join(f"{handle} ({status})" for _, handle, status in broken),
    )
    deciders = Membership.objects.filter(
        workspace_id=playbook.workspace_id,
        role__in=[r for r in Role.values if Role.at_least(r, playbook.required_role)],
    ).count()
    check(
        "required_role_held",
        deciders > 0,
        f"Nobody in the workspace has the {playbook.required_role} role the crisis requires.",
    )
    check("notify", bool(activation.notified), "Nobody is notified: add members or addresses.")
    check(
        "nothing_in_flight",
        not activation.not_recalled,
        f"{len(activation.not_recalled)} publication(s) were being sent and could not be held.",
    )
    return checks


def drill(playbook: Playbook, actor: workflow.Actor, reason: str = "") -> Activation:
    """Rehearse ``playbook``: run the real activation, report, roll it back; keep the report.

    Refused during a real crisis that covers the same posts (a drill would only hide it)."""
    _require(actor, DRILL_ROLE, "running a crisis drill")
    running = _active_overlapping(playbook)
    if running is not None:
        raise CrisisError(
            "crisis_active",
            f"No drill during a real crisis: {describe(running)} is active.",
        )
    now = timezone.now()
    started = time.perf_counter()
    try:
        with transaction.atomic():
            # Every holding statement is fired in the rehearsal, so one that could not be is
            # caught; those the playbook only offers are reported as offered.
            rehearsal = _activate_locked(playbook, actor, reason, now, drill=True)
            elapsed = round((time.perf_counter() - started) * 1000, 2)
            raise _Rollback({**_drill_report(rehearsal, playbook), "activation_ms": elapsed})
    except _Rollback as done:
        report = done.report
    return Activation.objects.create(
        workspace_id=playbook.workspace_id,
        playbook=playbook,
        is_drill=True,
        reason=reason,
        activated_by=actor.user,
        activated_by_label=actor.label[:200],
        started_at=now,
        ended_at=timezone.now(),
        ended_by=actor.user,
        ended_by_label=actor.label[:200],
        held_count=report["would_hold"],
        not_recalled=report["not_recalled"],
        holding_statements=report["holding_statements"],
        notified=report["would_notify"],
        duration_ms=report["activation_ms"],
        report=report,
    )


# --- guards used by firing, approval and scheduling ----------------------------------------------


def check_fire(template: ReactiveTemplate, actor: workflow.Actor) -> None:
    """Called by :func:`calendar_app.reactive.fire_template` under its lock; raises
    ``FireRefused`` when an active crisis covers the template."""
    from calendar_app.reactive import FireRefused

    for activation in active_activations(template.workspace_id):
        playbook = activation.playbook
        if not scope.covers_template(playbook, template):
            continue
        holding = {t.pk for t in playbook.holding_templates.all()}
        if template.pk not in holding:
            raise FireRefused(
                "crisis_active",
                f"{_first_upper(describe(activation))} covers this template: nothing but its "
                "holding statements can be fired until it is resumed.",
            )
        if not actor.may(playbook.required_role):
            raise FireRefused(
                "permission_denied",
                f"During {describe(activation)}, firing its holding statement needs the "
                f"{playbook.required_role} role; {actor.label} has {actor.role or 'no role'}.",
            )


def check_approval(item: ContentItem, actor: workflow.Actor, action: str = "approve") -> None:
    """Called by :func:`calendar_app.workflow.approve`: the stricter role while a crisis covers
    the item."""
    for activation in active_activations(item.workspace_id):
        playbook = activation.playbook
        if scope.covers_item(playbook, item) and not actor.may(playbook.required_role):
            raise workflow.WorkflowError(
                action=action,
                item=item,
                code="permission_denied",
                reason=f"during {describe(activation)}, approving needs the "
                f"{playbook.required_role} role; {actor.label} has {actor.role or 'no role'}.",
            )


def check_retry(publication: Publication, item: ContentItem) -> None:
    """Called by :func:`calendar_app.delivery.actions.retry_publication`: sending a post again
    into an active crisis's scope is refused until the crisis is resumed."""
    from calendar_app.delivery.actions import DeliveryActionError

    for activation in active_activations(item.workspace_id):
        if scope.covers_publication(activation.playbook, publication, item):
            raise DeliveryActionError(
                "crisis_active",
                f"{_first_upper(describe(activation))} covers this post: retry it once the "
                "crisis is resumed.",
            )


def hold_new(item: ContentItem, created: list[Publication]) -> int:
    """Publications created while a crisis covers them are held at once (one query when no
    crisis is active). A fired holding statement of that crisis is what should go out: never
    held."""
    if not created:
        return 0
    active = active_activations(item.workspace_id)
    if not active:
        return 0
    template_id = item.fire.template_id if item.fire_id else None
    now = timezone.now()
    count = 0
    for activation in active:
        playbook = activation.playbook
        if template_id in {t.pk for t in playbook.holding_templates.all()}:
            continue
        ids = [
            p.pk
            for p in created
            if p.status == P.PENDING and scope.covers_publication(playbook, p, item)
        ]
        if not ids:
            continue
        moved = Publication.objects.filter(pk__in=ids, status=P.PENDING).update(
            status=P.HELD, claimed_by=activation.marker, updated_at=now
        )
        HeldPublication.objects.bulk_create(
            [HeldPublication(activation=activation, publication_id=pk, held_at=now) for pk in ids],
            ignore_conflicts=True,
        )
        Activation.objects.filter(pk=activation.pk).update(held_count=F("held_count") + moved)
        for publication in created:
            if publication.pk in ids:
                publication.status = P.HELD
        count += moved
    return count
