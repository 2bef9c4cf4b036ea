"""Fixed-horizon statistics against independent implementations (SciPy, statsmodels)."""

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from calendar_app.analysis import ArmCounts
from calendar_app.analysis.frequentist import (
    compare_fixed,
    fixed_horizon,
    holm_adjust,
    min_expected_cell,
)

REL = 1e-9  # same formula, different code: agreement to floating-point noise


def _std(arm: ArmCounts) -> float:
    p = arm.successes / arm.exposures
    return math.sqrt(p * (1 - p) * arm.exposures / (arm.exposures - 1))


@pytest.mark.parametrize(
    ("c", "t"),
    [((1000, 100), (1000, 130)), ((5000, 40), (4000, 52)), ((300, 150), (200, 80))],
)
def test_welch_matches_scipy_ttest_ind_from_stats(c, t):
    control, challenger = ArmCounts("a", *c), ArmCounts("b", *t)
    result = compare_fixed(control, challenger, alpha=0.05)
    assert result.method == "welch_t"
    ref = stats.ttest_ind_from_stats(
        challenger.rate, _std(challenger), challenger.exposures,
        control.rate, _std(control), control.exposures, equal_var=False,
    )  # fmt: skip
    assert result.statistic == pytest.approx(ref.statistic, rel=REL)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-7)
    # Interval: inverting the same t distribution.
    se = result.difference / result.statistic
    half = stats.t.ppf(0.975, result.df) * se
    assert result.difference_lower == pytest.approx(result.difference - half, rel=REL)
    assert result.difference_upper == pytest.approx(result.difference + half, rel=REL)


def test_welch_agrees_with_unpooled_z_test_at_large_n():
    control, challenger = ArmCounts("a", 200_000, 10_000), ArmCounts("b", 200_000, 10_400)
    result = compare_fixed(control, challenger)
    z, p = proportions_ztest([10_400, 10_000], [200_000, 200_000], prop_var=False)
    # prop_var=False pools; the unpooled Welch differs by O(1e-3) relative here.
    assert result.p_value == pytest.approx(p, rel=2e-2)
    assert result.statistic == pytest.approx(z, rel=2e-3)


def test_fisher_used_for_small_counts_and_matches_scipy():
    control, challenger = ArmCounts("a", 20, 1), ArmCounts("b", 20, 6)
    assert min_expected_cell(control, challenger) < 5
    result = compare_fixed(control, challenger)
    assert result.method == "fisher_exact"
    _, p = stats.fisher_exact([[6, 14], [1, 19]])
    assert result.p_value == pytest.approx(p, rel=1e-12)


def test_fisher_reproduces_lady_tasting_tea():
    # Fisher (1935): 4 of 4 cups right -> one-sided p = 1/70; 3 of 4 -> two-sided p = 34/70.
    result = compare_fixed(ArmCounts("a", 4, 1), ArmCounts("b", 4, 3))
    assert result.p_value == pytest.approx(34 / 70, abs=1e-12)
    # and by summing the hypergeometric probabilities no larger than the observed one
    table_p = stats.hypergeom(8, 4, 4).pmf(np.arange(5))
    observed = stats.hypergeom(8, 4, 4).pmf(3)
    assert result.p_value == pytest.approx(table_p[table_p <= observed * (1 + 1e-7)].sum())


def test_small_count_interval_is_newcombe():
    control, challenger = ArmCounts("a", 30, 2), ArmCounts("b", 25, 7)
    result = compare_fixed(control, challenger, alpha=0.05)
    lo, hi = confint_proportions_2indep(7, 25, 2, 30, method="newcomb", compare="diff")
    assert (result.difference_lower, result.difference_upper) == pytest.approx((lo, hi), abs=1e-9)


def test_relative_lift_delta_method():
    control, challenger = ArmCounts("a", 10_000, 500), ArmCounts("b", 10_000, 600)
    result = compare_fixed(control, challenger)
    p_c, p_t = 0.05, 0.06
    v_c, v_t = p_c * (1 - p_c) / 9_999, p_t * (1 - p_t) / 9_999
    # gradient of p_t / p_c is (1 / p_c, -p_t / p_c^2)
    se = math.sqrt(v_t / p_c**2 + v_c * p_t**2 / p_c**4)
    assert result.relative_lift == pytest.approx(0.2)
    assert result.lift_lower == pytest.approx(0.2 - 1.959963984540054 * se, rel=1e-9)


def test_delta_method_interval_covers_in_simulation():
    rng = np.random.default_rng(7)
    n, p_c, p_t = 4_000, 0.1, 0.12
    hits = 0
    for s_c, s_t in zip(rng.binomial(n, p_c, 400), rng.binomial(n, p_t, 400), strict=True):
        r = compare_fixed(ArmCounts("a", n, int(s_c)), ArmCounts("b", n, int(s_t)))
        hits += r.lift_lower <= p_t / p_c - 1 <= r.lift_upper
    assert 0.92 <= hits / 400 <= 0.98


def test_holm_matches_statsmodels():
    pvalues = [0.01, 0.04, 0.03, 0.005, 0.5]
    expected = multipletests(pvalues, alpha=0.05, method="holm")[1]
    assert holm_adjust(pvalues) == pytest.approx(list(expected), abs=1e-15)
    assert holm_adjust([None, 0.2]) == [None, 0.2]


def test_several_challengers_are_holm_adjusted_with_bonferroni_intervals():
    arms = [ArmCounts("a", 5000, 250), ArmCounts("b", 5000, 300), ArmCounts("c", 5000, 260)]
    results = fixed_horizon(arms, control="a", alpha=0.05)
    raw = [r.p_value for r in results]
    assert [r.p_value_adjusted for r in results] == pytest.approx(
        list(multipletests(raw, method="holm")[1])
    )
    single = compare_fixed(arms[0], arms[1], alpha=0.025)
    assert results[0].difference_lower == pytest.approx(single.difference_lower)
    assert results[0].interval_level == pytest.approx(0.975)


@pytest.mark.parametrize(
    ("c", "t"),
    [
        ((0, 0), (10, 1)),
        ((10, 0), (10, 0)),
        ((10, 10), (10, 10)),
        ((1, 1), (1, 0)),
        ((50, 0), (50, 50)),
    ],
)
def test_edge_cases_have_no_nan(c, t):
    r = compare_fixed(ArmCounts("a", *c), ArmCounts("b", *t))
    for value in (r.difference, r.difference_lower, r.difference_upper, r.p_value):
        assert value is None or math.isfinite(value)
    if c[0] and t[0]:
        assert r.method == "fisher_exact"
        assert 0 <= r.p_value <= 1
    else:
        assert r.method == "insufficient_data"


def test_tens_of_millions():
    r = compare_fixed(ArmCounts("a", 40_000_000, 800_000), ArmCounts("b", 40_000_000, 801_000))
    assert r.method == "welch_t" and 0 < r.p_value < 1
    assert r.difference_lower < 2.5e-5 < r.difference_upper
