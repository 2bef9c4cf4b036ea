"""What a worker does when a django-q2 task wakes it: claim due publications and deliver them.

A task carries no work of its own, only the request "look for due work" (:func:`drain`) or
"look at these rows" (:func:`deliver_ids`, for a fire or a retry). Losing one - the Redis
broker has no delivery receipts, a worker dies holding it, the database is away when it runs -
loses nothing: the rows are still due in the database, and the next wake-up finds them.

Each publication is delivered on its own: an error on one (a constraint, a bug, a dropped
connection) is logged against that one and the batch goes on; after several database errors in a
row the worker stops claiming and gives back what it has not started, so a database restart
costs a pause, not a batch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from calendar_app.delivery import claims
from calendar_app.delivery.attempt import (
    deliver_claimed,
    finish_after_internal_error,
    settle_item,
    with_db_retries,
)
from calendar_app.models import ContentItem, Publication, PublicationStatus, WorkerHeartbeat

logger = logging.getLogger("kairos.delivery")

#: Consecutive database errors after which a worker stops claiming (the database is away).
DATABASE_ERRORS_TO_STOP = 3
_last_beat = _last_recovery = 0.0


def recover_now() -> None:
    """Busy workers release lapsed claims too (at most once a second per process), so recovery
    does not wait for a dispatcher when every dispatcher is down; one indexed query."""
    global _last_recovery
    if time.monotonic() - _last_recovery < settings.KAIROS_RECOVERY_INTERVAL:
        return
    _last_recovery = time.monotonic()
    claims.recover_lapsed_claims()


def beat_worker() -> None:
    """Tell /health/ that this worker takes work; at most every two seconds per process."""
    global _last_beat
    if time.monotonic() - _last_beat < 2:
        return
    name = f"worker@{claims.worker_name()}"
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"role": "worker", "beat_at": timezone.now(), "info": {}}
    )
    _last_beat = time.monotonic()


class _Run:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.keeper = claims.LeaseKeeper(owner)
        self.outcomes: Counter[str] = Counter()
        self.database_errors = 0
        self.retrying: set[int] = set()

    @property
    def database_away(self) -> bool:
        return self.database_errors >= DATABASE_ERRORS_TO_STOP

    def deliver(self, batch: list[Publication]) -> None:
        items: dict[int, ContentItem] = {}
        for index, publication in enumerate(batch):
            if self.database_away:
                self._give_back(batch[index:])
                break
            self.outcomes[self._one(publication)] += 1
            items.setdefault(publication.content_item_id, publication.content_item)
        self._settle(items.values())

    def _settle(self, items: Iterable[ContentItem]) -> None:
        """Each item of the batch follows its publications, once (the sweep is the safety net)."""
        for item in items:
            try:
                with_db_retries("settling an item", lambda item=item: settle_item(item))
            except DatabaseError:
                logger.warning("could not settle item %s; the sweep will", item.pk, exc_info=True)
                connection.close()

    def _one(self, publication: Publication) -> str:
        try:
            report = deliver_claimed(publication, worker=self.owner, settle=False)
        except DatabaseError:
            # The claim stays with its lease: once this worker stops renewing it, recovery hands
            # it on, flagged for reconciliation if the attempt had started.
            logger.exception("database error delivering publication %s", publication.pk)
            self.keeper.drop(publication.pk)
            self.database_errors += 1
            connection.close()
            return "database_error"
        except Exception as exc:
            logger.exception("internal error delivering publication %s", publication.pk)
            try:
                finish_after_internal_error(publication, exc)
            except DatabaseError:
                connection.close()
            return "internal_error"
        self.database_errors = 0
        if report.status == PublicationStatus.PENDING:
            self.retrying.add(publication.pk)
        return report.outcome

    def _give_back(self, rest: list[Publication]) -> None:
        try:
            claims.release_unstarted(self.owner, [p.pk for p in rest])
        except DatabaseError:  # then their leases lapse and recovery gives them back
            connection.close()


def drain(*, budget: float | None = None, batch: int | None = None) -> dict[str, int]:
    """Claim and deliver due publications until none is due or ``budget`` seconds have passed."""
    budget = settings.KAIROS_DRAIN_BUDGET if budget is None else budget
    batch = batch or settings.KAIROS_CLAIM_BATCH
    deadline = time.monotonic() + budget
    run = _Run(claims.new_owner())
    with run.keeper:
        while not run.database_away:
            try:
                beat_worker()
                recover_now()
                claimed = claims.claim_due(run.owner, limit=batch, skip=run.retrying)
            except DatabaseError:
                logger.warning("cannot claim: the database is unavailable", exc_info=True)
                connection.close()
                run.outcomes["database_unavailable"] += 1
                break
            if not claimed:
                break
            run.deliver(claimed)
            if time.monotonic() >= deadline:
                break
    return dict(run.outcomes)


def deliver_ids(ids: list[int]) -> dict[str, int]:
    """Deliver these publications if they are still pending and due; the rest is not ours."""
    run = _Run(claims.new_owner())
    with run.keeper:
        try:
            claimed = claims.claim_ids(run.owner, ids)
        except DatabaseError:
            logger.warning("cannot claim %s: the database is unavailable", ids, exc_info=True)
            connection.close()
            return {"database_unavailable": 1}
        run.deliver(claimed)
    run.outcomes["not-claimed"] += len(ids) - len(claimed)
    return {k: v for k, v in run.outcomes.items() if v}
