"""A/B statistics for Kairos experiments: pure functions over counts, no Django, no ORM.

The package imports without Django configured so it can be tested, benchmarked and reused on
its own. The one call most callers need is :func:`analyse`; the modules hold the methods:

* :mod:`.counts` — input types (:class:`ArmCounts`, :class:`StratumCounts`) and metrics;
* :mod:`.clustering` — design effects from per-publication clusters, effective counts;
* :mod:`.frequentist` — Welch / Fisher / delta-method lift / Holm, fixed horizon;
* :mod:`.bayesian` — exact Beta-Binomial posteriors by quadrature;
* :mod:`.sequential` — anytime-valid asymptotic confidence sequences;
* :mod:`.srm` — sample-ratio mismatch;
* :mod:`.stratified` — per-network and Mantel-Haenszel combined estimates;
* :mod:`.planning` — sample size and duration;
* :mod:`.decision` — the marketer-facing decision.

See ``docs/ab-method.md`` for the formulas, assumptions and a worked example.

Importing this package is cheap: it loads numpy and scipy only when one of its names is first
used (PEP 562 ``__getattr__``). Web workers import the modules that *may* analyse (experiments,
the admin) at start, and numpy, scipy and their hundreds of thousands of objects would otherwise
sit in every worker, making each garbage collection of every request slow; they now load in the
processes and requests that analyse, and nowhere else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Action": "decision",
    "ArmCounts": "counts",
    "ArmSummary": "report",
    "ArmTotals": "counts",
    "BayesianArm": "bayesian",
    "BayesianComparison": "bayesian",
    "BayesianResult": "bayesian",
    "Decision": "decision",
    "DesignEffect": "clustering",
    "ExperimentReport": "report",
    "FrequentistComparison": "frequentist",
    "MIN_CLUSTERS": "clustering",
    "MIN_CLUSTERS_TO_DECIDE": "clustering",
    "Metric": "counts",
    "MinimumDetectableEffect": "planning",
    "Plan": "planning",
    "SequentialComparison": "sequential",
    "SequentialTuning": "sequential",
    "SrmResult": "srm",
    "StratifiedComparison": "stratified",
    "StratumCounts": "counts",
    "StratumEstimate": "stratified",
    "analyse": "report",
    "arm_counts_for_metric": "counts",
    "design_effect": "clustering",
    "design_effect_arrays": "clustering",
    "effective_counts": "clustering",
    "strata_for_metric": "counts",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:
    from calendar_app.analysis.bayesian import BayesianArm, BayesianComparison, BayesianResult
    from calendar_app.analysis.clustering import (
        MIN_CLUSTERS,
        MIN_CLUSTERS_TO_DECIDE,
        DesignEffect,
        design_effect,
        design_effect_arrays,
        effective_counts,
    )
    from calendar_app.analysis.counts import (
        ArmCounts,
        ArmTotals,
        Metric,
        StratumCounts,
        arm_counts_for_metric,
        strata_for_metric,
    )
    from calendar_app.analysis.decision import Action, Decision
    from calendar_app.analysis.frequentist import FrequentistComparison
    from calendar_app.analysis.planning import MinimumDetectableEffect, Plan
    from calendar_app.analysis.report import ArmSummary, ExperimentReport, analyse
    from calendar_app.analysis.sequential import SequentialComparison, SequentialTuning
    from calendar_app.analysis.srm import SrmResult
    from calendar_app.analysis.stratified import StratifiedComparison, StratumEstimate

__all__ = [
    "MIN_CLUSTERS",
    "MIN_CLUSTERS_TO_DECIDE",
    "Action",
    "ArmCounts",
    "ArmSummary",
    "ArmTotals",
    "BayesianArm",
    "BayesianComparison",
    "BayesianResult",
    "Decision",
    "DesignEffect",
    "ExperimentReport",
    "FrequentistComparison",
    "Metric",
    "MinimumDetectableEffect",
    "Plan",
    "SequentialComparison",
    "SequentialTuning",
    "SrmResult",
    "StratifiedComparison",
    "StratumCounts",
    "StratumEstimate",
    "analyse",
    "arm_counts_for_metric",
    "design_effect",
    "design_effect_arrays",
    "effective_counts",
    "strata_for_metric",
]
