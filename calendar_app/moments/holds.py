"""A moment holds the brand's lower-priority scheduled posts during its window, and releases
them when the window closes, so a planned promotion does not step on the live conversation.

* **Hold** (at the window's opening by the ``kairos.moment_readiness`` tick, every minute while
  it is open, on demand, and at once for a post scheduled into an open window): the brand's
  publications waiting in ``pending``, due inside the window, whose item's priority is below
  the moment's ``hold_below`` threshold, move to ``held`` with ``claimed_by = "moment:<id>"``
  - the same state a crisis uses, so workers, ``/health/`` and rescheduling already treat them
  right. Fired reactive posts are the live conversation itself: never held. Each held row is
  recorded (:class:`~calendar_app.moments.models.MomentHold`).
* **Release** (when the window closes, by the tick, or on demand): each held row follows its
  item's lateness policy, read exactly as a crisis resume reads it (a post whose moment passed
  is skipped, not sent late). A row that an active crisis covers is *not* released: it is
  handed to that crisis (its marker and hold record), so a moment never lets out what a crisis
  holds. A crisis does not take rows a moment holds while the window is open; they are judged
  when it closes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import ContentItem, Priority, Publication, PublicationStatus
from calendar_app.moments.models import Moment, MomentHold, MomentHoldOutcome

P = PublicationStatus
LISTED = 100


class HoldError(Exception):
    """A refusal with a stable ``code`` (409 in the API)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _waiting(moment: Moment) -> QuerySet:
    """The brand's waiting publications the moment should hold (whatever their hold state)."""
    return Publication.objects.filter(
        workspace_id=moment.workspace_id,
        content_item__brand_id=moment.brand_id,
        content_item__priority__in=Priority.below(moment.hold_below),
        content_item__fire__isnull=True,
        due_at__gte=moment.starts_at,
        due_at__lt=moment.ends_at,
    )


def _record(moment: Moment, now: datetime) -> int:
    """Hold records for the rows the moment now holds and has not recorded (two queries)."""
    ids = list(
        Publication.objects.filter(status=P.HELD, claimed_by=moment.marker)
        .exclude(moment_holds__moment=moment)
        .values_list("pk", flat=True)
    )
    MomentHold.objects.bulk_create(
        [MomentHold(moment=moment, publication_id=pk, held_at=now) for pk in ids],
        ignore_conflicts=True,
    )
    return len(ids)


def hold(moment: Moment, now: datetime | None = None, *, on_demand: bool = False) -> int:
    """Hold what the moment should hold now; returns how many rows were newly held.

    Idempotent (the tick calls it every minute while the window is open). ``on_demand``
    refuses, with the reason, what the tick silently skips.
    """
    now = now or timezone.now()
    problem = None
    if not moment.hold_below:
        problem = HoldError("no_threshold", "This moment holds nothing: set hold_below first.")
    elif moment.released_at is not None:
        problem = HoldError(
            "already_released",
            f"This moment released its holds at {moment.released_at:%Y-%m-%d %H:%M} UTC.",
        )
    elif not moment.starts_at <= now < moment.ends_at:
        problem = HoldError(
            "outside_window",
            "Posts are held only while the window is open "
            f"({moment.starts_at:%Y-%m-%d %H:%M} to {moment.ends_at:%Y-%m-%d %H:%M} UTC).",
        )
    if problem is not None:
        if on_demand:
            raise problem
        return 0
    with transaction.atomic():
        locked = Moment.objects.select_for_update().get(pk=moment.pk)
        if locked.released_at is not None:
            return 0
        moved = (
            _waiting(locked)
            .filter(status=P.PENDING)
            .update(status=P.HELD, claimed_by=locked.marker, updated_at=now)
        )
        if moved:
            _record(locked, now)
        if locked.held_at is None:
            locked.held_at = now
            locked.save(update_fields=["held_at", "updated_at"])
        moment.held_at = locked.held_at
    return moved


def hold_new(item: ContentItem, created: list[Publication]) -> int:
    """Publications just scheduled into an open window that holds their priority are held at
    once (called by scheduling, after a crisis had its say; one query when no window is open)."""
    waiting = [p for p in created if p.status == P.PENDING]
    if not waiting or item.fire_id:
        return 0
    now = timezone.now()
    moments = Moment.objects.filter(
        brand_id=item.brand_id,
        starts_at__lte=now,
        ends_at__gt=now,
        released_at__isnull=True,
        hold_below__in=[p for p in Priority.values if item.priority in Priority.below(p)],
    )
    count = 0
    for moment in moments:
        ids = [p.pk for p in waiting if moment.starts_at <= p.due_at < moment.ends_at]
        if not ids:
            continue
        moved = Publication.objects.filter(pk__in=ids, status=P.PENDING).update(
            status=P.HELD, claimed_by=moment.marker, updated_at=now
        )
        _record(moment, now)
        Moment.objects.filter(pk=moment.pk, held_at__isnull=True).update(held_at=now)
        for publication in waiting:
            if publication.pk in ids:
                publication.status = P.HELD
        waiting = [p for p in waiting if p.pk not in ids]
        count += moved
    return count


@dataclass
class ReleaseResult:
    moment: Moment
    released: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    to_crisis: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "moment": self.moment.pk,
            "released": len(self.released),
            "skipped": len(self.skipped),
            "handed_to_crisis": len(self.to_crisis),
            "released_ids": self.released[:LISTED],
            "skipped_ids": self.skipped[:LISTED],
            "handed_to_crisis_ids": self.to_crisis[:LISTED],
            "released_at": self.moment.released_at,
        }


def _hand_to_crises(moment: Moment, ids: list[int], now: datetime) -> list[int]:
    """Rows an active crisis covers move to that crisis's hold (still held); returns them."""
    from calendar_app.crisis import scope
    from calendar_app.crisis.models import Activation, HeldPublication
    from calendar_app.crisis.services import active_activations

    handed: list[int] = []
    for activation in active_activations(moment.workspace_id):
        covered = list(
            Publication.objects.filter(scope.publication_filter(activation.playbook))
            .filter(pk__in=[pk for pk in ids if pk not in handed])
            .values_list("pk", flat=True)
        )
        if not covered:
            continue
        Publication.objects.filter(pk__in=covered).update(
            claimed_by=activation.marker, updated_at=now
        )
        HeldPublication.objects.bulk_create(
            [
                HeldPublication(activation=activation, publication_id=pk, held_at=now)
                for pk in covered
            ],
            ignore_conflicts=True,
        )
        Activation.objects.filter(pk=activation.pk).update(
            held_count=F("held_count") + len(covered)
        )
        handed += covered
    return handed


def release(moment: Moment, actor: workflow.Actor, now: datetime | None = None) -> ReleaseResult:
    """Give back everything the moment holds (once): each row goes out or follows its lateness
    policy; a row an active crisis covers stays held, by the crisis.

    :raises HoldError: ``already_released``, or ``nothing_held`` for a moment that never held.
    """
    from calendar_app.crisis.services import sort_by_lateness
    from calendar_app.delivery import held

    now = now or timezone.now()
    with transaction.atomic():
        moment = Moment.objects.select_for_update().get(pk=moment.pk)
        if moment.released_at is not None:
            raise HoldError(
                "already_released",
                f"Already released at {moment.released_at:%Y-%m-%d %H:%M} UTC by "
                f"{moment.released_by_label}.",
            )
        if moment.held_at is None:
            raise HoldError("nothing_held", "This moment has held nothing, so nothing to release.")
        rows = list(
            Publication.objects.filter(status=P.HELD, claimed_by=moment.marker)
            .select_related("content_item")
            .only(
                "pk",
                "due_at",
                "attempts",
                "last_error_code",
                "content_item__lateness_policy",
                "content_item__lateness_tolerance",
            )
        )
        to_crisis = _hand_to_crises(moment, [r.pk for r in rows], now)
        rows = [r for r in rows if r.pk not in to_crisis]
        go, channel_held, skip = sort_by_lateness(rows, now)
        label = actor.label[:200]
        held.apply_release(
            go=go,
            channel_held=channel_held,
            skip=skip,
            released_reason=f"Released when the moment “{moment.name}” closed at "
            f"{now:%Y-%m-%d %H:%M} UTC.",
            skipped_reason=f"Skipped when the moment “{moment.name}” released it: its "
            "time passed while it was held, and its item's policy skips late posts.",
            now=now,
        )
        records = MomentHold.objects.filter(moment=moment, outcome=MomentHoldOutcome.HELD)
        done = {"released_at": now, "released_by_label": label, "updated_at": now}
        for ids, outcome in (
            (go + channel_held, MomentHoldOutcome.RELEASED),
            (skip, MomentHoldOutcome.SKIPPED),
            (to_crisis, MomentHoldOutcome.CRISIS),
        ):
            if ids:
                records.filter(publication_id__in=ids).update(outcome=outcome, **done)
        records.update(outcome=MomentHoldOutcome.GONE, **done)  # cancelled or moved away
        moment.released_at, moment.released_by_label = now, label
        moment.save(update_fields=["released_at", "released_by_label", "updated_at"])
        for item in ContentItem.objects.filter(publications__pk__in=skip).distinct():
            workflow.settle(item)
    return ReleaseResult(moment, go + channel_held, skip, to_crisis)


def release_due(now: datetime | None = None) -> int:
    """Release every moment whose window has closed and still holds (called by the tick; each
    in its own transaction, so one failure stops no other)."""
    import logging

    now = now or timezone.now()
    due = Moment.objects.filter(
        ends_at__lte=now, held_at__isnull=False, released_at__isnull=True
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due):
        try:
            release(Moment(pk=pk), workflow.Actor.system("moment window closed"), now)
            count += 1
        except HoldError:
            pass  # released by a person meanwhile
        except Exception:
            logging.getLogger("kairos.moments").exception("could not release moment %s", pk)
    return count


def hold_open(now: datetime | None = None) -> int:
    """Hold for every open window with a threshold (called by the tick, every minute)."""
    now = now or timezone.now()
    count = 0
    for moment in Moment.objects.filter(
        starts_at__lte=now, ends_at__gt=now, released_at__isnull=True
    ).exclude(hold_below=""):
        count += hold(moment, now)
    return count


def holds_of(moment: Moment) -> list[dict[str, Any]]:
    """What the moment held and what became of each (for the API and the admin)."""
    rows = MomentHold.objects.filter(moment=moment).select_related(
        "publication__content_item", "publication__channel"
    )
    return [
        {
            "publication": h.publication_id,
            "content_item": h.publication.content_item_id,
            "title": h.publication.content_item.title,
            "priority": h.publication.content_item.priority,
            "channel": h.publication.channel_id,
            "due_at": h.publication.due_at,
            "held_at": h.held_at,
            "outcome": h.outcome,
            "released_at": h.released_at,
            "released_by": h.released_by_label,
        }
        for h in rows.order_by("publication__due_at", "publication_id")
    ]


def _deleting(sender: type, instance: Moment, **kwargs: Any) -> None:
    """A moment deleted while it holds posts gives them back first (they would wait for ever)."""
    if instance.held_at is not None and instance.released_at is None:
        with contextlib.suppress(HoldError):  # released meanwhile
            release(instance, workflow.Actor.system("moment deleted"))


def connect() -> None:
    """Called by :class:`calendar_app.apps.CalendarAppConfig` at start-up."""
    from django.db.models.signals import pre_delete

    pre_delete.connect(_deleting, sender=Moment, dispatch_uid="kairos_moment_release_on_delete")
