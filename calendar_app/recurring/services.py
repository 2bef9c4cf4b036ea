"""Recurring content and the evergreen queue: expand, copy the approved words, edit all, refill.

**Bounds.** A series rule is data a user typed, so it is held to the event rules of
:mod:`calendar_app.recurrence` (:func:`~calendar_app.recurrence.event_problems`: frequencies,
``INTERVAL``, ``BY…`` lists, years) plus two of its own: it must end (``COUNT`` or ``UNTIL``:
content is planned, not perpetual) and it yields at most :data:`MAX_OCCURRENCES` posts,
counted with an :class:`~calendar_app.recurrence.ExpansionBudget`.

**Approval.** A series repeats the words of an approved item, so each occurrence is created
with an approval that names the source's approval (who, when, which version) and is scheduled
through :func:`calendar_app.workflow.schedule` (deliverability, crises and the audit trail as
always). Editing approved words sends an occurrence back to review, as any edit does.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from calendar_app import recurrence, workflow
from calendar_app.models import (
    Approval,
    ApprovalDecision,
    ContentItem,
    ContentStatus,
)
from calendar_app.recurring.models import ContentSeries, EvergreenItem, SeriesOccurrence
from calendar_app.slots import services as slots
from calendar_app.slots.models import QueueEntry
from calendar_app.workflow import Actor

#: Posts one series may plan: a daily post for a year and a bit.
MAX_OCCURRENCES = 400
MAX_EXDATES = 400
#: Fields copied from the source into each occurrence (and by "edit all").
COPIED = (
    "title",
    "body",
    "links",
    "media",
    "thread",
    "cta_text",
    "cta_url",
    "cta_button",
    "without_cta",
    "lateness_policy",
    "lateness_tolerance",
    "event_id",
)
#: What "edit all" may change.
EDITABLE = ("title", "body", "links", "media", "thread", "cta_text", "cta_url", "cta_button")


class SeriesError(Exception):
    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class Planned:
    instants: list[datetime]
    problems: dict[str, list[str]]


def _exdate_instants(exdates: Iterable[str], time_zone: str) -> tuple[set[datetime], list[str]]:
    tz = zoneinfo.ZoneInfo(time_zone)
    found, problems = set(), []
    for text in exdates:
        try:
            value = datetime.fromisoformat(str(text))
        except ValueError:
            problems.append(f"“{str(text)[:40]}” is not a date and time (YYYY-MM-DDTHH:MM).")
            continue
        if value.tzinfo is None:
            value = recurrence.wall_clock_to_utc(value, tz)
        found.add(value.astimezone(UTC))
    return found, problems


def plan(rule: str, starts_at: datetime, time_zone: str, exdates: Iterable[str] = ()) -> Planned:
    """The occurrences of a series (UTC, in order, ``EXDATE``\\ s removed), or field problems."""
    problems = recurrence.event_problems(
        rule_text=rule, starts_at=starts_at, ends_at=starts_at, time_zone=time_zone
    )
    problems = {("starts_at" if k == "ends_at" else k): v for k, v in problems.items()}
    parts = rule.upper()
    if rule and "COUNT=" not in parts and "UNTIL=" not in parts and "rrule" not in problems:
        problems["rrule"] = ["A series must end: give COUNT or UNTIL."]
    exdates = list(exdates)
    if len(exdates) > MAX_EXDATES:
        problems["exdates"] = [f"At most {MAX_EXDATES} dates."]
    skipped, bad = _exdate_instants(exdates[:MAX_EXDATES], time_zone)
    if bad:
        problems["exdates"] = bad
    if problems:
        return Planned([], problems)
    budget = recurrence.ExpansionBudget(max_occurrences=MAX_OCCURRENCES + len(skipped) + 1)
    instants = [
        o.starts_at
        for o in recurrence.occurrences(
            starts_at=starts_at,
            ends_at=starts_at,
            time_zone=time_zone,
            rule_text=rule,
            window_start=starts_at,
            window_end=recurrence.EXPANSION_END,
            limit=MAX_OCCURRENCES + len(skipped) + 1,
            budget=budget,
        )
        if o.starts_at not in skipped
    ]
    if len(instants) > MAX_OCCURRENCES or budget.exhausted:
        return Planned(
            [], {"rrule": [f"A series plans at most {MAX_OCCURRENCES} posts; shorten the rule."]}
        )
    if not instants:
        return Planned([], {"rrule": ["This rule and its EXDATEs leave no occurrence."]})
    return Planned(instants, {})


def copy_item(source: ContentItem, actor: Actor, note: str) -> ContentItem:
    """A new item with the source's words and channels, approved by the source's approval."""
    approval = workflow.current_approval(source)
    if approval is None:
        raise SeriesError(
            f"“{source.title}” has no approval for its current version: approve it first.",
            code="not_approved",
            field="source",
        )
    copy = ContentItem(
        workspace_id=source.workspace_id,
        brand_id=source.brand_id,
        status=ContentStatus.APPROVED,
        created_by=actor.user,
        last_edited_by=source.last_edited_by,
        **{name: getattr(source, name) for name in COPIED},
    )
    copy.save()
    copy.channels.set(source.channels.all())
    Approval.objects.create(
        content_item=copy,
        version=copy.version,
        content_hash=copy.content_hash(),
        decision=ApprovalDecision.APPROVED,
        decided_by=approval.decided_by,
        decided_by_label=approval.decided_by_label,
        via_token=approval.via_token,
        note=f"{note} Covered by the approval of item #{source.pk} v{approval.version} "
        f"({approval.created_at:%Y-%m-%d %H:%M} UTC).",
    )
    return copy


@transaction.atomic
def create_series(
    source: ContentItem, actor: Actor, *, rrule: str, starts_at: datetime, exdates: list[str]
) -> ContentSeries:
    """Repeat an approved item: one scheduled occurrence per date of the rule still to come."""
    if not actor.may(workflow.RULES["schedule"].role):
        raise SeriesError("Planning a series needs the editor role.", code="permission_denied")
    if source.status != ContentStatus.APPROVED:
        raise SeriesError(
            f"Only an approved item can repeat; “{source.title}” is "
            f"{source.get_status_display().lower()}.",
            code="not_approved",
            field="source",
        )
    if hasattr(source, "occurrence_of"):
        raise SeriesError("An occurrence cannot repeat itself.", code="invalid", field="source")
    planned = plan(rrule, starts_at, source.brand.time_zone, exdates)
    if planned.problems:
        raise SeriesError(
            next(iter(planned.problems.values()))[0],
            code="invalid_rule",
            field=next(iter(planned.problems)),
        )
    series = ContentSeries.objects.create(
        workspace_id=source.workspace_id,
        source=source,
        rrule=rrule,
        starts_at=starts_at,
        exdates=exdates,
    )
    now = timezone.now()
    for at in planned.instants:
        if at <= now:
            continue
        occurrence = copy_item(source, actor, "An occurrence of a series.")
        workflow.schedule(occurrence, actor, when=at, note=f"Occurrence of series #{series.pk}.")
        SeriesOccurrence.objects.create(
            workspace_id=source.workspace_id,
            series=series,
            content_item=occurrence,
            occurs_at=at,
        )
    return series


@transaction.atomic
def edit_all(series: ContentSeries, actor: Actor, changes: dict[str, Any]) -> list[int]:
    """Apply ``changes`` to the source and to every occurrence still to come that was not
    edited on its own (its words still the source's). Approved words changed go back to
    review, as any edit does. Returns the occurrence items changed."""
    source = series.source
    before = source.content_hash()
    workflow.edit(source, actor, changes, note="Edit of every occurrence of the series.")
    changed = []
    waiting = series.occurrences.filter(
        content_item__status__in=[
            ContentStatus.DRAFT,
            ContentStatus.IN_REVIEW,
            ContentStatus.APPROVED,
            ContentStatus.SCHEDULED,
        ],
        occurs_at__gt=timezone.now(),
    ).select_related("content_item")
    for occurrence in waiting:
        item = occurrence.content_item
        if item.content_hash() != before:
            continue  # edited on its own: "edit one" wins
        workflow.edit(
            item, actor, changes, note=f"Edit of every occurrence of series #{series.pk}."
        )
        changed.append(item.pk)
    return changed


@transaction.atomic
def stop_series(series: ContentSeries, actor: Actor) -> int:
    """Cancel every occurrence still to come; what went out stays. Returns how many."""
    cancelled = 0
    for occurrence in series.occurrences.filter(
        content_item__status__in=[
            ContentStatus.DRAFT,
            ContentStatus.IN_REVIEW,
            ContentStatus.APPROVED,
            ContentStatus.SCHEDULED,
        ]
    ).select_related("content_item"):
        workflow.cancel(occurrence.content_item, actor, note=f"Series #{series.pk} stopped.")
        cancelled += 1
    return cancelled


@transaction.atomic
def refill_evergreen(
    brand: Any, actor: Actor, *, horizon: timedelta = timedelta(days=14)
) -> list[tuple[int, datetime]]:
    """Put evergreen items of ``brand`` in its free slots of the next ``horizon``, each at least
    its ``min_gap`` after its previous repeat, the longest-waiting first. Returns (new item,
    instant) for each repeat planned."""
    now = timezone.now()
    end = now + horizon
    planned: list[tuple[int, datetime]] = []
    entries = list(
        EvergreenItem.objects.select_for_update()
        .filter(content_item__brand=brand, active=True)
        .select_related("content_item")
        .order_by("last_planned_at", "pk")
    )
    for entry in entries:
        source = entry.content_item
        if workflow.current_approval(source) is None:
            continue  # its words changed since approval: wait for a new one
        after = now
        if entry.last_planned_at is not None:
            after = max(now, entry.last_planned_at + entry.min_gap)
        if after >= end:
            continue
        free = slots.next_free_slot(
            brand,
            channel_ids=list(source.channels.values_list("pk", flat=True)),
            after=after,
            horizon=end - after,
        )
        if free is None:
            continue
        repeat = copy_item(source, actor, "An evergreen repeat.")
        workflow.schedule(repeat, actor, when=free.at, note=f"Evergreen repeat of #{source.pk}.")
        QueueEntry.objects.create(
            workspace_id=source.workspace_id,
            content_item=repeat,
            slot=free.slot,
            planned_at=free.at,
        )
        entry.last_planned_at = free.at
        entry.repeats += 1
        entry.save(update_fields=["last_planned_at", "repeats", "updated_at"])
        planned.append((repeat.pk, free.at))
    return planned
