"""``analyse``: the one call the API and the admin make, and its JSON-ready report.

It validates the input once, runs every analysis (frequentist, Bayesian, sequential, SRM,
stratified, planning), and lets :mod:`calendar_app.analysis.decision` pick the action.
When the arms carry per-publication ``clusters``, every method runs on cluster-robust effective
counts (:mod:`calendar_app.analysis.clustering`); the report shows raw and effective counts. All
analyses are always computed and shown — the ``sequential`` flag only chooses which one
*decides* — so a reader can see the fixed-horizon and Bayesian numbers next to the
anytime-valid ones.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calendar_app.analysis.bayesian import BayesianResult, bayesian_analysis
from calendar_app.analysis.clustering import (
    MIN_CLUSTERS_TO_DECIDE,
    DesignEffect,
    design_effect,
    effective_counts,
)
from calendar_app.analysis.counts import ArmCounts, StratumCounts
from calendar_app.analysis.decision import Decision, Interval, decide
from calendar_app.analysis.frequentist import FrequentistComparison, fixed_horizon
from calendar_app.analysis.planning import MinimumDetectableEffect, Plan, plan_experiment
from calendar_app.analysis.sequential import (
    SequentialComparison,
    SequentialTuning,
    confidence_sequence,
)
from calendar_app.analysis.srm import SrmResult, normalise_weights, sample_ratio_mismatch
from calendar_app.analysis.stratified import StratifiedComparison, stratified_analysis

__all__ = ["ArmSummary", "ExperimentReport", "analyse", "to_jsonable"]


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One arm as shown in the admin: counts, rate, split, posterior summary.

    ``expected_loss`` is the rate given up, on average, by shipping this arm if another is
    in fact best, in the metric's units (0.0002 = 0.02 percentage points) and never negative;
    ``expected_loss_relative`` is that loss as a share of the arm's own rate. Both, and
    ``chance_to_be_best``, are ``None`` when the arm has no exposures (``reason`` says so).

    ``exposures``/``successes``/``rate`` are the raw counts. With clusters, ``design_effect``
    is the arm's variance inflation, ``clusters`` its publications with exposures and
    ``effective_*`` the counts every method ran on (equal to the raw ones without clusters).
    """

    key: str
    exposures: int
    successes: int
    rate: float | None
    planned_weight: float
    observed_share: float | None
    posterior_mean: float
    chance_to_be_best: float | None
    expected_loss: float | None
    design_effect: float = 1.0
    clusters: int | None = None
    effective_exposures: int | None = None
    effective_successes: int | None = None
    expected_loss_relative: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """Everything :func:`analyse` found; ``to_dict()`` is what the API serialises."""

    metric_name: str
    control: str
    alpha: float
    power: float
    sequential: bool
    arms: tuple[ArmSummary, ...]
    frequentist: tuple[FrequentistComparison, ...]
    bayesian: BayesianResult
    confidence_sequences: tuple[SequentialComparison, ...]
    srm: SrmResult
    stratified: tuple[StratifiedComparison, ...] | None
    plan: Plan
    decision: Decision
    design_effects: tuple[DesignEffect, ...] | None = None
    """Per arm, when clusters were given (``None``: every exposure treated as independent)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: only dicts, lists, str, int, float, bool and None; NaN/inf become None."""
        return to_jsonable(self)


def to_jsonable(value: Any) -> Any:
    """Recursively convert dataclasses/tuples/numpy scalars; non-finite floats become None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _fixed_interval(c: FrequentistComparison, k: int) -> Interval:
    """The fixed-horizon comparison as the decision reads it, with its test named."""
    fisher = c.method == "fisher_exact"
    test = (
        "Fisher's exact test with Newcombe's interval"
        if fisher
        else "the fixed-horizon Welch t-test"
    )
    if k > 1:
        test += " (Holm-adjusted)"
    return Interval(
        c.challenger,
        c.difference,
        c.difference_lower,
        c.difference_upper,
        c.p_value_adjusted,
        test,
        c.agrees,
    )


def _check_probability(name: str, value: float) -> float:
    value = float(value)
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return value


def _check_strata(strata: Sequence[StratumCounts], arms: Sequence[ArmCounts]) -> None:
    """Strata must add up to the arms' totals, else the two analyses would disagree silently."""
    keys = {a.key for a in arms}
    names = [s.stratum for s in strata]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate strata: {names}")
    for s in strata:
        unknown = [a.key for a in s.arms if a.key not in keys]
        if unknown:
            raise ValueError(f"stratum {s.stratum!r} names unknown arm(s) {unknown}")
    for arm in arms:
        exposures = sum(s.arm(arm.key).exposures for s in strata)
        successes = sum(s.arm(arm.key).successes for s in strata)
        if (exposures, successes) != (arm.exposures, arm.successes):
            raise ValueError(
                f"arm {arm.key!r}: strata add up to {successes}/{exposures}, "
                f"but the arm has {arm.successes}/{arm.exposures}"
            )


def _effective_stratum(stratum: StratumCounts, deffs: Mapping[str, float]) -> StratumCounts:
    """A stratum on effective counts: each arm by its own design effect within the stratum when
    it has clusters (at least 2 with exposures), else by the arm's overall design effect."""
    arms = []
    for arm in stratum.arms:
        deff = deffs.get(arm.key, 1.0)
        if arm.clusters is not None:
            own = design_effect(arm)
            if own.clusters >= 2:
                deff = own.design_effect
        arms.append(effective_counts(arm, deff))
    return StratumCounts(stratum.stratum, tuple(arms))


def analyse(
    arms: Sequence[ArmCounts],
    *,
    control: str,
    metric_name: str,
    planned_weights: Mapping[str, float],
    mde: float | MinimumDetectableEffect,
    alpha: float = 0.05,
    power: float = 0.8,
    sequential: bool = True,
    strata: Sequence[StratumCounts] | None = None,
    tuning: SequentialTuning | None = None,
    daily_exposures: float | None = None,
    baseline_rate: float | None = None,
    allocation_counts: Mapping[str, int] | None = None,
    credible_level: float = 0.95,
    min_clusters: int = MIN_CLUSTERS_TO_DECIDE,
) -> ExperimentReport:
    """Analyse an experiment's counts and decide what to do.

    ``mde`` as a float is *relative* to the control rate (0.1 = a 10% lift); pass
    ``MinimumDetectableEffect(x, relative=False)`` for an absolute difference.
    ``planned_weights`` are the planned traffic shares (any positive scale).
    ``allocation_counts`` are the units the randomisation splits, for the SRM check: default
    the arms' exposures, but for conversion-per-click pass impressions, because clicks depend
    on the variant and would raise false SRM alarms.
    ``daily_exposures`` (total across arms) gives the plan's duration in days.

    Arms (and strata arms) may carry per-publication ``clusters``; then every method runs on
    cluster-robust effective counts, the SRM check defaults to the number of clusters per arm,
    the anytime-valid comparison uses the observed share of effective exposures, and an arm with
    fewer than ``min_clusters`` clusters with exposures keeps the experiment running (see
    :mod:`calendar_app.analysis.clustering`).
    """
    arms = tuple(arms)
    if any(not isinstance(a, ArmCounts) for a in arms):
        raise ValueError("arms must be ArmCounts")
    keys = [a.key for a in arms]
    if len(arms) < 2:
        raise ValueError(f"an experiment needs at least two arms, got {keys}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate arm keys: {keys}")
    if control not in keys:
        raise ValueError(f"control {control!r} is not one of the arms {keys}")
    alpha = _check_probability("alpha", alpha)
    power = _check_probability("power", power)
    credible_level = _check_probability("credible_level", credible_level)
    if not isinstance(mde, MinimumDetectableEffect):
        mde = MinimumDetectableEffect(float(mde), relative=True)
    weights = normalise_weights(planned_weights, keys)
    if any(w <= 0.0 for w in weights.values()):
        raise ValueError(f"every arm needs a positive planned weight, got {dict(planned_weights)}")
    tuning = tuning or SequentialTuning()
    if strata is not None:
        strata = tuple(strata)
        _check_strata(strata, arms)

    raw_arms = arms
    design_effects: tuple[DesignEffect, ...] | None = None
    cluster_counts: dict[str, int] | None = None
    if any(a.clusters is not None for a in arms):
        missing = [a.key for a in arms if a.clusters is None]
        if missing:
            raise ValueError(f"clusters must be given for every arm or for none; missing {missing}")
        design_effects = tuple(design_effect(a) for a in arms)
        deffs = {d.key: d.design_effect for d in design_effects}
        cluster_counts = {d.key: d.clusters for d in design_effects}
        if allocation_counts is None:
            # The randomisation unit is the cluster: test its split, not the impressions.
            allocation_counts = {a.key: len(a.clusters or ()) for a in arms}
        if daily_exposures:
            raw_total = sum(a.exposures for a in arms)
            effective_total = sum(d.effective_exposures for d in design_effects)
            daily_exposures = daily_exposures * effective_total / raw_total if raw_total else None
        arms = tuple(
            ArmCounts(d.key, d.effective_exposures, d.effective_successes) for d in design_effects
        )
        if strata is not None:
            strata = tuple(_effective_stratum(s, deffs) for s in strata)

    by_key = {a.key: a for a in arms}
    challengers = [k for k in keys if k != control]
    k = len(challengers)

    srm_counts = dict(allocation_counts) if allocation_counts is not None else None
    if srm_counts is not None and set(srm_counts) != set(keys):
        raise ValueError(f"allocation_counts must name exactly the arms {keys}")
    srm = sample_ratio_mismatch(srm_counts or {a.key: a.exposures for a in arms}, weights)
    plan = plan_experiment(
        arms,
        control=control,
        weights=weights,
        mde=mde,
        alpha=alpha,
        power=power,
        daily_exposures=daily_exposures,
        baseline_rate=baseline_rate,
    )
    freq = fixed_horizon(arms, control=control, alpha=alpha, clusters=cluster_counts)
    bayes = bayesian_analysis(arms, control=control, credible_level=credible_level)
    strat = (
        stratified_analysis(strata, control=control, challengers=challengers, alpha=alpha)
        if strata
        else None
    )

    sequences = []
    for key in challengers:
        if tuning.optimal_n is not None:
            optimal_n = tuning.optimal_n
        elif plan.required is not None:
            optimal_n = plan.required[control] + plan.required[key]
        else:
            optimal_n = tuning.fallback_n
        share = weights[key] / (weights[key] + weights[control])
        if design_effects is not None and by_key[key].exposures and by_key[control].exposures:
            # Whole posts are randomised: impressions are not split at the planned share, so
            # weight by the observed one (the estimate is then the difference of rates).
            share = by_key[key].exposures / (by_key[key].exposures + by_key[control].exposures)
        sequences.append(
            confidence_sequence(
                by_key[control],
                by_key[key],
                planned_share=share,
                alpha=alpha / k,
                rho=tuning.rho,
                optimal_n=optimal_n,
            )
        )

    fixed_intervals = [_fixed_interval(c, k) for c in freq]
    strat_intervals = (
        [
            Interval(
                c.challenger,
                c.difference,
                c.difference_lower,
                c.difference_upper,
                c.p_value_adjusted,
                "the Mantel-Haenszel comparison (adjusted for network)",
            )
            for c in strat
        ]
        if strat is not None
        else None
    )
    if sequential:
        intervals = [
            Interval(
                s.challenger,
                s.estimate,
                s.lower,
                s.upper,
                s.p_value,
                "the anytime-valid confidence sequence",
            )
            for s in sequences
        ]
        support = strat_intervals or fixed_intervals
    else:
        intervals = strat_intervals or fixed_intervals
        support = None
    guard = strat_intervals if sequential else None
    if min_clusters < 2:
        raise ValueError(f"min_clusters must be at least 2, got {min_clusters}")
    too_few = [
        (d.key, d.clusters)
        for d in design_effects or ()
        if d.exposures and d.clusters < min_clusters
    ]
    decision = decide(
        arms=raw_arms,
        control=control,
        metric_name=metric_name,
        alpha=alpha,
        sequential=sequential,
        stratified=strat is not None,
        srm=srm,
        plan=plan,
        intervals=intervals,
        bayes=bayes,
        guard=guard,
        support=support,
        too_few_clusters=too_few,
        min_clusters=min_clusters,
    )
    bayes_arms = {a.key: a for a in bayes.arms}
    effects = {d.key: d for d in design_effects or ()}
    raw_total = sum(a.exposures for a in raw_arms)
    summaries = tuple(
        ArmSummary(
            key=a.key,
            exposures=a.exposures,
            successes=a.successes,
            rate=a.rate,
            planned_weight=weights[a.key],
            observed_share=a.exposures / raw_total if raw_total else None,
            posterior_mean=bayes_arms[a.key].posterior_mean,
            chance_to_be_best=bayes_arms[a.key].chance_to_be_best,
            expected_loss=bayes_arms[a.key].expected_loss,
            expected_loss_relative=bayes_arms[a.key].expected_loss_relative,
            reason=bayes_arms[a.key].reason,
            design_effect=effects[a.key].design_effect if a.key in effects else 1.0,
            clusters=effects[a.key].clusters if a.key in effects else None,
            effective_exposures=by_key[a.key].exposures,
            effective_successes=by_key[a.key].successes,
        )
        for a in raw_arms
    )
    return ExperimentReport(
        metric_name,
        control,
        alpha,
        power,
        sequential,
        summaries,
        freq,
        bayes,
        tuple(sequences),
        srm,
        strat,
        plan,
        decision,
        design_effects,
    )
