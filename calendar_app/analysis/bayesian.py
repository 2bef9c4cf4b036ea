"""Bayesian read-out: exact Beta-Binomial posteriors and the quantities a marketer asks for.

Model: each arm's rate ``p`` has a uniform ``Beta(1, 1)`` prior (every rate equally plausible
before data — neutral, and it keeps the posterior proper when an arm has no exposures, zero
successes or only successes). With ``s`` successes in ``n`` exposures the posterior is exactly
``Beta(1 + s, 1 + n - s)``; arms are independent.

Because arms are independent, every quantity we need is a *one-dimensional* integral over Beta
densities and distribution functions, evaluated with ``scipy.integrate.quad``:

* chance that arm ``j`` is best: ``P_j = int f_j(x) prod_{k != j} F_k(x) dx`` (for two arms
  this is the chance to beat control);
* expected loss of shipping ``j``: ``E[max_k p_k] - E[p_j]`` with
  ``E[max_k p_k] = int_0^1 (1 - prod_k F_k(x)) dx``;
* credible intervals of the relative lift ``p_t / p_c - 1`` and of the difference
  ``p_t - p_c`` by inverting their exact distribution functions, e.g.
  ``P(p_t / p_c <= c) = int f_c(x) F_t(c x) dx``, with Brent's root finder.

Each integral runs only over the region where the posteriors have mass (quantiles ``1e-13``
to ``1 - 1e-13``), split at the other arms' quantiles, so that very peaked posteriors (tens of
millions of exposures) are integrated as accurately as flat ones. The output is
deterministic. If the quadrature ever fails its own check (chances not summing to 1 within
``1e-6``) we fall back to a seeded Monte Carlo and report its standard error; the same Monte
Carlo is available with ``method="monte_carlo"`` for cross-checking.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize, special

from calendar_app.analysis.counts import ArmCounts

__all__ = [
    "PRIOR_ALPHA",
    "PRIOR_BETA",
    "BayesianArm",
    "BayesianComparison",
    "BayesianResult",
    "BetaPosterior",
    "bayesian_analysis",
    "chance_to_be_best",
    "expected_max",
]

PRIOR_ALPHA = 1.0
PRIOR_BETA = 1.0
_TAIL = 1e-13
_SUM_TOLERANCE = 1e-6
MONTE_CARLO_DRAWS = 400_000
MONTE_CARLO_SEED = 20_240_601


@dataclass(frozen=True, slots=True)
class BetaPosterior:
    """``Beta(a, b)`` with the fast ufunc pdf/cdf/quantiles the integrals need."""

    key: str
    a: float
    b: float

    @classmethod
    def from_counts(cls, arm: ArmCounts) -> BetaPosterior:
        return cls(arm.key, PRIOR_ALPHA + arm.successes, PRIOR_BETA + arm.failures)

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    def pdf(self, x: float) -> float:
        if x <= 0.0 or x >= 1.0:
            return 0.0
        log_pdf = (
            special.xlogy(self.a - 1.0, x)
            + special.xlog1py(self.b - 1.0, -x)
            - special.betaln(self.a, self.b)
        )
        return math.exp(log_pdf)

    def cdf(self, x: float) -> float:
        if x <= 0.0:
            return 0.0
        if x >= 1.0:
            return 1.0
        return float(special.betainc(self.a, self.b, x))

    def sf(self, x: float) -> float:
        if x <= 0.0:
            return 1.0
        if x >= 1.0:
            return 0.0
        return float(special.betaincc(self.a, self.b, x))

    def lower(self, q: float = _TAIL) -> float:
        return float(special.betaincinv(self.a, self.b, q))

    def upper(self, q: float = _TAIL) -> float:
        return float(special.betainccinv(self.a, self.b, q))

    def landmarks(self) -> list[float]:
        """Points where this posterior's mass starts, peaks and ends (quadrature breakpoints)."""
        return [self.lower(), self.lower(1e-4), self.mean, self.upper(1e-4), self.upper()]


def _quad(func: Callable[[float], float], lo: float, hi: float, marks: Sequence[float]) -> float:
    """``quad`` over ``[lo, hi]``, split at the landmarks that fall inside."""
    if hi <= lo:
        return 0.0
    points = sorted({lo, hi, *(m for m in marks if lo < m < hi)})
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        for left, right in itertools.pairwise(points):
            value, _ = integrate.quad(func, left, right, epsabs=1e-14, epsrel=1e-10, limit=200)
            total += value
    return total


def chance_to_be_best(posteriors: Sequence[BetaPosterior]) -> list[float]:
    """``P(p_j > p_k for all k != j)`` for each arm, by quadrature (ties have probability 0)."""
    marks = [m for post in posteriors for m in post.landmarks()]
    out = []
    for j, post in enumerate(posteriors):
        others = [p for i, p in enumerate(posteriors) if i != j]

        def integrand(x: float, post: BetaPosterior = post, others=others) -> float:
            value = post.pdf(x)
            for other in others:
                if value == 0.0:
                    break
                value *= other.cdf(x)
            return value

        out.append(min(1.0, max(0.0, _quad(integrand, post.lower(), post.upper(), marks))))
    return out


def expected_max(posteriors: Sequence[BetaPosterior]) -> float:
    """``E[max_k p_k] = L + int_L^U (1 - prod_k F_k(x)) dx`` where below ``L`` some F_k is ~0."""
    lo = max(p.lower() for p in posteriors)
    hi = max(p.upper() for p in posteriors)
    marks = [m for post in posteriors for m in post.landmarks()]

    def integrand(x: float) -> float:
        product = 1.0
        for post in posteriors:
            product *= post.cdf(x)
        return 1.0 - product

    return lo + _quad(integrand, lo, hi, marks)


def _invert(cdf: Callable[[float], float], q: float, lo: float, hi: float) -> float:
    """Solve ``cdf(x) = q`` on ``[lo, hi]`` (clamped to the ends when outside)."""
    f_lo, f_hi = cdf(lo) - q, cdf(hi) - q
    if f_lo >= 0.0:
        return lo
    if f_hi <= 0.0:
        return hi
    return float(optimize.brentq(lambda x: cdf(x) - q, lo, hi, xtol=1e-13, rtol=1e-11))


def difference_quantile(control: BetaPosterior, challenger: BetaPosterior, q: float) -> float:
    """Quantile of ``p_t - p_c``; CDF ``P(p_t - p_c <= d) = int f_c(x) F_t(x + d) dx``."""
    marks = control.landmarks()

    def cdf(d: float) -> float:
        return _quad(lambda x: control.pdf(x) * challenger.cdf(x + d), *_span(control), marks)

    return _invert(
        cdf, q, challenger.lower() - control.upper(), challenger.upper() - control.lower()
    )


def lift_quantile(control: BetaPosterior, challenger: BetaPosterior, q: float) -> float:
    """Quantile of ``p_t / p_c - 1``, solved in ``log(p_t / p_c)`` for a well-scaled root."""
    marks = control.landmarks()

    def cdf(log_ratio: float) -> float:
        ratio = math.exp(log_ratio)
        return _quad(lambda x: control.pdf(x) * challenger.cdf(ratio * x), *_span(control), marks)

    lo = math.log(challenger.lower()) - math.log(control.upper())
    hi = math.log(challenger.upper()) - math.log(control.lower())
    return math.expm1(_invert(cdf, q, lo, hi))


def _span(post: BetaPosterior) -> tuple[float, float]:
    return post.lower(), post.upper()


@dataclass(frozen=True, slots=True)
class BayesianArm:
    """Posterior summary of one arm; ``expected_loss`` is the rate given up, on average, by
    shipping this arm instead of the (unknown) best one."""

    key: str
    posterior_alpha: float
    posterior_beta: float
    posterior_mean: float
    chance_to_be_best: float
    expected_loss: float


@dataclass(frozen=True, slots=True)
class BayesianComparison:
    """One challenger against control, with equal-tailed credible intervals."""

    challenger: str
    control: str
    chance_to_beat_control: float
    difference_lower: float
    difference_upper: float
    lift_lower: float | None
    lift_upper: float | None
    credible_level: float


@dataclass(frozen=True, slots=True)
class BayesianResult:
    """``method`` is ``"quadrature"`` or ``"monte_carlo"``; ``monte_carlo_error`` is the largest
    standard error of the Monte Carlo chances/losses (``None`` when exact)."""

    arms: tuple[BayesianArm, ...]
    comparisons: tuple[BayesianComparison, ...]
    method: str
    monte_carlo_error: float | None
    prior: str = "Beta(1, 1)"


def _monte_carlo(
    posteriors: Sequence[BetaPosterior], draws: int, seed: int
) -> tuple[list[float], list[float], float]:
    """Seeded Monte Carlo chances to be best and expected losses, with the worst std error."""
    rng = np.random.default_rng(seed)
    samples = np.stack([rng.beta(p.a, p.b, size=draws) for p in posteriors])
    best = np.argmax(samples, axis=0)
    chances = np.bincount(best, minlength=len(posteriors)) / draws
    regret = samples.max(axis=0) - samples
    losses = regret.mean(axis=1)
    error = max(
        float(np.sqrt(np.max(chances * (1 - chances)) / draws)),
        float(np.max(regret.std(axis=1)) / math.sqrt(draws)),
    )
    return chances.tolist(), losses.tolist(), error


def bayesian_analysis(
    arms: Sequence[ArmCounts],
    *,
    control: str,
    credible_level: float = 0.95,
    method: str = "quadrature",
    seed: int = MONTE_CARLO_SEED,
    draws: int = MONTE_CARLO_DRAWS,
) -> BayesianResult:
    """Posterior of every arm, chance to be best, expected loss, and per-challenger intervals."""
    if method not in ("quadrature", "monte_carlo"):
        raise ValueError(f"unknown method {method!r}")
    posteriors = [BetaPosterior.from_counts(a) for a in arms]
    error: float | None = None
    if method == "quadrature":
        chances = chance_to_be_best(posteriors)
        if abs(sum(chances) - 1.0) > _SUM_TOLERANCE:
            method = "monte_carlo"
        else:
            e_max = expected_max(posteriors)
            losses = [max(0.0, e_max - p.mean) for p in posteriors]
    if method == "monte_carlo":
        chances, losses, error = _monte_carlo(posteriors, draws, seed)

    by_key = {p.key: p for p in posteriors}
    ctrl = by_key[control]
    tail = (1.0 - credible_level) / 2.0
    comparisons = []
    for post in posteriors:
        if post.key == control:
            continue
        beat = chance_to_be_best([ctrl, post])[1]
        comparisons.append(
            BayesianComparison(
                challenger=post.key,
                control=control,
                chance_to_beat_control=beat,
                difference_lower=difference_quantile(ctrl, post, tail),
                difference_upper=difference_quantile(ctrl, post, 1.0 - tail),
                lift_lower=lift_quantile(ctrl, post, tail),
                lift_upper=lift_quantile(ctrl, post, 1.0 - tail),
                credible_level=credible_level,
            )
        )
    arm_summaries = tuple(
        BayesianArm(p.key, p.a, p.b, p.mean, float(c), float(loss))
        for p, c, loss in zip(posteriors, chances, losses, strict=True)
    )
    return BayesianResult(arm_summaries, tuple(comparisons), method, error)
