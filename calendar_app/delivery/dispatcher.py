"""Waking workers when publications fall due, and recovering what a dead worker held.

django-q2's own scheduler looks at its ``Schedule`` rows about every 30 seconds and ``async_task``
has no ETA, so neither can keep a promise of "within a second of the due time". Kairos runs a
small dispatcher loop instead (``manage.py run_dispatcher``, started by ``runkairos`` next to the
cluster). Every ``KAIROS_DISPATCH_INTERVAL`` seconds it looks at the due publications (due within
``KAIROS_DISPATCH_LOOKAHEAD``) and, when the broker does not already hold enough wake-ups, sends
``drain`` tasks: each one makes a worker claim and deliver due rows (:mod:`.runner`). The
dispatcher never changes a publication's state to hand it over, so there is nothing for a
dispatcher killed mid-tick to leave half done, and a lost task costs only the next tick.

Every ``KAIROS_RECOVERY_INTERVAL`` seconds it also releases claims whose lease lapsed
(:func:`~calendar_app.delivery.claims.recover_lapsed_claims`) and reports its heartbeat. Several
dispatchers may run, one per host: they compete for nothing. The ``kairos.sweep`` schedule does the
same work every minute through the cluster, a safety net while no dispatcher runs.
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
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.tasks import async_task

from calendar_app.delivery.claims import due_work, recover_lapsed_claims
from calendar_app.models import WorkerHeartbeat

logger = logging.getLogger("kairos.dispatcher")
DRAIN_TASK = "calendar_app.tasks.drain"
DELIVER_MANY_TASK = "calendar_app.tasks.deliver_many"
HEARTBEAT_TASK = "calendar_app.tasks.worker_heartbeat"

_broker = None
_broker_pid = None


def waiting_tasks() -> int:
    """Tasks waiting in the broker (any kind): wake-ups already on their way to a worker."""
    global _broker, _broker_pid
    if settings.Q_CLUSTER.get("sync"):
        return 0
    if _broker is None or _broker_pid != os.getpid():
        _broker, _broker_pid = get_broker(), os.getpid()
    return _broker.queue_size()


def due_count(now: datetime, cap: int) -> int:
    """How many publications are due within the look-ahead, counting at most ``cap``."""
    horizon = now + timedelta(seconds=settings.KAIROS_DISPATCH_LOOKAHEAD)
    return len(due_work(horizon).values_list("pk", flat=True)[:cap])


def dispatch_due(now: datetime | None = None) -> int:
    """Send enough ``drain`` wake-ups for what is due; returns how many were sent."""
    now = now or timezone.now()
    per_task = settings.KAIROS_CLAIM_BATCH
    prefetch = settings.KAIROS_DISPATCH_PREFETCH
    due = due_count(now, prefetch * per_task)
    if not due:
        return 0
    wanted = min(math.ceil(due / per_task), prefetch) - waiting_tasks()
    for _ in range(max(wanted, 0)):
        async_task(DRAIN_TASK, task_name="kairos-drain", group="kairos-delivery", save=False)
    return max(wanted, 0)


def wake(publication_ids: list[int]) -> None:
    """Ask a worker for these publications now (a fire, a retry): ahead of the next tick."""
    if publication_ids:
        async_task(
            DELIVER_MANY_TASK,
            list(publication_ids),
            task_name=f"deliver-{publication_ids[0]}+{len(publication_ids) - 1}",
            group="kairos-delivery",
            save=False,
        )


def beat(name: str, role: str, **info: object) -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={"role": role, "beat_at": timezone.now(), "pid": os.getpid(), "info": info},
    )


class Dispatcher:
    """The loop behind ``manage.py run_dispatcher``; stops cleanly on SIGTERM or SIGINT, and
    outlives database restarts (it backs off, reconnects and catches up)."""

    def __init__(self, *, interval: float | None = None, name: str | None = None) -> None:
        self.interval = interval if interval is not None else settings.KAIROS_DISPATCH_INTERVAL
        self.name = name or f"dispatcher@{os.uname().nodename}:{os.getpid()}"
        self.stopping = threading.Event()
        self.woken = 0
        self.recovered = 0
        self.failures = 0

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    def housekeeping(self) -> None:
        self.recovered += recover_lapsed_claims()
        beat(self.name, "dispatcher", woken=self.woken, recovered=self.recovered)

    def run(self, *, max_seconds: float | None = None) -> None:
        started = time.monotonic()
        last_housekeeping = last_heartbeat_task = -math.inf
        logger.info("dispatcher %s started (every %.2fs)", self.name, self.interval)
        while not self.stopping.is_set():
            tick = time.monotonic()
            try:
                self.woken += dispatch_due()
                if tick - last_housekeeping >= settings.KAIROS_RECOVERY_INTERVAL:
                    self.housekeeping()
                    last_housekeeping = tick
                if tick - last_heartbeat_task >= 5:
                    async_task(
                        HEARTBEAT_TASK,
                        task_name="kairos-heartbeat",
                        group="kairos-heartbeat",
                        save=False,
                    )
                    last_heartbeat_task = tick
                if self.failures:
                    logger.warning(
                        "dispatcher %s reconnected after %d failed tick(s)",
                        self.name,
                        self.failures,
                    )
                self.failures = 0
            except Exception:  # the database or the broker is away: back off, reconnect, go on
                self.failures += 1
                if self.failures == 1:
                    logger.exception("dispatcher tick failed; retrying")
                connection.close()
            if max_seconds is not None and tick - started >= max_seconds:
                break
            pause = self.interval if not self.failures else min(0.25 * 2**self.failures, 2.0)
            self.stopping.wait(max(0.0, pause - (time.monotonic() - tick)))
        logger.info("dispatcher %s stopped after sending %d wake-up(s)", self.name, self.woken)
