"""Crisis figures: activating a playbook over 1,000 scheduled publications, and resuming them.

* ``activation``: wall time of ``activate()`` (one transaction: the hold, its record, the
  holding statement offered, the ``crisis.activated`` event for one webhook subscription), p50
  and p95 over repeated runs, and the SQL statements per activation (constant: set-based).
* ``resume``: wall time of resuming all of them (each judged by its lateness policy).
* ``drill``: wall time of a drill (the activation run and rolled back, plus its report).

The target from issue 11: activation under one second, in one transaction, with 1,000 in scope.
``python -m benchmarks crisis [--quick]`` runs it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.stats import percentile, summary


def _fixtures(n: int):
    from django.contrib.auth import get_user_model

    from calendar_app.crisis.models import Playbook
    from calendar_app.models import (
        Brand,
        Channel,
        ContentItem,
        ContentStatus,
        Membership,
        Publication,
        ReactiveTemplate,
        Role,
        WebhookSubscription,
        Workspace,
    )
    from calendar_app.workflow import Actor

    stamp = time.monotonic_ns()
    workspace = Workspace.objects.create(name="Bench", slug=f"bench-crisis-{stamp}")
    user = get_user_model().objects.create_user(f"crisis{stamp}", password="x")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    brand = Brand.objects.create(workspace=workspace, name="Bench brand", slug="bench")
    channels = [
        Channel.objects.create(
            workspace=workspace, brand=brand, network="sandbox", handle=f"@crisis{i}"
        )
        for i in range(4)
    ]
    due = timezone.now() + timedelta(hours=6)
    items = ContentItem.objects.bulk_create(
        [
            ContentItem(
                workspace=workspace,
                brand=brand,
                title=f"Scheduled {i}",
                body="An evergreen post",
                status=ContentStatus.SCHEDULED,
                scheduled_at=due,
            )
            for i in range(n // len(channels))
        ]
    )
    if items and items[0].pk is None:
        items = list(ContentItem.objects.filter(brand=brand))
    Publication.objects.bulk_create(
        [
            Publication(
                workspace=workspace, content_item=item, channel=c, due_at=due, next_attempt_at=due
            )
            for item in items
            for c in channels
        ]
    )
    holding = ReactiveTemplate.objects.create(
        workspace=workspace, brand=brand, name="Holding", body="We are on it."
    )
    holding.channels.set(channels)
    WebhookSubscription.objects.create(
        workspace=workspace, url="https://hooks.example.com/kairos", secret={"current": "x"}
    )
    playbook = Playbook.objects.create(workspace=workspace, brand=brand, name="Outage")
    playbook.holding_templates.set([holding])
    return playbook, Actor.for_user(user, workspace)


def _p50_p95(values: list[float]) -> dict:
    return {
        **summary(values, unit="ms", digits=2),
        "p95": round(percentile(values, 95), 2),
    }


def run(*, quick: bool, scratch: Path) -> dict:
    from calendar_app.crisis.services import activate, drill, resume

    n = 1_000
    repeats = 5 if quick else 20
    playbook, actor = _fixtures(n)
    activations, resumes, drills, queries, held = [], [], [], [], set()
    for _ in range(repeats):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            activation = activate(playbook, actor, "benchmark")
            activations.append((time.perf_counter() - started) * 1000)
        queries.append(len(captured))
        held.add(activation.held_count)
        started = time.perf_counter()
        resume(activation, actor)
        resumes.append((time.perf_counter() - started) * 1000)
    for _ in range(max(2, repeats // 4)):
        started = time.perf_counter()
        drill(playbook, actor, "benchmark")
        drills.append((time.perf_counter() - started) * 1000)
    return {
        "publications_in_scope": sorted(held),
        "activation": _p50_p95(activations),
        "activation_target_ms": 1000,
        "queries_per_activation": sorted(set(queries)),
        "resume_all": _p50_p95(resumes),
        "drill": _p50_p95(drills),
    }
