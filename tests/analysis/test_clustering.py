"""Cluster-robust analysis: the publication is the unit of randomisation.

The A/A simulations draw per-publication rates from a Beta around the arm's rate
(overdispersion: one post goes viral, another does not) with post sizes that vary, and check
that treating every impression as an independent trial finds false winners far more often than
``alpha``, while the cluster-robust analysis stays at or below it. Vectorised and seeded.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from calendar_app.analysis import (
    MIN_CLUSTERS_TO_DECIDE,
    ArmCounts,
    StratumCounts,
    analyse,
    design_effect,
    design_effect_arrays,
    effective_counts,
)
from calendar_app.analysis.frequentist import compare_fixed
from calendar_app.analysis.sequential import best_rho, ipw_confidence_sequence

ALPHA = 0.05


def _aa(rng, sims: int, posts: int, rate: float, kappa: float, sdlog: float = 0.7):
    """``(exposures, successes)`` of shape (sims, 2 arms, posts), both arms with the same truth."""
    sizes = np.maximum(50, rng.lognormal(math.log(2000), sdlog, size=(sims, 2, posts)))
    sizes = sizes.astype(np.int64)
    rates = rng.beta(rate * kappa, (1 - rate) * kappa, size=(sims, 2, posts))
    return sizes, rng.binomial(sizes, rates)


def _effective(n, y):
    deff, _ratio, _m = design_effect_arrays(n, y)
    total, hits = n.sum(-1), y.sum(-1)
    successes = np.where(hits > 0, np.maximum(1, np.round(hits / deff)), 0)
    exposures = np.maximum(successes, np.maximum(1, np.round(total / deff)))
    return exposures.astype(np.int64), successes.astype(np.int64), deff


def _tolerance(sims: int) -> float:
    return 3 * math.sqrt(ALPHA * (1 - ALPHA) / sims)


def test_fixed_horizon_aa_naive_is_inflated_cluster_robust_is_not():
    rng = np.random.default_rng(20_261_123)
    sims, posts = 2000, 20
    n, y = _aa(rng, sims, posts, rate=0.03, kappa=100)
    n_eff, y_eff, deff = _effective(n, y)
    naive = robust = 0
    for i in range(sims):
        raw = compare_fixed(
            ArmCounts("c", int(n[i, 0].sum()), int(y[i, 0].sum())),
            ArmCounts("t", int(n[i, 1].sum()), int(y[i, 1].sum())),
            alpha=ALPHA,
        )
        clustered = compare_fixed(
            ArmCounts("c", int(n_eff[i, 0]), int(y_eff[i, 0])),
            ArmCounts("t", int(n_eff[i, 1]), int(y_eff[i, 1])),
            alpha=ALPHA,
            clusters=(posts, posts),
        )
        naive += raw.p_value < ALPHA
        robust += clustered.p_value < ALPHA
    assert np.median(deff) > 10  # strongly overdispersed: ICC ~ 1%, ~2,500 impressions a post
    assert naive / sims > 0.5
    assert robust / sims <= ALPHA + _tolerance(sims)


def test_sequential_aa_checked_after_every_post_stays_below_alpha():
    """The decision's method: the anytime-valid sequence on effective counts at the observed
    share, read after every new publication once each arm has MIN_CLUSTERS_TO_DECIDE."""
    rng = np.random.default_rng(7)
    sims, posts = 2000, 40
    n, y = _aa(rng, sims, posts, rate=0.03, kappa=100)
    planned_total = float(np.median(n.sum(axis=(1, 2))))
    naive = np.zeros(sims, dtype=bool)
    robust = np.zeros(sims, dtype=bool)
    for k in range(1, posts + 1):
        total, hits = n[..., :k].sum(-1), y[..., :k].sum(-1)
        _, lo, hi = ipw_confidence_sequence(
            hits[:, 1],
            total[:, 1],
            hits[:, 0],
            total[:, 0],
            share=0.5,
            alpha=ALPHA,
            rho=best_rho(planned_total, ALPHA),
        )
        naive |= (lo > 0) | (hi < 0)
        if k < MIN_CLUSTERS_TO_DECIDE:
            continue
        n_eff, y_eff, deff = _effective(n[..., :k], y[..., :k])
        share = n_eff[:, 1] / n_eff.sum(-1)
        rho = best_rho(planned_total / float(np.median(deff)), ALPHA)
        _, lo, hi = ipw_confidence_sequence(
            y_eff[:, 1], n_eff[:, 1], y_eff[:, 0], n_eff[:, 0], share=share, alpha=ALPHA, rho=rho
        )
        robust |= (lo > 0) | (hi < 0)
    assert naive.mean() > 0.5
    assert robust.mean() <= ALPHA + _tolerance(sims)


def test_analyse_ships_fewer_false_winners_with_clusters():
    """Through the public API: A/A experiments with overdispersed posts."""
    rng = np.random.default_rng(99)
    sims, posts = 30, 12
    n, y = _aa(rng, sims, posts, rate=0.03, kappa=60)

    def finds_difference(report) -> bool:
        sequence = report.confidence_sequences[0]
        return sequence.lower is not None and (sequence.lower > 0 or sequence.upper < 0)

    naive_found = robust_found = robust_shipped = 0
    for i in range(sims):
        arms = [
            ArmCounts(
                key,
                int(n[i, j].sum()),
                int(y[i, j].sum()),
                tuple(zip(n[i, j], y[i, j], strict=True)),
            )
            for j, key in enumerate(("control", "b"))
        ]
        kwargs = {"control": "control", "metric_name": "ctr", "mde": 0.1}
        kwargs["planned_weights"] = {"control": 1, "b": 1}
        robust = analyse(arms, **kwargs)
        assert robust.srm.observed == {"control": posts, "b": posts}  # clusters, not impressions
        naive = analyse(
            [ArmCounts(a.key, a.exposures, a.successes) for a in arms],
            allocation_counts={"control": posts, "b": posts},
            **kwargs,
        )
        naive_found += finds_difference(naive)
        robust_found += finds_difference(robust)
        robust_shipped += robust.decision.action == "ship"
    assert naive_found >= 10
    assert robust_found <= 2 and robust_shipped <= 2


def test_binomial_clusters_have_design_effect_one():
    rng = np.random.default_rng(3)
    n = np.full((400, 200), 1000)
    y = rng.binomial(n, 0.05)
    deff, ratio, m = design_effect_arrays(n, y)
    assert (m == 200).all()
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)  # unbiased for equal sizes
    assert deff.mean() == pytest.approx(1.0, abs=0.06)  # floored at 1: slightly above
    assert np.median(deff) < 1.1
    # Unequal sizes, still binomial: still about 1.
    sizes = rng.integers(100, 5000, size=(400, 200))
    deff, ratio, _ = design_effect_arrays(sizes, rng.binomial(sizes, 0.05))
    assert ratio.mean() == pytest.approx(1.0, abs=0.03)


def test_design_effect_matches_kish_for_beta_binomial_posts():
    """Equal posts of n impressions with rates ~ Beta (ICC rho = 1/(kappa+1)):
    deff = 1 + (n - 1) rho."""
    rng = np.random.default_rng(5)
    size, kappa = 500, 99.0
    n = np.full((300, 100), size)
    y = rng.binomial(n, rng.beta(0.04 * kappa, 0.96 * kappa, size=n.shape))
    deff, _, _ = design_effect_arrays(n, y)
    assert deff.mean() == pytest.approx(1 + (size - 1) / (kappa + 1), rel=0.05)


def test_one_cluster_cannot_decide_and_nothing_is_nan():
    arms = [
        ArmCounts("control", 5000, 100, ((5000, 100),)),
        ArmCounts("b", 5000, 400, ((5000, 400), (0, 0))),
    ]
    report = analyse(
        arms, control="control", metric_name="ctr", planned_weights={"control": 1, "b": 1}, mde=0.1
    )
    assert report.decision.action == "keep_running"
    assert report.decision.basis == "clusters"
    assert "'control' has 1 publication with exposures" in report.decision.sentence
    assert "single publication" in report.decision.sentence
    effects = {d.key: d for d in report.design_effects}
    assert effects["control"].reliable is False and effects["control"].design_effect == 1.0
    assert effects["b"].clusters == 1 and effects["b"].empty_clusters == 1
    assert report.srm.observed == {"control": 1, "b": 2}
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    "clusters",
    [
        ((0, 0), (0, 0)),  # nothing shown yet
        ((100, 0), (200, 0), (0, 0)),  # no success anywhere
        ((100, 100), (50, 50)),  # every exposure a success
        ((1, 1), (1, 0)),  # tiny
    ],
)
def test_degenerate_clusters_give_finite_numbers(clusters):
    n = sum(c[0] for c in clusters)
    s = sum(c[1] for c in clusters)
    arm = ArmCounts("b", n, s, clusters)
    effect = design_effect(arm)
    assert math.isfinite(effect.design_effect) and effect.design_effect >= 1.0
    assert effect.effective_successes <= effect.effective_exposures <= max(n, 0)
    control = ArmCounts("control", 400, 8, tuple((40, 0 if i % 5 else 4) for i in range(10)))
    report = analyse(
        [control, arm],
        control="control",
        metric_name="ctr",
        planned_weights={"control": 1, "b": 1},
        mde=0.1,
    )
    json.dumps(report.to_dict(), allow_nan=False)
    assert report.decision.action in ("keep_running", "no_difference", "ship")


def test_zero_exposure_clusters_do_not_change_the_design_effect():
    base = ((1000, 30), (2000, 45), (1500, 60), (800, 12))
    arm = ArmCounts("a", 5300, 147, base)
    padded = ArmCounts("a", 5300, 147, (*base, (0, 0), (0, 0)))
    assert design_effect(arm).design_effect == pytest.approx(design_effect(padded).design_effect)
    assert design_effect(padded).clusters == 4 and design_effect(padded).empty_clusters == 2


def test_cluster_validation_names_the_arm():
    with pytest.raises(ValueError, match="arm 'b': clusters add up to 3/20"):
        ArmCounts("b", 30, 3, ((10, 1), (10, 2)))
    with pytest.raises(ValueError, match="arm 'b': cluster 1 has more successes"):
        ArmCounts("b", 20, 12, ((10, 1), (10, 11)))
    with pytest.raises(ValueError, match="arm 'b': cluster 0 must be an"):
        ArmCounts("b", 10, 1, ((10, 1, 3),))
    with pytest.raises(ValueError, match="cluster 0 exposures must be >= 0"):
        ArmCounts("b", 0, 0, ((-1, 0), (1, 0)))
    with pytest.raises(ValueError, match="every arm or for none"):
        analyse(
            [ArmCounts("c", 10, 1, ((10, 1),)), ArmCounts("b", 10, 1)],
            control="c",
            metric_name="ctr",
            planned_weights={"c": 1, "b": 1},
            mde=0.1,
        )


def test_without_clusters_nothing_changes():
    arms = [ArmCounts("control", 20_000, 1_000), ArmCounts("b", 20_000, 1_150)]
    report = analyse(
        arms, control="control", metric_name="ctr", planned_weights={"control": 1, "b": 1}, mde=0.1
    )
    assert report.design_effects is None
    assert report.confidence_sequences[0].planned_share == 0.5
    assert [a.design_effect for a in report.arms] == [1.0, 1.0]
    assert [a.effective_exposures for a in report.arms] == [20_000, 20_000]
    assert report.decision.action == "ship"


def test_strata_use_their_own_clusters_or_the_arms_design_effect():
    rng = np.random.default_rng(11)

    def posts(rate, count, size):
        return [(size, int(v)) for v in rng.binomial(size, rng.beta(rate * 50, 50, size=count))]

    email_c, email_b = posts(0.10, 12, 1000), posts(0.10, 12, 1000)
    feed_c, feed_b = posts(0.01, 12, 3000), posts(0.01, 1, 3000)

    def arm(key, clusters):
        return ArmCounts(
            key, sum(c[0] for c in clusters), sum(c[1] for c in clusters), tuple(clusters)
        )

    arms = [arm("control", email_c + feed_c), arm("b", email_b + feed_b)]
    strata = [
        StratumCounts("email", (arm("control", email_c), arm("b", email_b))),
        StratumCounts("feed", (arm("control", feed_c), arm("b", feed_b))),
    ]
    report = analyse(
        arms,
        control="control",
        metric_name="ctr",
        planned_weights={"control": 1, "b": 1},
        mde=0.1,
        strata=strata,
    )
    (comparison,) = report.stratified
    feed = next(s for s in comparison.strata if s.stratum == "feed").comparison
    arm_deff = next(d for d in report.design_effects if d.key == "b").design_effect
    # "b" has a single feed post: the stratum falls back to the arm's design effect.
    expected = effective_counts(strata[1].arm("b"), arm_deff)
    assert feed.challenger == "b"
    assert feed.difference == pytest.approx(
        expected.successes / expected.exposures
        - design_effect(strata[1].arm("control")).effective_successes
        / design_effect(strata[1].arm("control")).effective_exposures
    )
    json.dumps(report.to_dict(), allow_nan=False)
