"""Fixed-horizon (classical) comparison of each challenger with control.

Why these methods:

* **Welch's t interval** for the absolute difference of rates. A rate is the mean of 0/1
  outcomes, so the difference of two rates is a difference of means with *unequal* variances;
  Welch's interval is the textbook answer and, at the sample sizes of an A/B test, agrees with
  the two-proportion z interval to many digits while staying honest for moderate ``n``. The
  variance of each arm's outcomes is the Bessel-corrected ``p (1 - p) n / (n - 1)``, so the
  variance of its rate is ``p (1 - p) / (n - 1)``.
* **Delta method** for the relative lift ``p_t / p_c - 1``: a first-order Taylor expansion
  of the ratio gives ``Var ~ v_t / p_c^2 + p_t^2 v_c / p_c^4``. Its **relative-scale p-value**
  (``relative_p_value``) is the two-sided t test of ``lift / SE`` on the Welch degrees of
  freedom — the test GrowthBook's engine reports by default, offered so integrators can compare
  (it uses ``n`` where we use ``n - 1`` in the variances, a relative difference of ``1/n``).
* **Fisher's exact test** when the normal approximation cannot be trusted: if any *expected*
  cell of the 2x2 table (arm x success/failure) is below 5 — Cochran's classic rule — or if
  *either* arm has zero variance (no successes, or only successes: Welch would then rest on the
  other arm's variance alone and on a degenerate number of degrees of freedom). The p-value
  comes from Fisher's test and the interval from Newcombe's hybrid score (Wilson) method, which
  stays inside [-1, 1] and is well defined with zero or all successes. Fisher's test and
  Newcombe's interval are different constructions and can disagree near the threshold (100/100
  against 95/100: p = 0.059, yet the interval excludes 0): ``agrees`` says whether they tell
  the same story at ``alpha``, and the decision never rests on a pair that does not.
* **Holm's step-down correction** of the p-values when there are several challengers: it
  controls the family-wise error rate like Bonferroni but is uniformly more powerful. The
  intervals are Bonferroni-simultaneous (level ``1 - alpha / k`` for ``k`` challengers) so
  that "every interval covers its truth" also holds with probability ``>= 1 - alpha``.

Distribution functions are SciPy's ``special`` ufuncs (``stdtr``, ``stdtrit``, ``ndtri``): the
same Cephes/Boost code ``scipy.stats`` calls, without its ~50 microseconds of argument checking
per call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from scipy import special, stats

from calendar_app.analysis.counts import ArmCounts

__all__ = [
    "FISHER_EXPECTED_CELL_THRESHOLD",
    "FrequentistComparison",
    "compare_fixed",
    "fixed_horizon",
    "holm_adjust",
    "min_expected_cell",
    "wilson_interval",
]

FISHER_EXPECTED_CELL_THRESHOLD = 5.0
"""Below this expected cell count the normal approximation is not trusted (Cochran's rule)."""

NO_EXPOSURES = "no exposures yet: a rate of 0/0 is not a rate, so nothing is computed"


@dataclass(frozen=True, slots=True)
class FrequentistComparison:
    """One challenger against control, fixed-horizon.

    ``method`` is ``"welch_t"``, ``"fisher_exact"`` or ``"insufficient_data"`` (an arm has no
    exposures; every number is then ``None`` and ``reason`` says which arm).
    ``difference`` is ``rate(challenger) - rate(control)``; ``relative_lift`` is
    ``rate(challenger) / rate(control) - 1`` (``None`` when control's rate is 0).
    ``interval_level`` is the confidence level of both intervals (``1 - alpha / k``).
    ``p_value_adjusted`` is Holm-adjusted across the challengers (equal to ``p_value`` when
    there is only one). ``relative_p_value`` tests the lift on the relative scale (Welch
    ``welch_t`` only). ``agrees`` is whether the (adjusted) p-value and the difference interval
    give the same verdict about 0 (see :func:`fixed_horizon`).
    """

    challenger: str
    control: str
    method: str
    difference: float | None
    difference_lower: float | None
    difference_upper: float | None
    relative_lift: float | None
    lift_lower: float | None
    lift_upper: float | None
    statistic: float | None
    df: float | None
    p_value: float | None
    p_value_adjusted: float | None
    interval_level: float
    min_expected_cell: float | None
    relative_p_value: float | None = None
    agrees: bool | None = None
    reason: str | None = None


def min_expected_cell(a: ArmCounts, b: ArmCounts) -> float:
    """Smallest expected count of the 2x2 table under independence (row x column / total)."""
    total = a.exposures + b.exposures
    if total == 0:
        return 0.0
    successes = a.successes + b.successes
    failures = total - successes
    return min(n * col / total for n in (a.exposures, b.exposures) for col in (successes, failures))


def _unbiased_variance_of_mean(arm: ArmCounts) -> float | None:
    """``s^2 / n`` with the Bessel-corrected variance of the 0/1 outcomes, or None if n < 2."""
    n = arm.exposures
    if n < 2:
        return None
    p = arm.successes / n
    return p * (1.0 - p) / (n - 1)


def _lift(
    control: ArmCounts, challenger: ArmCounts, z: float
) -> tuple[float | None, float | None, float | None, float | None]:
    """Relative lift with a delta-method normal interval, and its standard error."""
    p_c, p_t = control.rate, challenger.rate
    if p_c is None or p_t is None or p_c == 0.0:
        return None, None, None, None
    lift = p_t / p_c - 1.0
    v_c, v_t = _unbiased_variance_of_mean(control), _unbiased_variance_of_mean(challenger)
    if v_c is None or v_t is None:
        return lift, None, None, None
    se = math.sqrt(v_t / p_c**2 + p_t**2 * v_c / p_c**4)
    if se == 0.0:
        return lift, None, None, None
    return lift, lift - z * se, lift + z * se, se


def wilson_interval(successes: int, exposures: int, alpha: float) -> tuple[float, float]:
    """Wilson's score interval for one rate at level ``1 - alpha`` (``exposures > 0``)."""
    z = float(special.ndtri(1.0 - alpha / 2.0))
    z2 = z * z
    n = exposures
    centre = (successes + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(successes * (n - successes) / n + z2 / 4.0)
    return max(0.0, centre - half), min(1.0, centre + half)


def _newcombe_interval(
    control: ArmCounts, challenger: ArmCounts, alpha: float
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p_t - p_c`` (method 10 of Newcombe 1998)."""
    p_t, p_c = challenger.successes / challenger.exposures, control.successes / control.exposures
    l_t, u_t = wilson_interval(challenger.successes, challenger.exposures, alpha)
    l_c, u_c = wilson_interval(control.successes, control.exposures, alpha)
    d = p_t - p_c
    lower = d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    upper = d + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return max(-1.0, float(lower)), min(1.0, float(upper))


def compare_fixed(
    control: ArmCounts,
    challenger: ArmCounts,
    *,
    alpha: float = 0.05,
    clusters: tuple[int, int] | None = None,
) -> FrequentistComparison:
    """Compare one challenger with control; intervals at level ``1 - alpha``.

    The p-value is two-sided; ``p_value_adjusted`` equals ``p_value`` here (see
    :func:`fixed_horizon` for the multi-challenger adjustment). ``clusters`` —
    ``(m_control, m_challenger)``, the clusters behind cluster-robust effective counts — makes
    the Welch-Satterthwaite degrees of freedom count clusters instead of exposures:
    ``(v_t + v_c)^2 / (v_t^2 / (m_t - 1) + v_c^2 / (m_c - 1))``, since the variances were
    estimated from ``m`` clusters, not from ``n`` trials.
    """
    level = 1.0 - alpha
    if control.exposures == 0 or challenger.exposures == 0:
        empty = control.key if control.exposures == 0 else challenger.key
        return FrequentistComparison(
            challenger.key,
            control.key,
            "insufficient_data",
            *([None] * 10),
            level,
            None,
            reason=f"{empty!r} has {NO_EXPOSURES}",
        )
    p_t = challenger.successes / challenger.exposures
    p_c = control.successes / control.exposures
    diff = p_t - p_c
    z = float(special.ndtri(1.0 - alpha / 2.0))
    lift, lift_lo, lift_hi, lift_se = _lift(control, challenger, z)
    min_cell = min_expected_cell(control, challenger)
    v_t, v_c = _unbiased_variance_of_mean(challenger), _unbiased_variance_of_mean(control)

    if min_cell < FISHER_EXPECTED_CELL_THRESHOLD or not v_t or not v_c:
        table = [
            [challenger.successes, challenger.failures],
            [control.successes, control.failures],
        ]
        _odds_ratio, p_value = stats.fisher_exact(table, alternative="two-sided")
        lower, upper = _newcombe_interval(control, challenger, alpha)
        p = min(1.0, max(0.0, float(p_value)))
        excludes_zero = lower > 0.0 or upper < 0.0
        return FrequentistComparison(
            challenger.key,
            control.key,
            "fisher_exact",
            diff,
            lower,
            upper,
            lift,
            lift_lo,
            lift_hi,
            None,
            None,
            p,
            p,
            level,
            min_cell,
            relative_p_value=None,
            agrees=(p < alpha) == excludes_zero,
        )

    se = math.sqrt(v_t + v_c)
    # Welch-Satterthwaite degrees of freedom.
    df = (v_t + v_c) ** 2 / (v_t**2 / (challenger.exposures - 1) + v_c**2 / (control.exposures - 1))
    if clusters is not None:
        m_c, m_t = (max(2, int(m)) for m in clusters)
        df = min(df, (v_t + v_c) ** 2 / (v_t**2 / (m_t - 1) + v_c**2 / (m_c - 1)))
    t_stat = diff / se
    p_value = float(min(1.0, 2.0 * special.stdtr(df, -abs(t_stat))))
    t_crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    relative_p = None
    if lift is not None and lift_se:
        relative_p = float(min(1.0, 2.0 * special.stdtr(df, -abs(lift / lift_se))))
    return FrequentistComparison(
        challenger.key,
        control.key,
        "welch_t",
        diff,
        diff - t_crit * se,
        diff + t_crit * se,
        lift,
        lift_lo,
        lift_hi,
        t_stat,
        df,
        p_value,
        p_value,
        level,
        min_cell,
        relative_p_value=relative_p,
        agrees=True,
    )


def holm_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (``None`` stays ``None`` and is not counted).

    Sort ascending, multiply the i-th smallest (0-based) by ``m - i``, take the running maximum,
    cap at 1 — the adjusted value is the smallest family-wise alpha at which Holm rejects.
    """
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def fixed_horizon(
    arms: Sequence[ArmCounts],
    *,
    control: str,
    alpha: float = 0.05,
    clusters: Mapping[str, int] | None = None,
) -> tuple[FrequentistComparison, ...]:
    """Every challenger against ``control``, Holm-adjusted, Bonferroni-simultaneous intervals.

    ``clusters`` (clusters with exposures per arm) makes each Welch test count its degrees of
    freedom in clusters (see :func:`compare_fixed`) when the counts are cluster-robust
    effective counts.
    """
    by_key = {a.key: a for a in arms}
    ctrl = by_key[control]
    challengers = [a for a in arms if a.key != control]
    k = max(1, len(challengers))
    raw = [
        compare_fixed(
            ctrl,
            ch,
            alpha=alpha / k,
            clusters=(clusters[control], clusters[ch.key]) if clusters else None,
        )
        for ch in challengers
    ]
    adjusted = holm_adjust([c.p_value for c in raw])
    return tuple(
        replace(c, p_value_adjusted=adj, agrees=_agrees(c, adj, alpha))
        for c, adj in zip(raw, adjusted, strict=True)
    )


def _agrees(c: FrequentistComparison, p_adjusted: float | None, alpha: float) -> bool | None:
    """Whether the Holm-adjusted p-value and the (Bonferroni) interval give the same verdict:
    Holm can reject where the simultaneous interval still holds 0, and Fisher's p-value and
    Newcombe's interval are different constructions."""
    if p_adjusted is None or c.difference_lower is None or c.difference_upper is None:
        return None
    excludes_zero = c.difference_lower > 0.0 or c.difference_upper < 0.0
    return (p_adjusted < alpha) == excludes_zero
