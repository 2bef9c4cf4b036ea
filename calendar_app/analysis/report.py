"""``analyse``: the one call the API and the admin make, and its JSON-ready report.

It validates the input once, runs every analysis (frequentist, Bayesian, sequential, SRM,
stratified, planning), and lets :mod:`calendar_app.analysis.decision` pick the action. All
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
    """One arm as shown in the admin: counts, rate, split, posterior summary."""

    key: str
    exposures: int
    successes: int
    rate: float | None
    planned_weight: float
    observed_share: float | None
    posterior_mean: float
    chance_to_be_best: float
    expected_loss: float


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
) -> ExperimentReport:
    """Analyse an experiment's counts and decide what to do.

    ``mde`` as a float is *relative* to the control rate (0.1 = a 10% lift); pass
    ``MinimumDetectableEffect(x, relative=False)`` for an absolute difference.
    ``planned_weights`` are the planned traffic shares (any positive scale).
    ``allocation_counts`` are the units the randomisation splits, for the SRM check: default
    the arms' exposures, but for conversion-per-click pass impressions, because clicks depend
    on the variant and would raise false SRM alarms.
    ``daily_exposures`` (total across arms) gives the plan's duration in days.
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

    by_key = {a.key: a for a in arms}
    challengers = [k for k in keys if k != control]
    k = len(challengers)
    total = sum(a.exposures for a in arms)

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
    freq = fixed_horizon(arms, control=control, alpha=alpha)
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
        sequences.append(
            confidence_sequence(
                by_key[control],
                by_key[key],
                planned_share=weights[key] / (weights[key] + weights[control]),
                alpha=alpha / k,
                rho=tuning.rho,
                optimal_n=optimal_n,
            )
        )

    if sequential:
        intervals = [Interval(s.challenger, s.estimate, s.lower, s.upper) for s in sequences]
    elif strat is not None:
        intervals = [
            Interval(
                c.challenger,
                c.difference,
                c.difference_lower,
                c.difference_upper,
                c.p_value_adjusted,
            )
            for c in strat
        ]
    else:
        intervals = [
            Interval(
                c.challenger,
                c.difference,
                c.difference_lower,
                c.difference_upper,
                c.p_value_adjusted,
            )
            for c in freq
        ]
    guard = None
    if sequential and strat is not None:
        guard = [
            Interval(c.challenger, c.difference, c.difference_lower, c.difference_upper)
            for c in strat
        ]
    decision = decide(
        arms=arms,
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
    )
    bayes_arms = {a.key: a for a in bayes.arms}
    summaries = tuple(
        ArmSummary(
            key=a.key,
            exposures=a.exposures,
            successes=a.successes,
            rate=a.rate,
            planned_weight=weights[a.key],
            observed_share=a.exposures / total if total else None,
            posterior_mean=bayes_arms[a.key].posterior_mean,
            chance_to_be_best=bayes_arms[a.key].chance_to_be_best,
            expected_loss=bayes_arms[a.key].expected_loss,
        )
        for a in arms
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
    )
