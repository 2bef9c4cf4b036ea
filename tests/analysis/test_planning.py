"""Sample size against statsmodels' power tools and a textbook value."""

import math

import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import power_proportions_2indep, proportion_effectsize

from calendar_app.analysis import ArmCounts, MinimumDetectableEffect
from calendar_app.analysis.planning import plan_experiment, sample_size_two_proportions


def test_textbook_value():
    # Fleiss et al. eq. 4.14 without continuity correction: 10% vs 20%, a=0.05, power 0.8 -> 199
    n_c, n_t = sample_size_two_proportions(0.1, 0.1, alpha=0.05, power=0.8)
    assert math.ceil(n_c) == 199 and n_t == n_c


@pytest.mark.parametrize(
    ("baseline", "delta", "ratio"), [(0.05, 0.005, 1.0), (0.02, 0.004, 2.0), (0.3, 0.03, 0.5)]
)
def test_power_at_planned_size_is_the_target(baseline, delta, ratio):
    n_c, n_t = sample_size_two_proportions(baseline, delta, alpha=0.05, power=0.8, ratio=ratio)
    power = power_proportions_2indep(
        delta, baseline, nobs1=n_t, ratio=n_c / n_t, alpha=0.05, return_results=False
    )
    # statsmodels adds the (negligible) opposite tail, so it is at least the target.
    assert power == pytest.approx(0.8, abs=2e-3) and power >= 0.8 - 1e-9


def test_close_to_cohens_h_normal_power():
    n_c, _ = sample_size_two_proportions(0.05, 0.01, alpha=0.05, power=0.8)
    h = proportion_effectsize(0.06, 0.05)
    n_h = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert n_c == pytest.approx(n_h, rel=0.03)


def test_plan_with_several_challengers_and_duration():
    arms = [ArmCounts("a", 5000, 250), ArmCounts("b", 2500, 130), ArmCounts("c", 2500, 120)]
    weights = {"a": 0.5, "b": 0.25, "c": 0.25}
    plan = plan_experiment(
        arms, control="a", weights=weights, mde=MinimumDetectableEffect(0.2), alpha=0.05,
        power=0.8, daily_exposures=1000,
    )  # fmt: skip
    assert plan.alpha_per_comparison == 0.025 and plan.mde_absolute == pytest.approx(0.01)
    n_c, n_t = sample_size_two_proportions(0.05, 0.01, alpha=0.025, power=0.8, ratio=0.5)
    assert plan.required == {"a": math.ceil(n_c), "b": math.ceil(n_t), "c": math.ceil(n_t)}
    assert plan.total_required == math.ceil(max(math.ceil(n_c) / 0.5, math.ceil(n_t) / 0.25))
    assert plan.days_total == pytest.approx(plan.total_required / 1000)
    assert not plan.reached and 0 < plan.progress < 1


def test_absolute_mde_and_unplannable_cases():
    arms = [ArmCounts("a", 0, 0), ArmCounts("b", 0, 0)]
    w = {"a": 0.5, "b": 0.5}
    plan = plan_experiment(
        arms, control="a", weights=w, mde=MinimumDetectableEffect(0.1), alpha=0.05, power=0.8
    )
    assert plan.status == "no_baseline" and plan.required is None and not plan.reached
    plan = plan_experiment(
        arms, control="a", weights=w, mde=MinimumDetectableEffect(0.01, relative=False),
        alpha=0.05, power=0.8, baseline_rate=0.05,
    )  # fmt: skip
    assert plan.status == "planned" and plan.mde_absolute == 0.01
    assert sample_size_two_proportions(0.5, 0.0, alpha=0.05, power=0.8) is None
    with pytest.raises(ValueError):
        MinimumDetectableEffect(0)
    with pytest.raises(ValueError):
        MinimumDetectableEffect(1.5, relative=False)
