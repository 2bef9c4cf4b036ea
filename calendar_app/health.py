"""``GET /health/``: is the whole delivery path alive, not only the web server?

Answers 200 when the database answers, a dispatcher and a worker have beaten recently, and no
publication is stuck overdue; 503 otherwise, with the reason, so a load balancer or an uptime
check can page someone before marketers notice that nothing went out.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Min
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from calendar_app.models import Publication, PublicationStatus, WorkerHeartbeat

DISPATCHER_STALE = timedelta(seconds=30)
WORKER_STALE = timedelta(seconds=60)
OVERDUE_ALARM = timedelta(minutes=5)


def health_report(now=None) -> tuple[bool, dict]:
    now = now or timezone.now()
    latest = {}
    for beat in WorkerHeartbeat.objects.all():
        if beat.role not in latest or beat.beat_at > latest[beat.role]:
            latest[beat.role] = beat.beat_at
    oldest_due = Publication.objects.filter(
        status__in=[PublicationStatus.PENDING, PublicationStatus.QUEUED], next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    problems = []
    for role, limit in (("dispatcher", DISPATCHER_STALE), ("worker", WORKER_STALE)):
        seen = latest.get(role)
        if seen is None:
            problems.append(f"no {role} has ever reported")
        elif now - seen > limit:
            problems.append(f"the {role} last reported {int((now - seen).total_seconds())} s ago")
    overdue_seconds = (now - oldest_due).total_seconds() if oldest_due else 0.0
    if oldest_due and now - oldest_due > OVERDUE_ALARM:
        problems.append(f"a publication has been overdue for {int(overdue_seconds)} s")
    body = {
        "status": "ok" if not problems else "degraded",
        "problems": problems,
        "database": "ok",
        "dispatcher_last_beat": latest.get("dispatcher"),
        "worker_last_beat": latest.get("worker"),
        "oldest_overdue_seconds": round(overdue_seconds, 1),
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
