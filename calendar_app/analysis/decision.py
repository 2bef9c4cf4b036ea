"""Turn the statistics into one decision a marketer can act on, with the numbers behind it.

Rules, in order (the first that applies wins):

1. ``srm`` — the sample-ratio-mismatch test is flagged (p < 0.001). Nothing else is trusted.
2. ``keep_running`` — some arm has no exposures yet (nothing is computed for it); or, with
   per-publication clusters, some arm has fewer publications with exposures than
   ``min_clusters`` (10 by default): with 1 the between-publication variance cannot be
   estimated at all, and below 10 the cluster-robust interval is not yet trustworthy (see
   :mod:`calendar_app.analysis.clustering`).
3. The *deciding test* is, with ``sequential=True`` (anytime-valid; safe to check every hour),
   the confidence sequence of each challenger at level ``alpha / k``; with ``sequential=False``
   (fixed horizon; read only once the planned sample is reached in every arm) the Holm-adjusted
   p-value together with its Bonferroni interval — both must say the same thing, so a pair that
   disagrees (Fisher's p above alpha while Newcombe's interval excludes 0) decides nothing.

   * ``ship`` the challenger the deciding test finds better than control (if several, the
     largest estimate);
   * when every challenger's upper bound is below the MDE (no challenger can beat control by an
     effect worth having), stop, with one of three outcomes:

     - ``worse`` — every challenger is significantly *worse* than control (upper bound below 0);
     - ``below_mde`` — the deciding test cannot tell a challenger from control, but the
       fixed-horizon test, read once the planned sample is reached, finds it better (p below
       alpha): a real gain, smaller than the MDE (typical of very large samples);
     - ``no_difference`` — otherwise: no effect worth having, and none detected;
   * otherwise ``keep_running`` (with why: not enough data yet, or a disagreement).

   Every sentence names the test that decided.

When strata are given, the fixed-horizon rule reads the Mantel-Haenszel combined comparison
instead of the pooled one, so a network's base rate cannot pass for a variant effect. The
sequential rule reads the (pooled) confidence sequence *and* requires the Mantel-Haenszel
interval to agree (``ship``: its lower bound above 0 too; a stop: its upper bound below the MDE
too). Requiring two tests to agree can only lower the false-positive rate; when they disagree
the network mix is confounding the pooled numbers and we keep running.
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
    WORSE = "worse"
    BELOW_MDE = "below_mde"
    SRM = "srm"


@dataclass(frozen=True, slots=True)
class Interval:
    """What one test says about one challenger: estimate, interval and p-value.

    ``test`` names the test for people ("the anytime-valid confidence sequence", "Welch's
    t-test", …); ``agrees`` is whether p-value and interval give the same verdict (``None``:
    only one of them exists, as for a confidence sequence read by its interval)."""

    challenger: str
    estimate: float | None
    lower: float | None
    upper: float | None
    p_value_adjusted: float | None = None
    test: str = ""
    agrees: bool | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """``action`` is one of :class:`Action`; ``variant`` is set for ``ship`` only.

    ``basis`` says which analysis decided: ``"srm"``, ``"data"``, ``"clusters"``, ``"sequential"``,
    ``"fixed_horizon"`` or ``"fixed_horizon_stratified"``; ``test`` names the test in words.
    """

    action: str
    variant: str | None
    sentence: str
    basis: str
    numbers: dict[str, float | int | str | None]
    test: str = ""


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
    support: Sequence[Interval] | None = None,
    too_few_clusters: Sequence[tuple[str, int]] = (),
    min_clusters: int = 10,
) -> Decision:
    """Apply the rules in the module docstring.

    ``intervals`` are the deciding test's; ``guard`` the Mantel-Haenszel comparisons that must
    agree in sequential mode; ``support`` the fixed-horizon comparisons that can tell a real gain
    below the MDE (``below_mde``) from no difference when the deciding test cannot."""
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
            "no exposures yet, so there is nothing to compare and nothing is computed for "
            f"{'it' if len(empty) == 1 else 'them'}.",
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
    supports = {g.challenger: g for g in support or ()}

    def significant(i: Interval, direction: int) -> bool:
        """The deciding test finds the challenger better (+1) or worse (-1) than control."""
        if i.lower is None or i.upper is None or i.estimate is None:
            return False
        outside = i.lower > 0 if direction > 0 else i.upper < 0
        if sequential:
            return outside
        # fixed horizon: p-value and interval must both say so (never a pair that disagrees)
        return (
            outside
            and i.p_value_adjusted is not None
            and i.p_value_adjusted < alpha
            and i.agrees is not False
        )

    def guard_agrees_positive(i: Interval) -> bool:
        g = guards.get(i.challenger)
        return g is None or (g.lower is not None and g.lower > 0)

    def guard_agrees_small(i: Interval) -> bool:
        g = guards.get(i.challenger)
        return g is None or (g.upper is not None and mde is not None and g.upper < mde)

    def named(i: Interval) -> str:
        return i.test or kind

    candidates = [i for i in intervals if significant(i, +1)]
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
        below = (
            f" The gain may be smaller than the minimum detectable effect of {_pp(mde)}."
            if mde is not None and best.upper is not None and best.upper < mde
            else ""
        )
        return Decision(
            Action.SHIP,
            best.challenger,
            f"Ship {best.challenger!r}: its {metric_name} is {_pct(by_key[best.challenger].rate)}"
            f" against {_pct(by_key[control].rate)} for {control!r} ({_pp(best.estimate)}; "
            f"{kind} {_pp(best.lower)} to {_pp(best.upper)}; chance to beat control "
            f"{_pct(beat.get(best.challenger))}). Decided by {named(best)}.{below}",
            basis,
            numbers,
            named(best),
        )

    # A p-value and an interval that disagree decide nothing, neither a ship nor a stop.
    disagree = [
        i
        for i in intervals
        if not sequential
        and i.agrees is False
        and i.p_value_adjusted is not None
        and i.lower is not None
    ]
    uppers = [i.upper for i in intervals]
    small = mde is not None and uppers and all(u is not None and u < mde for u in uppers)
    if small and not disagree and all(guard_agrees_small(i) for i in intervals):
        largest = max(u for u in uppers if u is not None)
        worse = [i for i in intervals if significant(i, -1)]
        test = named(intervals[0])
        if len(worse) == len(intervals):
            names = ", ".join(repr(i.challenger) for i in worse)
            bounds = "; ".join(
                f"{i.challenger!r} {_pp(i.estimate)}, {kind} {_pp(i.lower)} to {_pp(i.upper)}"
                for i in worse
            )
            verb = "is" if len(worse) == 1 else "are"
            return Decision(
                Action.WORSE,
                None,
                f"Stop: {names} {verb} worse than {control!r} ({bounds}). Decided by {test}. "
                f"Keep {control!r}.",
                basis,
                {**base, "largest_plausible_gain": largest},
                test,
            )
        # The fixed-horizon test is valid at its planned horizon, so it can only qualify a
        # gain once the planned sample is reached.
        real = [
            (i, supports[i.challenger])
            for i in intervals
            if plan.reached
            and i.challenger in supports
            and supports[i.challenger].p_value_adjusted is not None
            and supports[i.challenger].p_value_adjusted < alpha
            and (supports[i.challenger].estimate or 0.0) > 0
            and supports[i.challenger].agrees is not False
        ]
        if real:
            i, fixed = max(real, key=lambda pair: pair[1].estimate or 0.0)
            return Decision(
                Action.BELOW_MDE,
                None,
                f"Stop: {i.challenger!r} is probably better than {control!r}, but by less than "
                f"the minimum detectable effect of {_pp(mde)}. {_capital(fixed.test)} finds a "
                f"difference "
                f"of {_pp(fixed.estimate)} (p = {fixed.p_value_adjusted:.2g}), while {test} "
                f"rules out a gain as large as the MDE (at most {_pp(i.upper)}). Keep "
                f"{control!r}, or ship {i.challenger!r} if a gain that small is worth it.",
                basis,
                {
                    **base,
                    "leading_variant": i.challenger,
                    "difference": fixed.estimate,
                    "p_value_adjusted": fixed.p_value_adjusted,
                    "largest_plausible_gain": largest,
                },
                test,
            )
        tail = ""
        if worse:
            tail = f" ({', '.join(repr(i.challenger) for i in worse)} is worse than control.)"
        return Decision(
            Action.NO_DIFFERENCE,
            None,
            f"Stop: no challenger beats {control!r} by the minimum detectable effect of "
            f"{_pp(mde)} — the largest gain still plausible is {_pp(largest)} ({kind}). "
            f"Decided by {test}. Keep {control!r}.{tail}",
            basis,
            {**base, "largest_plausible_gain": largest},
            test,
        )

    if disagree:
        i = disagree[0]
        reason = (
            f"for {i.challenger!r}, {named(i)} gives p = {i.p_value_adjusted:.2g} while its "
            f"{kind} is {_pp(i.lower)} to {_pp(i.upper)}: the two disagree at these counts, "
            "and no decision rests on a pair that disagrees"
        )
    elif candidates or small:
        reason = (
            "the pooled result and the network-adjusted (Mantel-Haenszel) result disagree, so "
            "the mix of networks, not the variant, may explain the pooled difference"
        )
    elif not sequential:
        reason = "the planned sample size is reached but the result is inconclusive"
    else:
        reason = "the intervals still include both no effect and an effect as large as the MDE"

    best_guess = max(intervals, key=lambda i: beat.get(i.challenger) or 0.0, default=None)
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
        named(intervals[0]) if intervals else "",
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _progress(plan: Plan) -> str:
    if plan.progress is None:
        return "no plan yet: the control has no usable rate"
    text = f"{100 * plan.progress:.0f}% of the planned sample"
    if plan.days_remaining is not None:
        text += f", about {plan.days_remaining:.1f} more days at the current traffic"
    return text
