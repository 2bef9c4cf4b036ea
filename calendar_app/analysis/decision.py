"""Turn the statistics into one decision a marketer can act on, with the numbers behind it.

Rules, in order (the first that applies wins):

1. ``srm`` — the sample-ratio-mismatch test is flagged (p < 0.001). Nothing else is trusted.
2. ``keep_running`` — some arm has no exposures yet; or, with per-publication clusters, some
   arm has fewer publications with exposures than ``min_clusters`` (10 by default): with 1 the
   between-publication variance cannot be estimated at all, and below 10 the cluster-robust
   interval is not yet trustworthy (see :mod:`calendar_app.analysis.clustering`).
3. With ``sequential=True`` (anytime-valid; safe to check every hour), per challenger the
   confidence sequence at level ``alpha / k``:
   * ``ship`` the challenger whose lower bound is above 0 (if several, the largest estimate);
   * ``no_difference`` when every challenger's upper bound is below the MDE: no challenger can
     beat control by an effect worth having, so keep control and stop;
   * otherwise ``keep_running``.
4. With ``sequential=False`` (fixed horizon), nothing is read before the planned sample size is
   reached in every arm (``keep_running``). Then ``ship`` the best challenger whose
   Holm-adjusted p-value is below ``alpha`` with a positive difference; ``no_difference``
   when every interval's upper bound is below the MDE; else ``keep_running`` (inconclusive:
   usually a lower baseline than planned; the plan is recomputed from the data).

When strata are given, the fixed-horizon rule reads the Mantel-Haenszel combined comparison
instead of the pooled one, so a network's base rate cannot pass for a variant effect. The
sequential rule reads the (pooled) confidence sequence *and* requires the Mantel-Haenszel
interval to agree (``ship``: its lower bound above 0 too; ``no_difference``: its upper bound
below the MDE too). Requiring two tests to agree can only lower the false-positive rate; when
they disagree the network mix is confounding the pooled numbers and we keep running.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from calendar_app.analysis.bayesian import BayesianResult
from calendar_app.analysis.counts import ArmCounts
from calendar_app.analysis.planning import Plan
from calendar_app.analysis.srm import SrmResult

__all__ = ["Action", "Decision", "Interval", "decide"]


class Action(StrEnum):
    KEEP_RUNNING = "keep_running"
    SHIP = "ship"
    NO_DIFFERENCE = "no_difference"
    SRM = "srm"


@dataclass(frozen=True, slots=True)
class Interval:
    """The interval a rule reads for one challenger (sequential, pooled or stratified)."""

    challenger: str
    estimate: float | None
    lower: float | None
    upper: float | None
    p_value_adjusted: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """``action`` is one of :class:`Action`; ``variant`` is set for ``ship`` only.

    ``basis`` says which analysis decided: ``"srm"``, ``"data"``, ``"clusters"``, ``"sequential"``,
    ``"fixed_horizon"`` or ``"fixed_horizon_stratified"``.
    """

    action: str
    variant: str | None
    sentence: str
    basis: str
    numbers: dict[str, float | int | str | None]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.2f} pp"


def decide(
    *,
    arms: Sequence[ArmCounts],
    control: str,
    metric_name: str,
    alpha: float,
    sequential: bool,
    stratified: bool,
    srm: SrmResult,
    plan: Plan,
    intervals: Sequence[Interval],
    bayes: BayesianResult,
    guard: Sequence[Interval] | None = None,
    too_few_clusters: Sequence[tuple[str, int]] = (),
    min_clusters: int = 10,
) -> Decision:
    """Apply the rules in the module docstring."""
    by_key = {a.key: a for a in arms}
    beat = {c.challenger: c.chance_to_beat_control for c in bayes.comparisons}
    loss = {a.key: a.expected_loss for a in bayes.arms}
    mde = plan.mde_absolute
    level = f"{100 * (1 - alpha):g}%"
    base: dict[str, float | int | str | None] = {
        "control_rate": by_key[control].rate,
        "srm_p_value": srm.p_value,
        "mde_absolute": mde,
        "progress": plan.progress,
        "days_remaining": plan.days_remaining,
    }

    if srm.flagged:
        split = ", ".join(f"{k} {v:,}" for k, v in srm.observed.items())
        planned = ", ".join(f"{k} {100 * w:.0f}%" for k, w in srm.planned_weights.items())
        return Decision(
            Action.SRM,
            None,
            f"Traffic split is broken — check the allocation. Observed exposures ({split}) do "
            f"not match the planned split ({planned}); chi-square p = {srm.p_value:.2g} < "
            f"{srm.threshold:g}. No result can be trusted until this is fixed.",
            "srm",
            {**base, "srm_statistic": srm.statistic},
        )

    empty = [a.key for a in arms if a.exposures == 0]
    if empty:
        return Decision(
            Action.KEEP_RUNNING,
            None,
            f"Keep running: {', '.join(map(repr, empty))} {'has' if len(empty) == 1 else 'have'} "
            "no exposures yet, so there is nothing to "
            "compare.",
            "data",
            base,
        )

    if too_few_clusters:
        names = ", ".join(
            f"{key!r} has {n} publication{'' if n == 1 else 's'} with exposures"
            for key, n in too_few_clusters
        )
        why = (
            "with a single publication there is no way to tell a real difference from one post "
            "doing unusually well"
            if any(n < 2 for _key, n in too_few_clusters)
            else "the cluster-robust interval rests on the publications and is not trustworthy "
            "with fewer"
        )
        return Decision(
            Action.KEEP_RUNNING,
            None,
            f"Keep running: {names}. Variants are assigned per publication, so every variant "
            f"needs at least {min_clusters} publications with exposures before the result can "
            f"be trusted: {why}.",
            "clusters",
            {**base, "min_clusters": min_clusters},
        )

    if sequential:
        basis, kind = "sequential", f"anytime-valid {level} interval"
    else:
        basis = "fixed_horizon_stratified" if stratified else "fixed_horizon"
        kind = f"{level} interval" + (" (adjusted for network)" if stratified else "")
        if not plan.reached:
            return Decision(
                Action.KEEP_RUNNING,
                None,
                "Keep running: the fixed-horizon test is read only once the planned sample "
                f"size is reached ({_progress(plan)}).",
                basis,
                base,
            )

    guards = {g.challenger: g for g in guard or ()}

    def significant(i: Interval) -> bool:
        if i.lower is None or i.estimate is None:
            return False
        if sequential:
            return i.lower > 0
        return i.p_value_adjusted is not None and i.p_value_adjusted < alpha and i.estimate > 0

    def guard_agrees_positive(i: Interval) -> bool:
        g = guards.get(i.challenger)
        return g is None or (g.lower is not None and g.lower > 0)

    def guard_agrees_small(i: Interval) -> bool:
        g = guards.get(i.challenger)
        return g is None or (g.upper is not None and mde is not None and g.upper < mde)

    candidates = [i for i in intervals if significant(i)]
    winners = [i for i in candidates if guard_agrees_positive(i)]
    if winners:
        best = max(winners, key=lambda i: i.estimate or 0.0)
        numbers = {
            **base,
            "variant_rate": by_key[best.challenger].rate,
            "difference": best.estimate,
            "lower": best.lower,
            "upper": best.upper,
            "p_value_adjusted": best.p_value_adjusted,
            "chance_to_beat_control": beat.get(best.challenger),
            "expected_loss": loss.get(best.challenger),
        }
        return Decision(
            Action.SHIP,
            best.challenger,
            f"Ship {best.challenger!r}: its {metric_name} is {_pct(by_key[best.challenger].rate)}"
            f" against {_pct(by_key[control].rate)} for {control!r} ({_pp(best.estimate)}; "
            f"{kind} {_pp(best.lower)} to {_pp(best.upper)}; chance to beat control "
            f"{_pct(beat.get(best.challenger))}).",
            basis,
            numbers,
        )

    uppers = [i.upper for i in intervals]
    small = mde is not None and uppers and all(u is not None and u < mde for u in uppers)
    if small and all(guard_agrees_small(i) for i in intervals):
        largest = max(u for u in uppers if u is not None)
        worse = [i.challenger for i in intervals if i.upper is not None and i.upper < 0]
        tail = f" ({', '.join(map(repr, worse))} is worse than control.)" if worse else ""
        return Decision(
            Action.NO_DIFFERENCE,
            None,
            f"Stop: no challenger beats {control!r} by the minimum detectable effect of "
            f"{_pp(mde)} — the largest gain still plausible is {_pp(largest)} ({kind}). "
            f"Keep {control!r}.{tail}",
            basis,
            {**base, "largest_plausible_gain": largest},
        )

    if candidates or small:
        reason = (
            "the pooled result and the network-adjusted (Mantel-Haenszel) result disagree, so "
            "the mix of networks, not the variant, may explain the pooled difference"
        )
    elif not sequential:
        reason = "the planned sample size is reached but the result is inconclusive"
    else:
        reason = "the intervals still include both no effect and an effect as large as the MDE"

    best_guess = max(intervals, key=lambda i: beat.get(i.challenger, 0.0), default=None)
    numbers = dict(base)
    if best_guess is not None:
        numbers.update(
            leading_variant=best_guess.challenger,
            difference=best_guess.estimate,
            lower=best_guess.lower,
            upper=best_guess.upper,
            chance_to_beat_control=beat.get(best_guess.challenger),
        )
    return Decision(
        Action.KEEP_RUNNING,
        None,
        f"Keep running: {reason} ({_progress(plan)}).",
        basis,
        numbers,
    )


def _progress(plan: Plan) -> str:
    if plan.progress is None:
        return "no plan yet: the control has no usable rate"
    text = f"{100 * plan.progress:.0f}% of the planned sample"
    if plan.days_remaining is not None:
        text += f", about {plan.days_remaining:.1f} more days at the current traffic"
    return text
