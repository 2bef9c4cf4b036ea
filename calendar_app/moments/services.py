"""Firing from a moment, the live view of its window, and the report after it.

* **Fire**: only an armed template, only while the window is open, through the ordinary firing
  path (:func:`calendar_app.reactive.fire_template`: guardrails, crisis guards, approval). That
  path already renders the posts, creates the publications due now and wakes the workers after
  commit, so a fire goes straight to the queue with nothing left to prepare.
* **Live**: the window's fires (of the armed templates), each publication with its status and
  its fire-to-live time, failures, and each post's first engagement as the metrics collector
  brings it - in a fixed number of queries whatever the number of fires.
* **Report**: fired count, fire-to-live latency per network (median, p95), engagement per
  template (the sum of each post's latest snapshot).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from calendar_app import workflow
from calendar_app.listening import services as listening
from calendar_app.models import Fire, MetricSnapshot, Publication, PublicationStatus
from calendar_app.moments.models import Moment
from calendar_app.outbound import events
from calendar_app.outbound.catalogue import MOMENT_ENDED, MOMENT_STARTED

FIRE_ROLE = "approver"
ENGAGEMENT = ("impressions", "clicks", "reactions", "shares", "replies", "conversions")
FAILED = {
    PublicationStatus.FAILED,
    PublicationStatus.UNCONFIRMED,
}


class MomentError(Exception):
    """A refusal with a stable ``code``; ``field`` names the input at fault (then it is a 400),
    otherwise it conflicts with the moment's state (409), or ``permission_denied`` (403)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message)


def fire(
    moment: Moment,
    template_id: int,
    actor: workflow.Actor,
    values: Mapping[str, object],
    *,
    channel_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> Fire:
    """Fire one of the moment's armed templates now; :class:`MomentError` when refused."""
    from calendar_app.reactive import FireRefused, fire_template

    now = now or timezone.now()
    template = moment.templates.filter(pk=template_id).first()
    if template is None:
        raise MomentError(
            "not_armed",
            f"Template {template_id} is not armed for the moment “{moment.name}”: arm it first.",
            "template",
        )
    if not moment.starts_at <= now < moment.ends_at:
        raise MomentError(
            "outside_window",
            f"The moment's window is {moment.starts_at:%Y-%m-%d %H:%M} to "
            f"{moment.ends_at:%H:%M} UTC; fire the template directly outside it.",
        )
    try:
        return fire_template(template, actor, values, channel_ids=channel_ids, now=now)
    except FireRefused as exc:
        raise MomentError(exc.code, str(exc), exc.field) from None


def window_fires(moment: Moment) -> QuerySet:
    """The fires of the moment's armed templates inside its window."""
    return Fire.objects.filter(
        workspace_id=moment.workspace_id,
        template__moments=moment,
        fired_at__gte=moment.starts_at,
        fired_at__lt=moment.ends_at,
    )


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def _engagement(snapshot: MetricSnapshot | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {"collected_at": events.iso(snapshot.collected_at)} | {
        name: getattr(snapshot, name) for name in ENGAGEMENT
    }


def _rows(moment: Moment, since: datetime | None = None) -> tuple[list, list, dict, dict]:
    """(fires, publications, first snapshot, latest snapshot) in three queries."""
    fires = list(
        window_fires(moment)
        .select_related("template")
        .order_by("fired_at", "pk")
        .only("pk", "fired_at", "fired_by_label", "values", "template__name", "template_id")
    )
    publications = Publication.objects.filter(
        workspace_id=moment.workspace_id, content_item__fire__in=[f.pk for f in fires]
    ).select_related("channel", "content_item")
    if since is not None:  # changed, or with new metrics (a first engagement arriving)
        publications = publications.filter(
            Q(updated_at__gt=since) | Q(snapshots__created_at__gt=since)
        ).distinct()
    publications = list(publications.order_by("pk")) if fires else []
    first: dict[int, MetricSnapshot] = {}
    latest: dict[int, MetricSnapshot] = {}
    if publications:
        for snapshot in MetricSnapshot.objects.filter(
            publication_id__in=[p.pk for p in publications]
        ).order_by("publication_id", "collected_at", "pk"):
            first.setdefault(snapshot.publication_id, snapshot)
            latest[snapshot.publication_id] = snapshot
    return fires, publications, first, latest


def live(moment: Moment, since: datetime | None = None) -> dict[str, Any]:
    """What the live page shows: fires, publications with status and fire-to-live time,
    failures, first engagement. ``since`` (the previous answer's ``cursor``) limits
    publications to those changed since; fires are always all listed (a window holds few)."""
    now = timezone.now()
    fires, publications, first, _ = _rows(moment, since)
    fired_at = {f.pk: f.fired_at for f in fires}
    rows = []
    for p in publications:
        at = fired_at.get(p.content_item.fire_id)
        rows.append(
            {
                "id": p.pk,
                "fire": p.content_item.fire_id,
                "channel": p.channel_id,
                "network": p.channel.network,
                "handle": p.channel.handle,
                "status": p.status,
                "external_url": p.external_url,
                "published_at": events.iso(p.published_at),
                "fire_to_live_s": _seconds(at, p.published_at),
                "error": p.last_error_reason if p.status in FAILED else "",
                "first_engagement": _engagement(first.get(p.pk)),
            }
        )
    return {
        "moment": moment.pk,
        "open": moment.starts_at <= now < moment.ends_at,
        "cursor": events.iso(now),
        "fires": [
            {
                "id": f.pk,
                "template": f.template_id,
                "template_name": f.template.name,
                "fired_at": events.iso(f.fired_at),
                "fired_by": f.fired_by_label,
                "values": f.values,
            }
            for f in fires
        ],
        "publications": rows,
        "failures": [r for r in rows if r["status"] in FAILED],
        # What people say around the moment (listening): from the window's start, until now.
        "conversation": listening.conversation(moment.brand_id, moment.starts_at, now),
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)


def report(moment: Moment) -> dict[str, Any]:
    """After the window: fired count, fire-to-live per network, engagement per template."""
    fires, publications, _, latest = _rows(moment)
    fired_at = {f.pk: f.fired_at for f in fires}
    latency: dict[str, list[float]] = defaultdict(list)
    per_template: dict[int, dict[str, Any]] = {}
    template_of = {f.pk: f for f in fires}
    for f in fires:
        entry = per_template.setdefault(
            f.template_id,
            {"template": f.template_id, "name": f.template.name, "fires": 0, "posts": 0}
            | dict.fromkeys(ENGAGEMENT, 0),
        )
        entry["fires"] += 1
    for p in publications:
        seconds = _seconds(fired_at.get(p.content_item.fire_id), p.published_at)
        if seconds is not None:
            latency[p.channel.network].append(seconds)
        entry = per_template[template_of[p.content_item.fire_id].template_id]
        if p.status == PublicationStatus.PUBLISHED:
            entry["posts"] += 1
        snapshot = latest.get(p.pk)
        for name in ENGAGEMENT:
            entry[name] += getattr(snapshot, name, None) or 0
    return {
        "moment": moment.pk,
        "window": {
            "starts_at": events.iso(moment.starts_at),
            "ends_at": events.iso(moment.ends_at),
        },
        "fired": len(fires),
        "published": sum(1 for p in publications if p.status == PublicationStatus.PUBLISHED),
        "failed": sum(1 for p in publications if p.status in FAILED),
        "latency": {
            network: {
                "posts": len(values),
                "median_s": round(median(values), 3),
                "p95_s": _percentile(values, 0.95),
            }
            for network, values in sorted(latency.items())
        },
        "templates": sorted(per_template.values(), key=lambda e: (e["name"], e["template"])),
    }


#: Window events are not sent for a moment that closed longer ago than this (one created late).
LATE_ENOUGH = timedelta(hours=1)


def _moment_payload(moment: Moment) -> dict[str, Any]:
    return {
        "moment": {
            "id": moment.pk,
            "name": moment.name,
            "brand": moment.brand_id,
            "starts_at": events.iso(moment.starts_at),
            "ends_at": events.iso(moment.ends_at),
        }
    }


def _window_event(pk: int, mark: str, now: datetime) -> bool:
    """Send ``moment.started`` or ``moment.ended`` once (the mark is recorded with it)."""
    with transaction.atomic():
        moment = Moment.objects.select_for_update().get(pk=pk)
        if mark in (moment.checks_done or []):
            return False
        moment.checks_done = sorted({*(moment.checks_done or []), mark})
        moment.save(update_fields=["checks_done", "updated_at"])
        if mark == "started":
            extra = {"readiness_ok": moment.readiness_ok}
            events.emit(
                moment.workspace_id,
                MOMENT_STARTED,
                _moment_payload(moment) | extra,
                moment.brand_id,
            )
        else:
            events.emit(
                moment.workspace_id,
                MOMENT_ENDED,
                _moment_payload(moment) | {"report": report(moment)},
                moment.brand_id,
            )
    return True


def tick(now: datetime | None = None) -> dict[str, int]:
    """The ``kairos.moment_readiness`` schedule, every minute: the readiness checks due, then
    ``moment.started`` when a window opens and ``moment.ended`` (with the report) when it
    closes - each once per moment; and the holds of lower-priority posts
    (:mod:`calendar_app.moments.holds`): taken while a window is open, released once it closed."""
    from calendar_app.moments import holds
    from calendar_app.moments.readiness import run_due_checks

    now = now or timezone.now()
    done = {"checks": run_due_checks(now), "started": 0, "ended": 0}
    done["held"] = holds.hold_open(now)
    done["released"] = holds.release_due(now)
    opened = Moment.objects.filter(starts_at__lte=now, ends_at__gt=now).values_list(
        "pk", "checks_done"
    )
    closed = Moment.objects.filter(ends_at__lte=now, ends_at__gt=now - LATE_ENOUGH).values_list(
        "pk", "checks_done"
    )
    for rows, mark in ((opened, "started"), (closed, "ended")):
        for pk, marks in rows:
            if mark not in (marks or []) and _window_event(pk, mark, now):
                done[mark] += 1
    return done
