"""Mantel-Haenszel risk difference, and the Simpson's-paradox case it exists for."""

import math

import numpy as np
import pytest

from calendar_app.analysis import ArmCounts, StratumCounts, analyse
from calendar_app.analysis.stratified import mantel_haenszel_difference, stratified_analysis


def _stratum(name, control, challenger):
    return StratumCounts(name, (ArmCounts("a", *control), ArmCounts("b", *challenger)))


# Within each network "b" is *worse*; it got most of its traffic on the high-rate network.
SIMPSON = (
    _stratum("email", control=(100, 55), challenger=(900, 450)),
    _stratum("x", control=(900, 54), challenger=(100, 5)),
)


def test_single_stratum_variance_is_the_wald_variance():
    rd, var, _ = mantel_haenszel_difference(
        [_stratum("only", (400, 40), (300, 45))], control="a", challenger="b"
    )
    assert rd == pytest.approx(0.15 - 0.1)
    assert var == pytest.approx(0.1 * 0.9 / 400 + 0.15 * 0.85 / 300, rel=1e-12)


def test_point_estimate_is_the_mh_weighted_average():
    strata = [_stratum("m", (100, 10), (120, 18)), _stratum("x", (50, 20), (40, 20))]
    rd, _, weights = mantel_haenszel_difference(strata, control="a", challenger="b")
    diffs = [18 / 120 - 10 / 100, 20 / 40 - 20 / 50]
    w = [100 * 120 / 220, 50 * 40 / 90]
    assert weights == pytest.approx(w)
    assert rd == pytest.approx(np.average(diffs, weights=w))


def test_sato_variance_close_to_greenland_robins_with_large_strata():
    strata = [_stratum("m", (5000, 500), (5200, 580)), _stratum("x", (3000, 900), (2800, 900))]
    _rd, var, w = mantel_haenszel_difference(strata, control="a", challenger="b")
    gr = (
        sum(
            wk**2 * (t[1] * (t[0] - t[1]) / t[0] ** 3 + c[1] * (c[0] - c[1]) / c[0] ** 3)
            for wk, (c, t) in zip(
                w, [((5000, 500), (5200, 580)), ((3000, 900), (2800, 900))], strict=True
            )
        )
        / sum(w) ** 2
    )
    assert var == pytest.approx(gr, rel=0.01)


def test_mh_interval_covers_in_simulation():
    rng = np.random.default_rng(5)
    rates = [(0.02, 0.025), (0.3, 0.305)]  # true difference 0.005 in both networks
    sizes = [(3000, 1000), (500, 2000)]
    covered = 0
    runs = 300
    for _ in range(runs):
        strata = [
            _stratum(f"s{i}", (nc, int(rng.binomial(nc, pc))), (nt, int(rng.binomial(nt, pt))))
            for i, ((pc, pt), (nc, nt)) in enumerate(zip(rates, sizes, strict=True))
        ]
        (res,) = stratified_analysis(strata, control="a", challengers=["b"], alpha=0.05)
        covered += res.difference_lower <= 0.005 <= res.difference_upper
    assert 0.92 <= covered / runs <= 0.98


def test_simpsons_paradox_is_not_mistaken_for_a_variant_effect():
    (res,) = stratified_analysis(SIMPSON, control="a", challengers=["b"], alpha=0.05)
    assert res.crude_difference > 0.3  # pooled: 45.5% vs 10.9%, "b" looks far better
    assert res.difference < 0  # adjusted for network: "b" is slightly worse
    assert all(s.comparison.difference < 0 for s in res.strata)
    assert res.difference_upper < res.crude_difference

    arms = [ArmCounts("a", 1000, 109), ArmCounts("b", 1000, 455)]
    common = dict(control="a", metric_name="CTR", planned_weights={"a": 1, "b": 1}, mde=0.5)
    naive = analyse(arms, sequential=False, **common)
    assert naive.decision.action == "ship"  # the pooled test falls for it
    for sequential in (False, True):
        report = analyse(arms, sequential=sequential, strata=SIMPSON, **common)
        assert report.decision.action != "ship", report.decision.sentence


def test_sparse_strata_do_not_break():
    strata = [
        _stratum("a", (0, 0), (10, 1)),
        _stratum("b", (5, 0), (5, 0)),
        _stratum("c", (3, 3), (2, 2)),
    ]
    (res,) = stratified_analysis(strata, control="a", challengers=["b"], alpha=0.05)
    assert res.method == "insufficient_data"
    for value in (res.difference, res.crude_difference):
        assert value is None or math.isfinite(value)


def test_strata_must_add_up():
    with pytest.raises(ValueError, match="arm 'a': strata add up"):
        analyse(
            [ArmCounts("a", 10, 1), ArmCounts("b", 1000, 455)], control="a", metric_name="CTR",
            planned_weights={"a": 1, "b": 1}, mde=0.1, strata=SIMPSON,
        )  # fmt: skip
