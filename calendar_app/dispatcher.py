"""Turning due publications into django-q2 tasks on time.

django-q2's own scheduler looks at its ``Schedule`` rows about every 30 seconds and ``async_task``
has no ETA, so neither can keep a promise of "within 2 seconds of the due time". Kairos runs a
small dispatcher loop instead (``manage.py run_dispatcher``, started by ``runkairos`` next to the
cluster): every ``KAIROS_DISPATCH_INTERVAL`` seconds it marks the publications due within the next
``KAIROS_DISPATCH_LOOKAHEAD`` seconds as ``queued`` and enqueues one task each. The task waits out
the remaining fraction of a second on the worker, so a post leaves on its due second.

Several dispatchers may run (one per host): on PostgreSQL each takes its rows with
``SELECT … FOR UPDATE SKIP LOCKED``; everywhere the ``pending → queued`` update is conditional, so a
row is enqueued once. A queued row carries a lease (``claim_expires_at``); if its task is lost
(the Redis broker has no delivery receipts), :func:`calendar_app.delivery.recover_stale_claims`
puts it back. The same :func:`dispatch_due` also runs every minute from a django-q2 schedule, a
safety net that picks up whatever is overdue if the dispatcher process is down.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from calendar_app.models import Publication, PublicationStatus, WorkerHeartbeat

logger = logging.getLogger("kairos.dispatcher")
DELIVER_TASK = "calendar_app.tasks.deliver"
DELIVER_MANY_TASK = "calendar_app.tasks.deliver_many"
HEARTBEAT_TASK = "calendar_app.tasks.worker_heartbeat"


def queue_lease() -> timedelta:
    return timedelta(seconds=settings.Q_CLUSTER.get("retry", 90) + 30)


#: At most this many publications share one task. Batching amortises the broker's per-task cost
#: in a burst (2,000 posts due at the top of the hour) while a lone publication still gets a task
#: of its own, so punctuality is unchanged in the common case.
BATCH_MAX = 25


def batches(publication_ids: list[int], workers: int) -> list[list[int]]:
    """Split ids into tasks: at least two per worker when there is enough work, none over BATCH_MAX."""
    if not publication_ids:
        return []
    count = max(math.ceil(len(publication_ids) / BATCH_MAX), min(len(publication_ids), 2 * workers))
    size = math.ceil(len(publication_ids) / count)
    return [publication_ids[i : i + size] for i in range(0, len(publication_ids), size)]


def enqueue(publication_ids: list[int]) -> None:
    """Hand publications to django-q2, oldest due first, in as many tasks as keep workers busy."""
    for batch in batches(publication_ids, settings.Q_CLUSTER.get("workers", 2)):
        if len(batch) == 1:
            async_task(
                DELIVER_TASK, batch[0], task_name=f"deliver-{batch[0]}", group="kairos-delivery"
            )
        else:
            async_task(
                DELIVER_MANY_TASK,
                batch,
                task_name=f"deliver-{batch[0]}+{len(batch) - 1}",
                group="kairos-delivery",
            )


def dispatch_due(now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Queue every publication due by ``now + lookahead``; returns their ids, oldest first."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.KAIROS_DISPATCH_LOOKAHEAD)
    with transaction.atomic():
        due = Publication.objects.filter(
            status=PublicationStatus.PENDING, next_attempt_at__lte=horizon
        ).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Publication.objects.filter(pk__in=ids, status=PublicationStatus.PENDING).update(
            status=PublicationStatus.QUEUED, claim_expires_at=now + queue_lease(), updated_at=now
        )
    enqueue(ids)
    return ids


def beat(name: str, role: str, **info: object) -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={"role": role, "beat_at": timezone.now(), "pid": os.getpid(), "info": info},
    )


class Dispatcher:
    """The loop behind ``manage.py run_dispatcher``; stops cleanly on SIGTERM or SIGINT."""

    def __init__(self, *, interval: float | None = None, name: str | None = None) -> None:
        self.interval = interval if interval is not None else settings.KAIROS_DISPATCH_INTERVAL
        self.name = name or f"dispatcher@{os.uname().nodename}:{os.getpid()}"
        self.stopping = threading.Event()
        self.dispatched = 0

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    def run(self, *, max_seconds: float | None = None) -> None:
        from calendar_app.delivery import recover_stale_claims

        started = time.monotonic()
        last_housekeeping = 0.0
        logger.info("dispatcher %s started (every %.2fs)", self.name, self.interval)
        while not self.stopping.is_set():
            tick = time.monotonic()
            try:
                self.dispatched += len(dispatch_due())
                if tick - last_housekeeping >= 5:
                    recover_stale_claims()
                    beat(self.name, "dispatcher", dispatched=self.dispatched)
                    async_task(
                        HEARTBEAT_TASK, task_name="kairos-heartbeat", group="kairos-heartbeat"
                    )
                    last_housekeeping = tick
            except Exception:  # a lost database connection must not kill the loop
                logger.exception("dispatcher tick failed; retrying")
                connection.close()
            if max_seconds is not None and tick - started >= max_seconds:
                break
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - tick)))
        logger.info("dispatcher %s stopped after dispatching %d", self.name, self.dispatched)
