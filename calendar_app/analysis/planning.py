"""How many exposures an experiment needs, and how many days that takes.

Formula: the standard two-proportion z-test sample size (Fleiss, Levin & Paik, *Statistical
Methods for Rates and Proportions*, 3rd ed., eq. 4.14, without continuity correction),
generalised to an allocation ratio ``r = n_t / n_c``::

    p_bar = (p_c + r p_t) / (1 + r)
    n_c   = (z_{1-a/2} sqrt(p_bar q_bar (1 + 1/r))
             + z_{1-b} sqrt(p_c q_c + p_t q_t / r))^2 / delta^2
    n_t   = r n_c

where ``p_c`` is the baseline (control) rate, ``p_t = p_c + delta`` and ``delta`` the minimum
detectable effect (MDE) in absolute terms. It is the sample size at which the pooled-variance
z-test, the test statsmodels' ``power_proportions_2indep`` computes the power of, reaches the
requested power; the tests cross-check it there and against ``NormalIndPower``.

The MDE is **relative by default** (``0.10`` = "a 10% lift over the control rate", the way
marketers speak); ``MinimumDetectableEffect(0.005, relative=False)`` means half a percentage
point. With ``k`` challengers each comparison is planned at ``alpha / k`` (Bonferroni), which
is what Holm's first step uses, so the plan is never optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import special

from calendar_app.analysis.counts import ArmCounts

__all__ = ["MinimumDetectableEffect", "Plan", "plan_experiment", "sample_size_two_proportions"]


@dataclass(frozen=True, slots=True)
class MinimumDetectableEffect:
    """The smallest effect worth detecting: relative to the baseline rate, or absolute."""

    value: float
    relative: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"the minimum detectable effect must be > 0, got {self.value!r}")
        if not self.relative and self.value >= 1:
            raise ValueError(f"an absolute MDE must be below 1, got {self.value!r}")

    def absolute(self, baseline: float) -> float:
        """The MDE as a difference of rates, given the control's baseline rate."""
        return self.value * baseline if self.relative else self.value


def sample_size_two_proportions(
    baseline: float, delta: float, *, alpha: float, power: float, ratio: float = 1.0
) -> tuple[float, float] | None:
    """``(n_control, n_treatment)`` (not rounded) to detect ``delta``; ``None`` if impossible.

    If ``baseline + delta`` exceeds 1 the effect is planned downwards (``baseline - delta``);
    if neither fits in ``[0, 1]`` or ``delta`` is 0 there is no meaningful plan.
    """
    p_c = baseline
    p_t = p_c + delta
    if p_t > 1.0:
        p_t = p_c - delta
    if delta <= 0.0 or not (0.0 <= p_c <= 1.0) or not (0.0 <= p_t <= 1.0) or ratio <= 0:
        return None
    z_a = float(special.ndtri(1.0 - alpha / 2.0))
    z_b = float(special.ndtri(power))
    p_bar = (p_c + ratio * p_t) / (1.0 + ratio)
    null_sd = math.sqrt(p_bar * (1.0 - p_bar) * (1.0 + 1.0 / ratio))
    alt_sd = math.sqrt(p_c * (1.0 - p_c) + p_t * (1.0 - p_t) / ratio)
    n_c = (z_a * null_sd + z_b * alt_sd) ** 2 / delta**2
    return n_c, ratio * n_c


@dataclass(frozen=True, slots=True)
class Plan:
    """The planned sample and its progress.

    ``required`` is exposures needed per arm (rounded up); ``total_required`` the total traffic
    needed across all arms at the planned split; ``days_total`` / ``days_remaining`` are
    ``None`` without a daily exposure figure. ``status`` is ``"planned"`` or
    ``"no_baseline"`` (control has no usable rate yet and none was given).
    """

    status: str
    baseline_rate: float | None
    mde_absolute: float | None
    mde_relative: float | None
    alpha_per_comparison: float
    power: float
    required: dict[str, int] | None
    total_required: int | None
    observed_total: int
    progress: float | None
    reached: bool
    daily_exposures: float | None
    days_total: float | None
    days_remaining: float | None


def plan_experiment(
    arms: Sequence[ArmCounts],
    *,
    control: str,
    weights: Mapping[str, float],
    mde: MinimumDetectableEffect,
    alpha: float,
    power: float,
    daily_exposures: float | None = None,
    baseline_rate: float | None = None,
) -> Plan:
    """Sample size per arm for every challenger vs control, at the planned split.

    ``weights`` must be normalised (sum to 1) and positive for every arm. The baseline is the
    control's observed rate unless ``baseline_rate`` is given (e.g. from past campaigns).
    """
    by_key = {a.key: a for a in arms}
    observed_total = sum(a.exposures for a in arms)
    challengers = [a.key for a in arms if a.key != control]
    alpha_each = alpha / max(1, len(challengers))
    baseline = baseline_rate if baseline_rate is not None else by_key[control].rate
    usable = baseline is not None and (0.0 < baseline < 1.0 or not mde.relative)
    daily = daily_exposures if daily_exposures and daily_exposures > 0 else None

    def unplanned() -> Plan:
        return Plan(
            "no_baseline",
            baseline,
            None,
            None,
            alpha_each,
            power,
            None,
            None,
            observed_total,
            None,
            False,
            daily,
            None,
            None,
        )

    if not usable or not challengers:
        return unplanned()
    assert baseline is not None
    delta = mde.absolute(baseline)
    required: dict[str, float] = {control: 0.0}
    for key in challengers:
        sizes = sample_size_two_proportions(
            baseline, delta, alpha=alpha_each, power=power, ratio=weights[key] / weights[control]
        )
        if sizes is None:
            return unplanned()
        required[control] = max(required[control], sizes[0])
        required[key] = sizes[1]
    required_int = {k: math.ceil(v - 1e-9) for k, v in required.items()}
    total = math.ceil(max(required_int[k] / weights[k] for k in required_int) - 1e-9)
    reached = all(by_key[k].exposures >= n for k, n in required_int.items())
    progress = min(1.0, min(by_key[k].exposures / n for k, n in required_int.items() if n > 0))
    days_total = days_remaining = None
    if daily is not None:
        days_total = total / daily
        days_remaining = max(
            max(0, n - by_key[k].exposures) / (weights[k] * daily) for k, n in required_int.items()
        )
    return Plan(
        "planned",
        baseline,
        delta,
        delta / baseline if baseline else None,
        alpha_each,
        power,
        required_int,
        total,
        observed_total,
        progress,
        reached,
        daily,
        days_total,
        days_remaining,
    )
