"""Experiment services: start, count, analyse, decide and promote the winner.

The statistics live in :mod:`calendar_app.analysis` (pure functions over counts). This module is
the bridge from rows to counts, and from the report to what a marketer does next.

Counting rules (why they are what they are):

* A publication's engagement is its **latest** metric snapshot: snapshots are cumulative, so
  summing them would count the same impressions many times.
* A count the network does not report (``None`` in the snapshot) is taken from Kairos's own
  tracking — counted clicks on the publication's tracked links, conversions reported to the
  conversion endpoint — for that publication and variant. A count the network does report wins,
  so the same click is never counted twice.
* A rate only uses publications whose *denominator* is known: clicks of a post whose network
  does not report impressions cannot enter a click-through rate without biasing it upwards.
* On networks that split one post per recipient (an email list) the publication has no variant;
  each variant's exposures are its recipients (:class:`~calendar_app.models.RecipientSplit`)
  and its clicks and conversions come from its own tracked links.
* The traffic-split (SRM) check reads what the allocation actually splits — publications, and
  recipients on per-recipient networks — not impressions, which depend on each post's reach and
  would raise false alarms whenever one post does better.

All of it is computed in the database in one query (:func:`aggregate_counts`), grouped by
variant, network (the stratum the analysis adjusts for) and publication (the unit of
randomisation, whose per-publication counts the analysis needs for its cluster-robust variance;
see "Unit of randomisation" in ``docs/ab-method.md``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from calendar_app.analysis.counts import ArmCounts, StratumCounts
from calendar_app.models import (
    Brand,
    Click,
    Conversion,
    Experiment,
    ExperimentStatus,
    Metric,
    MetricSnapshot,
    PublicationStatus,
    RecipientSplit,
    Role,
    Variant,
)
from calendar_app.workflow import Actor

# --- errors ---------------------------------------------------------------------------------


class ExperimentPermissionError(PermissionDenied):
    """The actor's role does not allow this step; ``str()`` says which role is needed."""

    def __init__(self, action: str, actor: Actor, required: str):
        self.action = action
        self.required = required
        held = actor.role or "no role in this workspace"
        super().__init__(
            f"Cannot {action}: it needs the {required} role; {actor.label} has {held}."
        )


def _require(actor: Actor, required: str, action: str) -> None:
    if not actor.may(required):
        raise ExperimentPermissionError(action, actor, required)


# --- start ----------------------------------------------------------------------------------


@transaction.atomic
def start_experiment(
    experiment: Experiment, actor: Actor, now: datetime | None = None
) -> Experiment:
    """Validate the design and start collecting: exactly one control, at least one challenger,
    every weight >= 1, and every challenger differing from the control in its call to action
    (a challenger identical to the control would be an A/A test by mistake)."""
    _require(actor, Role.EDITOR, "start the experiment")
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != ExperimentStatus.DRAFT:
        raise ValidationError(
            {"status": f"Only a draft experiment can start; this one is {experiment.status}."},
            code="invalid_status",
        )
    experiment.full_clean(exclude=["workspace", "brand", "decided_variant", "promoted_variant"])
    variants = list(experiment.variants.all())
    controls = [v for v in variants if v.is_control]
    challengers = [v for v in variants if not v.is_control]
    errors: dict[str, list[str]] = defaultdict(list)
    if len(controls) != 1:
        errors["variants"].append(
            f"Mark exactly one variant as the control (found {len(controls)})."
        )
    if not challengers:
        errors["variants"].append("Add at least one challenger to compare with the control.")
    light = [v.key for v in variants if v.weight < 1]
    if light:
        errors["variants"].append(f"Every weight must be at least 1 ({', '.join(light)}).")
    if len(controls) == 1:
        control_cta = _cta(controls[0])
        same = [v.key for v in challengers if _cta(v) == control_cta]
        if same:
            errors["variants"].append(
                f"Challenger(s) {', '.join(same)} have the same call to action as the control."
            )
    if errors:
        raise ValidationError(dict(errors), code="invalid_experiment")
    experiment.status = ExperimentStatus.RUNNING
    experiment.started_at = now or timezone.now()
    experiment.save(update_fields=["status", "started_at", "updated_at"])
    return experiment


def _cta(variant: Variant) -> tuple[str, str, str]:
    return (variant.cta_text.strip(), variant.cta_url.strip(), variant.cta_button.strip())


# --- counting -------------------------------------------------------------------------------


@dataclass(slots=True)
class ArmRow:
    """Totals of one variant (overall or within one network)."""

    publications: int = 0
    recipients: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    exposures: int = 0
    successes: int = 0

    def add(self, other: ArmRow) -> None:
        for name in self.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def allocated(self) -> int:
        """Units the allocation split: publications, plus recipients on per-recipient networks."""
        return self.publications + self.recipients


@dataclass(slots=True)
class VariantInfo:
    key: str
    name: str
    weight: int
    is_control: bool


@dataclass(slots=True)
class ExperimentCounts:
    """What :func:`aggregate_counts` returns: per variant, and per network then variant.

    ``clusters[key]`` and ``stratum_clusters[network][key]`` are the ``(exposures, successes)``
    of each publication of the variant whose exposure is known (the units the variant was
    randomised to); they add up to the arm's ``exposures`` and ``successes``.
    """

    metric: str
    variants: dict[str, VariantInfo] = field(default_factory=dict)
    arms: dict[str, ArmRow] = field(default_factory=dict)
    strata: dict[str, dict[str, ArmRow]] = field(default_factory=dict)
    clusters: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    stratum_clusters: dict[str, dict[str, list[tuple[int, int]]]] = field(default_factory=dict)

    @property
    def control(self) -> str | None:
        controls = [v.key for v in self.variants.values() if v.is_control]
        return controls[0] if len(controls) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "variants": {k: asdict(v) for k, v in self.variants.items()},
            "arms": {k: asdict(v) for k, v in self.arms.items()},
            "strata": {
                network: {k: asdict(v) for k, v in arms.items()}
                for network, arms in self.strata.items()
            },
            "clusters": {k: len(v) for k, v in self.clusters.items()},
        }


class _Count(Func):
    """``COUNT(x)`` that Django does not treat as an aggregate, so a correlated subquery can
    count rows without a GROUP BY."""

    function = "COUNT"
    output_field = IntegerField()


def _count_subquery(queryset) -> Coalesce:
    return Coalesce(
        Subquery(queryset.order_by().annotate(n=_Count(F("pk"))).values("n")[:1]),
        Value(0),
        output_field=IntegerField(),
    )


def aggregate_counts(experiment: Experiment) -> ExperimentCounts:
    """Per-variant, per-network and per-publication totals of ``experiment``, in ONE SQL query.

    Rows are (variant × publication of the experiment's content), joined through
    variant → experiment → content items → publications, so a variant without any publication
    still appears (with zeros). Each row contributes only when the publication belongs to that
    variant, or has no variant (per-recipient networks: the variant's own links and recipients).
    The latest snapshot per publication is a correlated subquery on the
    ``(publication, -collected_at)`` index; tracked clicks and conversions are counted subqueries.

    The GROUP BY is (variant, network, publication the row counts for): a row that does not
    count for the variant (another variant's publication) groups under a NULL publication, so
    the result has one row per contributing (variant, publication) plus one per (variant,
    network) — bounded by the publications, never by the snapshots. Python only adds those
    rows up into arm and network totals and keeps each publication's counts as a cluster.
    """
    pub = "experiment__content_items__publications"
    latest = MetricSnapshot.objects.filter(publication_id=OuterRef("pub_id")).order_by(
        "-collected_at", "-id"
    )

    def snap(name: str) -> Subquery:
        return Subquery(latest.values(name)[:1])

    tracked_clicks = _count_subquery(
        Click.objects.filter(
            link__publication_id=OuterRef("pub_id"),
            link__variant_id=OuterRef("id"),
            is_counted=True,
        )
    )
    tracked_conversions = _count_subquery(
        Conversion.objects.filter(publication_id=OuterRef("pub_id"), variant_id=OuterRef("id"))
    )
    recipients = Subquery(
        RecipientSplit.objects.filter(
            publication_id=OuterRef("pub_id"), variant_id=OuterRef("id")
        ).values("recipients")[:1]
    )
    live = ~Q(pub_status=PublicationStatus.CANCELLED)
    direct = Q(pub_variant=F("id")) & live
    split = Q(pub_variant__isnull=True, pub_id__isnull=False) & live

    big = IntegerField()
    impressions = Case(
        When(direct, then=snap("impressions")), When(split, then=recipients), output_field=big
    )
    clicks = Case(
        When(direct, then=Coalesce(snap("clicks"), tracked_clicks)),
        When(split, then=tracked_clicks),
        output_field=big,
    )
    conversions = Case(
        When(direct, then=Coalesce(snap("conversions"), tracked_conversions)),
        When(split, then=tracked_conversions),
        output_field=big,
    )
    exposure_expr, success_expr, exposure_known = {
        Metric.CLICK_THROUGH: (impressions, clicks, Q(row_impressions__isnull=False)),
        Metric.CONVERSION: (clicks, conversions, Q(row_clicks__isnull=False)),
        Metric.CONVERSION_PER_IMPRESSION: (
            impressions,
            conversions,
            Q(row_impressions__isnull=False),
        ),
    }[Metric(experiment.metric)]

    rows = (
        Variant.objects.filter(experiment_id=experiment.pk)
        .alias(
            pub_id=F(f"{pub}__id"),
            pub_variant=F(f"{pub}__variant_id"),
            pub_status=F(f"{pub}__status"),
        )
        .annotate(
            network=F(f"{pub}__channel__network"),
            unit=Case(When(direct | split, then=F("pub_id")), default=None, output_field=big),
        )
        .alias(row_impressions=impressions, row_clicks=clicks)
        .values("key", "name", "weight", "is_control", "network", "unit")
        .annotate(
            known=Max(Case(When(exposure_known, then=Value(1)), default=Value(0))),
            publications=Sum(Case(When(direct, then=Value(1)), default=Value(0))),
            recipients=Sum(Case(When(split, then=Coalesce(recipients, Value(0))), default=0)),
            impressions=Coalesce(Sum(impressions), Value(0)),
            clicks=Coalesce(Sum(clicks), Value(0)),
            conversions=Coalesce(Sum(conversions), Value(0)),
            exposures=Coalesce(
                Sum(Case(When(exposure_known, then=exposure_expr), output_field=big)), Value(0)
            ),
            successes=Coalesce(
                Sum(Case(When(exposure_known, then=success_expr), output_field=big)), Value(0)
            ),
        )
        .order_by("-is_control", "key", "network", "unit")
    )
    result = ExperimentCounts(metric=experiment.metric)
    for row in rows:
        key = row["key"]
        result.variants.setdefault(
            key, VariantInfo(key, row["name"], row["weight"], row["is_control"])
        )
        arm = ArmRow(
            publications=int(row["publications"] or 0),
            recipients=int(row["recipients"] or 0),
            impressions=int(row["impressions"]),
            clicks=int(row["clicks"]),
            conversions=int(row["conversions"]),
            exposures=int(row["exposures"]),
            successes=int(row["successes"]),
        )
        result.arms.setdefault(key, ArmRow()).add(arm)
        cluster = (arm.exposures, arm.successes)
        counted = row["unit"] is not None and row["known"]
        if counted:
            result.clusters.setdefault(key, []).append(cluster)
        if row["network"] is not None:
            result.strata.setdefault(row["network"], {}).setdefault(key, ArmRow()).add(arm)
            if counted:
                by_variant = result.stratum_clusters.setdefault(row["network"], {})
                by_variant.setdefault(key, []).append(cluster)
    # Every variant in every stratum, so the analysis sees 0/0 rather than a missing arm.
    for network, arms in result.strata.items():
        for key in result.variants:
            arms.setdefault(key, ArmRow())
            result.stratum_clusters.setdefault(network, {}).setdefault(key, [])
    for key in result.variants:
        result.clusters.setdefault(key, [])
    return result


# --- analysis and decision ------------------------------------------------------------------

DECISION_LABELS = {
    "keep_running": "Keep running",
    "ship": "Ship {variant}",
    "no_difference": "No meaningful difference — stop",
    "worse": "The challengers are worse — stop and keep the control",
    "below_mde": "A real gain, but smaller than the MDE — stop",
    "srm": "Traffic split is broken — check the allocation",
    "not_ready": "Not ready — fix the experiment's design",
    "data_problem": "The counts are inconsistent — check the metrics",
}


def _decision(action: str, sentence: str, variant: VariantInfo | None = None, **extra: Any):
    label = DECISION_LABELS[action].format(variant=variant.name if variant else "")
    return {
        "action": action,
        "label": label,
        "variant": variant.key if variant else None,
        "variant_name": variant.name if variant else None,
        "sentence": sentence,
        **extra,
    }


def analyse_experiment(experiment: Experiment, now: datetime | None = None) -> dict[str, Any]:
    """Counts → :func:`calendar_app.analysis.analyse` → a decision a marketer can read.

    Uses the sequential (anytime-valid) analysis, because marketers look at results every day:
    a fixed-horizon test read daily would ship false winners. Strata are the networks, so a
    network's base rate cannot pass for a variant effect. Each publication is a cluster (the
    variant is assigned per publication), so intervals are cluster-robust. Returns a JSON-ready dict:
    ``counts``, ``report`` (the analysis, or None when it cannot run) and ``decision``.
    """
    # numpy and scipy load here, where analysis runs, never in a worker that only serves lists
    from calendar_app.analysis import MinimumDetectableEffect, analyse

    now = now or timezone.now()
    counts = aggregate_counts(experiment)
    out: dict[str, Any] = {
        "experiment": experiment.pk,
        "status": experiment.status,
        "metric": experiment.metric,
        "computed_at": now.isoformat(),
        "counts": counts.to_dict(),
        "report": None,
    }
    control = counts.control
    if control is None or len(counts.variants) < 2:
        out["decision"] = _decision(
            "not_ready", "An experiment needs exactly one control and at least one challenger."
        )
        return out
    metric_label = Metric(experiment.metric).label.split(" (")[0].lower()
    keys = list(counts.variants)
    try:
        arms = [
            ArmCounts(
                k,
                counts.arms[k].exposures,
                counts.arms[k].successes,
                tuple(counts.clusters[k]),
            )
            for k in keys
        ]
        strata = [
            StratumCounts(
                network,
                tuple(
                    ArmCounts(
                        k,
                        a[k].exposures,
                        a[k].successes,
                        tuple(counts.stratum_clusters[network][k]),
                    )
                    for k in keys
                ),
            )
            for network, a in sorted(counts.strata.items())
        ]
    except ValueError as exc:
        out["decision"] = _decision(
            "data_problem", f"The counts cannot be analysed as they are: {exc}."
        )
        return out
    total_exposures = sum(a.exposures for a in arms)
    days = None
    if experiment.started_at is not None:
        days = max((now - experiment.started_at).total_seconds() / 86400, 1.0)
    report = analyse(
        arms,
        control=control,
        metric_name=metric_label,
        planned_weights={k: v.weight for k, v in counts.variants.items()},
        mde=MinimumDetectableEffect(experiment.minimum_detectable_effect, relative=True),
        alpha=experiment.alpha,
        power=experiment.power,
        sequential=True,
        strata=strata or None,
        daily_exposures=total_exposures / days if days and total_exposures else None,
        allocation_counts={k: counts.arms[k].allocated for k in keys},
    )
    out["report"] = report.to_dict()
    decision = report.decision
    variant = counts.variants.get(decision.variant) if decision.variant else None
    out["decision"] = _decision(
        str(decision.action), decision.sentence, variant, basis=decision.basis
    )
    return out


FINAL_ACTIONS = ("ship", "no_difference", "worse", "below_mde")


def variants_without_data(result: dict[str, Any]) -> list[str]:
    """Keys of the variants the analysis has no data for (no exposures, or no analysis at all)."""
    report = result.get("report")
    if report is None:
        return list(result.get("counts", {}).get("variants", ()))
    return [a["key"] for a in report["arms"] if not a["exposures"]]


def _names(keys: list[str]) -> str:
    return ", ".join(f"“{k}”" for k in keys)


@transaction.atomic
def record_decision(
    experiment: Experiment, actor: Actor, now: datetime | None = None
) -> dict[str, Any]:
    """Analyse now and record the recommendation with who and when (approver or above).

    A final recommendation (``ship``, ``worse``, ``below_mde`` or ``no_difference``) also closes
    the experiment (status ``decided``); ``keep_running`` and ``srm`` are recorded but leave it
    running. Refused (``ValidationError`` on ``variant``) while any variant has no data: the
    analysis computes nothing for such a variant, so there is nothing to decide on.
    """
    _require(actor, Role.APPROVER, "record the experiment's decision")
    now = now or timezone.now()
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    result = analyse_experiment(experiment, now=now)
    empty = variants_without_data(result)
    if empty:
        raise ValidationError(
            {
                "variant": (
                    f"No decision can be recorded yet: {_names(empty)} "
                    f"{'has' if len(empty) == 1 else 'have'} no data (no exposures), so the "
                    "analysis has nothing to compare. Let the experiment run until every "
                    "variant has exposures."
                )
            },
            code="no_data",
        )
    decision = result["decision"]
    experiment.decision = decision["action"]
    experiment.decision_summary = f"{decision['label']}. {decision['sentence']}"
    experiment.decided_variant = (
        experiment.variants.get(key=decision["variant"]) if decision["variant"] else None
    )
    experiment.decided_by = actor.user
    experiment.decided_at = now
    fields = ["decision", "decision_summary", "decided_variant", "decided_by", "decided_at"]
    if decision["action"] in FINAL_ACTIONS and (experiment.status == ExperimentStatus.RUNNING):
        experiment.status = ExperimentStatus.DECIDED
        fields.append("status")
    experiment.save(update_fields=[*fields, "updated_at"])
    result["status"] = experiment.status
    return result


# --- promotion ------------------------------------------------------------------------------

CTA_FIELDS = ("cta_text", "cta_url", "cta_button")


@transaction.atomic
def promote_winner(
    experiment: Experiment, variant: Variant, actor: Actor, now: datetime | None = None
) -> Experiment:
    """Make ``variant``'s call to action the default for future content and for the
    experiment's reactive templates (approver or above).

    * The brand's ``default_cta_*`` take the variant's non-blank CTA fields (a blank field in a
      variant means "not part of this test", so the brand's current value stays).
    * Each reactive template of the experiment gets the same CTA. That changes its content hash,
      which would otherwise void its approval and block firing. Promoting *is* an approver's
      act on exactly this change, so a template that was approved before stays approved: the
      approval is re-recorded for the new version with the promoting approver and the time.
      A template that was not approved (pending edits) gets the CTA but stays unapproved —
      promotion must not approve someone else's unreviewed changes.
    * Content items already written are not touched: they were approved as they are.
    * ``promoted_variant/by/at`` record who did it and when.
    * Refused (``ValidationError`` on ``variant``) while the analysis has no data for the
      variant: nothing is computed for it, so nothing says it won.
    """
    _require(actor, Role.APPROVER, "promote the winner")
    now = now or timezone.now()
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if variant.experiment_id != experiment.pk:
        raise ValidationError(
            {"variant": f"“{variant.key}” is not a variant of the experiment “{experiment}”."},
            code="foreign_variant",
        )
    if experiment.status == ExperimentStatus.DRAFT:
        raise ValidationError(
            {"status": "This experiment never ran: start it and collect data before promoting."},
            code="invalid_status",
        )
    result = analyse_experiment(experiment, now=now)
    if variant.key in variants_without_data(result):
        raise ValidationError(
            {
                "variant": (
                    f"“{variant.key}” cannot be promoted yet: the analysis has no data for it "
                    "(no exposures), so nothing shows it is a winner."
                )
            },
            code="no_data",
        )
    cta = {name: getattr(variant, name) for name in CTA_FIELDS if getattr(variant, name).strip()}
    if not cta:
        raise ValidationError(
            {"variant": f"“{variant.key}” has no call to action to promote."}, code="empty_cta"
        )
    brand = Brand.objects.select_for_update().get(pk=experiment.brand_id)
    for name, value in cta.items():
        setattr(brand, f"default_{name}", value)
    brand.save(update_fields=[f"default_{name}" for name in cta] + ["updated_at"])

    for template in experiment.reactive_templates.select_for_update():
        was_approved = template.is_approved
        before = template.content_hash()
        for name, value in cta.items():
            setattr(template, name, value)
        if template.content_hash() == before:
            continue
        template.version += 1
        fields = [*cta, "version", "updated_at"]
        if was_approved:
            template.approved_version = template.version
            template.approved_hash = template.content_hash()
            template.approved_by = actor.user
            template.approved_by_label = actor.label[:200]
            template.approved_via_token = actor.token
            template.approved_at = now
            fields += [
                "approved_version",
                "approved_hash",
                "approved_by",
                "approved_by_label",
                "approved_via_token",
                "approved_at",
            ]
        template.save(update_fields=fields)

    experiment.promoted_variant = variant
    experiment.promoted_by = actor.user
    experiment.promoted_at = now
    fields = ["promoted_variant", "promoted_by", "promoted_at"]
    if experiment.status == ExperimentStatus.RUNNING:
        experiment.status = ExperimentStatus.DECIDED
        fields.append("status")
    experiment.save(update_fields=[*fields, "updated_at"])
    return experiment


# --- time series ----------------------------------------------------------------------------


def time_series(
    experiment: Experiment, bucket: Literal["hour", "day"] = "hour"
) -> list[dict[str, Any]]:
    """Cumulative impressions, clicks and conversions per variant at the end of each bucket
    (hours or days in the brand's time zone), for the results chart.

    The database reduces the snapshots to one row per (publication, bucket) — the bucket's
    maximum, which is its last value since counts are cumulative — and counts tracked clicks
    and conversions per bucket; Python only carries values forward between buckets. The counting
    rules are those of :func:`aggregate_counts` (network-reported counts win over tracked ones).
    """
    if bucket not in ("hour", "day"):
        raise ValueError("bucket must be 'hour' or 'day'")
    import zoneinfo

    tz = zoneinfo.ZoneInfo(
        Brand.objects.filter(pk=experiment.brand_id).values_list("time_zone", flat=True).get()
    )

    def at(name: str) -> Trunc:
        return Trunc(name, bucket, tzinfo=tz)

    snapshots = (
        MetricSnapshot.objects.filter(publication__variant__experiment_id=experiment.pk)
        .exclude(publication__status=PublicationStatus.CANCELLED)
        .values("publication_id", key=F("publication__variant__key"), b=at("collected_at"))
        .annotate(i=Max("impressions"), c=Max("clicks"), v=Max("conversions"))
        .order_by()
    )
    clicks = (
        Click.objects.filter(link__variant__experiment_id=experiment.pk, is_counted=True)
        .values(p=F("link__publication_id"), key=F("link__variant__key"), b=at("clicked_at"))
        .annotate(n=Count("id"))
        .order_by()
    )
    conversions = (
        Conversion.objects.filter(variant__experiment_id=experiment.pk)
        .values(p=F("publication_id"), key=F("variant__key"), b=at("occurred_at"))
        .annotate(n=Count("id"))
        .order_by()
    )
    splits = RecipientSplit.objects.filter(variant__experiment_id=experiment.pk).values(
        p=F("publication_id"),
        key=F("variant__key"),
        n=ExpressionWrapper(F("recipients"), output_field=IntegerField()),
        b=at("created_at"),
    )

    # unit = (publication, variant key); per unit and count: {bucket: value}
    snap: dict[tuple[int, str], dict[str, dict[datetime, int | None]]] = defaultdict(
        lambda: {"i": {}, "c": {}, "v": {}}
    )
    for row in snapshots:
        unit = (row["publication_id"], row["key"])
        for name in ("i", "c", "v"):
            snap[unit][name][row["b"]] = row[name]
    tracked: dict[tuple[int, str], dict[str, dict[datetime, int]]] = defaultdict(
        lambda: {"i": {}, "c": {}, "v": {}}
    )
    for name, rows in (("c", clicks), ("v", conversions), ("i", splits)):
        for row in rows:
            cell = tracked[(row["p"], row["key"])][name]
            cell[row["b"]] = cell.get(row["b"], 0) + row["n"]

    buckets = sorted(
        {b for u in (*snap.values(), *tracked.values()) for series in u.values() for b in series}
    )
    keys = list(
        Variant.objects.filter(experiment_id=experiment.pk)
        .order_by("-is_control", "key")
        .values_list("key", flat=True)
    )
    totals = {
        b: {k: {"impressions": 0, "clicks": 0, "conversions": 0} for k in keys} for b in buckets
    }
    names = {"i": "impressions", "c": "clicks", "v": "conversions"}
    for unit in set(snap) | set(tracked):
        key = unit[1]
        reported = snap.get(unit)
        for short, name in names.items():
            network_series = reported[short] if reported else {}
            use_network = bool(network_series) and any(
                v is not None for v in network_series.values()
            )
            last = 0
            running = 0
            for b in buckets:
                if use_network:
                    value = network_series.get(b)
                    if value is not None:
                        last = max(last, value)
                    current = last
                else:
                    running += tracked.get(unit, {}).get(short, {}).get(b, 0)
                    current = running
                totals[b][key][name] += current
    return [{"at": b.isoformat(), "variants": totals[b]} for b in buckets]
