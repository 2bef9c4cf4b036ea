"""What each channel's server allows, learned from the server and kept with the channel.

Limits differ per server (one Mastodon instance allows 500 characters, another 5,000), and
validation must be fast and offline: it runs while a person edits a post. So the network's
``discover`` is asked here - when a channel's connection is tested, and daily for every connected
channel - and its answer stored in ``Channel.facts``, which ``capabilities_for`` and ``validate``
read without any I/O.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from calendar_app.delivery.posts import channel_context
from calendar_app.models import Channel, ChannelStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import PublisherError, UnknownNetworkError

__all__ = ["refresh_all_facts", "refresh_facts"]

logger = logging.getLogger("kairos.delivery")
MAX_FACTS_BYTES = 20_000


def refresh_facts(channel: Channel) -> bool:
    """Ask the channel's network what its server allows and keep it; ``False`` when it could
    not be asked (the facts known so far stay)."""
    try:
        network = get_plugins().network(channel.network)
        facts = dict(network.discover(channel_context(channel)) or {})
    except (UnknownNetworkError, PublisherError) as exc:
        logger.info("could not refresh the facts of channel %s: %s", channel.pk, exc)
        return False
    except Exception:  # a plugin's bug must not break a connection test or the daily run
        logger.exception("network %r failed to discover channel %s", channel.network, channel.pk)
        return False
    import json

    if len(json.dumps(facts, default=str)) > MAX_FACTS_BYTES:
        logger.warning("channel %s: the network's facts are too large; not kept", channel.pk)
        return False
    Channel.objects.filter(pk=channel.pk).update(facts=facts, facts_checked_at=timezone.now())
    channel.facts, channel.facts_checked_at = facts, timezone.now()
    return True


def refresh_all_facts() -> int:
    """The daily run: every connected channel's facts; returns how many were refreshed."""
    refreshed = 0
    for channel in Channel.objects.filter(status=ChannelStatus.CONNECTED).iterator():
        refreshed += refresh_facts(channel)
    return refreshed
