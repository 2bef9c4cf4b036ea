"""Who is sending what: claims on publications, the lease that keeps them, and recovery.

The ``publication`` table is the queue. A worker *claims* due rows by moving them from
``pending`` to ``publishing`` under its own owner token, with a lease (``claim_expires_at``).
On PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED``, so workers of several clusters
on several machines take disjoint rows without waiting for each other; everywhere the move is a
conditional ``UPDATE`` that only succeeds on rows still ``pending``, so two claimers can never
both win a row (SQLite serialises writers anyway).

While a worker lives, :class:`LeaseKeeper` renews its leases every third of ``KAIROS_CLAIM_TTL``.
When it dies - SIGKILL, OOM, a machine lost, a task time-out - the leases lapse within that
time, and :func:`recover_lapsed_claims` (run by every dispatcher every
``KAIROS_RECOVERY_INTERVAL`` and by the minute sweep) puts the rows back to ``pending``: flagged
``may_have_posted`` and ``needs_reconcile`` when an attempt had started, untouched otherwise.
Nothing here depends on the broker having kept or lost a task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from calendar_app import workflow
from calendar_app.delivery.policy import policy_for
from calendar_app.models import (
    AttemptOutcome,
    ChannelStatus,
    ContentItem,
    DeliveryAttempt,
    Publication,
    PublicationStatus,
)

logger = logging.getLogger("kairos.delivery")
P = PublicationStatus


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def new_owner() -> str:
    """A claim owner: the process (to find its log) plus a token unique to this drain."""
    return f"{worker_name()}:{uuid.uuid4().hex[:10]}"


def claim_ttl() -> timedelta:
    return timedelta(seconds=settings.KAIROS_CLAIM_TTL)


def due_work(horizon: datetime) -> QuerySet[Publication]:
    """Pending publications due by ``horizon``, except those held for an expired channel and
    those of a channel whose network budget is spent until after ``horizon``."""
    return (
        Publication.objects.filter(status=P.PENDING, next_attempt_at__lte=horizon)
        .exclude(channel__status=ChannelStatus.EXPIRED)
        .exclude(channel__paused_until__gt=horizon)
    )


def loaded() -> QuerySet[Publication]:
    """Publications with everything delivery reads, in one query."""
    return Publication.objects.select_related(
        "content_item__brand", "content_item__fire", "channel", "variant"
    )


def _take(owner: str, candidates: QuerySet[Publication], limit: int, now: datetime) -> list[int]:
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Publication.objects.filter(pk__in=ids, status=P.PENDING).update(
            status=P.PUBLISHING,
            claimed_by=owner,
            claim_expires_at=now + claim_ttl(),
            updated_at=now,
        )
    return ids


def claim_due(
    owner: str, *, limit: int, now: datetime | None = None, skip: set[int] | None = None
) -> list[Publication]:
    """Claim up to ``limit`` publications due within the look-ahead, oldest due first
    (``skip``: rows this drain already tried, so a retry due at once waits for the next one)."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.KAIROS_DISPATCH_LOOKAHEAD)
    candidates = due_work(horizon).order_by("next_attempt_at", "pk")
    if skip:
        candidates = candidates.exclude(pk__in=skip)
    ids = _take(owner, candidates, limit, now)
    if not ids:
        return []
    return list(loaded().filter(pk__in=ids, claimed_by=owner, status=P.PUBLISHING))


def claim_ids(owner: str, ids: list[int], now: datetime | None = None) -> list[Publication]:
    """Claim these publications if they are pending and due (a fire, a retry, a stale task)."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.KAIROS_DISPATCH_LOOKAHEAD)
    candidates = due_work(horizon).filter(pk__in=ids).order_by("next_attempt_at", "pk")
    taken = _take(owner, candidates, len(ids), now)
    if not taken:
        return []
    return list(loaded().filter(pk__in=taken, claimed_by=owner, status=P.PUBLISHING))


def release_unstarted(owner: str, ids: list[int]) -> int:
    """Give back claimed rows this worker will not attempt after all (it is stopping)."""
    if not ids:
        return 0
    return Publication.objects.filter(pk__in=ids, claimed_by=owner, status=P.PUBLISHING).update(
        status=P.PENDING, claimed_by="", claim_expires_at=None, updated_at=timezone.now()
    )


class LeaseKeeper:
    """Keeps one owner's claims alive from a thread while the worker process lives.

    The renewal is one indexed ``UPDATE`` every third of the lease, whatever the number of rows.
    In ``sync`` mode (tests, tasks run inline) nothing can die separately, so no thread starts.

    Renewal stops after ``hold_limit`` seconds (the django-q2 task time-out): no drain may
    legitimately hold a claim longer, so a worker whose delivery thread hangs - while this thread
    goes on renewing - cannot keep a publication ``publishing`` for ever.
    """

    def __init__(
        self, owner: str, ttl: float | None = None, hold_limit: float | None = None
    ) -> None:
        self.owner = owner
        self.ttl = ttl if ttl is not None else settings.KAIROS_CLAIM_TTL
        self.hold_limit = hold_limit if hold_limit is not None else default_hold_limit()
        self._renew_until = time.monotonic() + self.hold_limit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dropped: set[int] = set()

    def __enter__(self) -> LeaseKeeper:
        if not settings.Q_CLUSTER.get("sync"):
            self._thread = threading.Thread(
                target=self._run, name=f"lease-{self.owner}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl)

    def drop(self, publication_id: int) -> None:
        """Stop renewing one claim (its attempt hit a database error): let recovery have it."""
        self._dropped.add(publication_id)

    def renew(self) -> int:
        """Extend this owner's live claims by a lease; 0 once the hold limit has passed."""
        if time.monotonic() >= self._renew_until:
            return 0
        now = timezone.now()
        return (
            Publication.objects.filter(status=P.PUBLISHING, claimed_by=self.owner)
            .exclude(pk__in=list(self._dropped))
            .update(claim_expires_at=now + timedelta(seconds=self.ttl))
        )

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.ttl / 3):
                if time.monotonic() >= self._renew_until:
                    logger.error(
                        "%s has held its claims for %.0f s (the task time-out): no longer "
                        "renewing them, recovery will hand them on",
                        self.owner,
                        self.hold_limit,
                    )
                    return
                try:
                    self.renew()
                except Exception:  # the database is away: the next renewal may work
                    logger.warning("could not renew the claims of %s", self.owner, exc_info=True)
                    connection.close()
        finally:
            connection.close()


def default_hold_limit() -> float:
    """The django-q2 task time-out: the longest a drain's claims may be kept alive."""
    timeout = settings.Q_CLUSTER.get("timeout")
    return float(timeout) if timeout and timeout > 0 else 3600.0


def recover_lapsed_claims(now: datetime | None = None, limit: int = 500) -> int:
    """Put publications whose worker stopped renewing its lease back to ``pending``.

    They keep their due time, so they go out first, before what fell due since.

    A row whose attempt had started may have reached the network: it is flagged so that the next
    attempt reconciles first, and one that has used up its attempts ends ``unconfirmed`` (a
    post that crashes its worker every time must not loop for ever).
    """
    now = now or timezone.now()
    lapsed = list(
        Publication.objects.filter(status=P.PUBLISHING, claim_expires_at__lt=now)
        .select_related("channel")
        .only("pk", "claimed_by", "attempts", "content_item_id", "channel__network")[:limit]
    )
    released = 0
    for publication in lapsed:
        with transaction.atomic():
            unfinished = DeliveryAttempt.objects.filter(
                publication_id=publication.pk, finished_at__isnull=True
            )
            started = unfinished.exists()
            fields: dict = {
                "status": P.PENDING,
                "claimed_by": "",
                "claim_expires_at": None,
                "updated_at": now,
            }
            if started:
                fields.update(
                    attempts=F("attempts") + 1, needs_reconcile=True, may_have_posted=True
                )
                used = publication.attempts + 1
                if used >= policy_for(publication.channel.network).max_attempts:
                    fields.update(
                        status=P.UNCONFIRMED,
                        last_error_code="worker_lost",
                        last_error_reason=(
                            f"The worker stopped during attempt {used} of {used}; the post may "
                            "have gone out. Check the channel, then retry or confirm it."
                        ),
                    )
            moved = Publication.objects.filter(
                pk=publication.pk,
                status=P.PUBLISHING,
                claimed_by=publication.claimed_by,
                claim_expires_at__lt=now,
            ).update(**fields)
            if moved and started:
                unfinished.update(
                    finished_at=now,
                    outcome=AttemptOutcome.UNCONFIRMED,
                    reason="The worker stopped during this attempt; the next attempt checks "
                    "the network first.",
                )
            if moved and fields["status"] == P.UNCONFIRMED:
                workflow.settle(ContentItem.objects.get(pk=publication.content_item_id))
            released += moved
    if released:
        logger.warning("released %d lapsed claim(s)", released)
    return released
