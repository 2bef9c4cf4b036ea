"""Turning a scheduled item into publications, and keeping them in step when plans change.

One publication per (target channel × variant): without an experiment each channel gets one
publication; with one, each channel gets the variant that keeps the experiment's planned split
balanced on that network (see :func:`allocate_variant`), so that a variant is never confounded
with a network. Due times are UTC instants; a naive time is read in the brand's time zone.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from calendar_app.models import (
    Channel,
    ChannelStatus,
    ContentItem,
    Publication,
    PublicationStatus,
    Variant,
)
from calendar_app.timeutils import local_to_utc

OPEN = PublicationStatus.open_states()
#: Not gone out and not being sent: pending, or held by a crisis.
WAITING = PublicationStatus.waiting_states()


def resolve_due_time(item: ContentItem, when: datetime | None) -> datetime:
    when = when or item.scheduled_at
    if when is None:
        raise ValidationError({"scheduled_at": "Say when it should go out."}, code="required")
    return local_to_utc(when, item.brand.time_zone)


def allocate_variant(item: ContentItem, channel: Channel) -> Variant | None:
    """The variant for ``item`` on ``channel``: balanced by planned weights within each network
    *and* each local hour bucket, or None on networks that split per recipient.

    The rule lives in :mod:`calendar_app.allocation`; this name stays for existing callers.
    """
    from calendar_app import allocation

    return allocation.allocate_variant(item, channel)


def create_publications(item: ContentItem) -> list[Publication]:
    """Create the item's missing publications (idempotent: existing open ones are kept)."""
    created = []
    existing = set(
        item.publications.exclude(status=PublicationStatus.CANCELLED).values_list(
            "channel_id", flat=True
        )
    )
    for channel in item.channels.filter(status=ChannelStatus.CONNECTED).order_by("pk"):
        if channel.pk in existing:
            continue
        variant = allocate_variant(item, channel)
        publication, _ = Publication.objects.update_or_create(
            content_item=item,
            channel=channel,
            variant=variant,
            defaults={
                "workspace_id": item.workspace_id,
                "status": PublicationStatus.PENDING,
                "due_at": item.scheduled_at,
                "next_attempt_at": item.scheduled_at,
            },
        )
        created.append(publication)
    if not item.publications.exclude(status=PublicationStatus.CANCELLED).exists():
        raise ValidationError(
            {"channels": "Pick at least one connected channel to publish to."}, code="no_channels"
        )
    from calendar_app.crisis.services import hold_new  # it imports the delivery code

    hold_new(item, created)  # scheduled into an active crisis: held at once
    from calendar_app.moments import holds

    holds.hold_new(item, created)  # into an open moment that holds its priority
    return created


def move_publications(item: ContentItem, due: datetime) -> int:
    """Move what has not gone out yet (a publication held by a crisis stays held, at its new
    time); what is already being delivered is left alone."""
    return item.publications.filter(status__in=WAITING).update(due_at=due, next_attempt_at=due)


def cancel_publications(item: ContentItem) -> int:
    return item.publications.filter(status__in=WAITING).update(
        status=PublicationStatus.CANCELLED, claimed_by=""
    )
