"""One attempt at one claimed publication: send it through the plugin pipeline, record the outcome.

* **Outcome first, notifications after.** The outcome is committed, then plugins are notified
  (outbound webhooks), so a notification never describes something that was rolled back.
* **An outcome that is known is not dropped.** Recording retries across a database blip (a
  restart, a fail-over) for ``KAIROS_DB_RETRY_WINDOW`` seconds; a publication found live is
  recorded as published even when its claim lapsed meanwhile.
* **The final state tells the truth.** Giving up after an attempt that may have reached the
  network ends ``unconfirmed`` ("check the channel"), never ``failed``; no reason promises a retry
  that will not come.
* **Few queries.** Everything the attempt reads comes with the claim (``select_related``); the
  outcome and the attempt log are written in one transaction; a batch settles each item once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from calendar_app import allocation, workflow
from calendar_app.audiences.ledger import ledger_for
from calendar_app.delivery import held
from calendar_app.delivery.budget import remember_budget
from calendar_app.delivery.dbretry import with_db_retries
from calendar_app.delivery.links import safe_link
from calendar_app.delivery.policy import policy_for
from calendar_app.delivery.posts import build_post, channel_context, publication_ref, sent_text
from calendar_app.delivery.progress import StoredProgress
from calendar_app.media.refs import media_loader
from calendar_app.models import (
    AttemptOutcome,
    ChannelStatus,
    ContentItem,
    DeliveryAttempt,
    Fire,
    LatenessPolicy,
    Publication,
    PublicationStatus,
)
from calendar_app.plugins_runtime import get_plugins
from publishers import (
    ChannelContext,
    Outcome,
    PermanentError,
    Status,
    UnknownNetworkError,
    deliver,
    next_delay,
)

logger = logging.getLogger("kairos.delivery")
P = PublicationStatus
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    publication_id: int
    status: str
    outcome: str
    lateness: float | None = None  # seconds between due time and the network's answer


# --- lateness --------------------------------------------------------------------------------------


def lateness_decision(publication: Publication, now: datetime) -> str | None:
    """``"skip"`` when the item's moment has passed, ``"late"`` when it goes out flagged, else None."""
    grace = timedelta(seconds=settings.KAIROS_OVERDUE_GRACE)
    retry = publication.attempts >= 1 and publication.last_error_code not in (
        *held.HELD_CODES,
        held.RELEASED,
    )
    if retry or now - publication.due_at <= grace:
        return None  # on time, or a retry (whose delay is expected); not one that was held
    item = publication.content_item
    if (
        item.lateness_policy == LatenessPolicy.SKIP
        and now - publication.due_at > item.lateness_tolerance
    ):
        return "skip"
    return "late"


# --- one attempt -----------------------------------------------------------------------------------


def deliver_claimed(
    publication: Publication, *, worker: str, settle: bool = True
) -> DeliveryReport:
    """Attempt a publication this worker has claimed (see :mod:`calendar_app.delivery.claims`).

    ``settle=False`` leaves the item's status to the caller, who settles each item of a batch
    once (:mod:`.runner`); the minute sweep settles any item a dead worker left behind.
    """
    now = timezone.now()
    # Claimed slightly early so that the worker is ready at the due second.
    wait = (publication.next_attempt_at - now).total_seconds()
    if 0 < wait <= settings.KAIROS_DISPATCH_LOOKAHEAD:
        time.sleep(wait)
        now = timezone.now()

    late = lateness_decision(publication, now)
    if late == "skip":
        return _finish_skipped(publication, now, settle)
    if publication.channel.status != ChannelStatus.CONNECTED:
        return _finish_channel_unavailable(publication, settle)

    attempt = start_attempt(publication, worker, now)
    if attempt is None:
        logger.warning(
            "publication %s: the claim of %s lapsed before its attempt started; not sending",
            publication.pk,
            worker,
        )
        return DeliveryReport(publication.pk, P.PENDING, CLAIM_LOST)
    plugins = get_plugins()
    channel = channel_context(publication.channel)
    fire = publication.content_item.fire
    audience = ledger_for(publication, plugins)  # None unless the network sends to a list
    try:
        post = build_post(publication)
    except ValidationError as exc:  # a medium deleted since approval
        post, outcome = None, refused_before_sending(exc)
    if post is not None:
        outcome = deliver(
            plugins,
            post,
            channel,
            publication.idempotency_key,
            reconcile=publication.needs_reconcile,
            values=fire.values if fire else None,
            progress=StoredProgress(publication),
            load_media=media_loader(publication.channel.network),
            audience=audience,
            first_attempt_at=publication.first_attempt_at,
        )
    if audience is not None:
        audience.raise_database_error()  # an outage, not a plugin bug: the runner handles it
    report = with_db_retries(
        "recording an outcome",
        lambda: record(publication, attempt, outcome, late == "late", settle=settle),
    )
    notify(plugins, publication, channel, outcome)
    return report


#: The outcome of a claim found lapsed (and maybe re-claimed) when its attempt was to start.
CLAIM_LOST = "claim_lost"


def start_attempt(publication: Publication, worker: str, now: datetime) -> DeliveryAttempt | None:
    """Open the attempt log entry, only while the claim is still this worker's.

    A worker can be slow between claiming and sending (a database restart, a long batch); if its
    lease lapsed meanwhile, recovery may have handed the row to another worker, and sending now
    would put two attempts on the wire at once. The check and the attempt are one transaction,
    and the lease is renewed with it, so the attempt starts with a full lease ahead.
    """
    with transaction.atomic():
        still_ours = Publication.objects.filter(
            pk=publication.pk, status=P.PUBLISHING, claimed_by=publication.claimed_by
        ).update(claim_expires_at=now + timedelta(seconds=settings.KAIROS_CLAIM_TTL))
        if not still_ours:
            return None
        return DeliveryAttempt.objects.create(
            publication=publication, number=publication.attempts + 1, worker=worker, started_at=now
        )


def refused_before_sending(exc: ValidationError) -> Outcome:
    """The post could not even be built (a medium deleted after approval): fail it, saying why."""
    reason = " ".join(exc.messages)
    code = getattr(exc, "code", None) or "invalid_post"
    return Outcome(Status.FAILED, code=code, reason=reason, error=PermanentError(reason, code=code))


def made_progress(outcome: Outcome) -> bool:
    """The attempt stopped on purpose part of the way, and continues (``TransientError``
    with ``progress``)."""
    return outcome.status is Status.RETRY and bool(getattr(outcome.error, "progress", False))


def _capabilities(network_key: str):
    try:
        return get_plugins().network(network_key).capabilities
    except UnknownNetworkError:
        return None


def _retry_fields(publication: Publication, outcome: Outcome, finished: datetime) -> dict:
    """Come back later, or give up; an earlier attempt that may have posted decides how."""
    network = publication.channel.network
    continued = made_progress(outcome)
    # Attempts that stopped on purpose part of the way are not failures: they do not count.
    attempts = publication.attempts + 1 - publication.continued_attempts - continued
    policy = policy_for(network)
    may_have_posted = publication.may_have_posted or bool(
        outcome.error is not None and getattr(outcome.error, "may_have_posted", False)
    )
    fields: dict = {
        "last_error_code": outcome.code,
        "needs_reconcile": outcome.reconcile_next or publication.needs_reconcile,
        "may_have_posted": may_have_posted,
    }
    delay = (
        (outcome.retry_after or 0.0)
        if continued
        else next_delay(attempts, retry_after=outcome.retry_after, policy=policy)
    )
    caps = _capabilities(network)
    window = caps.idempotency_window if caps else None
    closing = ""
    if delay is not None and may_have_posted and window and not caps.can_find_existing:
        # The network forgets idempotency keys after ``window``: a retry after that could post
        # twice, so the last retry is brought forward, or there is none.
        first = publication.first_attempt_at or finished
        left = window - (finished - first).total_seconds() - 1.0
        if left <= 0:
            delay, closing = (
                None,
                f" {publication.channel.network} forgets a post's key after {window:g} s.",
            )
        else:
            delay = min(delay, left)
    if continued:
        at = finished + timedelta(seconds=delay or 0.0)
        fields.update(
            status=P.PENDING,
            next_attempt_at=at,
            continued_attempts=F("continued_attempts") + 1,
            last_error_reason=f"{outcome.reason} It continues at {at:%H:%M:%S} UTC.",
        )
    elif delay is not None:
        at = finished + timedelta(seconds=delay)
        fields.update(
            status=P.PENDING,
            next_attempt_at=at,
            last_error_reason=(
                f"{outcome.reason} Attempt {attempts} of {policy.max_attempts}; "
                f"the next one is at {at:%H:%M:%S} UTC."
            ),
        )
    elif may_have_posted:
        fields.update(
            status=P.UNCONFIRMED,
            last_error_code=outcome.code or "unconfirmed",
            last_error_reason=(
                f"Gave up after {attempts} attempts ({outcome.reason}), but an earlier attempt "
                f"may have reached the network.{closing} Check the channel, then retry or "
                "confirm it."
            ),
        )
    else:
        fields.update(
            status=P.FAILED,
            last_error_reason=f"Gave up after {attempts} attempts: {outcome.reason}",
        )
    return fields


def _outcome_fields(
    publication: Publication, outcome: Outcome, late: bool, finished: datetime
) -> tuple[dict, str]:
    if outcome.status is Status.PUBLISHED:
        result = outcome.result
        return {
            "status": P.PUBLISHED,
            "external_id": result.external_id,
            "external_url": safe_link(result.url),
            "published_at": result.published_at,
            "delivered_late": late,
            "sent_text": sent_text(outcome.post),
            "needs_reconcile": False,
            "last_error_code": "",
            "last_error_reason": "",
        }, (AttemptOutcome.RECONCILED if outcome.reconciled else AttemptOutcome.PUBLISHED)
    if outcome.status is Status.RETRY:
        return _retry_fields(publication, outcome, finished), AttemptOutcome.RETRY
    if outcome.status is Status.UNCONFIRMED:
        return {
            "status": P.UNCONFIRMED,
            "may_have_posted": True,
            "last_error_code": outcome.code or "unconfirmed",
            "last_error_reason": outcome.reason,
        }, AttemptOutcome.UNCONFIRMED
    if outcome.status is Status.CREDENTIALS_EXPIRED:
        # Held with the rest of the channel's queue until someone reconnects it (.held).
        return {
            "status": P.PENDING,
            "last_error_code": "credentials_expired",
            "last_error_reason": f"{outcome.reason} Held until the channel is reconnected.",
        }, AttemptOutcome.CREDENTIALS_EXPIRED
    # FAILED, PLUGIN_ERROR: this attempt did not post, but an earlier one may have; then the
    # publication is not "failed", it is unknown.
    status = P.UNCONFIRMED if publication.may_have_posted else P.FAILED
    reason = outcome.reason
    if publication.may_have_posted:
        reason += " An earlier attempt may have reached the network: check the channel."
    return {
        "status": status,
        "last_error_code": outcome.code,
        "last_error_reason": reason,
    }, {
        Status.FAILED: AttemptOutcome.FAILED,
        Status.PLUGIN_ERROR: AttemptOutcome.PLUGIN_ERROR,
    }[outcome.status]


def record(
    publication: Publication,
    attempt: DeliveryAttempt,
    outcome: Outcome,
    late: bool,
    *,
    settle: bool = True,
) -> DeliveryReport:
    """Commit one attempt's outcome, the attempt log and the item's status together."""
    finished = timezone.now()
    fields, attempt_outcome = _outcome_fields(publication, outcome, late, finished)
    fields.update(
        claimed_by="",
        claim_expires_at=None,
        updated_at=finished,
        attempts=F("attempts") + 1,
        first_attempt_at=Coalesce(F("first_attempt_at"), attempt.started_at),
    )
    with transaction.atomic():
        # Only the claim owner records; a claim that lapsed meanwhile is not overwritten...
        updated = Publication.objects.filter(
            pk=publication.pk, status=P.PUBLISHING, claimed_by=publication.claimed_by
        ).update(**fields)
        if not updated and outcome.status is Status.PUBLISHED:
            # ...except with the news that the post is live, while nobody has re-claimed it.
            updated = Publication.objects.filter(pk=publication.pk, status=P.PENDING).update(
                **fields
            )
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=finished,
            outcome=attempt_outcome,
            error_code=outcome.code[:64],
            reason=outcome.reason,
            detail=outcome.detail,
        )
        if not updated:
            logger.error(
                "publication %s lost its claim during delivery; outcome %s kept in the attempt log",
                publication.pk,
                outcome.status,
            )
        if outcome.status is Status.CREDENTIALS_EXPIRED:
            held.hold(publication.channel, outcome.reason)
        remember_budget(publication.channel, outcome, finished)
        if updated and outcome.status is Status.PUBLISHED:
            if publication.content_item.fire_id:
                _record_fire_timing(publication.content_item.fire_id, fields["published_at"])
            if outcome.result.recipients_per_variant:
                _record_split(publication, outcome)
        if updated and settle:
            settle_item(publication.content_item)
    continued = fields.pop("continued_attempts", None) is not None
    for name in ("attempts", "first_attempt_at"):
        fields.pop(name)
    if updated:
        # The one line per delivery the worker's log is for (the heartbeat is not logged).
        logger.info(
            "publication %s: %s after attempt %s%s",
            publication.pk,
            outcome.status,
            attempt.number,
            f" ({outcome.reason[:200]})" if outcome.reason else "",
        )
        publication.attempts += 1
        publication.continued_attempts += continued
        publication.first_attempt_at = publication.first_attempt_at or attempt.started_at
        for name, value in fields.items():
            setattr(publication, name, value)
    lateness = (
        (publication.published_at - publication.due_at).total_seconds()
        if publication.published_at
        else None
    )
    return DeliveryReport(publication.pk, publication.status, attempt_outcome, lateness)


def _record_split(publication: Publication, outcome: Outcome) -> None:
    """Store the network's per-recipient split: the variants' exposures. Idempotent (upsert),
    so a reconciled publish that reports the split again leaves one row per variant."""
    if publication.variant_id is not None or publication.content_item.experiment_id is None:
        logger.warning(
            "publication %s: the network reported a recipient split for a post that was not "
            "split; ignored",
            publication.pk,
        )
        return
    allocation.record_recipient_split(
        publication, outcome.result.recipients_per_variant, strict=False
    )


def _record_fire_timing(fire_id: int, published_at: datetime) -> None:
    Fire.objects.filter(pk=fire_id, first_delivered_at__isnull=True).update(
        first_delivered_at=published_at
    )
    Fire.objects.filter(pk=fire_id).filter(
        Q(last_delivered_at__isnull=True) | Q(last_delivered_at__lt=published_at)
    ).update(last_delivered_at=published_at)


def settle_item(item: ContentItem) -> None:
    """The item follows its publications (``publishing`` while some are under way, then their
    outcome). The item's row is locked before its publications are read, so two workers
    finishing its last two publications at once cannot both miss the end."""
    item.status = workflow.settle(item).status


# --- finishing without an attempt ------------------------------------------------------------------


def _finish_without_attempt(
    publication: Publication, status: str, code: str, reason: str, settle: bool = True
) -> DeliveryReport:
    def finish() -> None:
        with transaction.atomic():
            Publication.objects.filter(pk=publication.pk, status=P.PUBLISHING).update(
                status=status,
                claimed_by="",
                claim_expires_at=None,
                last_error_code=code,
                last_error_reason=reason,
            )
            if settle:
                settle_item(publication.content_item)

    with_db_retries("finishing a publication", finish)
    publication.status = status
    return DeliveryReport(publication.pk, status, code)


def _finish_skipped(publication: Publication, now: datetime, settle: bool) -> DeliveryReport:
    late_by = now - publication.due_at
    minutes = int(late_by.total_seconds() // 60)
    return _finish_without_attempt(
        publication,
        P.SKIPPED,
        "moment_passed",
        f"Skipped: it was {minutes} min overdue and the item's policy skips posts whose moment has passed.",
        settle,
    )


def _finish_channel_unavailable(publication: Publication, settle: bool) -> DeliveryReport:
    channel = publication.channel
    status = P.UNCONFIRMED if publication.may_have_posted else P.FAILED
    reason = f"The channel is {channel.get_status_display().lower()}: reconnect or enable it, then retry."
    if publication.may_have_posted:
        reason += " An earlier attempt may have posted: check the channel first."
    return _finish_without_attempt(publication, status, f"channel_{channel.status}", reason, settle)


def finish_after_internal_error(publication: Publication, exc: BaseException) -> None:
    """A bug in Kairos (not in a plugin) stopped this attempt: end it where a person sees it,
    rather than handing it to the next worker to hit the same bug."""
    started = DeliveryAttempt.objects.filter(
        publication_id=publication.pk, finished_at__isnull=True
    )
    may_have_posted = publication.may_have_posted or started.exists()
    now = timezone.now()
    started.update(
        finished_at=now, outcome=AttemptOutcome.PLUGIN_ERROR, reason=f"Internal error: {exc!r}"
    )
    _finish_without_attempt(
        publication,
        P.UNCONFIRMED if may_have_posted else P.FAILED,
        "internal_error",
        "Kairos hit an internal error during this delivery"
        + (" after it may have reached the network; check the channel." if may_have_posted else ".")
        + " Ask a developer to check the worker's log, then retry.",
    )


# --- telling plugins -------------------------------------------------------------------------------


def notify(plugins, publication: Publication, channel: ChannelContext, outcome: Outcome) -> None:
    ref = publication_ref(publication)
    if outcome.status is Status.PUBLISHED:
        plugins.notify_published(ref=ref, result=outcome.result, channel=channel)
    elif outcome.error is not None and publication.status == P.UNCONFIRMED:
        plugins.notify_unconfirmed(ref=ref, error=outcome.error, channel=channel)
    elif outcome.error is not None:
        plugins.notify_failed(
            ref=ref,
            error=outcome.error,
            channel=channel,
            # What the publication became decides: a retry or a hold is not the end.
            final=publication.status in P.final_states(),
        )
