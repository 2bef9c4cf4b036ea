"""Bayesian read-out: exact Beta-Binomial posteriors and the quantities a marketer asks for.

Model: each arm's rate ``p`` has a uniform ``Beta(1, 1)`` prior (every rate equally plausible
before data — neutral, and it keeps the posterior proper with zero successes or only
successes). With ``s`` successes in ``n`` exposures the posterior is exactly
``Beta(1 + s, 1 + n - s)``; arms are independent. An arm with *no exposures* has learnt nothing:
its posterior is the prior, and nothing is computed for it (its chance to be best, its loss and
its comparison with control are ``None``, with ``reason`` saying why) — comparing data with a
prior would only show the prior's shape (a "98% chance to beat control" for an arm nobody saw).

Every quantity is a one-dimensional integral over Beta densities ``f`` and distribution
functions ``F`` (arms are independent), and each is evaluated with a *fixed* Gauss-Legendre
rule on panels laid out in standard deviations of the narrowest posterior involved
(:func:`_grid`), so the other functions in the integrand vary on that scale or a slower one:

* chance that arm ``j`` is best: ``P_j = int f_j(x) prod_{k != j} F_k(x) dx``;
* expected loss of shipping ``j``: ``E[max_k p_k] - E[p_j]``, where
  ``E[max_k p_k] = sum_j int x f_j(x) prod_{k != j} F_k(x) dx`` — the same integrands times
  ``x`` (``x f_j`` is ``E[p_j]`` times the density of ``Beta(a_j + 1, b_j)``), so no second
  integral;
* equal-tailed credible bounds of ``p_t - p_c`` and of ``p_t / p_c - 1`` by Newton's method on
  their exact distribution functions, e.g. ``P(p_t - p_c <= d) = int f_c(x) F_t(x + d) dx``,
  whose derivative (the density of the difference) comes from the same nodes; all four bounds
  of a comparison are solved together, started from the normal approximation, and bracketed so
  a step can never leave the support.

Why these choices: the densities come from :func:`~calendar_app.analysis.betadensity.beta_pdf`
(Loader's saddle-point form), which keeps ~15 digits at ``10^7`` exposures where
``exp(... - log B(a, b))`` keeps 8; the distribution functions are SciPy's (Boost's regularised
incomplete beta). The panels reach 40 standard deviations each side — Beta posteriors with
``a, b >= 1`` are log-concave, so beyond that the mass is below ``1e-16`` — and 12 nodes per
panel integrate these smooth integrands to rounding error. The result agrees with mpmath at 50
digits to ``1e-12`` or better from a handful to tens of millions of exposures
(``tests/analysis/test_exactness.py``), without adaptive quadrature or a root finder's
bookkeeping, in a few hundred microseconds.

If the chances ever fail their own check (not summing to 1 within ``1e-9``) a seeded Monte
Carlo replaces them and reports its standard error; ``method="monte_carlo"`` runs it on purpose
for cross-checking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from calendar_app.analysis.betadensity import beta_pdf
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
    "difference_quantile",
    "expected_max",
    "lift_quantile",
]

PRIOR_ALPHA = 1.0
PRIOR_BETA = 1.0
_SUM_TOLERANCE = 1e-9
MONTE_CARLO_DRAWS = 400_000
MONTE_CARLO_SEED = 20_240_601
NO_EXPOSURES = "no exposures yet: the posterior is still the prior, so there is nothing to compare"

# Panel edges in standard deviations around the mean, and Gauss-Legendre nodes per panel.
_EDGES = np.array([-40.0, -20.0, -12.0, -6.0, -3.0, 0.0, 3.0, 6.0, 12.0, 20.0, 40.0])
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(14)
_NEWTON_STEPS = 30


@dataclass(frozen=True, slots=True)
class BetaPosterior:
    """``Beta(a, b)`` with the accurate density and distribution functions the integrals need."""

    key: str
    a: float
    b: float

    @classmethod
    def from_counts(cls, arm: ArmCounts) -> BetaPosterior:
        return cls(arm.key, PRIOR_ALPHA + arm.successes, PRIOR_BETA + arm.failures)

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def sd(self) -> float:
        total = self.a + self.b
        return math.sqrt(self.a * self.b / (total * total * (total + 1.0)))

    def pdf(self, x: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Density; 0 outside (0, 1)."""
        x = np.asarray(x, dtype=float)
        inside = (x > 0.0) & (x < 1.0)
        return np.where(inside, beta_pdf(np.where(inside, x, 0.5), self.a, self.b), 0.0)

    def cdf(self, x: NDArray[np.float64] | float) -> NDArray[np.float64]:
        return special.betainc(self.a, self.b, np.clip(x, 0.0, 1.0))

    def sf(self, x: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """``1 - cdf``: Boost's complement is 3-5 times slower and the integrals need absolute,
        not relative, accuracy in the upper tail."""
        return 1.0 - special.betainc(self.a, self.b, np.clip(x, 0.0, 1.0))


def _edges(post: BetaPosterior) -> NDArray[np.float64]:
    """Panel edges of ``post``: out to the first of 12, 20 or 40 standard deviations on each
    side beyond which less than ``1e-17`` of the mass lies (40 always suffices: log-concave)."""
    reach = np.array([-40.0, -20.0, -12.0, 12.0, 20.0, 40.0])
    tails = special.betainc(post.a, post.b, np.clip(post.mean + post.sd * reach, 0.0, 1.0))
    low = next((r for r, t in zip(reach[2::-1], tails[2::-1], strict=True) if t < 1e-17), -40.0)
    high = next((r for r, t in zip(reach[3:], tails[3:], strict=True) if 1.0 - t < 1e-17), 40.0)
    z = _EDGES[(low <= _EDGES) & (high >= _EDGES)]
    return np.unique(np.clip(post.mean + post.sd * z, 0.0, 1.0))


def _grid(post: BetaPosterior) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights covering all but ``< 1e-16`` of ``post``'s mass (see module doc)."""
    return _panels(_edges(post))


def _panels(edges: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss-Legendre nodes and weights on each panel between consecutive ``edges``."""
    left, right = edges[:-1], edges[1:]
    half = 0.5 * (right - left)
    x = (0.5 * (right + left))[:, None] + half[:, None] * _NODES
    w = half[:, None] * _WEIGHTS
    return x.ravel(), w.ravel()


def _merged_grid(posteriors: Sequence[BetaPosterior]) -> tuple[NDArray, NDArray]:
    """One grid resolving every posterior: the union of their panel edges, dropping an edge
    closer to the previous one than twice the narrowest standard deviation among the posteriors
    that have mass there (so no panel is wider than about five local standard deviations)."""
    spans = [(e[0], e[-1], p.sd, e) for p, e in ((p, _edges(p)) for p in posteriors)]
    edges = np.unique(np.concatenate([e for *_, e in spans]))
    kept = [edges[0]]
    for e in edges[1:-1]:
        local = min((sd for lo, hi, sd, _ in spans if lo <= e <= hi), default=0.0)
        if e - kept[-1] >= 2.0 * local:
            kept.append(e)
    kept.append(edges[-1])
    return _panels(np.array(kept))


def _best_integrals(posteriors: Sequence[BetaPosterior]) -> tuple[list[float], float]:
    """Chances to be best and ``E[max_k p_k]`` from one pass over a shared grid."""
    if len(posteriors) == 2:
        # Integrate over the narrower posterior: the other's F is smooth on its scale.
        i_n = 0 if posteriors[0].sd <= posteriors[1].sd else 1
        narrow, wide = posteriors[i_n], posteriors[1 - i_n]
        x, w = _grid(narrow)
        wf = w * narrow.pdf(x)
        cdfs = special.betainc(np.array([wide.a, wide.a + 1.0])[:, None], wide.b, x)
        below = cdfs[0]  # P(wide < x)
        above = 1.0 - cdfs
        p_narrow = float(np.dot(wf, below))
        p_wide = float(np.dot(wf, above[0]))
        # E[max] = E[narrow; narrow best] + E[wide; wide best]
        e_max = float(np.dot(wf * x, below)) + wide.mean * float(np.dot(wf, above[1]))
        chances = [p_narrow, p_wide] if i_n == 0 else [p_wide, p_narrow]
        return chances, e_max
    x, w = _merged_grid(posteriors)
    f = np.stack([p.pdf(x) for p in posteriors])
    a = np.array([p.a for p in posteriors])[:, None]
    b = np.array([p.b for p in posteriors])[:, None]
    cdf = special.betainc(a, b, x)
    k = len(posteriors)
    # products of every cdf but one, from running products left and right (no division by 0)
    left = np.ones_like(cdf)
    right = np.ones_like(cdf)
    for i in range(1, k):
        left[i] = left[i - 1] * cdf[i - 1]
        right[k - 1 - i] = right[k - i] * cdf[k - i]
    integrand = f * left * right * w
    chances = integrand.sum(axis=1)
    e_max = float((integrand * x).sum())
    return [float(c) for c in chances], e_max


def chance_to_be_best(posteriors: Sequence[BetaPosterior]) -> list[float]:
    """``P(p_j > p_k for all k != j)`` for each arm (ties have probability 0)."""
    chances, _ = _best_integrals(posteriors)
    return [min(1.0, max(0.0, c)) for c in chances]


def expected_max(posteriors: Sequence[BetaPosterior]) -> float:
    """``E[max_k p_k]``."""
    return _best_integrals(posteriors)[1]


def _cornish_fisher(
    control: BetaPosterior, challenger: BetaPosterior, z: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float, float]:
    """Starting points for Newton: Cornish-Fisher quantiles of ``p_t - p_c`` and of
    ``log p_t - log p_c`` from their exact first four cumulants (Beta moments; polygamma
    functions for the logarithms), and the two standard deviations. Close enough that Newton
    needs one or two steps."""

    def beta_cumulants(p: BetaPosterior) -> tuple[float, float, float, float]:
        a, b = p.a, p.b
        t = a + b
        var = a * b / (t * t * (t + 1.0))
        k3 = 2.0 * (b - a) * math.sqrt(t + 1.0) / ((t + 2.0) * math.sqrt(a * b)) * var**1.5
        ex = 6.0 * ((a - b) ** 2 * (t + 1.0) - a * b * (t + 2.0)) / (a * b * (t + 2.0) * (t + 3.0))
        return p.mean, var, k3, ex * var * var

    def log_cumulants(p: BetaPosterior) -> NDArray[np.float64]:
        orders = np.arange(4)
        return special.polygamma(orders, p.a) - special.polygamma(orders, p.a + p.b)

    def expand(k1: float, k2: float, k3: float, k4: float) -> NDArray[np.float64]:
        sd = math.sqrt(k2)
        g1, g2 = k3 / sd**3, k4 / k2**2
        w = z + (z * z - 1) * g1 / 6 + (z**3 - 3 * z) * g2 / 24 - (2 * z**3 - 5 * z) * g1**2 / 36
        return k1 + sd * w

    c, t = beta_cumulants(control), beta_cumulants(challenger)
    diff = expand(t[0] - c[0], t[1] + c[1], t[2] - c[2], t[3] + c[3])
    lc, lt = log_cumulants(control), log_cumulants(challenger)
    signs = np.array([-1.0, 1.0, -1.0, 1.0])  # cumulants of -log p_c
    k = lt + signs * lc
    lift = expand(*(float(v) for v in k))
    return np.concatenate([diff, lift]), math.sqrt(t[1] + c[1]), math.sqrt(k[1])


_Grid = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def _quantiles(
    control: BetaPosterior, challenger: BetaPosterior, probabilities: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Quantiles of ``p_t - p_c`` and of ``p_t / p_c - 1`` (see :func:`_compare`)."""
    _beat, diff, lift = _compare(control, challenger, probabilities, {})
    return diff, lift


def _compare(
    control: BetaPosterior,
    challenger: BetaPosterior,
    probabilities: Sequence[float],
    grids: dict[tuple[float, float], _Grid],
) -> tuple[float, list[float], list[float]]:
    """``P(p_t > p_c)``, and the quantiles of ``p_t - p_c`` and of ``p_t / p_c - 1`` at
    ``probabilities``, together; ``grids`` caches each posterior's nodes across comparisons.

    Newton's method on the exact distribution functions (integrated over the narrower
    posterior), started from the normal approximation, kept inside a bracket that shrinks with
    every evaluation (bisection when a step would leave it)."""
    q = np.asarray(probabilities, dtype=float)
    nq = len(q)
    target = np.concatenate([q, q])
    theta, sd_d, sd_l = _cornish_fisher(control, challenger, special.ndtri(q))
    is_diff = np.arange(2 * nq) < nq
    lo = np.where(is_diff, -1.0, -np.inf)
    hi = np.where(is_diff, 1.0, np.inf)
    # Halley's error after a step of size e is ~ e^3 / sd^2: a step below 1e-5 sd lands within
    # ~1e-15 sd of the root, so it is taken and the loop ends without another evaluation.
    sd = np.where(is_diff, sd_d, sd_l)
    tol = 1e-5 * sd
    tiny = 1e-14 * sd

    def grid(post: BetaPosterior) -> tuple[NDArray, NDArray, NDArray]:
        key = (post.a, post.b)
        if key not in grids:
            edges = _edges(post)
            x, w = _panels(edges)
            grids[key] = (edges, x, w * post.pdf(x))
        return grids[key]

    def evaluate(theta: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
        """Distribution function minus target, density and its derivative, of every unknown.

        Each unknown is integrated over the posterior whose width is the smaller one *in the
        integrand's own variable*: over ``p_c`` the other factor is ``F_t(x + d)`` or
        ``F_t(e^l x)`` (width ``sd_t`` or ``sd_t e^-l``); over ``p_t`` it is
        ``1 - F_c(y - d)`` or ``1 - F_c(e^-l y)`` (width ``sd_c`` or ``sd_c e^l``). One of
        the two is always at least as wide as the grid's own posterior."""
        ratio = np.where(is_diff, 1.0, np.exp(np.clip(theta, -700.0, 700.0)))
        width_c = control.sd * ratio  # of p_c, in the variable of p_t
        # one grid for every row (the narrower posterior's) unless a row needs the other one
        over_c = (
            width_c <= 1.5 * challenger.sd
            if control.sd <= challenger.sd
            else challenger.sd > 1.5 * width_c
        )
        value = np.empty_like(theta)
        slope = np.empty_like(theta)
        curve = np.empty_like(theta)
        for group, post, other, sign in (
            (over_c, control, challenger, 1.0),
            (~over_c, challenger, control, -1.0),
        ):
            if not group.any():
                continue
            edges, x, wf = grid(post)
            idx = np.flatnonzero(group)
            scale = np.where(is_diff[idx], 1.0, np.exp(np.clip(sign * theta[idx], -700.0, 700.0)))
            shift = np.where(is_diff[idx], sign * theta[idx], 0.0)
            # The argument leaves [0, 1] at these nodes; where that happens inside the grid the
            # integrand has a kink there, so such rows get the kink as a panel edge of their own.
            kinks = np.stack([-shift / scale, (1.0 - shift) / scale], axis=1)
            inside = (kinks > edges[0]) & (kinks < edges[-1])
            kinked = inside.any(axis=1)
            rows = [(np.flatnonzero(~kinked), x, wf)] if not kinked.all() else []
            for r in np.flatnonzero(kinked):
                xr, wr = _panels(np.unique(np.concatenate([edges, kinks[r][inside[r]]])))
                rows.append((np.array([r]), xr, wr * post.pdf(xr)))
            for sel, xs, weights in rows:
                if not len(sel):
                    continue
                y = xs[None, :] * scale[sel][:, None] + shift[sel][:, None]
                cdf = special.betainc(other.a, other.b, np.clip(y, 0.0, 1.0))
                if sign < 0:
                    cdf = 1.0 - cdf
                lift_row = ~is_diff[idx[sel]][:, None]
                jac = np.where(lift_row, y, 1.0)
                f_other = other.pdf(y.ravel()).reshape(y.shape)
                # d/dy log f = (a - 1)/y - (b - 1)/(1 - y); f is 0 outside (0, 1) anyway
                with np.errstate(divide="ignore", invalid="ignore"):
                    log_slope = (other.a - 1.0) / y - (other.b - 1.0) / (1.0 - y)
                bend = np.where(f_other > 0.0, f_other * log_slope, 0.0) * jac * jac
                bend = sign * (bend + np.where(lift_row, f_other * y, 0.0))
                value[idx[sel]] = cdf @ weights - target[idx[sel]]
                slope[idx[sel]] = (f_other * jac) @ weights
                curve[idx[sel]] = bend @ weights
        return value, slope, curve

    active = np.ones_like(theta, dtype=bool)
    for _ in range(_NEWTON_STEPS):
        value, slope, curve = evaluate(theta)
        lo = np.where(value < 0.0, np.maximum(lo, theta), lo)
        hi = np.where(value > 0.0, np.minimum(hi, theta), hi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Halley's step: cubic convergence, so from the Cornish-Fisher start one step
            # usually lands within 1e-15 standard deviations of the root.
            step = 2.0 * value * slope / (2.0 * slope * slope - value * curve)
            step = np.where(np.isfinite(step), step, value / slope)
            nxt = theta - step
            outside = ~np.isfinite(nxt) | (nxt < lo) | (nxt > hi)
            middle = np.where(
                np.isfinite(lo) & np.isfinite(hi),
                0.5 * (lo + hi),
                theta - np.sign(value) * 4.0 * sd_l,  # no bracket yet on that side: walk out
            )
        nxt = np.where(outside, middle, nxt)
        done = (~outside & (np.abs(nxt - theta) < tol)) | (value == 0.0) | (hi - lo < tiny)
        theta = np.where(active, nxt, theta)  # a converged unknown stays where it converged
        active &= ~done
        if not active.any():
            break
    # chance to beat control, on the narrower posterior's grid (the other's F is smooth there)
    if control.sd <= challenger.sd:
        _edges_c, x, wf = grid(control)
        beat = float(wf @ (1.0 - challenger.cdf(x)))
    else:
        _edges_t, x, wf = grid(challenger)
        beat = float(wf @ control.cdf(x))
    beat = min(1.0, max(0.0, beat))
    return beat, theta[:nq].tolist(), np.expm1(theta[nq:]).tolist()


def difference_quantile(control: BetaPosterior, challenger: BetaPosterior, q: float) -> float:
    """Quantile of ``p_t - p_c``: ``P(p_t - p_c <= d) = int f_c(x) F_t(x + d) dx = q``."""
    return _quantiles(control, challenger, [q])[0][0]


def lift_quantile(control: BetaPosterior, challenger: BetaPosterior, q: float) -> float:
    """Quantile of ``p_t / p_c - 1``: ``P(p_t <= r p_c) = int f_c(x) F_t(r x) dx = q``."""
    return _quantiles(control, challenger, [q])[1][0]


@dataclass(frozen=True, slots=True)
class BayesianArm:
    """Posterior summary of one arm.

    ``expected_loss`` is the rate given up, on average, by shipping this arm instead of the
    (unknown) best one — in the metric's own units (0.0002 = 0.02 percentage points of
    click-through rate), never negative; ``expected_loss_relative`` is the same loss as a share
    of this arm's posterior mean rate (0.01 = "about 1% of its clicks"). Both, and
    ``chance_to_be_best``, are ``None`` with ``reason`` set when the arm has no exposures or
    fewer than two arms have any.
    """

    key: str
    posterior_alpha: float
    posterior_beta: float
    posterior_mean: float
    chance_to_be_best: float | None
    expected_loss: float | None
    expected_loss_relative: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BayesianComparison:
    """One challenger against control, with equal-tailed credible intervals (every number
    ``None`` with ``reason`` set when either arm has no exposures)."""

    challenger: str
    control: str
    chance_to_beat_control: float | None
    difference_lower: float | None
    difference_upper: float | None
    lift_lower: float | None
    lift_upper: float | None
    credible_level: float
    reason: str | None = None


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
    """Posterior of every arm, chance to be best, expected loss, and per-challenger intervals.

    Arms without exposures take no part: the chances and losses are those among the arms with
    data, and every number involving an empty arm is ``None`` with a ``reason``.
    """
    if method not in ("quadrature", "monte_carlo"):
        raise ValueError(f"unknown method {method!r}")
    posteriors = [BetaPosterior.from_counts(a) for a in arms]
    seen = [p for p, a in zip(posteriors, arms, strict=True) if a.exposures > 0]
    error: float | None = None
    chances: dict[str, float] = {}
    losses: dict[str, float] = {}
    if len(seen) >= 2:
        if method == "quadrature":
            values, e_max = _best_integrals(seen)
            if abs(sum(values) - 1.0) > _SUM_TOLERANCE:
                method = "monte_carlo"
            else:
                chances = {p.key: min(1.0, max(0.0, v)) for p, v in zip(seen, values, strict=True)}
                losses = {p.key: max(0.0, e_max - p.mean) for p in seen}
        if method == "monte_carlo":
            values, regrets, error = _monte_carlo(seen, draws, seed)
            chances = dict(zip((p.key for p in seen), values, strict=True))
            losses = dict(zip((p.key for p in seen), regrets, strict=True))

    by_key = {p.key: p for p in posteriors}
    exposures = {a.key: a.exposures for a in arms}
    ctrl = by_key[control]
    tail = (1.0 - credible_level) / 2.0
    grids: dict[tuple[float, float], _Grid] = {}  # the control's nodes serve every comparison
    comparisons = []
    for post in posteriors:
        if post.key == control:
            continue
        if not exposures[control] or not exposures[post.key]:
            empty = post.key if not exposures[post.key] else control
            comparisons.append(
                BayesianComparison(
                    post.key,
                    control,
                    None,
                    None,
                    None,
                    None,
                    None,
                    credible_level,
                    reason=f"{empty!r} has {NO_EXPOSURES}",
                )
            )
            continue
        beat, (d_lo, d_hi), (l_lo, l_hi) = _compare(ctrl, post, [tail, 1.0 - tail], grids)
        comparisons.append(
            BayesianComparison(
                challenger=post.key,
                control=control,
                chance_to_beat_control=beat,
                difference_lower=d_lo,
                difference_upper=d_hi,
                lift_lower=l_lo,
                lift_upper=l_hi,
                credible_level=credible_level,
            )
        )
    summaries = []
    for p in posteriors:
        if p.key in chances:
            loss = losses[p.key]
            summaries.append(
                BayesianArm(p.key, p.a, p.b, p.mean, chances[p.key], loss, loss / p.mean)
            )
        else:
            why = NO_EXPOSURES if not exposures[p.key] else "no other arm has exposures yet"
            summaries.append(BayesianArm(p.key, p.a, p.b, p.mean, None, None, None, why))
    return BayesianResult(tuple(summaries), tuple(comparisons), method, error)
