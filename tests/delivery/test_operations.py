"""Metrics collection, the health report, the dispatcher loop and the named schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from calendar_app import tasks
from calendar_app.delivery.dispatcher import Dispatcher, beat, dispatch_due
from calendar_app.delivery.health import health_report
from calendar_app.metrics import collect_recent
from calendar_app.models import MetricSnapshot, Publication, PublicationStatus, WorkerHeartbeat
from calendar_app.schedules import sync_schedules
from tests.delivery.conftest import channel, scheduled_item

pytestmark = pytest.mark.django_db


def test_metrics_are_collected_for_recent_publications(brand, actor) -> None:
    item = scheduled_item(
        brand, actor, channels=[channel(brand, audience=5000, rates={"ctr": 0.05}, seed=3)]
    )
    dispatch_due()
    assert collect_recent(now=timezone.now() + timedelta(hours=6)) == 1
    snapshot = MetricSnapshot.objects.get(publication__content_item=item)
    assert snapshot.impressions is not None and snapshot.clicks is not None
    assert snapshot.workspace_id == brand.workspace_id
    assert collect_recent(now=timezone.now() + timedelta(days=30)) == 0


def test_health_degrades_without_heartbeats_and_with_stuck_publications(
    brand, actor, client
) -> None:
    healthy, body = health_report()
    assert not healthy and "no dispatcher has ever reported" in body["problems"]
    beat("d1", "dispatcher")
    tasks.worker_heartbeat()
    healthy, body = health_report()
    assert healthy, body
    item = scheduled_item(brand, actor, when=timezone.now() - timedelta(minutes=10))
    healthy, body = health_report()
    assert not healthy and body["oldest_overdue_seconds"] >= 600
    dispatch_due()
    assert item.publications.get().status == PublicationStatus.PUBLISHED
    WorkerHeartbeat.objects.filter(role="worker").update(
        beat_at=timezone.now() - timedelta(minutes=5)
    )
    healthy, body = health_report()
    assert any("worker last reported" in p for p in body["problems"])


def test_health_endpoint_answers_503_when_degraded(client) -> None:
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    beat("d1", "dispatcher")
    tasks.worker_heartbeat()
    assert client.get("/health/").status_code == 200


def test_dispatcher_loop_dispatches_recovers_and_beats(brand, actor) -> None:
    item = scheduled_item(brand, actor)
    loop = Dispatcher(interval=0.05, name="test-dispatcher")
    loop.run(max_seconds=0.2)
    assert loop.woken == 1
    assert item.publications.get().status == PublicationStatus.PUBLISHED
    assert WorkerHeartbeat.objects.filter(name="test-dispatcher", role="dispatcher").exists()
    assert WorkerHeartbeat.objects.filter(role="worker").exists()


def test_sweep_task_picks_up_overdue_work(brand, actor) -> None:
    item = scheduled_item(brand, actor, when=timezone.now() - timedelta(seconds=30))
    assert tasks.sweep() == {"recovered": 0, "woken": 1, "settled": 0}
    assert item.publications.get().status == PublicationStatus.PUBLISHED


def test_schedules_are_created_once_by_name() -> None:
    sync_schedules()
    sync_schedules()
    names = list(Schedule.objects.filter(name__startswith="kairos.").values_list("name", flat=True))
    assert sorted(names) == [
        "kairos.approvals_escalate",
        "kairos.approvals_expire",
        "kairos.channel_facts",
        "kairos.collect_metrics",
        "kairos.crisis_auto_end",
        "kairos.listening_collect",
        "kairos.listening_retention",
        "kairos.listening_surges",
        "kairos.login_records_purge",
        "kairos.moment_readiness",
        "kairos.sweep",
        "kairos.webhooks_sweep",
    ]
    assert Schedule.objects.get(name="kairos.sweep").func == "calendar_app.tasks.sweep"


def test_deliver_task_reports_outcome(brand, actor) -> None:
    item = scheduled_item(brand, actor)
    publication = item.publications.get()
    assert tasks.deliver(publication.pk) == "published"
    assert tasks.deliver(publication.pk) == "not-claimed"


def _healthy_processes() -> None:
    beat("d1", "dispatcher")
    tasks.worker_heartbeat()


def test_health_tells_the_truth_within_the_recovery_bound(brand, actor, settings) -> None:
    settings.KAIROS_RECOVERY_BOUND = 15
    _healthy_processes()
    item = scheduled_item(brand, actor, when=timezone.now() - timedelta(seconds=10))
    healthy, body = health_report()
    assert healthy, "due for 10 s: still within the promise"
    healthy, body = health_report(now=timezone.now() + timedelta(seconds=6))
    assert (
        not healthy and "without a worker taking it (the promise is 15 s)" in body["problems"][-1]
    )
    assert body["recovery_bound_seconds"] == 15
    dispatch_due()
    assert item.publications.get().status == PublicationStatus.PUBLISHED


def test_health_sees_a_lapsed_claim_that_nobody_released(brand, actor, settings) -> None:
    from tests.delivery.conftest import claimed_by

    settings.KAIROS_RECOVERY_BOUND = 15
    _healthy_processes()
    publication = scheduled_item(brand, actor).publications.get()
    claimed_by("a-dead-worker", publication, started=True)
    Publication.objects.filter(pk=publication.pk).update(
        claim_expires_at=timezone.now() - timedelta(seconds=20)
    )
    healthy, body = health_report()
    assert not healthy and "nobody released it" in body["problems"][-1]
    assert body["oldest_lapsed_claim_seconds"] >= 20
