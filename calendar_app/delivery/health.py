"""``GET /health/``: is the whole delivery path keeping its promise, not only the web server?

The promise is the recovery bound (``KAIROS_RECOVERY_BOUND``, 15 s by default): whatever was lost
- a task, a worker, a dispatcher, a database connection - is picked up again within it. So the
endpoint answers 503, with the reasons, as soon as the bound is broken, not minutes later:

* a publication has been due (and not claimed) for longer than the bound;
* a claim's lease lapsed longer ago than the bound and nobody released it (no dispatcher runs);
* no dispatcher, or no worker, has reported within the bound.

A load balancer or an uptime check pointed at it pages someone before marketers notice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max, Min
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from calendar_app.delivery.claims import due_work
from calendar_app.models import ChannelStatus, Publication, PublicationStatus, WorkerHeartbeat


def recovery_bound() -> timedelta:
    return timedelta(seconds=settings.KAIROS_RECOVERY_BOUND)


def _age(now: datetime, then: datetime | None) -> float:
    return round((now - then).total_seconds(), 1) if then else 0.0


def health_report(now: datetime | None = None) -> tuple[bool, dict]:
    now = now or timezone.now()
    bound = recovery_bound()
    latest = dict(
        WorkerHeartbeat.objects.values("role").annotate(at=Max("beat_at")).values_list("role", "at")
    )
    oldest_due = due_work(now).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    held = Publication.objects.filter(
        status=PublicationStatus.PENDING, channel__status=ChannelStatus.EXPIRED
    ).count()
    in_crisis = Publication.objects.filter(status=PublicationStatus.HELD).count()
    oldest_lapse = Publication.objects.filter(
        status=PublicationStatus.PUBLISHING, claim_expires_at__lt=now
    ).aggregate(oldest=Min("claim_expires_at"))["oldest"]
    problems = []
    for role in ("dispatcher", "worker"):
        seen = latest.get(role)
        if seen is None:
            problems.append(f"no {role} has ever reported")
        elif now - seen > bound:
            problems.append(f"the {role} last reported {int(_age(now, seen))} s ago")
    if oldest_due and now - oldest_due > bound:
        problems.append(
            f"a publication has been due for {int(_age(now, oldest_due))} s without a worker "
            f"taking it (the promise is {bound.total_seconds():g} s)"
        )
    if oldest_lapse and now - oldest_lapse > bound:
        problems.append(
            f"a worker's claim lapsed {int(_age(now, oldest_lapse))} s ago and nobody released "
            "it: is a dispatcher running?"
        )
    body = {
        "status": "ok" if not problems else "degraded",
        "problems": problems,
        "database": "ok",
        "recovery_bound_seconds": bound.total_seconds(),
        "dispatcher_last_beat": latest.get("dispatcher"),
        "worker_last_beat": latest.get("worker"),
        "oldest_overdue_seconds": _age(now, oldest_due),
        "oldest_lapsed_claim_seconds": _age(now, oldest_lapse),
        # Waiting for a person to reconnect their channel: visible, but not a delivery fault.
        "held_for_expired_channels": held,
        # Held by an active crisis until someone resumes it: deliberate, not a delivery fault.
        "held_in_crisis": in_crisis,
        "checked_at": now,
    }
    return not problems, body


@require_GET
def health(request):
    try:
        healthy, body = health_report()
    except DatabaseError as exc:
        return JsonResponse(
            {"status": "down", "problems": [f"database: {exc.__class__.__name__}"]}, status=503
        )
    return JsonResponse(body, status=200 if healthy else 503)
