"""Each channel's network budget, as the network announces it, and the pause it implies.

A network that says "0 requests left until 14:05" (rate-limit headers), or answers 429 with a
wait, will refuse everything sent before then. Kairos keeps the reading with the channel and
pauses the channel until the reset, so its due publications wait in the queue (not claimed, not
attempted, no attempt used up) instead of each collecting a 429. The API and the admin show the
reading, so a person sees the headroom before a big moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from calendar_app.models import Channel
from publishers import Outcome, Status

__all__ = ["remember_budget"]


def remember_budget(channel: Channel, outcome: Outcome, now: datetime) -> None:
    """Keep what ``outcome`` says about ``channel``'s budget (nothing to do when it says
    nothing: no query)."""
    reading = outcome.rate_limit
    pause: datetime | None = None
    if reading is not None and reading.exhausted:
        pause = reading.reset_at
    if outcome.status is Status.RETRY and outcome.code == "rate_limited" and outcome.retry_after:
        waited = now + timedelta(seconds=outcome.retry_after)
        pause = waited if pause is None else max(pause, waited)
    if reading is None and pause is None:
        return
    if pause is not None:
        cap = now + timedelta(seconds=settings.KAIROS_RETRY_MAX_RETRY_AFTER)
        pause = min(pause, cap) if pause > now else None
    fields: dict = {"paused_until": pause}
    if reading is not None:
        fields["rate_limit"] = reading.to_dict()
    Channel.objects.filter(pk=channel.pk).update(**fields)
    for name, value in fields.items():
        setattr(channel, name, value)
