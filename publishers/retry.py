"""How long to wait before the next delivery attempt: pure, so it is easy to test and reason about.

Exponential back-off with jitter (by default *full* jitter: the delay is drawn uniformly between 0
and the exponential bound), so that many publications failing together - a network outage at the
top of the hour - do not come back together. The bound is capped; a ``Retry-After`` from the
network is a floor; after ``max_attempts`` attempts Kairos gives up.

The host builds the policy from its configuration (``KAIROS_RETRY_*``); a network may declare a
policy of its own (``Network.retry_policy``) and the operator may override it per network.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DEFAULT_POLICY", "RetryPolicy", "next_delay"]


class _Random(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Back-off parameters.

    :param base: bound of the first retry's delay, in seconds.
    :param factor: growth of the bound per attempt.
    :param cap: largest bound, in seconds.
    :param max_attempts: attempts in total, the first included; no retry after that many.
    :param max_retry_after: a ``Retry-After`` longer than this (seconds) means giving up now
        rather than holding a publication for days.
    :param jitter: the share of the bound that is random, from 0 (the delay is the bound) to 1
        (full jitter: anywhere between 0 and the bound).
    """

    base: float = 15.0
    factor: float = 2.0
    cap: float = 3600.0
    max_attempts: int = 8
    max_retry_after: float = 6 * 3600.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if (
            not self.base > 0
            or not self.factor >= 1
            or not self.cap >= self.base
            or self.max_attempts < 1
            or not 0 <= self.jitter <= 1
            or not self.max_retry_after >= 0
        ):
            raise ValueError(f"invalid retry policy {self!r}")

    def replace(self, **changes: float) -> RetryPolicy:
        """A copy with ``changes`` applied (validated like a new policy)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """The schedule in words, for docs, logs and the admin."""
        return (
            f"{self.max_attempts} attempts; the n-th retry waits up to "
            f"{self.base:g} s × {self.factor:g}^(n-1), capped at {self.cap:g} s, "
            f"{self.jitter:.0%} of it random"
        )


DEFAULT_POLICY = RetryPolicy()
_SYSTEM_RANDOM = random.SystemRandom()


def next_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: _Random | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` to give up.

    :param attempt: how many attempts have been made so far (1 after the first failure).
    :param retry_after: the network's ``Retry-After`` in seconds, used as a floor.
    :param rng: anything with ``random() -> float`` in ``[0, 1)``; inject a seeded
        :class:`random.Random` for deterministic results.
    :param policy: the back-off parameters.
    """
    if attempt < 1:
        raise ValueError("attempt counts the attempts made so far and starts at 1")
    if attempt >= policy.max_attempts:
        return None
    if retry_after is not None and retry_after > policy.max_retry_after:
        return None
    # Compare in the log domain so that huge attempt numbers cannot overflow a float.
    exponent = attempt - 1
    if math.log(policy.base) + exponent * math.log(policy.factor) >= math.log(policy.cap):
        bound = policy.cap
    else:
        bound = policy.base * policy.factor**exponent
    delay = bound * (1.0 - policy.jitter * (rng or _SYSTEM_RANDOM).random())
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay
