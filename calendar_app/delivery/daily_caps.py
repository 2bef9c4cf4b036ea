"""Networks' daily posting caps, checked when a post is scheduled.

Some networks let one account publish only so many posts in any 24 hours (Instagram through the
API, X per access tier); the post over the cap is refused when it is due, hours after anyone
could do something about it. So scheduling (and rescheduling) counts the channel's open
publications in every 24-hour window that would hold the new one, refuses the time that would
exceed the cap, and says the first time from then on when the post fits - the person shifts it
there, or picks another.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from calendar_app.delivery.posts import channel_context
from calendar_app.models import Channel, ChannelStatus, ContentItem, Publication, PublicationStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import UnknownNetworkError

__all__ = ["cap_problems", "channel_cap_problem", "channel_daily_cap", "first_fitting_time"]

WINDOW = timedelta(hours=24)
_NOT_COUNTED = (PublicationStatus.CANCELLED, PublicationStatus.FAILED, PublicationStatus.SKIPPED)


def _fits(due: datetime, others: list[datetime], cap: int) -> bool:
    """Whether one more post at ``due`` keeps every 24-hour window at or under ``cap``."""
    times = sorted([*others, due])
    for start in times:
        holds_due = start <= due < start + WINDOW
        if holds_due and sum(1 for t in times if start <= t < start + WINDOW) > cap:
            return False
    return True


def first_fitting_time(due: datetime, others: list[datetime], cap: int) -> datetime:
    """The earliest time from ``due`` on when one more post fits under the cap: ``due`` itself,
    or just after one of the posts in the way leaves the window."""
    candidates = [due, *sorted(t + WINDOW for t in others if t + WINDOW > due)]
    for candidate in candidates:
        nearby = [t for t in others if abs(t - candidate) < WINDOW]
        if _fits(candidate, nearby, cap):
            return candidate
    return max(others, default=due) + WINDOW


def channel_daily_cap(channel: Channel) -> int | None:
    """The channel's cap in any 24 hours: the smaller of the one set on the channel
    (``daily_post_cap``, the brand's own rule) and its network's ``max_posts_per_day``."""
    found = [channel.daily_post_cap]
    with contextlib.suppress(UnknownNetworkError):  # reported by the channel's connection test
        network = get_plugins().network(channel.network)
        found.append(network.capabilities_for(channel_context(channel)).max_posts_per_day)
    known = [cap for cap in found if cap is not None]
    return min(known) if known else None


def _network_name(channel: Channel) -> str:
    try:
        return get_plugins().network(channel.network).display_name
    except UnknownNetworkError:
        return channel.network


def cap_problems(item: ContentItem, due: datetime) -> list[str]:
    """Sentences saying which of the item's channels would go over their network's daily cap
    with a post at ``due``; empty when every channel has room."""
    channels = item.channels.filter(status=ChannelStatus.CONNECTED).order_by("pk")
    return [
        problem
        for channel in channels
        if (problem := channel_cap_problem(channel, due, besides=item)) is not None
    ]


def channel_cap_problem(
    channel: Channel, due: datetime, *, besides: ContentItem | None = None
) -> str | None:
    """Why one more post on ``channel`` at ``due`` would go over its daily cap, with the first
    time it fits; ``None`` when it has room. ``besides``: an item whose own publications are
    not counted (it is being moved, not added)."""
    cap = channel_daily_cap(channel)
    if not cap:
        return None
    around = Publication.objects.filter(
        channel=channel, due_at__gt=due - 2 * WINDOW, due_at__lt=due + 2 * WINDOW
    ).exclude(status__in=_NOT_COUNTED)
    if besides is not None:
        around = around.exclude(content_item=besides)
    others = list(around.values_list("due_at", flat=True))
    if _fits(due, [t for t in others if abs(t - due) < WINDOW], cap):
        return None
    fits_at = first_fitting_time(due, others, cap)
    return (
        f"{channel.handle} can publish {cap} posts in any 24 hours on "
        f"{_network_name(channel)}, and this time would make one more; the first time it "
        f"fits is {fits_at:%Y-%m-%d %H:%M} UTC."
    )
