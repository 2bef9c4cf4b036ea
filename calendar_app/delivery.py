"""Delivering one publication: claim it, hand plain values to the plugin pipeline, record the outcome.

The guarantees live here:

* **At most once.** A worker *claims* the row with one conditional ``UPDATE`` (status, claim
  owner, claim expiry). A duplicate task, a broker redelivery or a second worker finds the row
  already claimed and does nothing. The publication's idempotency key goes to every attempt.
* **Never lost.** A claim that is not finished before ``claim_expires_at`` (the worker was
  killed) is released by :func:`recover_stale_claims`; the next attempt first asks the network
  whether the post exists (``find_existing``). A network that can neither deduplicate nor be
  searched puts the publication in ``unconfirmed`` for a person, instead of a blind retry.
* **Outcome first, notifications after.** The outcome is committed, then plugins are notified
  (outbound webhooks), so a notification never describes something that was rolled back.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from calendar_app import allocation, workflow
from calendar_app.models import (
    AttemptOutcome,
    Channel,
    ChannelStatus,
    ContentItem,
    ContentStatus,
    DeliveryAttempt,
    Fire,
    LatenessPolicy,
    Publication,
    PublicationStatus,
    Variant,
)
from calendar_app.plugins_runtime import get_plugins
from calendar_app.tracking import tracked_url_for
from publishers import (
    CallToAction,
    ChannelContext,
    Outcome,
    Post,
    PublicationRef,
    Status,
    VariantOffer,
    deliver,
    next_delay,
)

logger = logging.getLogger("kairos.delivery")
P = PublicationStatus


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_ttl() -> timedelta:
    return timedelta(seconds=settings.KAIROS_CLAIM_TTL)


# --- building the plain values plugins receive ---------------------------------------------------


def channel_context(channel: Channel) -> ChannelContext:
    return ChannelContext(
        id=str(channel.pk),
        network=channel.network,
        handle=channel.handle,
        settings=channel.settings or {},
        secrets=channel.secrets or {},
    )


def _cta_parts(source, item: ContentItem) -> tuple[str, str, str]:
    """(text, url, button) of ``source`` (a variant or the item), else the brand's default."""
    text, url, button = source.cta_text, source.cta_url, source.cta_button
    if not (text or url):
        brand = item.brand
        text, url, button = brand.default_cta_text, brand.default_cta_url, brand.default_cta_button
    return text, url, button


def _cta(publication: Publication, variant: Variant | None = None) -> CallToAction | None:
    """The variant's call to action, else the item's, else the brand's default (a promoted winner).

    Its link becomes a tracked short link (``/r/<code>``) when ``KAIROS_TRACKING_BASE_URL`` is
    set, so clicks are counted per publication and variant even where the network reports none.
    ``variant`` is given for a per-recipient publication (which has none of its own): the link
    is then that variant's.
    """
    item = publication.content_item
    text, url, button = _cta_parts(variant or publication.variant or item, item)
    if not (text or url):
        return None
    if url and settings.KAIROS_TRACKING_BASE_URL:
        url = tracked_url_for(publication, url, variant=variant)
    return CallToAction(text=text, url=url, button_label=button)


def splits_per_recipient(publication: Publication) -> bool:
    """Whether ``publication`` hands its experiment's arms to the network: the item has an
    experiment, the publication no variant, and the network splits per recipient."""
    return (
        publication.content_item.experiment_id is not None
        and publication.variant_id is None
        and allocation.per_recipient_split(publication.channel.network)
    )


def _variant_offers(publication: Publication) -> tuple[VariantOffer, ...]:
    """Every arm of the item's experiment, each with its own (tracked) call to action."""
    variants = Variant.objects.filter(experiment_id=publication.content_item.experiment_id)
    return tuple(VariantOffer(v.key, v.weight, _cta(publication, v)) for v in variants)


def build_post(publication: Publication) -> Post:
    item = publication.content_item
    metadata = {"content_item_id": item.pk, "workspace": item.workspace_id}
    if item.event_id:
        metadata["event_id"] = item.event_id
    if item.fire_id:
        metadata["fire_id"] = item.fire_id
    if splits_per_recipient(publication):
        cta, variants, experiment_key = None, _variant_offers(publication), str(item.experiment_id)
    else:
        cta, variants = _cta(publication), ()
        experiment_key = str(publication.variant.experiment_id) if publication.variant_id else ""
    return Post(
        body=item.body,
        links=tuple(item.links or ()),
        media=tuple(item.media or ()),
        cta=cta,
        variants=variants,
        variant_key=publication.variant.key if publication.variant_id else "",
        experiment_key=experiment_key,
        language=item.brand.language,
        brand_name=item.brand.name,
        brand_slug=item.brand.slug,
        publication_id=str(publication.pk),
        scheduled_for=publication.due_at,
        metadata=metadata,
    )


def publication_ref(publication: Publication) -> PublicationRef:
    return PublicationRef(
        publication_id=str(publication.pk),
        idempotency_key=publication.idempotency_key,
        network=publication.channel.network,
        external_id=publication.external_id,
        url=publication.external_url,
        variant_key=publication.variant.key if publication.variant_id else "",
    )


# --- claiming --------------------------------------------------------------------------------------


def claim(publication_id: int, *, worker: str, now: datetime | None = None) -> Publication | None:
    """Atomically take a due publication for this worker, or ``None`` if it is not ours to send.

    One conditional UPDATE: of two workers racing for the row, exactly one sees ``rowcount == 1``,
    on SQLite and PostgreSQL alike, without holding a lock across the network call.
    """
    now = now or timezone.now()
    lookahead = timedelta(seconds=settings.KAIROS_DISPATCH_LOOKAHEAD)
    claimed = Publication.objects.filter(
        pk=publication_id,
        status__in=[P.PENDING, P.QUEUED],
        next_attempt_at__lte=now + lookahead,
    ).update(
        status=P.PUBLISHING,
        claimed_by=worker,
        claim_expires_at=now + claim_ttl(),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if not claimed:
        return None
    return Publication.objects.select_related(
        "content_item__brand", "channel", "variant", "content_item__fire"
    ).get(pk=publication_id)


def recover_stale_claims(now: datetime | None = None) -> int:
    """Release claims whose worker died: they go back to pending, flagged for reconciliation."""
    now = now or timezone.now()
    stale = list(
        Publication.objects.filter(status=P.PUBLISHING, claim_expires_at__lt=now).values_list(
            "pk", flat=True
        )
    )
    released = 0
    for pk in stale:
        released += Publication.objects.filter(
            pk=pk, status=P.PUBLISHING, claim_expires_at__lt=now
        ).update(
            status=P.PENDING,
            claimed_by="",
            claim_expires_at=None,
            needs_reconcile=True,
            next_attempt_at=now,
            updated_at=now,
        )
        DeliveryAttempt.objects.filter(publication_id=pk, finished_at__isnull=True).update(
            finished_at=now,
            outcome=AttemptOutcome.UNCONFIRMED,
            reason="The worker stopped during this attempt; the next attempt checks the network first.",
        )
    if released:
        logger.warning("released %d stale claim(s)", released)
    return released


# --- lateness --------------------------------------------------------------------------------------


def lateness_decision(publication: Publication, now: datetime) -> str | None:
    """``"skip"`` when the item's moment has passed, ``"late"`` when it goes out flagged, else None."""
    grace = timedelta(seconds=settings.KAIROS_OVERDUE_GRACE)
    if publication.attempts > 1 or now - publication.due_at <= grace:
        return None  # on time, or a retry (whose delay is expected)
    item = publication.content_item
    if (
        item.lateness_policy == LatenessPolicy.SKIP
        and now - publication.due_at > item.lateness_tolerance
    ):
        return "skip"
    return "late"


# --- one delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    publication_id: int
    status: str
    outcome: str
    lateness: float | None = None  # seconds between due time and the network's answer


def deliver_publication(publication_id: int, *, worker: str | None = None) -> DeliveryReport | None:
    """Deliver one publication if it is due and nobody else has it. Safe to call any number of times."""
    worker = worker or worker_name()
    publication = claim(publication_id, worker=worker)
    if publication is None:
        return None
    now = timezone.now()
    # Dispatched slightly early so that the task is already on a worker at the due second.
    wait = (publication.next_attempt_at - now).total_seconds()
    if 0 < wait <= settings.KAIROS_DISPATCH_LOOKAHEAD:
        time.sleep(wait)
        now = timezone.now()

    late = lateness_decision(publication, now)
    if late == "skip":
        return _finish_skipped(publication, now)
    if publication.channel.status != ChannelStatus.CONNECTED:
        return _finish_channel_unavailable(publication, now)

    attempt = DeliveryAttempt.objects.create(
        publication=publication, number=publication.attempts, worker=worker, started_at=now
    )
    plugins = get_plugins()
    channel = channel_context(publication.channel)
    fire = publication.content_item.fire
    outcome = deliver(
        plugins,
        build_post(publication),
        channel,
        publication.idempotency_key,
        reconcile=publication.needs_reconcile,
        values=fire.values if fire else None,
    )
    report = _record(publication, attempt, outcome, late == "late")
    _notify(plugins, publication, channel, outcome)
    return report


def _record(
    publication: Publication, attempt: DeliveryAttempt, outcome: Outcome, late: bool
) -> DeliveryReport:
    finished = timezone.now()
    fields: dict = {"claimed_by": "", "claim_expires_at": None, "updated_at": finished}
    if outcome.status is Status.PUBLISHED:
        result = outcome.result
        fields.update(
            status=P.PUBLISHED,
            external_id=result.external_id,
            external_url=result.url,
            published_at=result.published_at,
            delivered_late=late,
            needs_reconcile=False,
            last_error_code="",
            last_error_reason="",
        )
        attempt_outcome = (
            AttemptOutcome.RECONCILED if outcome.reconciled else AttemptOutcome.PUBLISHED
        )
    elif outcome.status is Status.RETRY:
        delay = next_delay(publication.attempts, retry_after=outcome.retry_after)
        fields.update(
            last_error_code=outcome.code,
            last_error_reason=outcome.reason,
            needs_reconcile=outcome.reconcile_next,
        )
        if delay is None:
            fields.update(
                status=P.FAILED,
                last_error_reason=f"Gave up after {publication.attempts} attempts: {outcome.reason}",
            )
        else:
            fields.update(status=P.PENDING, next_attempt_at=finished + timedelta(seconds=delay))
        attempt_outcome = AttemptOutcome.RETRY
    elif outcome.status is Status.UNCONFIRMED:
        fields.update(
            status=P.UNCONFIRMED,
            last_error_code=outcome.code or "unconfirmed",
            last_error_reason=outcome.reason,
        )
        attempt_outcome = AttemptOutcome.UNCONFIRMED
    else:  # FAILED, CREDENTIALS_EXPIRED, PLUGIN_ERROR
        fields.update(
            status=P.FAILED, last_error_code=outcome.code, last_error_reason=outcome.reason
        )
        attempt_outcome = {
            Status.FAILED: AttemptOutcome.FAILED,
            Status.CREDENTIALS_EXPIRED: AttemptOutcome.CREDENTIALS_EXPIRED,
            Status.PLUGIN_ERROR: AttemptOutcome.PLUGIN_ERROR,
        }[outcome.status]

    with transaction.atomic():
        # Only the claim owner may record; a claim released meanwhile (stale) is not overwritten.
        updated = Publication.objects.filter(
            pk=publication.pk, status=P.PUBLISHING, claimed_by=publication.claimed_by
        ).update(**fields)
        attempt.finished_at = finished
        attempt.outcome = attempt_outcome
        attempt.error_code = outcome.code[:64]
        attempt.reason = outcome.reason
        attempt.detail = outcome.detail
        attempt.save()
        if not updated:
            logger.error(
                "publication %s lost its claim during delivery; outcome %s kept in the attempt log",
                publication.pk,
                outcome.status,
            )
        if outcome.status is Status.CREDENTIALS_EXPIRED:
            _expire_channel(publication.channel, outcome.reason)
        if outcome.status is Status.PUBLISHED and publication.content_item.fire_id:
            _record_fire_timing(publication.content_item.fire_id, fields["published_at"])
        if outcome.status is Status.PUBLISHED and outcome.result.recipients_per_variant:
            _record_split(publication, outcome)
        _settle_item(publication.content_item)
    publication.refresh_from_db()
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


def _expire_channel(channel: Channel, reason: str) -> None:
    """A revoked token fails everything queued for the channel until someone reconnects it."""
    channel.set_status(ChannelStatus.EXPIRED, reason)
    Publication.objects.filter(channel=channel, status__in=[P.PENDING, P.QUEUED]).update(
        status=P.FAILED,
        last_error_code="channel_expired",
        last_error_reason="The channel's credentials expired: reconnect the channel, then retry.",
    )


def _record_fire_timing(fire_id: int, published_at: datetime) -> None:
    Fire.objects.filter(pk=fire_id, first_delivered_at__isnull=True).update(
        first_delivered_at=published_at
    )
    Fire.objects.filter(pk=fire_id).filter(
        Q(last_delivered_at__isnull=True) | Q(last_delivered_at__lt=published_at)
    ).update(last_delivered_at=published_at)


def _settle_item(item: ContentItem) -> None:
    """The item follows its publications: publishing once one is under way, then its outcome."""
    if item.status == ContentStatus.SCHEDULED:
        workflow.start_publishing(item)
    workflow.settle(item)


def _finish_without_attempt(
    publication: Publication, status: str, code: str, reason: str
) -> DeliveryReport:
    with transaction.atomic():
        Publication.objects.filter(pk=publication.pk, status=P.PUBLISHING).update(
            status=status,
            claimed_by="",
            claim_expires_at=None,
            attempts=F("attempts") - 1,
            last_error_code=code,
            last_error_reason=reason,
        )
        _settle_item(publication.content_item)
    return DeliveryReport(publication.pk, status, code)


def _finish_skipped(publication: Publication, now: datetime) -> DeliveryReport:
    late_by = now - publication.due_at
    minutes = int(late_by.total_seconds() // 60)
    return _finish_without_attempt(
        publication,
        P.SKIPPED,
        "moment_passed",
        f"Skipped: it was {minutes} min overdue and the item's policy skips posts whose moment has passed.",
    )


def _finish_channel_unavailable(publication: Publication, now: datetime) -> DeliveryReport:
    channel = publication.channel
    return _finish_without_attempt(
        publication,
        P.FAILED,
        f"channel_{channel.status}",
        f"The channel is {channel.get_status_display().lower()}: reconnect or enable it, then retry.",
    )


def _notify(plugins, publication: Publication, channel: ChannelContext, outcome: Outcome) -> None:
    publication.refresh_from_db()
    ref = publication_ref(publication)
    if outcome.status is Status.PUBLISHED:
        plugins.notify_published(ref=ref, result=outcome.result, channel=channel)
    elif outcome.status is Status.UNCONFIRMED:
        plugins.notify_unconfirmed(ref=ref, error=outcome.error, channel=channel)
    elif outcome.error is not None:
        plugins.notify_failed(
            ref=ref,
            error=outcome.error,
            channel=channel,
            final=outcome.final or publication.status == P.FAILED,
        )


# --- people's actions ------------------------------------------------------------------------------


class DeliveryActionError(Exception):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


RETRYABLE = (P.FAILED, P.UNCONFIRMED, P.SKIPPED)


@transaction.atomic
def retry_publication(
    publication: Publication, actor: workflow.Actor, *, resolved_unconfirmed: str = ""
) -> Publication:
    """Send a failed, skipped or unconfirmed publication again (an approver's decision).

    For an ``unconfirmed`` one the approver says what they found: ``"not_posted"`` (retry) or
    ``"posted"`` (mark published without sending again).
    """
    from calendar_app.models import Role

    if not actor.may(Role.APPROVER):
        raise DeliveryActionError(
            "permission_denied",
            f"Retrying needs the approver role; {actor.label} has {actor.role or 'none'}.",
        )
    publication = (
        Publication.objects.select_for_update()
        .select_related("channel", "content_item")
        .get(pk=publication.pk)
    )
    if publication.status not in RETRYABLE:
        raise DeliveryActionError(
            "invalid_state",
            f"Only failed, skipped or unconfirmed publications can be retried; this one is {publication.status}.",
        )
    if publication.channel.status != ChannelStatus.CONNECTED:
        raise DeliveryActionError("channel_unavailable", "Reconnect the channel before retrying.")
    now = timezone.now()
    if publication.status == P.UNCONFIRMED and resolved_unconfirmed == "posted":
        publication.status = P.PUBLISHED
        publication.published_at = publication.published_at or now
        publication.last_error_reason = f"Confirmed posted by {actor.label}."
    else:
        if publication.status == P.UNCONFIRMED and resolved_unconfirmed != "not_posted":
            raise DeliveryActionError(
                "confirmation_required",
                "This publication may already be live. Check the network, then retry with "
                "resolution 'not_posted' or 'posted'.",
            )
        publication.status = P.PENDING
        publication.next_attempt_at = now
        publication.needs_reconcile = publication.needs_reconcile or bool(publication.external_id)
        publication.last_error_reason = (
            f"Retry requested by {actor.label}. " + publication.last_error_reason
        )
    publication.save()
    item = publication.content_item
    if item.status in workflow.RULES["resume"].sources and publication.status == P.PENDING:
        workflow.resume(item, workflow.Actor.system(f"retry by {actor.label}"))
    workflow.settle(item)
    return publication
