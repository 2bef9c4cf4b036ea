"""The Bayesian read-out against 50-digit arithmetic (mpmath), from a handful of exposures to
ten million per arm: chance to beat control, expected loss and credible bounds within 1e-12.

The references are computed independently of the code under test:

* chance to beat control — Evan Miller's finite sum for integer parameters,
  ``P(p_B > p_A) = sum_{i < a_B} B(a_A + i, b_A + b_B) / ((b_B + i) B(1 + i, b_B) B(a_A, b_A))``,
  summed term by term with the ratio of consecutive terms
  ``(a_A + i)(b_B + i) / ((a_A + b_A + b_B + i)(1 + i))`` at 50 digits;
* expected loss — the same sums with one parameter raised by one
  (``E[p_A; p_A > p_B] = mean_A P(Beta(a_A + 1, b_A) > p_B)``);
* credible bounds — quadrature in mpmath arithmetic of ``int f_c(x) I_{x + d}(a_t, b_t) dx`` (a
  16-point Gauss-Legendre rule on panels of one standard deviation) at each bound
  the code returns, with the density from log-gamma at 50 digits and mpmath's regularised
  incomplete beta; the distance of that probability from 2.5% / 97.5%, divided by the density of
  the difference there, is the bound's error.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest

from calendar_app.analysis.bayesian import (
    BetaPosterior,
    _quantiles,
    chance_to_be_best,
    expected_max,
)

DIGITS = 50
TOLERANCE = 1e-12


def _miller(a_a: int, b_a: int, a_b: int, b_b: int) -> mp.mpf:
    """``P(p_B > p_A)`` for ``p_A ~ Beta(a_A, b_A)``, ``p_B ~ Beta(a_B, b_B)``, exactly (the
    sum runs over the smaller of ``a_A`` and ``a_B`` terms: ``P(p_B > p_A) = 1 - P(p_A > p_B)``)."""
    if a_a < a_b:
        return 1 - _miller_sum(a_b, b_b, a_a, b_a)
    return _miller_sum(a_a, b_a, a_b, b_b)


def _miller_sum(a_a: int, b_a: int, a_b: int, b_b: int) -> mp.mpf:
    a_a, b_a, b_b = mp.mpf(a_a), mp.mpf(b_a), mp.mpf(b_b)
    term = mp.exp(
        mp.loggamma(b_a + b_b)
        - mp.loggamma(a_a + b_a + b_b)
        - mp.loggamma(b_a)
        + mp.loggamma(a_a + b_a)
    )
    total = mp.mpf(0)
    for i in range(int(a_b)):
        total += term
        term *= (a_a + i) * (b_b + i) / ((a_a + b_a + b_b + i) * (1 + i))
    return total


# (control a, b), (challenger a, b): posteriors Beta(1 + s, 1 + n - s)
PAIRS = [
    ((3, 8), (1, 11)),  # tiny counts, one arm with no success
    ((1, 1), (4, 2)),  # a flat posterior against a small one
    ((101, 901), (121, 881)),
    ((1_001, 19_001), (1_151, 18_851)),  # the worked example
    ((14_001, 986_001), (14_301, 985_701)),  # 10^6 per arm at 1.4%
    ((140_001, 9_860_001), (141_001, 9_859_001)),  # 10^7 per arm at 1.4%
    ((11, 90), (500_001, 9_500_001)),  # 100 visitors against 10^7
]


@pytest.mark.parametrize(("control", "challenger"), PAIRS)
def test_chance_to_beat_and_expected_loss_are_exact(control, challenger):
    mp.mp.dps = DIGITS
    c, t = BetaPosterior("c", *control), BetaPosterior("t", *challenger)
    beat = _miller(*control, *challenger)
    mean_c = mp.mpf(control[0]) / sum(control)
    mean_t = mp.mpf(challenger[0]) / sum(challenger)
    # E[max] = E[p_c; p_c > p_t] + E[p_t; p_t > p_c]
    e_max = mean_c * (1 - _miller(control[0] + 1, control[1], *challenger)) + mean_t * _miller(
        *control, challenger[0] + 1, challenger[1]
    )
    got_beat = chance_to_be_best([c, t])[1]
    assert abs(got_beat - beat) < TOLERANCE, float(abs(got_beat - beat))
    assert abs(expected_max([c, t]) - e_max) < TOLERANCE
    # the expected losses of shipping each arm, as bayesian_analysis reports them
    assert abs((expected_max([c, t]) - c.mean) - (e_max - mean_c)) < TOLERANCE
    assert abs((expected_max([c, t]) - t.mean) - (e_max - mean_t)) < TOLERANCE


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)


def _gauss_legendre(func, points) -> mp.mpf:
    """A 16-point Gauss-Legendre rule on each panel, integrand in mpmath arithmetic: fixed cost
    (mpmath's adaptive quad needs hours with incomplete betas at 10^7), and on panels of one
    standard deviation its error is far below 1e-15. The nodes and weights are doubles: their
    relative error of ~1e-16 bounds the reference's."""
    total = mp.mpf(0)
    for left, right in itertools.pairwise(points):
        half, centre = (right - left) / 2, (right + left) / 2
        for node, weight in zip(_NODES, _WEIGHTS, strict=True):
            total += mp.mpf(float(weight)) * half * func(centre + half * mp.mpf(float(node)))
    return total


def _difference_cdf(control, challenger, d: float) -> tuple[mp.mpf, mp.mpf]:
    """``P(p_t - p_c <= d)`` and its density at ``d``, by 50-digit quadrature."""
    ca, cb = (mp.mpf(v) for v in control)
    ta, tb = (mp.mpf(v) for v in challenger)
    d = mp.mpf(d)
    log_b = mp.loggamma(ca) + mp.loggamma(cb) - mp.loggamma(ca + cb)
    log_bt = mp.loggamma(ta) + mp.loggamma(tb) - mp.loggamma(ta + tb)

    def f_c(x):
        return mp.exp((ca - 1) * mp.log(x) + (cb - 1) * mp.log1p(-x) - log_b)

    def f_t(y):
        if y <= 0 or y >= 1:
            return mp.mpf(0)
        return mp.exp((ta - 1) * mp.log(y) + (tb - 1) * mp.log1p(-y) - log_bt)

    def cdf_t(y):
        return mp.betainc(ta, tb, 0, min(max(y, mp.mpf(0)), mp.mpf(1)), regularized=True)

    mean = ca / (ca + cb)
    sd = mp.sqrt(mean * (1 - mean) / (ca + cb))
    # the control's mass within 14 standard deviations (beyond: below 1e-30), 1 sd per panel
    lo, hi = max(mean - 14 * sd, mp.mpf(0)), min(mean + 14 * sd, mp.mpf(1))
    points = {lo, hi} | {mean + k * sd for k in range(-14, 15)}
    points |= {-d, 1 - d}  # where x + d leaves [0, 1]: a kink
    points = sorted(p for p in points if lo <= p <= hi)
    probability = _gauss_legendre(lambda x: f_c(x) * cdf_t(x + d), points)
    density = _gauss_legendre(lambda x: f_c(x) * f_t(x + d), points)
    return probability, density


@pytest.mark.parametrize(
    ("control", "challenger"),
    [
        ((3, 8), (1, 11)),
        ((2, 5), (1, 9)),  # the bound's support edge falls inside the integral
        ((41, 761), (57, 745)),
        ((1_001, 9_999_001), (1_101, 9_998_901)),  # 10^7 per arm at 0.01%
    ],
)
def test_difference_bounds_are_exact(control, challenger):
    mp.mp.dps = 30  # quadrature of an incomplete beta: 30 digits are plenty for 1e-12
    c, t = BetaPosterior("c", *control), BetaPosterior("t", *challenger)
    (lower, upper), _lift = _quantiles(c, t, [0.025, 0.975])
    for bound, q in ((lower, "0.025"), (upper, "0.975")):
        probability, density = _difference_cdf(control, challenger, bound)
        error = abs(probability - mp.mpf(q)) / density
        assert error < TOLERANCE, (bound, float(error))


def test_lift_bounds_are_exact():
    mp.mp.dps = 30
    control, challenger = (41, 761), (57, 745)
    c, t = BetaPosterior("c", *control), BetaPosterior("t", *challenger)
    _diff, (lower, upper) = _quantiles(c, t, [0.025, 0.975])
    ca, cb = (mp.mpf(v) for v in control)
    ta, tb = (mp.mpf(v) for v in challenger)
    log_b = mp.loggamma(ca) + mp.loggamma(cb) - mp.loggamma(ca + cb)
    log_bt = mp.loggamma(ta) + mp.loggamma(tb) - mp.loggamma(ta + tb)

    def f(x, a, b, lb):
        if x <= 0 or x >= 1:
            return mp.mpf(0)
        return mp.exp((a - 1) * mp.log(x) + (b - 1) * mp.log1p(-x) - lb)

    for bound, q in ((lower, "0.025"), (upper, "0.975")):
        r = 1 + mp.mpf(bound)  # P(p_t <= r p_c) = int f_c(x) I_{r x}(a_t, b_t) dx
        points = sorted({mp.mpf(0), 1 / r, mp.mpf(1)} | {mp.mpf(k) / 40 for k in range(1, 40)})
        points = [p for p in points if 0 <= p <= 1]
        probability = mp.quad(
            lambda x, r=r: (
                f(x, ca, cb, log_b) * mp.betainc(ta, tb, 0, min(r * x, mp.mpf(1)), regularized=True)
            ),
            points,
        )
        # density of the lift at the bound: int x f_c(x) f_t(r x) dx
        density = mp.quad(lambda x, r=r: x * f(x, ca, cb, log_b) * f(r * x, ta, tb, log_bt), points)
        assert abs(probability - mp.mpf(q)) / density < TOLERANCE
