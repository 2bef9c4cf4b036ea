"""Anytime-valid comparison: asymptotic confidence sequences for the difference of rates.

Why: results are watched every hour. A fixed-horizon test checked at every look is wrong far
more often than ``alpha`` (each look is another chance for noise to cross the line). A
*confidence sequence* ``(C_t)`` covers the truth at *all* times simultaneously,
``P(for all t: delta in C_t) >= 1 - alpha``, so a decision may be taken at any look.

Method: Waudby-Smith, Arnold, Wu, Zhang, Ramdas — "Time-uniform central limit theory and
asymptotic confidence sequences" (Annals of Statistics, 2024; arXiv:2103.06476), Theorem 2.2
(Robbins' normal mixture applied through a strong approximation). For i.i.d. ``phi_i`` with
mean ``mu`` and sample mean/standard deviation ``mu_t``, ``sigma_t``::

    C_t = mu_t +/- sigma_t * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha))

For a randomised experiment with known assignment probability ``pi`` (the planned share of the
challenger among the two arms) the paper's section on causal effects uses the inverse-
probability-weighted pseudo-outcome ``phi_i = A_i Y_i / pi - (1 - A_i) Y_i / (1 - pi)``,
whose mean is exactly ``p_t - p_c``. With 0/1 outcomes ``phi`` takes three values
(``1/pi``, ``0``, ``-1/(1-pi)``), so its mean and variance follow from the counts alone.

``rho`` sets the sample size at which the sequence is tightest; ``best_rho(t_opt, alpha)`` is
the exact minimiser of the width at ``t_opt`` (Lambert W), as in the authors' reference code.
Kairos tunes it to the planned sample size.

Assumptions: exposures are independent, assignment is randomised with the planned share (the
SRM check guards this), and ``t`` is large enough for the central limit approximation (the
guarantee is asymptotic; the A/A simulation in the tests shows it holds at our sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from calendar_app.analysis.counts import ArmCounts

__all__ = [
    "SequentialComparison",
    "SequentialTuning",
    "best_rho",
    "confidence_sequence",
    "cs_margin",
    "ipw_confidence_sequence",
]


@dataclass(frozen=True, slots=True)
class SequentialTuning:
    """How to tune the confidence sequence: give ``rho`` directly, or the total sample size
    (both arms) ``optimal_n`` at which it should be tightest. With neither, Kairos uses the
    planned sample size (or ``fallback_n`` when no plan can be made yet)."""

    rho: float | None = None
    optimal_n: int | None = None
    fallback_n: int = 10_000

    def __post_init__(self) -> None:
        if self.rho is not None and not (self.rho > 0 and math.isfinite(self.rho)):
            raise ValueError(f"rho must be a positive number, got {self.rho!r}")
        if self.optimal_n is not None and self.optimal_n < 1:
            raise ValueError(f"optimal_n must be >= 1, got {self.optimal_n!r}")
        if self.fallback_n < 1:
            raise ValueError(f"fallback_n must be >= 1, got {self.fallback_n!r}")


def best_rho(t_opt: float, alpha: float) -> float:
    """``rho`` minimising the two-sided margin at time ``t_opt``.

    ``rho^2 = (-W_{-1}(-alpha^2 exp(alpha^2 - 1)) - 1) / t_opt`` (exact; ``W_{-1}`` is the
    lower branch of Lambert's W).
    """
    w = special.lambertw(-(alpha**2) * math.exp(alpha**2 - 1.0), k=-1).real
    return math.sqrt((-w - 1.0) / max(t_opt, 1.0))


def cs_margin(t: ArrayLike, rho: float, alpha: float) -> NDArray[np.float64]:
    """Unit-variance two-sided margin of the asymptotic CS at time(s) ``t``."""
    t = np.asarray(t, dtype=float)
    r2 = rho * rho
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.sqrt(
            2.0 * (t * r2 + 1.0) / (t * t * r2) * np.log(np.sqrt(t * r2 + 1.0) / alpha)
        )
    return np.where(t > 0, margin, np.inf)


def ipw_confidence_sequence(
    s_t: ArrayLike,
    n_t: ArrayLike,
    s_c: ArrayLike,
    n_c: ArrayLike,
    *,
    share: float,
    alpha: float,
    rho: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised CS ``(estimate, lower, upper)`` for ``p_t - p_c`` from cumulative counts.

    ``share`` is the planned probability that an exposure (of these two arms) goes to the
    challenger. Where the variance estimate is 0 (no successes yet) the bounds are ``-1, 1``:
    nothing has been learnt. Bounds are clipped to ``[-1, 1]``, the range of a difference of
    rates, which keeps coverage.
    """
    s_t, n_t, s_c, n_c = (np.asarray(x, dtype=float) for x in (s_t, n_t, s_c, n_c))
    t = n_t + n_c
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (s_t / share - s_c / (1.0 - share)) / t
        second = (s_t / share**2 + s_c / (1.0 - share) ** 2) / t
        sd = np.sqrt(np.maximum(second - mean * mean, 0.0))
        half = sd * cs_margin(t, rho, alpha)
    ok = (t >= 2) & (sd > 0)
    mean = np.where(t > 0, mean, 0.0)
    lower = np.where(ok, np.clip(mean - half, -1.0, 1.0), -1.0)
    upper = np.where(ok, np.clip(mean + half, -1.0, 1.0), 1.0)
    return mean, lower, upper


@dataclass(frozen=True, slots=True)
class SequentialComparison:
    """Anytime-valid interval for ``rate(challenger) - rate(control)``.

    ``estimate`` is the IPW estimate (equal to the plain difference of rates when the split
    matches the plan); ``lower``/``upper`` are ``None`` while nothing can be said (no
    exposures or no successes yet). ``alpha`` is the per-comparison level (``alpha / k``)."""

    challenger: str
    control: str
    estimate: float | None
    lower: float | None
    upper: float | None
    alpha: float
    rho: float
    optimal_n: float
    n: int
    planned_share: float


def confidence_sequence(
    control: ArmCounts,
    challenger: ArmCounts,
    *,
    planned_share: float,
    alpha: float = 0.05,
    rho: float | None = None,
    optimal_n: float = 10_000,
) -> SequentialComparison:
    """The confidence sequence of one challenger against control at the current counts."""
    if not 0.0 < planned_share < 1.0:
        raise ValueError(f"planned_share must be in (0, 1), got {planned_share!r}")
    rho = best_rho(optimal_n, alpha) if rho is None else rho
    n = control.exposures + challenger.exposures
    est, lo, hi = ipw_confidence_sequence(
        challenger.successes,
        challenger.exposures,
        control.successes,
        control.exposures,
        share=planned_share,
        alpha=alpha,
        rho=rho,
    )
    informative = n >= 2 and (control.successes + challenger.successes) > 0
    return SequentialComparison(
        challenger=challenger.key,
        control=control.key,
        estimate=float(est) if n > 0 else None,
        lower=float(lo) if informative else None,
        upper=float(hi) if informative else None,
        alpha=alpha,
        rho=rho,
        optimal_n=float(optimal_n),
        n=n,
        planned_share=planned_share,
    )
