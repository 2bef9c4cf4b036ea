"""Start, analyse, record the decision and promote the winner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from calendar_app import experiments
from calendar_app.models import ExperimentStatus, MetricSnapshot, Role
from tests import factories as f

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def test_start_validates_design(experiment, actor, brand):
    started = experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    assert started.status == ExperimentStatus.RUNNING and started.started_at == T0

    lonely = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=lonely, key="c", is_control=True)
    with pytest.raises(ValidationError) as err:
        experiments.start_experiment(lonely, actor(Role.EDITOR))
    assert "challenger" in str(err.value.message_dict["variants"])

    headless = f.ExperimentFactory(brand=brand, workspace=brand.workspace)
    f.VariantFactory(experiment=headless, key="a", cta_text="A")
    f.VariantFactory(experiment=headless, key="b", cta_text="B")
    with pytest.raises(ValidationError):
        experiments.start_experiment(headless, actor(Role.EDITOR))

    with pytest.raises(PermissionDenied):
        experiments.start_experiment(headless, actor(Role.VIEWER))


def _simulate(experiment, make_publication, rates, n_pubs, impressions, seed=1):
    rng = np.random.default_rng(seed)
    variants = {v.key: v for v in experiment.variants.all()}
    rows = []
    for i in range(n_pubs):
        for j, (key, rate) in enumerate(rates.items()):
            network = ("sandbox", "mastodon")[i % 2]
            pub = make_publication(variants[key], network=network)
            clicks = int(rng.binomial(impressions, rate))
            rows.append(
                MetricSnapshot(
                    workspace=pub.workspace,
                    publication=pub,
                    collected_at=T0 + timedelta(hours=i, minutes=j),
                    impressions=impressions,
                    clicks=clicks,
                )
            )
    MetricSnapshot.objects.bulk_create(rows)


def test_recommends_the_better_variant_once_enough_data(experiment, make_publication, actor):
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    experiment.refresh_from_db()
    early = experiments.analyse_experiment(experiment, now=T0 + timedelta(days=1))
    assert early["decision"]["action"] == "keep_running"

    _simulate(experiment, make_publication, {"control": 0.02, "bold": 0.03}, 10, 5000)
    result = experiments.analyse_experiment(experiment, now=T0 + timedelta(days=5))
    assert result["decision"]["action"] == "ship", result["decision"]
    assert result["decision"]["variant"] == "bold"
    assert result["decision"]["label"] == "Ship bold"
    assert result["report"]["srm"]["flagged"] is False


def test_record_decision_needs_approver_and_records(experiment, make_publication, actor):
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    _simulate(experiment, make_publication, {"control": 0.02, "bold": 0.03}, 10, 5000)
    with pytest.raises(PermissionDenied):
        experiments.record_decision(experiment, actor(Role.EDITOR))
    approver = actor(Role.APPROVER)
    experiments.record_decision(experiment, approver, now=T0 + timedelta(days=5))
    experiment.refresh_from_db()
    assert experiment.decision == "ship"
    assert experiment.decided_variant.key == "bold"
    assert experiment.decided_by == approver.user
    assert experiment.status == ExperimentStatus.DECIDED


def test_promote_winner(experiment, actor, brand, make_publication):
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, experiment=experiment
    )
    first = actor(Role.APPROVER)
    template.approved_version = template.version
    template.approved_hash = template.content_hash()
    template.approved_by = first.user
    template.save()
    assert template.is_approved
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    bold = experiment.variants.get(key="bold")

    with pytest.raises(PermissionDenied) as err:
        experiments.promote_winner(experiment, bold, actor(Role.EDITOR))
    assert "approver" in str(err.value)

    other = f.VariantFactory(experiment=f.ExperimentFactory(brand=brand, workspace=brand.workspace))
    approver = actor(Role.APPROVER)
    with pytest.raises(ValidationError):
        experiments.promote_winner(experiment, other, approver)

    with pytest.raises(ValidationError) as err:  # no data yet: nothing says it won
        experiments.promote_winner(experiment, bold, approver)
    assert "no data" in err.value.message_dict["variant"][0]

    _simulate(experiment, make_publication, {"control": 0.02, "bold": 0.03}, 10, 5000)
    promoted_at = T0 + timedelta(days=9)
    experiments.promote_winner(experiment, bold, approver, now=promoted_at)
    experiment.refresh_from_db()
    brand.refresh_from_db()
    template.refresh_from_db()
    assert brand.default_cta_text == "Grab yours before midnight"
    assert brand.default_cta_url == bold.cta_url
    assert (experiment.promoted_variant, experiment.promoted_by, experiment.promoted_at) == (
        bold,
        approver.user,
        promoted_at,
    )
    assert template.cta_text == "Grab yours before midnight"
    assert template.is_approved
    assert template.approved_by == approver.user and template.approved_at == promoted_at


def test_promotion_does_not_approve_unreviewed_template(experiment, actor, brand, make_publication):
    template = f.ReactiveTemplateFactory(
        brand=brand, workspace=brand.workspace, experiment=experiment
    )
    assert not template.is_approved
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    _simulate(experiment, make_publication, {"control": 0.02, "bold": 0.03}, 10, 5000)
    experiments.promote_winner(experiment, experiment.variants.get(key="bold"), actor(Role.ADMIN))
    template.refresh_from_db()
    assert template.cta_text == "Grab yours before midnight"
    assert not template.is_approved


def test_no_decision_is_recorded_while_a_variant_has_no_data(experiment, make_publication, actor):
    experiments.start_experiment(experiment, actor(Role.EDITOR), now=T0)
    _simulate(experiment, make_publication, {"control": 0.02}, 10, 5000)  # bold never shown
    result = experiments.analyse_experiment(experiment, now=T0 + timedelta(days=5))
    assert experiments.variants_without_data(result) == ["bold"]
    bold = next(a for a in result["report"]["arms"] if a["key"] == "bold")
    assert bold["chance_to_be_best"] is None and "no exposures" in bold["reason"]
    with pytest.raises(ValidationError) as err:
        experiments.record_decision(experiment, actor(Role.APPROVER), now=T0 + timedelta(days=5))
    assert "“bold” has no data" in err.value.message_dict["variant"][0]
    experiment.refresh_from_db()
    assert experiment.decision == "" and experiment.status == ExperimentStatus.RUNNING
    with pytest.raises(ValidationError) as err:
        experiments.promote_winner(
            experiment, experiment.variants.get(key="bold"), actor(Role.ADMIN)
        )
    assert "no data" in err.value.message_dict["variant"][0]
