"""An experiment's results: per-variant totals from the latest metric snapshot of each
publication, then :func:`calendar_app.analysis.report.analyse` on them.

Snapshots are cumulative, so only the latest one per publication counts; summing them all would
count the same clicks several times.
"""

from __future__ import annotations

from typing import Any

from calendar_app.models import Experiment, MetricSnapshot


def arm_totals(experiment: Experiment) -> list[dict[str, Any]]:
    """One row per variant: publications, impressions, clicks and conversions (latest snapshots)."""
    variants = list(experiment.variants.all())
    totals = {
        v.pk: {
            "key": v.key,
            "variant": v.pk,
            "is_control": v.is_control,
            "publications": 0,
            "impressions": 0,
            "clicks": 0,
            "conversions": 0,
        }
        for v in variants
    }
    seen: set[int] = set()
    snapshots = (
        MetricSnapshot.objects.filter(publication__variant__experiment=experiment)
        .order_by("publication_id", "-collected_at", "-id")
        .values_list(
            "publication_id", "publication__variant_id", "impressions", "clicks", "conversions"
        )
    )
    for publication_id, variant_id, impressions, clicks, conversions in snapshots.iterator():
        if publication_id in seen or variant_id not in totals:
            continue
        seen.add(publication_id)
        row = totals[variant_id]
        row["publications"] += 1
        row["impressions"] += impressions or 0
        row["clicks"] += clicks or 0
        row["conversions"] += conversions or 0
    return list(totals.values())


def experiment_results(experiment: Experiment) -> dict[str, Any]:
    """Totals and the full report; ``report`` is None with a ``problem`` when it cannot run."""
    from calendar_app.analysis.counts import ArmTotals, arm_counts_for_metric
    from calendar_app.analysis.report import analyse

    arms = arm_totals(experiment)
    body: dict[str, Any] = {
        "experiment": experiment.pk,
        "metric": experiment.metric,
        "arms": arms,
        "report": None,
        "problem": None,
    }
    if len(arms) < 2:
        body["problem"] = "An experiment needs a control and at least one challenger variant."
        return body
    control = next((a["key"] for a in arms if a["is_control"]), None)
    if control is None:
        body["problem"] = "Mark one variant as the control."
        return body
    weights = {v.key: v.weight for v in experiment.variants.all()}
    try:
        counts = arm_counts_for_metric(
            [ArmTotals(a["key"], a["impressions"], a["clicks"], a["conversions"]) for a in arms],
            experiment.metric,
        )
        report = analyse(
            counts,
            control=control,
            metric_name=experiment.metric,
            planned_weights=weights,
            mde=experiment.minimum_detectable_effect,
            alpha=experiment.alpha,
            power=experiment.power,
        )
    except ValueError as exc:  # inconsistent counts (e.g. more clicks than impressions)
        body["problem"] = str(exc)
        return body
    body["report"] = report.to_dict()
    return body
