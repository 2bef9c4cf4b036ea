"""Experiments on calls to action, with their variants inline, and a results page per experiment.

The results page (``<experiment>/results/``) shows the decision first, in one sentence with the
numbers behind it, then each variant's counts and intervals, the traffic-split (SRM) check, the
per-network comparison, the plan's progress, and a chart of each variant's cumulative rate with
its interval over time. The chart is inline SVG drawn here in Python: no JavaScript library, no
CDN (the admin must work without internet access). "Record decision" and "Promote winner" go
through :mod:`calendar_app.experiments`, which checks the role; a refusal is shown as a message.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from calendar_app import experiments as services
from calendar_app import workflow
from calendar_app.admin.base import RelatedOnly, TenantAdmin, TenantInline, has_role
from calendar_app.models import Experiment, Metric, Role, Variant
from calendar_app.workflow import Actor


class VariantFormSet(BaseInlineFormSet):
    """Exactly one control among the variants that stay (checked here, not by the database)."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        offer_changed = any(
            (
                form.has_changed()
                and ({"cta_text", "cta_url", "cta_button"} & set(form.changed_data))
            )
            or (form.instance.pk and form.cleaned_data.get("DELETE"))
            or (not form.instance.pk and form.has_changed())
            for form in self.forms
            if form.cleaned_data
        )
        if offer_changed and self.instance.pk:
            workflow.variants_changing(self.instance.pk)  # a form error, not a failed save
        controls = sum(1 for form in kept if form.cleaned_data.get("is_control"))
        if controls > 1:
            raise ValidationError("Only one variant can be the control.")
        if kept and controls == 0:
            raise ValidationError("Mark one variant as the control (the current call to action).")


class VariantInline(TenantInline, admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    fields = ("key", "name", "is_control", "cta_text", "cta_url", "cta_button", "weight")
    extra = 0


# --- presentation helpers (pure: numbers in, text or SVG out) -------------------------------

PALETTE = ("#1f6fb4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def pp(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.2f} pp"


def expected_loss_text(loss: float | None, relative: float | None) -> str:
    """The expected loss as a person reads it: what shipping this arm costs on average, shown as
    a loss (negative, in percentage points of the metric) and as a share of the arm's own rate,
    e.g. "-0.020 pp (-1.4% of its rate)"; a loss is never negative, so it always reads as one."""
    if loss is None:
        return "—"
    text = f"-{100 * loss:.3f} pp"
    if relative is not None:
        text += f" (-{100 * relative:.1f}% of its rate)"
    return text


def wilson_interval(successes: float, exposures: float, level: float) -> tuple[float, float] | None:
    """Wilson score interval of a rate; counts may be fractional (effective counts)."""
    if exposures <= 0:
        return None
    from scipy import stats  # only where an interval is drawn: web workers stay lean

    z = float(stats.norm.isf((1.0 - level) / 2.0))
    p = min(1.0, max(0.0, successes / exposures))
    denominator = 1.0 + z * z / exposures
    centre = (p + z * z / (2.0 * exposures)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / exposures + z * z / (4.0 * exposures**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def rate_series(
    series: list[dict[str, Any]],
    *,
    metric: str,
    design_effects: dict[str, float] | None = None,
    level: float = 0.95,
) -> dict[str, list[tuple[datetime, float, float, float]]]:
    """Per variant: ``(time, rate, lower, upper)`` of the cumulative rate at each bucket.

    The interval is Wilson's on the variant's *effective* counts (divided by its current design
    effect), so the band is as wide as the cluster-robust analysis says it should be.
    """
    from calendar_app.analysis import Metric as AnalysisMetric

    exposure_field, success_field = AnalysisMetric(metric).fields
    out: dict[str, list[tuple[datetime, float, float, float]]] = {}
    for row in series:
        at = datetime.fromisoformat(row["at"])
        for key, counts in row["variants"].items():
            points = out.setdefault(key, [])
            exposures, successes = counts[exposure_field], counts[success_field]
            if exposures <= 0:
                continue
            successes = min(successes, exposures)
            deff = (design_effects or {}).get(key, 1.0) or 1.0
            interval = wilson_interval(successes / deff, exposures / deff, level)
            assert interval is not None
            points.append((at, successes / exposures, *interval))
    return out


def rate_chart_svg(
    series: list[dict[str, Any]],
    *,
    metric: str,
    metric_label: str,
    labels: dict[str, str] | None = None,
    design_effects: dict[str, float] | None = None,
    level: float = 0.95,
    time_zone: str = "",
    width: int = 760,
    height: int = 360,
) -> SafeString:
    """Inline SVG: each variant's cumulative rate (line) and its interval (band) over time."""
    lines = rate_series(series, metric=metric, design_effects=design_effects, level=level)
    drawn = {k: v for k, v in lines.items() if v}
    if not drawn:
        return format_html(
            '<p class="help">No {} data yet: the chart appears once metrics are collected.</p>',
            metric_label,
        )
    labels = labels or {}
    left, right, top, bottom = 70, 20, 20 + 20 * math.ceil((len(lines) + 1) / 3), 56
    plot_w, plot_h = width - left - right, height - top - bottom
    times = sorted({t for points in drawn.values() for t, *_ in points})
    t0, t1 = times[0].timestamp(), times[-1].timestamp()
    if t1 <= t0:
        t0, t1 = t0 - 3600, t1 + 3600
    y_max = max(hi for points in drawn.values() for *_, hi in points)
    step = _nice_step(y_max if y_max > 0 else 0.01)
    y_top = step * math.ceil((y_max if y_max > 0 else 0.01) / step)

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return top + plot_h - v / y_top * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kairos-rate-chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(metric_label)} of each variant over time" '
        'font-family="sans-serif" font-size="11">',
        f"<title>Cumulative {escape(metric_label)} per variant, with {level:.0%} intervals</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#ccc"/>',
    ]
    tick = 0.0
    while tick <= y_top + 1e-12:
        ty = y(tick)
        out.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{100 * tick:.{2 if step < 0.001 else (1 if step < 0.01 else 0)}f}%</text>"
        )
        tick += step
    hourly = any(t.hour or t.minute for t in times)
    fmt = "%d %b %H:%M" if hourly else "%d %b %Y"
    count = min(6, len(times))
    chosen = (
        [times[round(i * (len(times) - 1) / (count - 1))] for i in range(count)]
        if count > 1
        else times
    )
    for t in dict.fromkeys(chosen):
        tx = x(t) if t1 > t0 else left + plot_w / 2
        out.append(
            f'<line x1="{tx:.1f}" y1="{top + plot_h}" x2="{tx:.1f}" y2="{top + plot_h + 5}" '
            'stroke="#666"/>'
            f'<text x="{tx:.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
            f"{escape(t.strftime(fmt))}</text>"
        )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>'
        f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{height - 8}" '
        f'text-anchor="middle" font-size="12">Time'
        f"{escape(f' ({time_zone})') if time_zone else ''}</text>"
        f'<text class="axis-label" x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'font-size="12" transform="rotate(-90 14 {top + plot_h / 2:.1f})">'
        f"Cumulative {escape(metric_label)} (%)</text>"
    )
    for index, key in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        points = lines[key]
        if points:
            upper = " ".join(f"{x(t):.1f},{y(hi):.1f}" for t, _r, _lo, hi in points)
            lower = " ".join(f"{x(t):.1f},{y(lo):.1f}" for t, _r, lo, _hi in reversed(points))
            rate = " ".join(f"{x(t):.1f},{y(r):.1f}" for t, r, _lo, _hi in points)
            out.append(
                f'<g class="variant" data-variant="{escape(key)}">'
                f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.15" '
                'stroke="none"/>'
                f'<polyline points="{rate}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            if len(points) <= 40:
                out.extend(
                    f'<circle cx="{x(t):.1f}" cy="{y(r):.1f}" r="2.5" fill="{colour}">'
                    f"<title>{escape(key)} {escape(t.strftime(fmt))}: {100 * r:.2f}% "
                    f"({100 * lo:.2f}–{100 * hi:.2f}%)</title></circle>"
                    for t, r, lo, hi in points
                )
            out.append("</g>")
        column, row = index % 3, index // 3
        lx, ly = left + column * (plot_w / 3), 14 + 20 * row
        out.append(
            f'<g class="legend-item"><rect x="{lx:.1f}" y="{ly - 9}" width="14" height="10" '
            f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>'
            f'<text x="{lx + 20:.1f}" y="{ly}">{escape(labels.get(key, key))}</text></g>'
        )
    index = len(lines)
    column, row = index % 3, index // 3
    lx, ly = left + column * (plot_w / 3), 14 + 20 * row
    out.append(
        f'<g class="legend-item"><rect x="{lx:.1f}" y="{ly - 9}" width="14" height="10" '
        'fill="#999" fill-opacity="0.15"/>'
        f'<text x="{lx + 20:.1f}" y="{ly}">band: {level:.0%} interval '
        "(cluster-robust)</text></g>"
    )
    out.append("</svg>")
    return mark_safe("".join(out))  # every interpolated text is escaped above


def results_context(experiment: Experiment, result: dict[str, Any]) -> dict[str, Any]:
    """Rows and figures for the results template, formatted here so the template only loops."""
    report = result.get("report")
    counts = result["counts"]
    variants = counts["variants"]
    level = 1.0 - experiment.alpha
    context: dict[str, Any] = {
        "decision": result["decision"],
        "report": report,
        "level": level,
        "level_label": f"{level:.0%}",
    }
    if report is None:
        return context
    control = report["control"]
    sequences = {c["challenger"]: c for c in report["confidence_sequences"]}
    beat = {c["challenger"]: c for c in report["bayesian"]["comparisons"]}
    rows = []
    for arm in report["arms"]:
        key = arm["key"]
        if not arm["exposures"]:
            # Nothing is computed for an arm nobody has seen; say so instead of showing numbers.
            rows.append(
                {
                    "key": key,
                    "name": variants[key]["name"],
                    "is_control": key == control,
                    "publications": counts["arms"][key]["publications"],
                    "allocated": counts["arms"][key]["publications"]
                    + counts["arms"][key]["recipients"],
                    "clusters": arm.get("clusters"),
                    "exposures": 0,
                    "successes": 0,
                    "rate": "—",
                    "interval": "—",
                    "difference": "—",
                    "difference_interval": "—",
                    "chance_to_beat_control": "—",
                    "chance_to_be_best": "—",
                    "expected_loss": "—",
                    "design_effect": "—",
                    "effective_exposures": 0,
                    "not_computed": "Not computed: no exposures yet, so there is nothing to "
                    "compare (the analysis shows no difference, chance or interval for it).",
                }
            )
            continue
        deff = arm.get("design_effect") or 1.0
        interval = wilson_interval(arm["successes"] / deff, arm["exposures"] / deff, level)
        sequence = sequences.get(key)
        rows.append(
            {
                "key": key,
                "name": variants[key]["name"],
                "is_control": key == control,
                "publications": counts["arms"][key]["publications"],
                "allocated": counts["arms"][key]["publications"]
                + counts["arms"][key]["recipients"],
                "clusters": arm.get("clusters"),
                "exposures": arm["exposures"],
                "successes": arm["successes"],
                "rate": pct(arm["rate"]),
                "interval": f"{pct(interval[0])} – {pct(interval[1])}" if interval else "—",
                "difference": "" if key == control else pp(sequence and sequence["estimate"]),
                "difference_interval": ""
                if key == control
                else (
                    f"{pp(sequence['lower'])} to {pp(sequence['upper'])}"
                    if sequence and sequence["lower"] is not None
                    else "not enough data"
                ),
                "chance_to_beat_control": ""
                if key == control
                else pct(beat[key]["chance_to_beat_control"], 1),
                "chance_to_be_best": pct(arm["chance_to_be_best"], 1),
                "expected_loss": expected_loss_text(
                    arm["expected_loss"], arm.get("expected_loss_relative")
                ),
                "not_computed": "",
                "design_effect": f"{deff:.2f}",
                "effective_exposures": arm.get("effective_exposures"),
            }
        )
    context["rows"] = rows
    numbers = report["decision"]["numbers"]
    context["numbers"] = [
        (name.replace("_", " "), _number(name, value)) for name, value in numbers.items()
    ]
    srm = report["srm"]
    context["srm"] = {
        "flagged": srm["flagged"],
        "p_value": "—" if srm["p_value"] is None else f"{srm['p_value']:.3g}",
        "threshold": srm["threshold"],
        "rows": [
            {
                "key": key,
                "observed": srm["observed"][key],
                "expected": f"{srm['expected'][key]:.1f}",
                "planned": pct(srm["planned_weights"][key], 0),
            }
            for key in srm["observed"]
        ],
    }
    strata_rows = []
    for network, arms in sorted(counts["strata"].items()):
        for key, row in arms.items():
            rate = row["successes"] / row["exposures"] if row["exposures"] else None
            strata_rows.append(
                {
                    "network": network,
                    "key": key,
                    "publications": row["publications"],
                    "exposures": row["exposures"],
                    "successes": row["successes"],
                    "rate": pct(rate),
                }
            )
    context["strata_rows"] = strata_rows
    context["stratified"] = [
        {
            "challenger": c["challenger"],
            "difference": pp(c["difference"]),
            "interval": f"{pp(c['difference_lower'])} to {pp(c['difference_upper'])}"
            if c["difference_lower"] is not None
            else "not enough data",
            "crude": pp(c["crude_difference"]),
        }
        for c in report["stratified"] or ()
    ]
    plan = report["plan"]
    context["plan"] = {
        "status": plan["status"],
        "progress": plan["progress"],
        "progress_pct": pct(plan["progress"], 0),
        "required": plan["required"],
        "total_required": plan["total_required"],
        "days_remaining": None
        if plan["days_remaining"] is None
        else f"{plan['days_remaining']:.1f}",
        "mde": pp(plan["mde_absolute"]),
    }
    return context


def _number(name: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if name in ("difference", "lower", "upper", "mde_absolute", "largest_plausible_gain"):
        return pp(value)
    if name.endswith("rate") or name in ("progress", "chance_to_beat_control"):
        return pct(value)
    if name == "expected_loss":
        return expected_loss_text(value, None)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@admin.register(Experiment)
class ExperimentAdmin(TenantAdmin):
    list_display = (
        "name",
        "brand",
        "metric",
        "status",
        "variant_count",
        "started_at",
        "decided_variant",
        "results_link",
    )
    list_filter = ("status", "metric", ("brand", RelatedOnly))
    search_fields = ("name", "hypothesis", "brand__name")
    autocomplete_fields = ("brand",)
    list_select_related = ("brand", "decided_variant")
    readonly_fields = (
        "results_link",
        "decided_variant",
        "decided_by",
        "decided_at",
        "promoted_variant",
        "promoted_by",
        "promoted_at",
    )
    inlines = [VariantInline]
    workspace_from = "brand"

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        # A change to the arms sends approved items back to review (calendar_app.signals),
        # recorded as this person's.
        with workflow.acting_as(Actor.for_user(request.user, form.instance.workspace)):
            super().save_formset(request, form, formset, change)

    fieldsets = (
        (
            None,
            {"fields": ("brand", "name", "hypothesis", "status", "started_at", "results_link")},
        ),
        ("How to judge", {"fields": ("metric", "minimum_detectable_effect", "alpha", "power")}),
        (
            "Decision",
            {
                "fields": (
                    "decision",
                    "decision_summary",
                    "decided_variant",
                    "decided_by",
                    "decided_at",
                    "promoted_variant",
                    "promoted_by",
                    "promoted_at",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_variants=Count("variants"))
            .order_by(*self.model._meta.ordering)
        )

    @admin.display(description="variants", ordering="_variants")
    def variant_count(self, obj: Experiment) -> int:
        return getattr(obj, "_variants", 0)

    # --- the results page ------------------------------------------------------------------
    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path(
                "<path:object_id>/results/",
                self.admin_site.admin_view(self.results_view),
                name="{}_{}_results".format(*info),
            ),
            *super().get_urls(),
        ]

    def results_url(self, obj: Experiment) -> str:
        return reverse(f"{self.admin_site.name}:calendar_app_experiment_results", args=[obj.pk])

    @admin.display(description="results")
    def results_link(self, obj: Experiment) -> str:
        if obj is None or obj.pk is None:
            return "—"
        return format_html('<a href="{}">Results and decision →</a>', self.results_url(obj))

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        experiment = self.get_object(request, object_id)
        if experiment is None or not self.has_view_permission(request, experiment):
            raise Http404("No such experiment.")
        if request.method == "POST":
            self._results_post(request, experiment)
            return HttpResponseRedirect(self.results_url(experiment))
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405)
        result = services.analyse_experiment(experiment)
        bucket = request.GET.get("bucket")
        if bucket not in ("hour", "day"):
            started = experiment.started_at
            long_running = started is not None and (datetime.now(started.tzinfo) - started).days > 3
            bucket = "day" if long_running else "hour"
        series = services.time_series(experiment, bucket=bucket)
        context_rows = results_context(experiment, result)
        report = result["report"] or {}
        deffs = {a["key"]: a.get("design_effect") or 1.0 for a in report.get("arms", [])}
        variants = result["counts"]["variants"]
        metric_label = Metric(experiment.metric).label.split(" (")[0].lower()
        chart = rate_chart_svg(
            series,
            metric=experiment.metric,
            metric_label=metric_label,
            labels={k: f"{k} — {v['name']}" if v["name"] != k else k for k, v in variants.items()},
            design_effects=deffs,
            level=1.0 - experiment.alpha,
            time_zone=experiment.brand.time_zone,
        )
        may_decide = has_role(request, experiment.workspace_id, Role.APPROVER)
        recommended = result["decision"].get("variant")
        promote_default = recommended or (
            experiment.decided_variant.key if experiment.decided_variant_id else None
        )
        context = {
            **self.admin_site.each_context(request),
            **context_rows,
            "title": f"Results: {experiment.name}",
            "opts": self.model._meta,
            "original": experiment,
            "experiment": experiment,
            "metric_label": metric_label,
            "chart": chart,
            "bucket": bucket,
            "may_decide": may_decide,
            "variants": list(experiment.variants.order_by("-is_control", "key")),
            "promote_default": promote_default,
            "computed_at": result["computed_at"],
        }
        return TemplateResponse(request, "admin/calendar_app/experiment/results.html", context)

    def _results_post(self, request: HttpRequest, experiment: Experiment) -> None:
        """Record the decision or promote a variant; every refusal becomes a message."""
        actor = Actor.for_user(request.user, experiment.workspace)
        action = request.POST.get("action")
        try:
            if action == "record_decision":
                result = services.record_decision(experiment, actor)
                decision = result["decision"]
                messages.success(
                    request, f"Decision recorded: {decision['label']}. {decision['sentence']}"
                )
            elif action == "promote_winner":
                key = request.POST.get("variant", "")
                variant = experiment.variants.filter(key=key).first()
                if variant is None:
                    messages.error(
                        request, f"Cannot promote: “{key}” is not a variant of this experiment."
                    )
                    return
                services.promote_winner(experiment, variant, actor)
                messages.success(
                    request,
                    f"“{variant.name}” promoted: its call to action is now the brand's default.",
                )
            else:
                messages.error(request, "Unknown action.")
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, "Refused: " + " ".join(exc.messages))


@admin.register(Variant)
class VariantAdmin(TenantAdmin):
    list_display = ("experiment", "key", "name", "is_control", "cta_text", "weight")
    list_filter = ("is_control", ("experiment", RelatedOnly))
    search_fields = ("key", "name", "experiment__name", "cta_text")
    autocomplete_fields = ("experiment",)
    list_select_related = ("experiment",)

    def target_workspace_id(self, form, obj: Variant | None) -> int | None:
        experiment = form.cleaned_data.get("experiment") or (obj.experiment if obj else None)
        return experiment.workspace_id if experiment else None
