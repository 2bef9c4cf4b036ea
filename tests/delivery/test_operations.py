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
        "kairos.evergreen_refill",
        "kairos.listening_collect",
        "kairos.listening_retention",
        "kairos.listening_surges",
        "kairos.login_records_purge",
        "kairos.moment_readiness",
        "kairos.planner_statistics",
        "kairos.refresh_tokens",
        "kairos.sweep",
        "kairos.task_failures_purge",
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


def _published(brand, actor, n: int) -> list[int]:
    sandbox = channel(brand, audience=5000, seed=1)
    for _ in range(n):
        scheduled_item(brand, actor, channels=[sandbox])
    dispatch_due()
    ids = list(
        Publication.objects.filter(status=PublicationStatus.PUBLISHED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert len(ids) == n
    return ids


def test_a_collection_run_is_queued_as_bounded_tasks(brand, actor, settings, monkeypatch) -> None:
    from calendar_app import metrics

    settings.KAIROS_METRICS_BATCH = 3
    ids = _published(brand, actor, 7)
    queued = []
    monkeypatch.setattr(metrics, "async_task", lambda func, batch, **options: queued.append(batch))
    assert tasks.collect_metrics() == 3  # the schedule's task reads ids and queues, nothing more
    assert [len(batch) for batch in queued] == [3, 3, 1]
    assert sorted(pk for batch in queued for pk in batch) == ids
    assert not MetricSnapshot.objects.exists()
    assert sum(tasks.collect_metrics_batch(batch) for batch in queued) == 7
    assert MetricSnapshot.objects.count() == 7


def test_the_cost_of_a_publication_in_a_batch_is_flat(brand, actor) -> None:
    """SQL per batch: the same for 2, 4 or 8 publications (one load, one insert)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ids = _published(brand, actor, 14)
    counts = []
    for batch in (ids[:2], ids[2:6], ids[6:14]):
        with CaptureQueriesContext(connection) as queries:
            assert tasks.collect_metrics_batch(batch) == len(batch)
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2], counts
    assert MetricSnapshot.objects.count() == 14


def test_the_monitor_keeps_no_successful_result_and_purges_old_failures() -> None:
    """A success costs the monitor no query at all (it used to load and unpickle the 1,000 kept
    results to prune one); a failure is kept, then purged after the retention."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.models import Failure, Task
    from django_q.monitor import save_task

    assert Conf.SAVE_LIMIT == -1
    now = timezone.now()
    task = {
        "id": "t1",
        "name": "one",
        "func": "calendar_app.tasks.sweep",
        "args": (),
        "kwargs": {},
        "started": now,
        "stopped": now,
        "result": {},
        "success": True,
        "group": None,
    }
    with CaptureQueriesContext(connection) as queries:
        save_task(task, get_broker())
    assert len(queries) == 0 and not Task.objects.exists()
    save_task({**task, "id": "t2", "name": "two", "success": False}, get_broker())
    assert Failure.objects.count() == 1
    assert tasks.purge_task_failures(now=now + timedelta(days=13)) == 0
    assert tasks.purge_task_failures(now=now + timedelta(days=15)) == 1
