"""Surges on a watch, against that watch's own baseline, and the alert they raise.

For each active watch, every few minutes: the messages matching it in the last window
(``window_minutes``) are compared with the mean per window over the week before. Two reasons
raise an alert:

* **volume** - at least ``min_messages`` and at least ``surge_factor`` times the baseline
  (a baseline under one message per window counts as one, so a quiet watch needs a real burst);
* **negative** - at least ``min_messages`` and a negative share ``negative_jump`` above the
  baseline's share.

An alert is a row (the admin shows it as a banner until someone acknowledges it), a webhook
event ``listening.surge``, and links to the crisis playbooks and the reactive templates that fit.
It never posts: deciding to answer stays with people. While an alert of the same reason is open
and its window overlaps the current one, no new alert is raised (one surge, one alert).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from calendar_app.listening.models import Alert, AlertReason, Message, Tone, Watch
from calendar_app.models import Playbook, ReactiveTemplate
from calendar_app.models.reactive import Scenario
from calendar_app.outbound import events
from calendar_app.outbound.catalogue import LISTENING_SURGE

logger = logging.getLogger("kairos.listening")

BASELINE = timedelta(days=7)


def _counts(watch: Watch, start: datetime, end: datetime) -> tuple[int, int]:
    row = Message.objects.filter(
        watch=watch, published_at__gt=start, published_at__lte=end
    ).aggregate(n=Count("id"), negative=Count("id", filter=Q(tone=Tone.NEGATIVE)))
    return row["n"], row["negative"]


def _scenarios(alert: Alert) -> tuple[str, ...]:
    negative = alert.reason == AlertReason.NEGATIVE or alert.negative_share >= 0.5
    return (Scenario.CRISIS, Scenario.OUTAGE) if negative else (Scenario.LIVE_MOMENT, Scenario.WIN)


def _row(obj: Playbook | ReactiveTemplate) -> dict[str, Any]:
    return {"id": obj.pk, "name": obj.name, "scenario": obj.scenario}


def fitting(alert: Alert) -> dict[str, list[dict[str, Any]]]:
    """The crisis playbooks and reactive templates a person may want at hand for this alert:
    the brand's (and workspace-wide) playbooks, and the brand's templates for a crisis or an
    outage when the tone is negative, for a live moment or a win otherwise."""
    return fitting_many([alert])[alert.pk]


def fitting_many(alerts: Sequence[Alert]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """:func:`fitting` for a page of alerts in two queries, whatever the page holds (an inbox
    list must not cost two queries per alert)."""
    if not alerts:
        return {}
    workspaces = {a.workspace_id for a in alerts}
    brands = {a.brand_id for a in alerts}
    playbooks = list(
        Playbook.objects.filter(workspace_id__in=workspaces)
        .filter(Q(brand__isnull=True) | Q(brand_id__in=brands))
        .order_by("name", "pk")
    )
    templates = list(
        ReactiveTemplate.objects.filter(workspace_id__in=workspaces, brand_id__in=brands)
        .filter(scenario__in=[Scenario.CRISIS, Scenario.OUTAGE, Scenario.LIVE_MOMENT, Scenario.WIN])
        .order_by("name", "pk")
    )
    out = {}
    for alert in alerts:
        scenarios = _scenarios(alert)
        out[alert.pk] = {
            "playbooks": [
                _row(p)
                for p in playbooks
                if p.workspace_id == alert.workspace_id and p.brand_id in (None, alert.brand_id)
            ][:20],
            "templates": [
                _row(t)
                for t in templates
                if t.workspace_id == alert.workspace_id
                and t.brand_id == alert.brand_id
                and t.scenario in scenarios
            ][:20],
        }
    return out


def payload(alert: Alert) -> dict[str, Any]:
    return {
        "alert": {
            "id": alert.pk,
            "reason": alert.reason,
            "window_start": events.iso(alert.window_start),
            "window_end": events.iso(alert.window_end),
            "count": alert.count,
            "baseline": round(alert.baseline, 3),
            "negative_share": round(alert.negative_share, 3),
            "baseline_negative_share": round(alert.baseline_negative_share, 3),
        },
        "watch": {"id": alert.watch_id, "name": alert.watch.name, "terms": alert.watch.terms},
        "brand": alert.brand_id,
        **fitting(alert),
    }


def check_watch(watch: Watch, now: datetime | None = None) -> list[Alert]:
    """Raise the alerts the last window deserves; returns the new ones."""
    now = now or timezone.now()
    window = timedelta(minutes=watch.window_minutes)
    start = now - window
    count, negative = _counts(watch, start, now)
    if count < watch.min_messages:
        return []
    base_count, base_negative = _counts(watch, now - BASELINE, start)
    windows = max(1.0, (BASELINE - window) / window)
    baseline = base_count / windows
    share = negative / count
    base_share = base_negative / base_count if base_count else 0.0
    reasons = []
    if count >= watch.surge_factor * max(baseline, 1.0):
        reasons.append(AlertReason.VOLUME)
    if share - base_share >= watch.negative_jump:
        reasons.append(AlertReason.NEGATIVE)
    raised = []
    for reason in reasons:
        open_one = Alert.objects.filter(
            watch=watch, reason=reason, acknowledged_at__isnull=True, window_end__gt=start
        )
        if open_one.exists():
            continue
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    workspace_id=watch.workspace_id,
                    watch=watch,
                    brand_id=watch.brand_id,
                    reason=reason,
                    window_start=start.replace(second=0, microsecond=0),
                    window_end=now,
                    count=count,
                    baseline=baseline,
                    negative_share=share,
                    baseline_negative_share=base_share,
                )
                events.emit(watch.workspace_id, LISTENING_SURGE, payload(alert), watch.brand_id)
        except IntegrityError:  # another worker raised it for the same window
            continue
        raised.append(alert)
    return raised


def check_all(now: datetime | None = None) -> int:
    """The schedule's entry point: every active watch; returns how many alerts were raised."""
    now = now or timezone.now()
    total = 0
    for watch in Watch.objects.filter(active=True).select_related("brand").iterator():
        try:
            total += len(check_watch(watch, now))
        except Exception:
            logger.exception("surge check failed for watch %s", watch.pk)
    return total
