"""Delivery figures with a real django-q2 cluster (2 workers) and the dispatcher, on the sandbox network.

* ``per_delivery``: SQL statements and worker CPU per delivery, for a drain of 500 publications
  in this process (amortised over claims and item settling, as a worker sees them).
* ``lateness``: items due at staggered instants in a calm period; time from due to the answer.
* ``fire_to_delivered``: a reactive template on 5 sandbox channels fired repeatedly; time from
  the fire to the first and to the last of its 5 posts.
* ``bursts``: 2,000 and 10,000 publications due at the same second; drain time and throughput,
  and the same cluster's *ceiling* measured in the same run: django-q2 tasks that each do 25
  single-row UPDATEs and nothing else (what the queue and the database allow), with Kairos'
  throughput as a ratio of it.
* ``recovery_after_kill``: a worker SIGKILLed while it holds a publication (the receiver holds
  the request); time from the kill to the publication published by another worker.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.stats import peak_rss_mib, summary


def _fixtures(channels: int):
    from django.contrib.auth import get_user_model

    from calendar_app.models import Brand, Channel, Membership, Role, Workspace
    from calendar_app.workflow import Actor

    workspace = Workspace.objects.create(name="Bench", slug=f"bench-{time.monotonic_ns()}")
    user = get_user_model().objects.create_user(f"bench{time.monotonic_ns()}", password="x")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    brand = Brand.objects.create(
        workspace=workspace, name="Bench brand", slug="bench", time_zone="Europe/Paris"
    )
    made = [
        Channel.objects.create(
            workspace=workspace,
            brand=brand,
            network="sandbox",
            handle=f"@bench{i}",
            settings={"audience": 1000},
        )
        for i in range(channels)
    ]
    return workspace, brand, made, Actor.for_user(user, workspace)


def _scheduled_items(brand, channels, actor, due_times):
    from calendar_app import workflow
    from calendar_app.models import ContentItem

    items = []
    for index, due in enumerate(due_times):
        item = ContentItem.objects.create(
            workspace=brand.workspace,
            brand=brand,
            title=f"bench {index}",
            body=f"Benchmark post {index}",
        )
        item.channels.set(channels)
        workflow.submit(item, actor)
        workflow.approve(item, actor)
        workflow.schedule(item, actor, when=due)
        items.append(item)
    return items


def _wait_published(publication_ids: list[int], timeout: float) -> None:
    from calendar_app.models import Publication, PublicationStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = (
            Publication.objects.filter(pk__in=publication_ids)
            .exclude(status__in=PublicationStatus.final_states())
            .count()
        )
        if not left:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{left} publication(s) not delivered within {timeout:.0f}s")


def _lateness_of(publication_ids: list[int]) -> list[float]:
    from calendar_app.models import Publication

    rows = Publication.objects.filter(pk__in=publication_ids, published_at__isnull=False)
    return [(p.published_at - p.due_at).total_seconds() for p in rows]


def measure_lateness(count: int) -> dict:
    _, brand, channels, actor = _fixtures(1)
    start = timezone.now() + timedelta(seconds=4)
    items = _scheduled_items(
        brand, channels, actor, [start + timedelta(seconds=0.25 * i) for i in range(count)]
    )
    ids = [p.pk for item in items for p in item.publications.all()]
    _wait_published(ids, timeout=60 + count)
    return summary(_lateness_of(ids))


def measure_fire(fires: int) -> dict:
    from calendar_app.models import Fire, PublicationStatus, ReactiveTemplate
    from calendar_app.reactive import approve_template, fire_template

    _, brand, channels, actor = _fixtures(5)
    template = ReactiveTemplate.objects.create(
        workspace=brand.workspace,
        brand=brand,
        name="Blackout",
        body="Power's out? {{ line }}",
        cooldown=timedelta(0),
        max_fires=fires + 1,
    )
    template.channels.set(channels)
    approve_template(template, actor)
    first, last = [], []
    for index in range(fires):
        fire = fire_template(template, actor, {"line": f"still crunching #{index}"})
        ids = list(fire.content_item.publications.values_list("pk", flat=True))
        _wait_published(ids, timeout=60)
        fire = Fire.objects.get(pk=fire.pk)
        assert (
            fire.content_item.publications.filter(status=PublicationStatus.PUBLISHED).count() == 5
        )
        first.append((fire.first_delivered_at - fire.fired_at).total_seconds())
        last.append((fire.last_delivered_at - fire.fired_at).total_seconds())
    return {"channels": 5, "first_post": summary(first), "all_five_posts": summary(last)}


def _bulk_burst(count: int, due, per_item: int = 5) -> list[int]:
    from calendar_app.models import ContentItem, ContentStatus, Publication

    _, brand, channels, _actor = _fixtures(per_item)
    items = ContentItem.objects.bulk_create(
        ContentItem(
            workspace=brand.workspace,
            brand=brand,
            title=f"burst {i}",
            body=f"Burst post {i}",
            status=ContentStatus.SCHEDULED,
            scheduled_at=due,
        )
        for i in range(count // per_item)
    )
    Publication.objects.bulk_create(
        Publication(
            workspace=brand.workspace,
            content_item=item,
            channel=channel,
            due_at=due,
            next_attempt_at=due,
        )
        for item in items
        for channel in channels
    )
    return list(Publication.objects.filter(content_item__in=items).values_list("pk", flat=True))


def measure_per_delivery(count: int = 500) -> dict:
    """A worker's drain in this process: statements and CPU per delivery, amortised."""
    from calendar_app.delivery import runner

    ids = _bulk_burst(count, timezone.now() - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes = runner.drain(budget=600)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "publications": len(ids),
        "outcomes": outcomes,
        "sql_statements_per_delivery": round(len(queries) / len(ids), 2),
        "worker_cpu_ms_per_delivery": round(1000 * cpu / len(ids), 2),
        "wall_ms_per_delivery": round(1000 * wall / len(ids), 2),
    }


def measure_ceiling(rows: int) -> dict:
    """django-q2 tasks doing 25 single-row UPDATEs each: the queue's and database's own pace."""
    from django_q.tasks import async_task

    from calendar_app.models import Publication

    ids = _bulk_burst(rows, timezone.now() + timedelta(days=365))
    Publication.objects.filter(pk__in=ids).update(external_id="")
    started = time.monotonic()
    for i in range(0, len(ids), 25):
        async_task("benchmarks.noop.touch", ids[i : i + 25], save=False)
    deadline = started + 600
    while Publication.objects.filter(pk__in=ids, external_id="").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the no-op tasks did not finish")
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    return {
        "rows": len(ids),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(len(ids) / elapsed, 1),
    }


def measure_burst(count: int) -> dict:
    due = timezone.now() + timedelta(seconds=5 + count / 1000)
    ids = _bulk_burst(count, due)
    while timezone.now() < due:
        time.sleep(0.05)
    _wait_published(ids, timeout=900)
    from calendar_app.models import Publication

    last = max(Publication.objects.filter(pk__in=ids).values_list("published_at", flat=True))
    elapsed = (last - due).total_seconds()
    return {
        "publications": len(ids),
        "drained_in_s": round(elapsed, 2),
        "throughput_per_s": round(len(ids) / elapsed, 1) if elapsed > 0 else None,
        "lateness": summary(_lateness_of(ids)),
    }


def measure_bursts(sizes: list[int]) -> dict:
    results = {}
    for size in sizes:
        ceiling = measure_ceiling(min(size, 2000))
        burst = measure_burst(size)
        burst["ceiling_rows_per_s"] = ceiling["rows_per_s"]
        burst["ratio_to_ceiling"] = round(burst["throughput_per_s"] / ceiling["rows_per_s"], 3)
        results[str(size)] = burst
    return results


def measure_recovery(kills: int) -> dict:
    """Kill the worker that holds a publication; time until another worker has published it."""
    import signal
    import threading

    from calendar_app.models import Channel, Publication
    from publishers.testing import FakeServer, Reply

    held = threading.Event()
    seen: set[str] = set()

    def receiver(request):
        key = request.headers["idempotency-key"]
        if key not in seen:  # the first request of each post hangs: its worker is then killed
            seen.add(key)
            held.set()
            return Reply(200, json={"id": key}, delay=30)
        return Reply(200, json={"id": key})

    times = []
    with FakeServer(handler=receiver) as server:
        workspace, brand, _, _ = _fixtures(0)
        hook = Channel.objects.create(
            workspace=workspace,
            brand=brand,
            network="webhook",
            handle="@recovery",
            settings={"url": server.url + "/posts", "read_timeout": 60},
            secrets={"signing_secret": "benchmark-secret"},
        )
        for _ in range(kills):
            held.clear()
            ids = _bulk_burst(1, timezone.now(), per_item=1)
            Publication.objects.filter(pk__in=ids).update(channel=hook)
            if not held.wait(30):
                raise TimeoutError("the receiver never saw the post")
            time.sleep(0.2)
            owner = Publication.objects.get(pk=ids[0]).claimed_by
            pid = int(owner.split(":")[1])
            killed_at = timezone.now()
            os.kill(pid, signal.SIGKILL)
            _wait_published(ids, timeout=120)
            published = Publication.objects.get(pk=ids[0]).published_at
            times.append((published - killed_at).total_seconds())
    return summary(times)


def run(*, quick: bool, scratch: Path) -> dict:

    from calendar_app.models import WorkerHeartbeat
    from calendar_app.processes import ProcessGroup

    os.environ["KAIROS_ALLOW_PRIVATE_NETWORKS"] = "webhook"  # the recovery receiver is on loopback
    results: dict = {
        "queue": "django-q2 "
        + ("redis" if os.environ.get("KAIROS_REDIS_URL") else "orm")
        + " broker, 2 workers, dispatcher every 0.25 s"
    }
    results["per_delivery"] = measure_per_delivery(100 if quick else 500)
    group = ProcessGroup(log_dir=scratch)
    try:
        group.start("qcluster", "qcluster")
        group.start("dispatcher", "run_dispatcher")
        deadline = time.monotonic() + 60
        while not WorkerHeartbeat.objects.filter(role="worker").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not start:\n" + group.logs())
            time.sleep(0.2)
        results["lateness"] = measure_lateness(10 if quick else 60)
        results["fire_to_delivered"] = measure_fire(5 if quick else 30)
        results["bursts"] = measure_bursts([200] if quick else [2000, 10000])
        results["recovery_after_kill"] = measure_recovery(2 if quick else 10)
        results["peak_rss_mib"] = {
            "qcluster_largest_process": peak_rss_mib(group.running["qcluster"].pid),
            "dispatcher": peak_rss_mib(group.running["dispatcher"].pid),
        }
    finally:
        group.stop_all()
    return results
