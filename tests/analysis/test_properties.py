"""Hypothesis properties over arbitrary valid counts."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.analysis import ArmCounts, analyse
from calendar_app.analysis.bayesian import bayesian_analysis
from calendar_app.analysis.frequentist import compare_fixed
from calendar_app.analysis.sequential import confidence_sequence

FAST = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def arm(draw, key, max_n=10**7):
    n = draw(st.one_of(st.integers(0, 60), st.integers(0, max_n)))
    s = draw(st.integers(0, n))
    return ArmCounts(key, n, s)


@FAST
@given(arm("a"), arm("b"))
def test_swapping_arms_negates_the_difference_and_keeps_p(a, b):
    ab, ba = compare_fixed(a, b), compare_fixed(b, a)
    assert ab.method == ba.method
    if ab.difference is not None:
        assert math.isclose(ab.difference, -ba.difference, abs_tol=1e-12)
        assert math.isclose(ab.difference_lower, -ba.difference_upper, abs_tol=1e-9)
        assert math.isclose(ab.p_value, ba.p_value, rel_tol=1e-9, abs_tol=1e-12)
        assert 0 <= ab.p_value <= 1


@FAST
@given(arm("a", 10**5), arm("b", 10**5), st.integers(2, 50))
def test_intervals_shrink_with_more_data(a, b, factor):
    """Same rates, ``factor`` times the data: every interval gets narrower (or stays)."""

    big_a = ArmCounts("a", a.exposures * factor, a.successes * factor)
    big_b = ArmCounts("b", b.exposures * factor, b.successes * factor)
    small, large = compare_fixed(a, b), compare_fixed(big_a, big_b)
    if small.difference_lower is not None and large.difference_lower is not None:
        assert (large.difference_upper - large.difference_lower) <= (
            small.difference_upper - small.difference_lower
        ) + 1e-12
    cs_small = confidence_sequence(a, b, planned_share=0.5, optimal_n=1000)
    cs_large = confidence_sequence(big_a, big_b, planned_share=0.5, optimal_n=1000)
    if cs_small.lower is not None and cs_large.lower is not None:
        assert cs_large.upper - cs_large.lower <= cs_small.upper - cs_small.lower + 1e-12


@FAST
@given(st.lists(st.integers(0, 10**6), min_size=3, max_size=4), st.data())
def test_chance_to_be_best_sums_to_one(sizes, data):
    arms = [ArmCounts(f"v{i}", n, data.draw(st.integers(0, n))) for i, n in enumerate(sizes)]
    result = bayesian_analysis(arms, control="v0")
    computed = [a for a in result.arms if a.chance_to_be_best is not None]
    seen = [a for a in arms if a.exposures]
    # arms without exposures get nothing (and a reason); the others share the whole chance
    assert len(computed) == (len(seen) if len(seen) >= 2 else 0)
    assert all(a.reason for a in result.arms if a.chance_to_be_best is None)
    if computed:
        total = sum(a.chance_to_be_best for a in computed)
        assert math.isclose(total, 1.0, abs_tol=1e-9)
        assert all(0 <= a.chance_to_be_best <= 1 and a.expected_loss >= 0 for a in computed)


@FAST
@given(arm("a"), arm("b"), st.booleans(), st.floats(0.01, 2.0))
def test_analyse_never_fails_or_returns_nan(a, b, sequential, mde):
    report = analyse(
        [a, b], control="a", metric_name="CTR", planned_weights={"a": 1, "b": 1}, mde=mde,
        sequential=sequential, daily_exposures=1000,
    )  # fmt: skip
    json.dumps(report.to_dict(), allow_nan=False)
    for c in report.frequentist:
        assert c.p_value is None or 0 <= c.p_value <= 1
    assert 0 <= report.srm.p_value <= 1
