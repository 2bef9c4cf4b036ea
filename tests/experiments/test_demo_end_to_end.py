"""End to end: the sandbox network's true rates make the challenger better, and Kairos finds it.

Nothing is faked between the ends: content items go through the real workflow (scheduling
allocates each publication's variant), ``dispatch_due`` delivers them to the sandbox plugin
(django-q2 runs in sync mode in the tests, so delivery happens inline), ``collect_recent`` reads
the engagement the sandbox simulates from the channel's ``variant_rates``, and
``analyse_experiment`` decides from the database's counts.

The sandbox's clock is the real one, so ``ramp_seconds`` is 0: every post has reached its whole
audience by the time metrics are collected (``collect_recent(now=...)`` only sets the window of
publications it reads).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app import experiments, workflow
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.metrics import collect_recent
from calendar_app.models import ContentItem, MetricSnapshot, Publication, PublicationStatus, Role
from calendar_app.plugins_runtime import reset_plugins
from tests import factories as f

pytestmark = pytest.mark.django_db

TRUE_CTR = {"control": 0.020, "challenger": 0.032}


@pytest.fixture(autouse=True)
def sandbox_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KAIROS_SANDBOX_DIR", str(tmp_path / "sandbox"))
    reset_plugins()
    yield tmp_path / "sandbox"
    reset_plugins()


def _run_demo(brand, actor, rates: dict[str, float], items: int, seed: int):
    started = time.monotonic()
    editor, approver = actor(Role.EDITOR), actor(Role.APPROVER)
    channels = [
        f.ChannelFactory(
            brand=brand,
            workspace=brand.workspace,
            network="sandbox",
            handle=f"@demo{i}",
            settings={
                "audience": 3000,
                "ramp_seconds": 0,
                "seed": seed,
                "variant_rates": {key: {"ctr": ctr} for key, ctr in rates.items()},
            },
        )
        for i in range(2)
    ]
    experiment = f.ExperimentFactory(
        brand=brand, workspace=brand.workspace, name="Midnight CTA", minimum_detectable_effect=0.2
    )
    f.VariantFactory(experiment=experiment, key="control", is_control=True, cta_text="Shop now")
    f.VariantFactory(experiment=experiment, key="challenger", cta_text="Grab yours before midnight")
    experiments.start_experiment(experiment, editor)
    now = timezone.now()
    for i in range(items):
        item = ContentItem.objects.create(
            workspace=brand.workspace,
            brand=brand,
            title=f"Demo post {i}",
            body=f"Late-night deals, round {i}.",
            experiment=experiment,
        )
        item.channels.set(channels)
        workflow.submit(item, editor)
        workflow.approve(item, approver)
        # Due over the past day, so the allocation balances across hours as well as networks.
        workflow.schedule(item, approver, when=now - timedelta(hours=24) + timedelta(hours=i))

    publications = Publication.objects.filter(content_item__experiment=experiment)
    split = {
        key: publications.filter(variant__key=key).count() for key in ("control", "challenger")
    }
    assert split == {"control": items, "challenger": items}  # 2 channels x items, balanced

    assert dispatch_due(now=timezone.now()) >= 1  # wake-ups; sync django-q2 delivers inline
    assert publications.filter(status=PublicationStatus.PUBLISHED).count() == 2 * items

    assert collect_recent(now=timezone.now() + timedelta(hours=6)) == 2 * items
    assert MetricSnapshot.objects.filter(publication__in=publications).count() == 2 * items
    result = experiments.analyse_experiment(experiment, now=timezone.now() + timedelta(hours=6))
    return experiment, result, time.monotonic() - started


def test_the_analysis_ships_the_truly_better_challenger(brand, actor):
    experiment, result, seconds = _run_demo(brand, actor, TRUE_CTR, items=16, seed=11)
    decision = result["decision"]
    assert decision["action"] == "ship", decision["sentence"]
    assert decision["variant"] == "challenger"

    report = result["report"]
    arms = {a["key"]: a for a in report["arms"]}
    # The observed rates are close to the truths the sandbox drew from.
    for key, truth in TRUE_CTR.items():
        assert arms[key]["exposures"] == 16 * 3000
        assert arms[key]["rate"] == pytest.approx(truth, abs=0.004)
        assert arms[key]["clusters"] == 16  # one cluster per publication
        # Sandbox posts are binomial draws: little overdispersion to correct for.
        assert 1.0 <= arms[key]["design_effect"] < 2.0
    assert report["srm"]["flagged"] is False
    sequence = report["confidence_sequences"][0]
    assert sequence["lower"] > 0 and sequence["lower"] < 0.012 < sequence["upper"]

    experiments.record_decision(experiment, actor(Role.APPROVER))
    experiment.refresh_from_db()
    assert experiment.decided_variant.key == "challenger"
    assert seconds < 20


def test_equal_true_rates_ship_nothing(brand, actor):
    _experiment, result, _ = _run_demo(
        brand, actor, {"control": 0.025, "challenger": 0.025}, items=8, seed=5
    )
    assert result["decision"]["action"] in ("keep_running", "no_difference")
