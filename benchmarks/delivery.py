"""Delivery figures with a real django-q2 cluster (2 workers) and the dispatcher, on the sandbox network.

* ``lateness``: items due at staggered instants; time from due to the network's answer.
* ``fire_to_delivered``: a reactive template on 5 sandbox channels fired repeatedly; time from
  the fire to the first and to the last of its 5 posts.
* ``burst``: N publications due at the same second; throughput and lateness.
* ``sql_queries_per_delivery``: queries one delivery makes, counted in-process.
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


def measure_burst(count: int) -> dict:
    from calendar_app.models import ContentItem, ContentStatus, Publication

    per_item = 5
    _, brand, channels, _actor = _fixtures(per_item)
    due = timezone.now() + timedelta(seconds=10 + count / 200)
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
    ids = list(Publication.objects.filter(content_item__in=items).values_list("pk", flat=True))
    while timezone.now() < due:
        time.sleep(0.05)
    _wait_published(ids, timeout=600)
    rows = Publication.objects.filter(pk__in=ids)
    last = max(p.published_at for p in rows)
    elapsed = (last - due).total_seconds()
    return {
        "publications": len(ids),
        "drained_in_s": round(elapsed, 2),
        "throughput_per_s": round(len(ids) / elapsed, 1) if elapsed > 0 else None,
        "lateness": summary(_lateness_of(ids)),
    }


def measure_queries_per_delivery() -> dict:
    """One delivery in this process, queries counted (claim, attempt log, outcome, item status)."""
    from calendar_app.delivery import deliver_publication

    _, brand, channels, actor = _fixtures(1)
    item = _scheduled_items(brand, channels, actor, [timezone.now() - timedelta(seconds=1)])[0]
    publication = item.publications.get()
    with CaptureQueriesContext(connection) as queries:
        report = deliver_publication(publication.pk, worker="bench-inline")
    return {"queries": len(queries), "outcome": report.outcome if report else None}


def run(*, quick: bool, scratch: Path) -> dict:

    from calendar_app.models import WorkerHeartbeat
    from calendar_app.processes import ProcessGroup

    results: dict = {
        "queue": "django-q2 "
        + ("redis" if os.environ.get("KAIROS_REDIS_URL") else "orm")
        + " broker, 2 workers, dispatcher every 0.25 s"
    }
    results["sql_queries_per_delivery"] = measure_queries_per_delivery()
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
        results["burst"] = measure_burst(200 if quick else 2000)
        results["peak_rss_mib"] = {
            "qcluster_largest_process": peak_rss_mib(group.running["qcluster"].pid),
            "dispatcher": peak_rss_mib(group.running["dispatcher"].pid),
        }
    finally:
        group.stop_all()
    return results
