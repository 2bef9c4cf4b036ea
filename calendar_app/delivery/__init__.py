"""Delivering publications: on time, at most once, and never silently lost.

The database is the queue. A publication is *work* while it is ``pending`` and its
``next_attempt_at`` has come; django-q2 tasks only wake workers up to look for it. So:

* **On time.** The dispatcher (:mod:`.dispatcher`) looks every 0.25 s and wakes workers for
  what falls due within the next 0.5 s; the worker waits out the rest (:mod:`.attempt`).
* **At most once.** A worker claims rows with a conditional ``UPDATE`` (and ``SKIP LOCKED`` on
  PostgreSQL), so several clusters never collide; every attempt carries the publication's
  idempotency key; an attempt that may have posted is reconciled before any other.
* **Never lost, never stuck.** A claim is a lease the living worker renews (:mod:`.claims`); a
  dead worker's claims lapse within ``KAIROS_CLAIM_TTL`` and go back to ``pending``. A lost task
  leaves its rows due, so the next look finds them. A database restart costs a pause: workers
  retry recording what they know and the dispatcher backs off and catches up.
* **Honest outcomes.** Retries follow the configured policy (:mod:`.policy`); giving up after an
  attempt that may have posted ends ``unconfirmed``, for a person to check.

Modules: :mod:`.posts` (the plain values plugins get), :mod:`.claims`, :mod:`.attempt`,
:mod:`.runner` (what a woken worker does), :mod:`.dispatcher`, :mod:`.policy`, :mod:`.health`,
:mod:`.actions` (retry or confirm, by a person).
"""

from calendar_app.delivery.actions import RETRYABLE, DeliveryActionError, retry_publication
from calendar_app.delivery.attempt import DeliveryReport, deliver_claimed, lateness_decision
from calendar_app.delivery.claims import (
    claim_ids,
    new_owner,
    recover_lapsed_claims,
    worker_name,
)
from calendar_app.delivery.posts import (
    build_post,
    channel_context,
    publication_ref,
    splits_per_recipient,
)

__all__ = [
    "RETRYABLE",
    "DeliveryActionError",
    "DeliveryReport",
    "build_post",
    "channel_context",
    "deliver_publication",
    "lateness_decision",
    "publication_ref",
    "recover_lapsed_claims",
    "retry_publication",
    "splits_per_recipient",
    "worker_name",
]


def deliver_publication(publication_id: int, *, worker: str | None = None) -> DeliveryReport | None:
    """Deliver one publication now if it is due and nobody else has it; ``None`` otherwise.
    Safe to call any number of times (a duplicate finds the row claimed or final)."""
    owner = worker or new_owner()
    claimed = claim_ids(owner, [publication_id])
    return deliver_claimed(claimed[0], worker=owner) if claimed else None
