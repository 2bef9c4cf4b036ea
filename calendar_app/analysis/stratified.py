"""Per-network (stratified) estimates and a combined Mantel-Haenszel risk difference.

Why stratify: networks have very different base rates (an e-mail CTA is clicked far more
often than a post on a busy timeline). If one variant ends up with more of its traffic on the
high-rate network — through a per-network allocation, a channel going quiet, or a plugin
failing on one network — the *pooled* rates differ even when the variant changes nothing
(Simpson's paradox). Comparing arms *within* each network and then combining removes the
network's base rate from the comparison.

Why Cochran-Mantel-Haenszel (CMH) rather than inverse-variance weighting: the MH risk
difference weights stratum ``k`` by ``w_k = n_tk n_ck / N_k``, which depends only on the
sample sizes. Inverse-variance weights use ``1 / Var(d_k)``, which is infinite when a
stratum has zero (or all) successes — common for a small network early in an experiment —
and are biased with sparse strata. MH is consistent both with a few large strata and with
many small ones; its variance is Sato's (1989) estimator, which shares that property
(Greenland & Robins 1985; Sato 1989, *Biometrics* 45:1323).

Formulas (``a`` challenger successes, ``c`` control successes, ``n_t``, ``n_c`` sizes)::

    RD_MH = sum_k (a_k n_ck - c_k n_tk) / N_k  /  sum_k w_k
    P_k   = (n_tk^2 c_k - n_ck^2 a_k + n_tk n_ck (n_ck - n_tk) / 2) / N_k^2
    Q_k   = (a_k (n_ck - c_k) + c_k (n_tk - a_k)) / (2 N_k)
    Var   = (RD_MH sum_k P_k + sum_k Q_k) / (sum_k w_k)^2

With a single stratum this reduces exactly to the unpooled (Wald) variance
``p_t q_t / n_t + p_c q_c / n_c``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scipy import special

from calendar_app.analysis.counts import StratumCounts
from calendar_app.analysis.frequentist import FrequentistComparison, compare_fixed, holm_adjust

__all__ = [
    "StratifiedComparison",
    "StratumEstimate",
    "mantel_haenszel_difference",
    "stratified_analysis",
]


@dataclass(frozen=True, slots=True)
class StratumEstimate:
    """The comparison inside one stratum, and that stratum's share of the MH weight."""

    stratum: str
    weight_share: float
    comparison: FrequentistComparison


@dataclass(frozen=True, slots=True)
class StratifiedComparison:
    """Combined (MH) estimate of ``rate(challenger) - rate(control)`` across strata.

    ``crude_difference`` is the pooled difference ignoring strata, shown next to the MH
    estimate so that a reader can see when the two disagree (confounding by network).
    ``method`` is ``"mantel_haenszel"`` or ``"insufficient_data"``.
    """

    challenger: str
    control: str
    method: str
    difference: float | None
    difference_lower: float | None
    difference_upper: float | None
    standard_error: float | None
    p_value: float | None
    p_value_adjusted: float | None
    crude_difference: float | None
    interval_level: float
    strata: tuple[StratumEstimate, ...]


def mantel_haenszel_difference(
    strata: Sequence[StratumCounts], *, control: str, challenger: str
) -> tuple[float, float, list[float]] | None:
    """``(RD_MH, Var_Sato, weights)`` or ``None`` when no stratum has both arms exposed."""
    weights, numerator, p_sum, q_sum = [], 0.0, 0.0, 0.0
    for stratum in strata:
        t, c = stratum.arm(challenger), stratum.arm(control)
        n_t, n_c, a, b = t.exposures, c.exposures, t.successes, c.successes
        total = n_t + n_c
        if n_t == 0 or n_c == 0:
            weights.append(0.0)
            continue
        weights.append(n_t * n_c / total)
        numerator += (a * n_c - b * n_t) / total
        p_sum += (n_t**2 * b - n_c**2 * a + n_t * n_c * (n_c - n_t) / 2.0) / total**2
        q_sum += (a * (n_c - b) + b * (n_t - a)) / (2.0 * total)
    weight_total = sum(weights)
    if weight_total == 0.0:
        return None
    rd = numerator / weight_total
    variance = (rd * p_sum + q_sum) / weight_total**2
    return rd, max(variance, 0.0), weights


def _crude(strata: Sequence[StratumCounts], control: str, challenger: str) -> float | None:
    n_t = sum(s.arm(challenger).exposures for s in strata)
    n_c = sum(s.arm(control).exposures for s in strata)
    if n_t == 0 or n_c == 0:
        return None
    a = sum(s.arm(challenger).successes for s in strata)
    b = sum(s.arm(control).successes for s in strata)
    return a / n_t - b / n_c


def stratified_analysis(
    strata: Sequence[StratumCounts], *, control: str, challengers: Sequence[str], alpha: float
) -> tuple[StratifiedComparison, ...]:
    """Every challenger against control, per stratum and combined; Holm across challengers.

    Intervals are at level ``1 - alpha / k`` (Bonferroni-simultaneous), like the pooled
    fixed-horizon comparisons.
    """
    k = max(1, len(challengers))
    level_alpha = alpha / k
    z = float(special.ndtri(1.0 - level_alpha / 2.0))
    results = []
    for challenger in challengers:
        mh = mantel_haenszel_difference(strata, control=control, challenger=challenger)
        weights = mh[2] if mh is not None else [0.0] * len(strata)
        weight_total = sum(weights)
        per_stratum = tuple(
            StratumEstimate(
                stratum=s.stratum,
                weight_share=w / weight_total if weight_total else 0.0,
                comparison=compare_fixed(s.arm(control), s.arm(challenger), alpha=level_alpha),
            )
            for s, w in zip(strata, weights, strict=True)
        )
        crude = _crude(strata, control, challenger)
        if mh is None or mh[1] <= 0.0:
            results.append(
                StratifiedComparison(
                    challenger,
                    control,
                    "insufficient_data",
                    mh[0] if mh else None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    crude,
                    1.0 - level_alpha,
                    per_stratum,
                )
            )
            continue
        rd, variance, _ = mh
        se = math.sqrt(variance)
        p_value = float(min(1.0, 2.0 * special.ndtr(-abs(rd) / se)))
        results.append(
            StratifiedComparison(
                challenger,
                control,
                "mantel_haenszel",
                rd,
                max(-1.0, rd - z * se),
                min(1.0, rd + z * se),
                se,
                p_value,
                p_value,
                crude,
                1.0 - level_alpha,
                per_stratum,
            )
        )
    adjusted = holm_adjust([r.p_value for r in results])
    return tuple(replace(r, p_value_adjusted=a) for r, a in zip(results, adjusted, strict=True))
