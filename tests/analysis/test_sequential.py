"""Confidence sequences: formula, tuning, and the A/A simulation that shows why we use them."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from calendar_app.analysis import ArmCounts
from calendar_app.analysis.sequential import (
    best_rho,
    confidence_sequence,
    cs_margin,
    ipw_confidence_sequence,
)

ALPHA = 0.05


def test_margin_matches_the_paper_formula():
    t, rho = 5_000, 0.02
    expected = math.sqrt(
        2 * (t * rho**2 + 1) / (t**2 * rho**2) * math.log(math.sqrt(t * rho**2 + 1) / ALPHA)
    )
    assert float(cs_margin(t, rho, ALPHA)) == pytest.approx(expected, rel=1e-12)


def test_best_rho_minimises_the_margin_at_t_opt():
    t_opt = 20_000
    res = optimize.minimize_scalar(
        lambda r: float(cs_margin(t_opt, r, ALPHA)), bounds=(1e-5, 1), method="bounded",
        options={"xatol": 1e-10},
    )  # fmt: skip
    assert best_rho(t_opt, ALPHA) == pytest.approx(res.x, rel=1e-3)
    # and the well-known approximation rho^2 ~ (2 log(1/a) + log(1 + 2 log(1/a))) / t
    approx = math.sqrt((2 * math.log(1 / ALPHA) + math.log(1 + 2 * math.log(1 / ALPHA))) / t_opt)
    assert best_rho(t_opt, ALPHA) == pytest.approx(approx, rel=0.05)


def test_cs_is_wider_than_fixed_interval_but_same_centre():
    c, t = ArmCounts("a", 10_000, 500), ArmCounts("b", 10_000, 560)
    cs = confidence_sequence(c, t, planned_share=0.5, alpha=ALPHA, optimal_n=20_000)
    assert cs.estimate == pytest.approx(0.006)
    z_half = stats.norm.ppf(0.975) * math.sqrt(0.05 * 0.95 / 1e4 + 0.056 * 0.944 / 1e4)
    assert cs.upper - cs.lower > 2 * z_half
    assert cs.lower < cs.estimate < cs.upper


def test_ipw_variance_from_counts_equals_variance_of_pseudo_outcomes():
    share, s_t, n_t, s_c, n_c = 0.3, 40, 300, 90, 700
    phi = np.concatenate(
        [
            np.full(s_t, 1 / share),
            np.zeros(n_t - s_t),
            np.full(s_c, -1 / (1 - share)),
            np.zeros(n_c - s_c),
        ]
    )
    rho = 0.05
    est, _lo, hi = ipw_confidence_sequence(s_t, n_t, s_c, n_c, share=share, alpha=ALPHA, rho=rho)
    assert float(est) == pytest.approx(phi.mean())
    half = phi.std() * float(cs_margin(phi.size, rho, ALPHA))
    assert float(hi) == pytest.approx(phi.mean() + half)


def test_no_information_yet():
    cs = confidence_sequence(ArmCounts("a", 0, 0), ArmCounts("b", 0, 0), planned_share=0.5)
    assert cs.estimate is None and cs.lower is None
    cs = confidence_sequence(ArmCounts("a", 50, 0), ArmCounts("b", 50, 0), planned_share=0.5)
    assert cs.estimate == 0 and cs.lower is None and cs.upper is None


def _simulate(rng, experiments, looks, per_look, p_c, p_t):
    s_t = rng.binomial(per_look, p_t, size=(experiments, looks)).cumsum(axis=1)
    s_c = rng.binomial(per_look, p_c, size=(experiments, looks)).cumsum(axis=1)
    n = per_look * np.arange(1, looks + 1)
    return s_t, s_c, n


@pytest.mark.parametrize(("per_look", "rate"), [(500, 0.05), (200, 0.3), (2_000, 0.01)])
def test_aa_false_positive_rate_stays_below_alpha_while_naive_peeking_inflates(per_look, rate):
    """2000 A/A experiments, 20 looks each. Under no difference:

    * the confidence sequence excludes 0 at *any* look in at most alpha of experiments;
    * a fixed 95% z-test repeated at every look does so far more often (each look is another
      draw from the noise; the chance that *one* of 20 crosses +/-1.96 is ~25%, not 5%),
      although at any *single* look it is right 95% of the time.
    """
    rng = np.random.default_rng(2024 + per_look)
    experiments, looks = 2_000, 20
    s_t, s_c, n = _simulate(rng, experiments, looks, per_look, rate, rate)
    rho = best_rho(2 * n[-1], ALPHA)
    _, lower, upper = ipw_confidence_sequence(s_t, n, s_c, n, share=0.5, alpha=ALPHA, rho=rho)
    cs_fp = ((lower > 0) | (upper < 0)).any(axis=1).mean()

    pooled = (s_t + s_c) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    z = np.abs(s_t / n - s_c / n) / np.where(se > 0, se, np.inf)
    naive_any = (z > stats.norm.ppf(0.975)).any(axis=1).mean()
    naive_last = (z[:, -1] > stats.norm.ppf(0.975)).mean()

    # Binomial noise on 2000 experiments: sd ~ 0.5%; the bounds leave room for it.
    assert cs_fp <= ALPHA
    assert naive_last <= ALPHA + 0.015
    assert naive_any >= 0.15


def test_cs_detects_a_real_effect():
    rng = np.random.default_rng(11)
    s_t, s_c, n = _simulate(rng, 500, 20, 1_000, 0.05, 0.065)
    _, lower, _ = ipw_confidence_sequence(
        s_t, n, s_c, n, share=0.5, alpha=ALPHA, rho=best_rho(40_000, ALPHA)
    )
    assert (lower[:, -1] > 0).mean() > 0.8
