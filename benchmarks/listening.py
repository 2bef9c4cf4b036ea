"""Listening figures (issue 13):

* ``ingest``: messages stored per second by one worker reading the sandbox's seeded stream
  (the plugin's generation, classification - VADER, and the language guess for the messages
  the network does not tag - and the inserts), over repeated collection rounds.
* ``inbox``: the API's inbox page (50 messages) with ``stored`` messages in the workspace
  (1,000,000; 50,000 with ``--quick``): wall time p50/p95 and SQL statements per page, for the
  first page, a filtered page (negative and unanswered) and a following cursor page.

``python -m benchmarks listening [--quick]`` runs it.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.stats import summary


def _workspace():
    from calendar_app.models import Brand, Channel, Workspace

    stamp = time.monotonic_ns()
    workspace = Workspace.objects.create(name="Bench", slug=f"bench-listen-{stamp}")
    brand = Brand.objects.create(workspace=workspace, name="Acme", slug=f"acme-{stamp}")
    return workspace, brand, Channel


def _ingest(quick: bool) -> dict:
    from calendar_app.listening.collect import collect_channel

    workspace, brand, Channel = _workspace()
    rate = 1000 if quick else 5000  # mentions per hour over the day the sandbox looks back
    channel = Channel.objects.create(
        workspace=workspace,
        brand=brand,
        network="sandbox",
        handle="acme",
        settings={"mentions_per_hour": rate, "seed": 1},
    )
    stored, started = 0, time.perf_counter()
    while True:
        result = collect_channel(channel)
        if not result.stored:
            break
        stored += result.stored
    seconds = time.perf_counter() - started
    return {
        "messages": stored,
        "seconds": round(seconds, 2),
        "messages_per_second": round(stored / seconds, 1),
    }


def _fill(brand, channel, n: int) -> None:
    from calendar_app.listening.models import Message

    rng = random.Random(7)
    now = timezone.now()
    batch = []
    for i in range(n):
        tone = rng.choices(["positive", "neutral", "negative"], [4, 4, 2])[0]
        batch.append(
            Message(
                workspace_id=brand.workspace_id,
                brand=brand,
                channel=channel,
                kind=rng.choice(["reply", "mention", "watch"]),
                network_id=f"bench-{i}",
                author_handle=f"@person{rng.randrange(50_000)}@example.social",
                text="My acme order arrived broken" if tone == "negative" else "Love acme!",
                language="en",
                published_at=now - timedelta(seconds=i * 3),
                category="complaint" if tone == "negative" else "praise",
                tone=tone,
            )
        )
        if len(batch) == 10_000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)


def _inbox(quick: bool) -> dict:
    from rest_framework.test import APIClient

    from calendar_app.models import ApiToken, Role

    n = 50_000 if quick else 1_000_000
    workspace, brand, Channel = _workspace()
    channel = Channel.objects.create(
        workspace=workspace, brand=brand, network="sandbox", handle="acme-inbox"
    )
    started = time.perf_counter()
    _fill(brand, channel, n)
    fill_seconds = time.perf_counter() - started
    _, clear = ApiToken.issue(workspace=workspace, name="bench", role=Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear}")
    base = f"/api/v1/workspaces/{workspace.slug}/listening/messages/"
    client.get(base)  # warm-up (the token's last-used write)
    figures = {"stored": n, "fill_seconds": round(fill_seconds, 1)}
    for name, url in (
        ("first_page", base),
        ("negative_unanswered", base + f"?brand={brand.pk}&tone=negative&unanswered=true"),
        ("next_page", None),
    ):
        times, queries = [], set()
        for _ in range(5 if quick else 20):
            target = url or client.get(base).json()["next"]
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get(target)
                times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.content[:500]
            queries.add(len(captured))
        figures[name] = {**summary(times, "ms", 1), "queries": sorted(queries)}
    return figures


def run(*, quick: bool, scratch: Path) -> dict:
    return {"ingest": _ingest(quick), "inbox": _inbox(quick)}
