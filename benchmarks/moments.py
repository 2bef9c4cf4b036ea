"""Moment figures: the readiness check of a moment arming 10 templates × 6 channels, and the
time from a fire in the moment's window to its first post.

* ``readiness``: wall time of one readiness check (every template rendered with its sample
  values and validated per channel, each of the 6 sandbox channels' credentials renewed where
  the network allows and connection tested once, headroom and daily caps, links - asked for
  real, over HTTP, from a loopback server the run allows -, crisis), p50 and p95 over repeated
  runs, and the SQL statements per check.
* ``fire_to_first_post``: a template armed on 6 sandbox channels fired through the moment
  (:func:`calendar_app.moments.services.fire`) with the task queue run synchronously (django-q
  ``sync``: the worker runs in this process as the fire commits), so the figure is Kairos's own
  path - render, create, enqueue, claim, post - without a cluster's polling interval.

``python -m benchmarks moments [--quick]`` runs it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.stats import percentile, summary

TEMPLATES, CHANNELS = 10, 6


def _fixtures(fires: int, link_base: str):
    from django.contrib.auth import get_user_model

    from calendar_app.models import (
        Brand,
        Channel,
        Membership,
        Moment,
        ReactiveTemplate,
        Role,
        Workspace,
    )
    from calendar_app.reactive import approve_template
    from calendar_app.workflow import Actor

    stamp = time.monotonic_ns()
    workspace = Workspace.objects.create(name="Bench", slug=f"bench-moments-{stamp}")
    user = get_user_model().objects.create_user(f"moments{stamp}", password="x")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    actor = Actor.for_user(user, workspace)
    brand = Brand.objects.create(workspace=workspace, name="Bench brand", slug="bench")
    channels = [
        Channel.objects.create(
            workspace=workspace,
            brand=brand,
            network="sandbox",
            handle=f"@moment{i}",
            daily_post_cap=10_000,
        )
        for i in range(CHANNELS)
    ]
    templates = []
    for i in range(TEMPLATES):
        template = ReactiveTemplate.objects.create(
            workspace=workspace,
            brand=brand,
            name=f"Reaction {i}",
            body=f"{{{{ player }}}} does it again ({i})! {{{{ minute }}}}' #final",
            links=[link_base + "/live/{{ minute }}"],
            cooldown=timedelta(0),
            max_fires=fires + 1,
        )
        template.channels.set(channels)
        templates.append(approve_template(template, actor))
    now = timezone.now()
    moment = Moment.objects.create(
        workspace=workspace,
        brand=brand,
        name="Bench final",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=2),
        sample_values={"player": "Kylian Mbappé", "minute": "90+3"},
    )
    moment.templates.set(templates)
    return moment, templates, actor


def _p50_p95(values: list[float], unit: str = "ms") -> dict:
    return {**summary(values, unit=unit, digits=2), "p95": round(percentile(values, 95), 2)}


def run(*, quick: bool, scratch: Path) -> dict:
    import os

    from django.conf import settings
    from django_q.conf import Conf

    from calendar_app.models import Fire
    from calendar_app.moments import readiness, services
    from publishers.testing import FakeServer

    repeats = 5 if quick else 20
    fires = 5 if quick else 20
    checks, queries, greens, links = [], [], set(), set()
    allowed = os.environ.get("KAIROS_ALLOW_PRIVATE_NETWORKS")
    os.environ["KAIROS_ALLOW_PRIVATE_NETWORKS"] = readiness.LINK_CHECK
    checking = settings.KAIROS_READINESS_CHECK_LINKS
    settings.KAIROS_READINESS_CHECK_LINKS = True
    try:
        with FakeServer() as site:  # the templates' link target, asked for real over HTTP
            moment, templates, actor = _fixtures(fires, site.url)
            for _ in range(repeats):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    report = readiness.check(moment)
                    checks.append((time.perf_counter() - started) * 1000)
                queries.append(len(captured))
                greens.add((report["green"], report["red"]))
                links.add(report["links_checked"])
    finally:
        settings.KAIROS_READINESS_CHECK_LINKS = checking
        if allowed is None:
            os.environ.pop("KAIROS_ALLOW_PRIVATE_NETWORKS", None)
        else:
            os.environ["KAIROS_ALLOW_PRIVATE_NETWORKS"] = allowed
    was_sync = Conf.SYNC
    Conf.SYNC = True
    try:
        first = []
        for index in range(fires):
            fired = services.fire(
                moment, templates[0].pk, actor, {"player": f"P{index}", "minute": str(index)}
            )
            fired = Fire.objects.get(pk=fired.pk)
            if fired.first_delivered_at is not None:
                first.append((fired.first_delivered_at - fired.fired_at).total_seconds() * 1000)
    finally:
        Conf.SYNC = was_sync
    return {
        "templates_x_channels": f"{TEMPLATES}x{CHANNELS}",
        "green_red": sorted(greens),
        "readiness": _p50_p95(checks),
        "queries_per_check": sorted(set(queries)),
        "links_asked_per_check": sorted(links),
        "fire_to_first_post": _p50_p95(first) if first else "no post delivered",
        "fires_delivered": f"{len(first)}/{fires}",
    }
