"""django-q2 entry points. Thin on purpose, and they take ids only (django-q2 fishes its own
options out of keyword arguments, so a task keyword could collide with one of them).

Delivery tasks are wake-ups: the work itself is in the database (see calendar_app/delivery), so
a task that is lost, run twice or run late costs time, never a publication.
"""

from __future__ import annotations

import os
import socket

from calendar_app import metrics
from calendar_app.delivery import claims, dispatcher, runner
from calendar_app.delivery.attempt import settle_item
from calendar_app.models import ContentItem, ContentStatus, PublicationStatus


def drain() -> dict[str, int]:
    """Claim and deliver whatever is due, for up to ``KAIROS_DRAIN_BUDGET`` seconds."""
    return runner.drain()


def deliver(publication_id: int) -> str:
    """One publication, if it is still due and nobody has it (tasks queued by older versions)."""
    outcomes = runner.deliver_ids([publication_id])
    return next(iter(outcomes), "not-claimed")


def deliver_many(publication_ids: list[int]) -> dict[str, int]:
    """These publications (a fire, a retry), each claimed on its own, in due order."""
    return runner.deliver_ids(publication_ids)


def sweep() -> dict[str, int]:
    """Safety net every minute, through the cluster: what the dispatcher does, in case none runs,
    plus items whose last publication ended while their worker died before settling them."""
    recovered = claims.recover_lapsed_claims()
    woken = dispatcher.dispatch_due()
    settled = 0
    stale = ContentItem.objects.filter(
        status__in=[ContentStatus.SCHEDULED, ContentStatus.PUBLISHING]
    ).exclude(publications__status__in=PublicationStatus.open_states())
    for item in stale.filter(publications__isnull=False).distinct()[:200]:
        settle_item(item)
        settled += 1
    return {"recovered": recovered, "woken": woken, "settled": settled}


def collect_metrics() -> int:
    """The schedule's entry: queues bounded ``collect_metrics_batch`` tasks; returns how many."""
    return metrics.enqueue_batches()


def collect_metrics_batch(publication_ids: list[int]) -> int:
    """One bounded share of a collection run (at most ``KAIROS_METRICS_BATCH`` publications)."""
    return metrics.collect_batch(publication_ids)


def purge_task_failures(now=None) -> int:
    """Delete failed-task records older than ``KAIROS_Q_FAILURE_RETENTION_DAYS`` (daily): failures
    are always kept by django-q2, and nothing else would ever remove them."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone
    from django_q.models import Failure

    since = (now or timezone.now()) - timedelta(days=settings.KAIROS_Q_FAILURE_RETENTION_DAYS)
    deleted, _ = Failure.objects.filter(stopped__lt=since).delete()
    return deleted


def worker_heartbeat() -> str:
    """Proves that the queue → worker path works, not only that the dispatcher is alive."""
    name = f"worker@{socket.gethostname()}:{os.getpid()}"
    dispatcher.beat(name, "worker")
    return name
