"""What people do to a publication after delivery gave up on it: send it again, or confirm it.

A retry puts the row back to ``pending`` and due now, and wakes a worker for it at commit; if
that wake-up is lost, the dispatcher finds the row due anyway.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import ChannelStatus, Publication, PublicationStatus

P = PublicationStatus


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
    from calendar_app.crisis.services import check_retry  # it imports the delivery code

    check_retry(publication, publication.content_item)
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
        if resolved_unconfirmed == "not_posted":
            # A person looked and found nothing: send it as new.
            publication.needs_reconcile = publication.may_have_posted = False
        else:
            publication.needs_reconcile = (
                publication.needs_reconcile
                or publication.may_have_posted
                or bool(publication.external_id)
            )
        publication.last_error_reason = (
            f"Retry requested by {actor.label}. " + publication.last_error_reason
        )
    publication.save()
    if publication.status == P.PENDING:
        from calendar_app.delivery.dispatcher import wake

        transaction.on_commit(lambda: wake([publication.pk]))
    item = publication.content_item
    if item.status in workflow.RULES["resume"].sources and publication.status == P.PENDING:
        workflow.resume(item, workflow.Actor.system(f"retry by {actor.label}"))
    workflow.settle(item)
    return publication
