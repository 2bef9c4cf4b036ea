"""Bayesian quantities against closed forms and a seeded Monte Carlo."""

import math

import numpy as np
import pytest
from scipy import special

from calendar_app.analysis import ArmCounts
from calendar_app.analysis.bayesian import (
    BetaPosterior,
    bayesian_analysis,
    chance_to_be_best,
    expected_max,
    lift_quantile,
)


def miller_prob_b_beats_a(a_a, b_a, a_b, b_b):
    """Evan Miller's closed form for P(p_B > p_A), integer alpha_B (independent check)."""
    total = 0.0
    for i in range(int(a_b)):
        total += math.exp(
            special.betaln(a_a + i, b_a + b_b)
            - math.log(b_b + i)
            - special.betaln(1 + i, b_b)
            - special.betaln(a_a, b_a)
        )
    return total


@pytest.mark.parametrize(
    ("control", "challenger"),
    [((100, 10), (100, 15)), ((1000, 30), (900, 40)), ((5, 0), (5, 5)), ((1, 0), (3, 1))],
)
def test_chance_to_beat_matches_closed_form(control, challenger):
    c, t = ArmCounts("c", *control), ArmCounts("t", *challenger)
    result = bayesian_analysis([c, t], control="c")
    pc, pt = BetaPosterior.from_counts(c), BetaPosterior.from_counts(t)
    expected = miller_prob_b_beats_a(pc.a, pc.b, pt.a, pt.b)
    assert result.comparisons[0].chance_to_beat_control == pytest.approx(expected, abs=1e-9)
    assert result.method == "quadrature" and result.monte_carlo_error is None


def test_an_arm_without_exposures_gets_nothing_computed_and_a_reason():
    result = bayesian_analysis(
        [ArmCounts("c", 10_000, 140), ArmCounts("t", 0, 0), ArmCounts("u", 9_000, 130)],
        control="c",
    )
    empty = result.comparisons[0]
    assert empty.challenger == "t" and empty.chance_to_beat_control is None
    assert empty.difference_lower is None and empty.lift_upper is None
    assert "no exposures" in empty.reason
    arms = {a.key: a for a in result.arms}
    assert arms["t"].chance_to_be_best is None and arms["t"].expected_loss is None
    assert "no exposures" in arms["t"].reason
    # the other two are compared among themselves, and the control's loss is a small number,
    # not the distance to a prior mean of 50%
    assert arms["c"].chance_to_be_best + arms["u"].chance_to_be_best == pytest.approx(1, abs=1e-12)
    assert arms["c"].expected_loss < 0.01
    assert result.comparisons[1].chance_to_beat_control is not None


def test_expected_loss_matches_two_arm_identity():
    # E[(B - A)^+] = mean_B P(B' > A) - mean_A P(B > A'), B' ~ Beta(a_B + 1, b_B), A' likewise.
    c, t = ArmCounts("c", 400, 20), ArmCounts("t", 380, 25)
    pa, pb = BetaPosterior.from_counts(c), BetaPosterior.from_counts(t)
    b_up = BetaPosterior("b+", pb.a + 1, pb.b)
    a_up = BetaPosterior("a+", pa.a + 1, pa.b)
    loss_a = pb.mean * miller_prob_b_beats_a(pa.a, pa.b, b_up.a, b_up.b) - pa.mean * (
        miller_prob_b_beats_a(a_up.a, a_up.b, pb.a, pb.b)
    )
    result = bayesian_analysis([c, t], control="c")
    assert result.arms[0].expected_loss == pytest.approx(loss_a, rel=1e-7)


def test_three_arms_match_monte_carlo_within_stated_error():
    arms = [ArmCounts("a", 2000, 100), ArmCounts("b", 2000, 112), ArmCounts("c", 1500, 80)]
    exact = bayesian_analysis(arms, control="a")
    mc = bayesian_analysis(arms, control="a", method="monte_carlo")
    assert mc.method == "monte_carlo" and mc.monte_carlo_error < 1e-3
    for e, m in zip(exact.arms, mc.arms, strict=True):
        assert e.chance_to_be_best == pytest.approx(
            m.chance_to_be_best, abs=5 * mc.monte_carlo_error
        )
        assert e.expected_loss == pytest.approx(m.expected_loss, abs=5 * mc.monte_carlo_error)
    assert sum(a.chance_to_be_best for a in exact.arms) == pytest.approx(1, abs=1e-8)


def test_monte_carlo_is_seeded_and_quadrature_is_deterministic():
    arms = [ArmCounts("a", 300, 30), ArmCounts("b", 300, 36), ArmCounts("c", 300, 33)]
    assert bayesian_analysis(arms, control="a", method="monte_carlo") == bayesian_analysis(
        arms, control="a", method="monte_carlo"
    )
    assert bayesian_analysis(arms, control="a") == bayesian_analysis(arms, control="a")


def test_credible_intervals_match_monte_carlo_quantiles():
    c, t = ArmCounts("c", 800, 40), ArmCounts("t", 800, 56)
    result = bayesian_analysis([c, t], control="c").comparisons[0]
    rng = np.random.default_rng(3)
    pc = rng.beta(41, 761, 2_000_000)
    pt = rng.beta(57, 745, 2_000_000)
    lift = np.quantile(pt / pc - 1, [0.025, 0.975])
    diff = np.quantile(pt - pc, [0.025, 0.975])
    assert (result.lift_lower, result.lift_upper) == pytest.approx(tuple(lift), abs=4e-3)
    assert (result.difference_lower, result.difference_upper) == pytest.approx(
        tuple(diff), abs=3e-4
    )


def test_huge_counts_are_accurate():
    posts = [BetaPosterior("a", 600_001, 29_400_001), BetaPosterior("b", 601_501, 29_398_501)]
    chances = chance_to_be_best(posts)
    # normal approximation is excellent here
    mean_diff = posts[1].mean - posts[0].mean
    sd = math.sqrt(sum(p.a * p.b / ((p.a + p.b) ** 2 * (p.a + p.b + 1)) for p in posts))
    from scipy import stats

    assert chances[1] == pytest.approx(stats.norm.cdf(mean_diff / sd), abs=1e-5)
    assert sum(chances) == pytest.approx(1, abs=1e-6)
    assert expected_max(posts) >= max(p.mean for p in posts)


def test_lift_quantile_of_identical_posteriors_is_symmetric_in_log():
    p = BetaPosterior("a", 51, 951)
    lo, hi = lift_quantile(p, p, 0.025), lift_quantile(p, p, 0.975)
    assert math.log1p(lo) == pytest.approx(-math.log1p(hi), rel=1e-6)
    assert lift_quantile(p, p, 0.5) == pytest.approx(0, abs=1e-9)
