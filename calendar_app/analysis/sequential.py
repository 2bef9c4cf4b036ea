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

**Anytime-valid p-value.** The smallest ``alpha`` at which ``C_t`` excludes 0: solving
``|mu_t| = sigma_t * margin(t, rho, alpha)`` for ``alpha`` gives
``p_t = min(1, sqrt(t rho^2 + 1) * exp(-t^2 rho^2 mu_t^2 / (2 sigma_t^2 (t rho^2 + 1))))`` — the
reciprocal of the normal-mixture e-value, the same formula GrowthBook's engine reports (their
eq. 155 reference). ``p_t < alpha`` exactly when the sequence at ``alpha`` (same ``rho``)
excludes 0, so the p-value and the interval can never disagree; like the interval, it may be
read at every look. (The running minimum over looks is also valid; we report the current value.)

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
    "sequential_p_value",
]

NO_EXPOSURES = "no exposures yet: nothing to estimate"


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


def sequential_p_value(mean: float, sd: float, t: float, rho: float) -> float:
    """Anytime-valid p-value of ``H0: delta = 0`` (see the module docstring)."""
    if t <= 0 or sd <= 0.0:
        return 1.0
    r2t = rho * rho * t + 1.0
    exponent = -(t * t * rho * rho * mean * mean) / (2.0 * sd * sd * r2t)
    return min(1.0, math.sqrt(r2t) * math.exp(exponent))


@dataclass(frozen=True, slots=True)
class SequentialComparison:
    """Anytime-valid interval for ``rate(challenger) - rate(control)``.

    ``estimate`` is the IPW estimate (equal to the plain difference of rates when the split
    matches the plan); ``lower``/``upper`` are ``None`` while nothing can be said (no
    exposures or no successes yet). ``alpha`` is the per-comparison level (``alpha / k``).
    ``p_value`` is the anytime-valid p-value (compare it with ``alpha``); ``None``, with
    ``estimate``, and with ``reason`` set, when either arm has no exposures."""

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
    p_value: float | None = None
    reason: str | None = None


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
    if control.exposures == 0 or challenger.exposures == 0:
        empty = control.key if control.exposures == 0 else challenger.key
        return SequentialComparison(
            challenger.key,
            control.key,
            None,
            None,
            None,
            alpha,
            rho,
            float(optimal_n),
            n,
            planned_share,
            reason=f"{empty!r} has {NO_EXPOSURES}",
        )
    s_t, s_c = challenger.successes, control.successes
    mean = (s_t / planned_share - s_c / (1.0 - planned_share)) / n
    second = (s_t / planned_share**2 + s_c / (1.0 - planned_share) ** 2) / n
    sd = math.sqrt(max(second - mean * mean, 0.0))
    informative = n >= 2 and sd > 0.0
    lower = upper = None
    if informative:
        half = sd * float(cs_margin(n, rho, alpha))
        lower, upper = max(-1.0, mean - half), min(1.0, mean + half)
    return SequentialComparison(
        challenger=challenger.key,
        control=control.key,
        estimate=mean,
        lower=lower,
        upper=upper,
        alpha=alpha,
        rho=rho,
        optimal_n=float(optimal_n),
        n=n,
        planned_share=planned_share,
        p_value=sequential_p_value(mean, sd, n, rho) if informative else 1.0,
    )
