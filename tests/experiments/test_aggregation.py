"""aggregate_counts: correct against a Python recomputation, and always exactly ONE query."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app import experiments
from calendar_app.models import Click, Conversion, Metric, MetricSnapshot, RecipientSplit
from calendar_app.tracking import tracked_url_for
from tests import factories as f

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)


def _build(experiment, make_publication, rng: random.Random, n_pubs: int):
    """Publications across two networks with several snapshots each; returns the expected
    totals recomputed in Python from the same rows."""
    variants = list(experiment.variants.all())
    expected: dict[str, dict[str, int]] = {
        v.key: {"impressions": 0, "clicks": 0, "conversions": 0, "publications": 0}
        for v in variants
    }
    by_network: dict[tuple[str, str], int] = {}
    snapshots = []
    for i in range(n_pubs):
        variant = variants[i % len(variants)]
        network = ("sandbox", "mastodon")[(i // len(variants)) % 2]
        pub = make_publication(variant, network=network)
        reports_clicks = network == "sandbox"
        latest = None
        for k in range(rng.randint(1, 4)):
            latest = MetricSnapshot(
                workspace=pub.workspace,
                publication=pub,
                collected_at=T0 + timedelta(hours=k),
                impressions=100 * (k + 1) + rng.randint(0, 50),
                clicks=(5 * (k + 1)) if reports_clicks else None,
                conversions=None,
            )
            snapshots.append(latest)
        tracked = 0
        if not reports_clicks:
            url = tracked_url_for(pub, "https://example.com/shop")
            link = pub.tracked_links.get(code=url.rsplit("/", 1)[1])
            for j in range(rng.randint(0, 3)):
                Click.objects.create(
                    link=link, clicked_at=T0, visitor_hash=f"v{j}", is_counted=True
                )
                tracked += 1
            Click.objects.create(link=link, clicked_at=T0, visitor_hash="dup", is_counted=False)
            for j in range(tracked // 2):
                click = link.clicks.filter(is_counted=True)[j]
                Conversion.objects.create(
                    workspace=pub.workspace,
                    click=click,
                    publication=pub,
                    variant=variant,
                    external_event_id=f"e{pub.pk}-{j}",
                    occurred_at=T0,
                    payload_hash="x",
                )
        clicks = latest.clicks if latest.clicks is not None else tracked
        conversions = tracked // 2
        row = expected[variant.key]
        row["impressions"] += latest.impressions
        row["clicks"] += clicks
        row["conversions"] += conversions
        row["publications"] += 1
        by_network[(network, variant.key)] = by_network.get((network, variant.key), 0) + clicks
    MetricSnapshot.objects.bulk_create(snapshots)
    return expected, by_network


@pytest.mark.django_db
def test_matches_python_recomputation(experiment, make_publication):
    expected, by_network = _build(experiment, make_publication, random.Random(7), 12)
    counts = experiments.aggregate_counts(experiment)
    for key, row in expected.items():
        arm = counts.arms[key]
        assert (arm.impressions, arm.clicks, arm.conversions, arm.publications) == (
            row["impressions"],
            row["clicks"],
            row["conversions"],
            row["publications"],
        )
        # click-through: every publication reports impressions, so exposures = impressions
        assert (arm.exposures, arm.successes) == (row["impressions"], row["clicks"])
    for (network, key), clicks in by_network.items():
        assert counts.strata[network][key].clicks == clicks
    assert set(counts.strata) == {"sandbox", "mastodon"}


@pytest.mark.django_db
@pytest.mark.parametrize("n_pubs", [0, 4, 30])
def test_exactly_one_query_whatever_the_size(experiment, make_publication, n_pubs):
    _build(experiment, make_publication, random.Random(n_pubs), n_pubs)
    with CaptureQueriesContext(connection) as ctx:
        counts = experiments.aggregate_counts(experiment)
    assert len(ctx.captured_queries) == 1
    assert set(counts.arms) == {"control", "bold"}


@pytest.mark.django_db
def test_unknown_denominator_is_left_out_of_the_rate(experiment, make_publication):
    control, _bold = experiment.variants.order_by("-is_control")
    pub = make_publication(control)
    MetricSnapshot.objects.create(
        workspace=pub.workspace, publication=pub, collected_at=T0, impressions=None, clicks=9
    )
    counts = experiments.aggregate_counts(experiment)
    assert counts.arms["control"].clicks == 9
    assert counts.arms["control"].exposures == 0
    assert counts.arms["control"].successes == 0


@pytest.mark.django_db
def test_per_recipient_publication_counts_per_variant(experiment, make_publication):
    experiment.metric = Metric.CONVERSION_PER_IMPRESSION
    experiment.save()
    control, bold = experiment.variants.order_by("-is_control")
    item = f.ContentItemFactory(
        brand=experiment.brand, workspace=experiment.workspace, experiment=experiment
    )
    pub = make_publication(None, network="email", item=item)
    MetricSnapshot.objects.create(
        workspace=pub.workspace, publication=pub, collected_at=T0, impressions=5000, clicks=80
    )
    RecipientSplit.objects.create(
        workspace=pub.workspace, publication=pub, variant=control, recipients=600
    )
    RecipientSplit.objects.create(
        workspace=pub.workspace, publication=pub, variant=bold, recipients=400
    )
    link = pub.tracked_links.get(
        code=tracked_url_for(pub, "https://example.com/a", variant=bold).rsplit("/", 1)[1]
    )
    click = Click.objects.create(link=link, clicked_at=T0, visitor_hash="h")
    Conversion.objects.create(
        workspace=pub.workspace,
        click=click,
        publication=pub,
        variant=bold,
        external_event_id="e1",
        occurred_at=T0,
        payload_hash="x",
    )
    counts = experiments.aggregate_counts(experiment)
    assert counts.arms["control"].impressions == 600
    assert counts.arms["bold"].impressions == 400
    assert counts.arms["bold"].clicks == 1
    assert counts.arms["bold"].conversions == 1
    assert counts.arms["control"].clicks == 0
    assert (counts.arms["bold"].exposures, counts.arms["bold"].successes) == (400, 1)
    assert counts.arms["bold"].allocated == 400
    assert counts.strata["email"]["control"].impressions == 600


@pytest.mark.django_db
def test_time_series_is_cumulative(experiment, make_publication):
    control, _bold = experiment.variants.order_by("-is_control")
    pub = make_publication(control)
    for h, imp in enumerate([100, 250, 400]):
        MetricSnapshot.objects.create(
            workspace=pub.workspace,
            publication=pub,
            collected_at=T0 + timedelta(hours=h),
            impressions=imp,
            clicks=h,
        )
    series = experiments.time_series(experiment, bucket="hour")
    assert [p["variants"]["control"]["impressions"] for p in series] == [100, 250, 400]
    assert [p["variants"]["bold"]["impressions"] for p in series] == [0, 0, 0]
    assert len(experiments.time_series(experiment, bucket="day")) == 1
    with pytest.raises(ValueError):
        experiments.time_series(experiment, bucket="week")
