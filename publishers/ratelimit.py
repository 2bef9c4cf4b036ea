"""Rate limits a network announces in its answers, learned while delivering.

Networks say how much of their budget is left in response headers (Mastodon and many others:
``X-RateLimit-Limit``/``-Remaining``/``-Reset``; X: ``x-rate-limit-*``; the IETF draft: ``RateLimit-Limit``/
``-Remaining``/``-Reset``). Reading them lets Kairos wait for the window to reset instead of
sending into a wall of 429s. Every request made with :func:`publishers.send_request` is read here
automatically; the pipeline collects the last reading of an attempt into ``Outcome.rate_limit``
and the host keeps it per channel. A plugin that makes its requests another way can report a
reading itself with :func:`observe_rate_limit`.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["RateLimit", "observe_rate_limit", "observing", "parse_rate_limit"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One reading of a channel's budget: ``remaining`` of ``limit`` requests until
    ``reset_at`` (any of them ``None`` when the network did not say)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    observed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def exhausted(self) -> bool:
        """Nothing left before the reset: sending now would only collect a 429."""
        return self.remaining is not None and self.remaining <= 0 and self.reset_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset_at": None if self.reset_at is None else self.reset_at.isoformat(),
            "observed_at": self.observed_at.isoformat(),
        }


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    head = value.split(",")[0].split(";")[0].strip()
    return int(head) if head.isascii() and head.isdigit() else None


def _reset(value: str | None, now: datetime, *, delta_only: bool) -> datetime | None:
    """``X-RateLimit-Reset`` is an ISO 8601 time (Mastodon), epoch seconds (GitHub, X) or
    seconds from now; ``RateLimit-Reset`` is always seconds from now."""
    if not value:
        return None
    text = value.split(",")[0].split(";")[0].strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        if delta_only or number < 10**9:  # a delay, not a point in time
            return now + timedelta(seconds=number)
        return datetime.fromtimestamp(number, UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(text) if "," in value else None
        if parsed is None:
            return None
        when = parsed
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_rate_limit(headers: Mapping[str, str], now: datetime | None = None) -> RateLimit | None:
    """The reading in ``headers`` (case-insensitive mapping), or ``None`` when there is none."""
    now = now or datetime.now(UTC)
    lower = {k.lower(): v for k, v in headers.items()}
    for prefix, delta_only in (
        ("x-ratelimit-", False),
        ("x-rate-limit-", False),
        ("ratelimit-", True),
    ):
        limit = _int(lower.get(prefix + "limit"))
        remaining = _int(lower.get(prefix + "remaining"))
        if limit is None and remaining is None:
            continue
        try:
            reset = _reset(lower.get(prefix + "reset"), now, delta_only=delta_only)
        except (ValueError, OverflowError, TypeError):
            reset = None
        return RateLimit(limit, remaining, reset, now)
    return None


_current: contextvars.ContextVar[list[RateLimit] | None] = contextvars.ContextVar(
    "kairos_rate_limits", default=None
)


def observe_rate_limit(reading: RateLimit | Mapping[str, str] | None) -> None:
    """Report a reading (or headers to read one from) for the attempt in progress; nothing
    happens outside an attempt."""
    seen = _current.get()
    if seen is None or reading is None:
        return
    if not isinstance(reading, RateLimit):
        reading = parse_rate_limit(reading)
        if reading is None:
            return
    seen.append(reading)


@contextlib.contextmanager
def observing() -> Iterator[list[RateLimit]]:
    """Collect the readings made inside the block (the pipeline wraps each attempt in one)."""
    seen: list[RateLimit] = []
    token = _current.set(seen)
    try:
        yield seen
    finally:
        _current.reset(token)
