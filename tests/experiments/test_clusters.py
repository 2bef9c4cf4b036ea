"""Per-publication counts (clusters) from the one aggregation query, and what they change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendar_app import experiments
from calendar_app.analysis import ArmCounts, analyse
from calendar_app.models import Metric, MetricSnapshot, PublicationStatus, RecipientSplit, Role

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def _snapshots(experiment, make_publication, per_arm: dict[str, list[tuple[int, int]]]):
    """One publication per (impressions, clicks) pair, two cumulative snapshots each."""
    variants = {v.key: v for v in experiment.variants.all()}
    rows, pubs = [], []
    for key, posts in per_arm.items():
        for i, (impressions, clicks) in enumerate(posts):
            pub = make_publication(variants[key], network=("sandbox", "mastodon")[i % 2])
            pubs.append(pub)
            rows += [
                MetricSnapshot(
                    workspace=pub.workspace,
                    publication=pub,
                    collected_at=T0,
                    impressions=impressions // 2,
                    clicks=clicks // 2,
                ),
                MetricSnapshot(
                    workspace=pub.workspace,
                    publication=pub,
                    collected_at=T0 + timedelta(hours=2),
                    impressions=impressions,
                    clicks=clicks,
                ),
            ]
    MetricSnapshot.objects.bulk_create(rows)
    return pubs


def test_clusters_are_the_latest_counts_of_each_publication(experiment, make_publication):
    posts = {"control": [(1000, 20), (3000, 90), (2000, 30)], "bold": [(1500, 45), (2500, 70)]}
    pubs = _snapshots(experiment, make_publication, posts)
    silent = make_publication(experiment.variants.get(key="bold"))  # no snapshot yet
    cancelled = make_publication(experiment.variants.get(key="bold"))
    cancelled.status = PublicationStatus.CANCELLED
    cancelled.save()
    with CaptureQueriesContext(connection) as ctx:
        counts = experiments.aggregate_counts(experiment)
    assert len(ctx.captured_queries) == 1
    for key, expected in posts.items():
        assert sorted(counts.clusters[key]) == sorted(expected)
        arm = counts.arms[key]
        assert (arm.exposures, arm.successes) == tuple(map(sum, zip(*expected, strict=True)))
    # Publications count for the split whether or not their exposure is known yet.
    assert counts.arms["bold"].publications == 3 and len(counts.clusters["bold"]) == 2
    by_network = counts.stratum_clusters
    assert sorted(by_network["sandbox"]["control"]) == [(1000, 20), (2000, 30)]
    assert by_network["mastodon"]["bold"] == [(2500, 70)]
    assert counts.to_dict()["clusters"] == {"control": 3, "bold": 2}
    assert len(pubs) == 5 and silent.pk and cancelled.pk


def test_per_recipient_publication_is_one_cluster_per_variant(experiment, make_publication):
    experiment.metric = Metric.CONVERSION_PER_IMPRESSION
    experiment.save()
    control, bold = experiment.variants.order_by("-is_control")
    pub = make_publication(None, network="email")
    pub.content_item.experiment = experiment
    pub.content_item.save()
    for variant, recipients in ((control, 400), (bold, 600)):
        RecipientSplit.objects.create(
            workspace=pub.workspace, publication=pub, variant=variant, recipients=recipients
        )
    counts = experiments.aggregate_counts(experiment)
    assert counts.clusters == {"control": [(400, 0)], "bold": [(600, 0)]}


@pytest.mark.parametrize("posts_per_arm", [0, 3, 25])
def test_analysis_query_count_is_constant(experiment, make_publication, posts_per_arm):
    rng = np.random.default_rng(posts_per_arm)
    _snapshots(
        experiment,
        make_publication,
        {
            key: [(1000, int(rng.binomial(1000, 0.03))) for _ in range(posts_per_arm)]
            for key in ("control", "bold")
        },
    )
    with CaptureQueriesContext(connection) as ctx:
        result = experiments.analyse_experiment(experiment, now=T0 + timedelta(days=1))
    assert len(ctx.captured_queries) == 1
    if posts_per_arm:
        arms = {a["key"]: a for a in result["report"]["arms"]}
        assert arms["bold"]["clusters"] == posts_per_arm


def test_one_viral_post_does_not_ship_a_winner(experiment, make_publication, actor):
    """Same true rate, but one of bold's posts went viral. Counted per impression the
    difference looks certain; counted per publication it is one post doing well."""
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    rng = np.random.default_rng(4)
    control = [(5000, int(rng.binomial(5000, 0.02))) for _ in range(12)]
    bold = [(5000, int(rng.binomial(5000, 0.02))) for _ in range(11)] + [(60_000, 4_200)]
    _snapshots(experiment, make_publication, {"control": control, "bold": bold})
    result = experiments.analyse_experiment(experiment, now=T0 + timedelta(days=3))
    assert result["decision"]["action"] == "keep_running", result["decision"]["sentence"]
    arms = {a["key"]: a for a in result["report"]["arms"]}
    assert arms["bold"]["design_effect"] > 20

    naive = analyse(
        [
            ArmCounts(k, sum(c[0] for c in posts), sum(c[1] for c in posts))
            for k, posts in (("control", control), ("bold", bold))
        ],
        control="control",
        metric_name="ctr",
        planned_weights={"control": 1, "bold": 1},
        mde=0.1,
        allocation_counts={"control": 12, "bold": 12},
    )
    assert naive.decision.action == "ship"


def test_few_publications_keep_running_whatever_the_counts(experiment, make_publication, actor):
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    _snapshots(
        experiment,
        make_publication,
        {"control": [(50_000, 1000)] * 3, "bold": [(50_000, 2000)] * 3},
    )
    result = experiments.analyse_experiment(experiment, now=T0 + timedelta(days=3))
    decision = result["decision"]
    assert decision["action"] == "keep_running"
    assert "at least 10 publications" in decision["sentence"]
