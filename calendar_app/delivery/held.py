"""Publications held while their channel's credentials are expired, and released on reconnect.

When a network refuses a channel's credentials, Kairos marks the channel ``expired`` and *holds*
its publications (they stay ``pending``, marked ``channel_expired``) instead of failing them:
workers do not claim them, and ``/health/`` does not count them as overdue. Reconnecting the
channel - new credentials saved, or its status set back to ``connected``, through the API or
the admin - releases them at once: each goes out, or follows its item's lateness policy if its
moment has passed. Nobody has to retry them one by one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from calendar_app.models import Channel, ChannelStatus, Publication, PublicationStatus

HELD_CODES = ("channel_expired", "credentials_expired")
#: The code a released publication carries, so that its lateness policy still applies.
RELEASED = "released_after_hold"
_WAS = "_kairos_delivery_status_before"


def hold(channel: Channel, reason: str) -> int:
    """Mark the channel expired and say on each waiting publication why it waits."""
    channel.set_status(ChannelStatus.EXPIRED, reason)
    return Publication.objects.filter(channel=channel, status=PublicationStatus.PENDING).update(
        last_error_code="channel_expired",
        last_error_reason=(
            "Held: the network refused the channel's credentials. Reconnect the channel and "
            "this goes out, or follows its lateness policy if its moment has passed."
        ),
    )


def release(channel: Channel) -> int:
    """The channel is connected again: its held publications become due work."""
    return Publication.objects.filter(
        channel=channel, status=PublicationStatus.PENDING, last_error_code__in=HELD_CODES
    ).update(
        last_error_code=RELEASED,
        last_error_reason=f"Released when the channel was reconnected at {timezone.now():%Y-%m-%d %H:%M} UTC.",
    )


def reconnect_with_new_secrets(channel: Channel) -> None:
    """New credentials for an expired channel are a reconnection (call before saving)."""
    if channel.pk and channel.status == ChannelStatus.EXPIRED:
        channel.status = ChannelStatus.CONNECTED
        channel.status_reason = "Reconnected with new credentials."
        channel.status_changed_at = timezone.now()


def _remember(sender: type, instance: Channel, raw: bool = False, **kwargs: Any) -> None:
    was = None
    if not raw and instance.pk and instance.status == ChannelStatus.CONNECTED:
        was = Channel.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
    setattr(instance, _WAS, was)


def _released(sender: type, instance: Channel, raw: bool = False, **kwargs: Any) -> None:
    if not raw and getattr(instance, _WAS, None) == ChannelStatus.EXPIRED:
        transaction.on_commit(lambda: release(instance))


def connect() -> None:
    pre_save.connect(_remember, sender=Channel, dispatch_uid="kairos_held_remember")
    post_save.connect(_released, sender=Channel, dispatch_uid="kairos_held_release")


def apply_release(
    *,
    go: Collection[int],
    channel_held: Collection[int],
    skip: Collection[int],
    released_reason: str,
    skipped_reason: str,
    now: datetime,
) -> None:
    """Write what a release decided (a crisis resumed, a moment closed): ``go`` back to pending,
    marked released so that their lateness policy still applies; ``channel_held`` back to
    pending as they were (their expired channel keeps holding them); ``skip`` skipped."""
    if go:
        Publication.objects.filter(pk__in=go).update(
            status=PublicationStatus.PENDING,
            claimed_by="",
            last_error_code=RELEASED,
            last_error_reason=released_reason,
            updated_at=now,
        )
    if channel_held:
        Publication.objects.filter(pk__in=channel_held).update(
            status=PublicationStatus.PENDING, claimed_by="", updated_at=now
        )
    if skip:
        Publication.objects.filter(pk__in=skip).update(
            status=PublicationStatus.SKIPPED,
            claimed_by="",
            last_error_code="moment_passed",
            last_error_reason=skipped_reason,
            updated_at=now,
        )
