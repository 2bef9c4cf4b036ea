"""Deterministic, simulated engagement from *true rates*, for demos, tests and benchmarks.

An A/B analysis can only be checked against a truth that is known. Here the truth is set in the
channel's settings (a click-through rate per variant, say), and the counts are drawn from it:

* impressions grow with time since publication towards the audience:
  ``floor(audience * (1 - exp(-elapsed / ramp_seconds)))``;
* clicks, reactions, shares and replies are ``Binomial(impressions, rate)``;
* conversions are ``Binomial(clicks, cvr)``.

Counts must also never go down between two fetches, and the same inputs must give the same
numbers. Both come from one construction: for each metric, the events among the *first n*
trials are drawn by splitting the full population down a binary tree with hypergeometric draws,
each node seeded from (seed, channel, publication, metric, node). The count among the first n
trials is then a sum over disjoint tree nodes - it is exactly ``Binomial(n, rate)`` and can only
grow with n.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_RATES", "Counts", "EngagementModel", "simulate"]

#: Rates used when a channel sets none.
DEFAULT_RATES: Mapping[str, float] = {
    "ctr": 0.02,
    "cvr": 0.05,
    "reaction_rate": 0.03,
    "share_rate": 0.005,
    "reply_rate": 0.002,
}
_RATE_OF = {
    "clicks": "ctr",
    "reactions": "reaction_rate",
    "shares": "share_rate",
    "replies": "reply_rate",
}


@dataclass(frozen=True, slots=True)
class Counts:
    impressions: int
    clicks: int
    reactions: int
    shares: int
    replies: int
    conversions: int


@dataclass(frozen=True, slots=True)
class EngagementModel:
    """The simulation parameters of one channel and variant, read from channel settings.

    Settings keys: ``audience`` (int, default 1000), ``ramp_seconds`` (time constant of the
    impressions curve, default 3600; 0 means the full audience at once), ``seed`` (default 0),
    ``rates`` (``ctr``, ``cvr``, ``reaction_rate``, ``share_rate``, ``reply_rate``) and
    ``variant_rates`` (per variant key, overriding ``rates``).
    """

    audience: int
    ramp_seconds: float
    seed: int
    rates: Mapping[str, float]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], variant_key: str = "") -> EngagementModel:
        rates = dict(DEFAULT_RATES)
        rates.update({k: float(v) for k, v in (settings.get("rates") or {}).items()})
        variant = (settings.get("variant_rates") or {}).get(variant_key) or {}
        rates.update({k: float(v) for k, v in variant.items()})
        model = cls(
            audience=int(settings.get("audience", 1000)),
            ramp_seconds=float(settings.get("ramp_seconds", 3600)),
            seed=int(settings.get("seed", 0)),
            rates=rates,
        )
        problem = model.problem()
        if problem:
            raise ValueError(problem)
        return model

    def problem(self) -> str | None:
        """Why these parameters make no sense, or ``None``."""
        if self.audience < 0:
            return "audience must be >= 0"
        if self.ramp_seconds < 0:
            return "ramp_seconds must be >= 0"
        for name, rate in self.rates.items():
            if name not in DEFAULT_RATES:
                return f"unknown rate {name!r}; known: {', '.join(DEFAULT_RATES)}"
            if not 0.0 <= rate <= 1.0:
                return f"rate {name} must be between 0 and 1, got {rate}"
        return None

    def impressions(self, elapsed_seconds: float) -> int:
        if elapsed_seconds <= 0:
            return 0
        if self.ramp_seconds == 0:
            return self.audience
        return math.floor(self.audience * -math.expm1(-elapsed_seconds / self.ramp_seconds))


def _rng(*parts: object) -> np.random.Generator:
    # numpy loads on the first metric read (a worker), not when the plugin registers: web
    # workers load the plugins to validate posts and must not carry numpy for it.
    import numpy as np

    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint32))


def _prefix_count(total: int, events: int, n: int, *seed: object) -> int:
    """Events among the first ``n`` of ``total`` trials that hold ``events`` in all, split down
    a binary tree with seeded hypergeometric draws (see the module docstring)."""
    low, high, count, found = 0, total, events, 0
    while True:
        if n <= low or count == 0:
            return found
        if n >= high:
            return found + count
        if count == high - low:
            return found + (n - low)
        mid = (low + high) // 2
        left = int(_rng(*seed, low, high).hypergeometric(count, (high - low) - count, mid - low))
        if n <= mid:
            high, count = mid, left
        else:
            found += left
            low, count = mid, count - left


def _total(trials: int, rate: float, *seed: object) -> int:
    return int(_rng(*seed, "total").binomial(trials, rate)) if trials else 0


def simulate(model: EngagementModel, elapsed_seconds: float, *identity: object) -> Counts:
    """Counts after ``elapsed_seconds`` for the post identified by ``identity`` (channel id,
    publication id...). Same model, identity and time: same counts; more time: no fewer."""
    shown = model.impressions(elapsed_seconds)
    base = (model.seed, *identity)
    counts: dict[str, int] = {}
    for metric, rate_name in _RATE_OF.items():
        rate = model.rates[rate_name]
        total = _total(model.audience, rate, *base, metric)
        counts[metric] = _prefix_count(model.audience, total, shown, *base, metric)
    clicks_total = _total(model.audience, model.rates["ctr"], *base, "clicks")
    conversions_total = _total(clicks_total, model.rates["cvr"], *base, "conversions")
    conversions = _prefix_count(
        clicks_total, conversions_total, counts["clicks"], *base, "conversions"
    )
    return Counts(impressions=shown, conversions=conversions, **counts)
