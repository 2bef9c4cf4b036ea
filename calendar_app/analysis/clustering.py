"""Cluster-robust counts: the publication, not the impression, is the unit of randomisation.

Why: Kairos assigns a variant to a *publication* (one post on one channel); every impression of
that post gets the same variant. Impressions of one post are not independent trials — one post
goes viral, another lands at a quiet hour — so the per-post click-through rates vary more than
binomial noise allows (overdispersion). Methods that treat every impression as an independent
Bernoulli trial then under-state the variance and their intervals are too narrow: an A/A test
"finds" winners far more often than ``alpha``.

The fix a survey statistician would sign is the classic one of Kish (1965) and Donner & Klar
(2000): estimate each arm's **design effect** — how much larger the variance of its rate is than
the binomial variance — from the per-publication counts, and run every method on **effective
counts** ``exposures / deff`` and ``successes / deff``.

Formulas, for one arm with clusters (publications) ``i = 1..m`` of ``n_i`` exposures and ``y_i``
successes, ``N = sum n_i``, ``p = sum y_i / N`` (a ratio estimator), residuals
``e_i = y_i - p n_i`` and cluster leverages ``h_i = n_i / N``::

    Var_cluster(p)  = sum_i e_i^2 / (1 - h_i) / N^2                  (delta method, CR2)
    Var_binomial(p) = p (1 - p) / N
    deff            = max(1, Var_cluster / Var_binomial)

``Var_cluster`` is the linearisation (delta-method) variance of a ratio estimator — it makes no
assumption about how rates vary between posts — with the bias-reduced small-sample correction
of Bell & McCaffrey (2002) ("CR2"): each residual is scaled by ``1 / sqrt(1 - h_i)``. With equal
cluster sizes ``h_i = 1/m`` and this is exactly the familiar ``m / (m - 1) * sum e_i^2 / N^2``
("CR1"); with unequal sizes it corrects the downward bias that big posts cause (the simulations
in ``tests/analysis/test_clustering.py`` show CR1 rejecting too often when post sizes vary).
Flooring at 1 never lets clustering *narrow* an interval (a deff below 1 is sampling noise when
posts are binomial-like).

Small-sample rules (documented in ``docs/ab-method.md``):

* only clusters with exposures count toward ``m`` (a post with 0 impressions carries no
  information about the rate; it still counts as *allocated* for the SRM check);
* ``m >= 2`` clusters with exposures are needed to estimate anything; with fewer, ``deff = 1``
  is reported with ``reliable = False`` and the decision is ``keep_running`` — the interval
  cannot be trusted, however narrow it looks;
* a *decision* (``ship`` or ``no_difference``) further needs ``MIN_CLUSTERS_TO_DECIDE = 10``
  clusters with exposures in every arm: the variance estimate rests on the clusters, and the
  A/A simulations (overdispersed posts of varying sizes, checked after every publication) keep
  the false-positive rate at or below ``alpha`` from 10 per arm, not with 2–5;
* the anytime-valid comparison uses the *observed* share of effective exposures instead of the
  planned share: with whole posts randomised, the impressions per arm are not split at the
  planned share (one post reaches 500 people, another 50,000), and the inverse-probability
  estimate with the planned share would mistake that imbalance for an effect. With the observed
  share the estimate is exactly the difference of the arms' rates (a Hajek estimator);
* a rate of exactly 0 or 1 has no binomial variance and no between-post variance: ``deff = 1``;
* effective counts are rounded to integers (``round(x / deff)``) so every method, Fisher's exact
  test included, runs unchanged. The rounding moves a rate by at most ``0.5 / n_eff``, far below
  its standard error ``~ sqrt(p / n_eff)`` whenever there is anything to decide;
* the fixed-horizon Welch test uses at most ``(m_t - 1) + (m_c - 1)`` degrees of freedom, the
  number the cluster variances actually rest on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calendar_app.analysis.counts import ArmCounts

__all__ = [
    "MIN_CLUSTERS",
    "MIN_CLUSTERS_TO_DECIDE",
    "DesignEffect",
    "design_effect",
    "design_effect_arrays",
    "effective_counts",
]

MIN_CLUSTERS = 2
"""Clusters with exposures an arm needs before its design effect can be estimated at all."""

MIN_CLUSTERS_TO_DECIDE = 10
"""Clusters with exposures every arm needs before a cluster-robust result may decide."""


@dataclass(frozen=True, slots=True)
class DesignEffect:
    """How clustered one arm's counts are, and the effective counts the methods ran on.

    ``clusters`` counts clusters *with* exposures (``empty_clusters`` those without);
    ``ratio`` is ``Var_cluster / Var_binomial`` before flooring (``None`` when undefined: fewer
    than 2 clusters, or a rate of 0 or 1). ``reliable`` is ``clusters >= MIN_CLUSTERS`` (or the
    arm has no exposures at all, where the ordinary "no data" rule applies).
    """

    key: str
    clusters: int
    empty_clusters: int
    design_effect: float
    ratio: float | None
    variance_cluster: float | None
    variance_binomial: float | None
    reliable: bool
    exposures: int
    successes: int
    effective_exposures: int
    effective_successes: int


def design_effect_arrays(
    exposures: ArrayLike, successes: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Vectorised design effect along the last axis (clusters); shapes ``(..., m)``.

    Returns ``(deff, ratio, clusters_with_exposures)``; ``ratio`` is NaN where undefined and
    ``deff`` is then 1. Used by :func:`design_effect` and by the simulations in the tests.
    """
    n = np.asarray(exposures, dtype=float)
    y = np.asarray(successes, dtype=float)
    total = n.sum(axis=-1)
    m = (n > 0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(total > 0, y.sum(axis=-1) / total, 0.0)
        residual = y - p[..., None] * n
        leverage = np.where(n > 0, n / total[..., None], 0.0)
        var_cluster = (residual**2 / (1.0 - leverage)).sum(axis=-1) / total**2
        var_binomial = p * (1.0 - p) / total
        defined = (m >= MIN_CLUSTERS) & (var_binomial > 0)
        ratio = np.where(defined, var_cluster / var_binomial, np.nan)
    deff = np.where(defined, np.maximum(1.0, np.nan_to_num(ratio, nan=1.0)), 1.0)
    return deff, ratio, m.astype(np.int64)


def _shrink(count: int, deff: float) -> int:
    """``round(count / deff)``, but never 0 when ``count`` is not (an exposed arm stays exposed)."""
    if count == 0:
        return 0
    return max(1, round(count / deff)) if deff > 1.0 else count


def design_effect(
    arm: ArmCounts, clusters: Sequence[tuple[int, int]] | None = None
) -> DesignEffect:
    """The design effect of ``arm`` from its clusters (``arm.clusters`` unless given)."""
    units = arm.clusters if clusters is None else tuple(clusters)
    if not units:
        units = ()
    n = np.array([c[0] for c in units], dtype=float)
    y = np.array([c[1] for c in units], dtype=float)
    if len(units):
        deff_a, ratio_a, m_a = design_effect_arrays(n, y)
        deff, m = float(deff_a), int(m_a)
        ratio = float(ratio_a) if math.isfinite(float(ratio_a)) else None
    else:
        deff, ratio, m = 1.0, None, 0
    total, hits = int(n.sum()), int(y.sum())
    var_cluster = var_binomial = None
    if m >= MIN_CLUSTERS and total > 0:
        p = hits / total
        var_binomial = p * (1.0 - p) / total
        var_cluster = float((((y - p * n) ** 2) / (1.0 - n / total)).sum()) / total**2
    effective_successes = _shrink(arm.successes, deff)
    effective_exposures = max(_shrink(arm.exposures, deff), effective_successes)
    return DesignEffect(
        key=arm.key,
        clusters=m,
        empty_clusters=len(units) - m,
        design_effect=deff,
        ratio=ratio,
        variance_cluster=var_cluster,
        variance_binomial=var_binomial,
        reliable=m >= MIN_CLUSTERS or arm.exposures == 0,
        exposures=arm.exposures,
        successes=arm.successes,
        effective_exposures=effective_exposures,
        effective_successes=effective_successes,
    )


def effective_counts(arm: ArmCounts, deff: float) -> ArmCounts:
    """``arm`` with exposures and successes divided by ``deff`` (rounded; no clusters)."""
    successes = _shrink(arm.successes, deff)
    return ArmCounts(arm.key, max(_shrink(arm.exposures, deff), successes), successes)
