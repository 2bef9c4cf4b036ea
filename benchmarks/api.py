"""API figures with a realistic volume: 100,000 content items and 1,000 events in one workspace.

Requests go through Django's test ``Client`` in this process, with a real API token
(``ApiToken.issue``) in the ``Authorization`` header, so authentication, permissions, throttling,
serialization and pagination all run; only the HTTP server is left out. For each scenario:
latency (p50, p90, p99 in milliseconds) over N requests after a short warm-up, and the SQL queries
each request ran (``CaptureQueriesContext``).

* ``calendar_brand_month``: ``GET calendar/?brand=…`` for one month of one brand.
* ``calendar_workspace_month``: the same month for the whole workspace (every brand).
* ``content_items_first_page`` / ``content_items_deep_page``: the content item list (cursor
  pagination, 50 a page), its first page and a page reached by following ``next`` many times.

``--quick`` seeds 5,000 items and 100 events. The seed uses ``bulk_create`` in batches.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.stats import self_peak_rss_mib, summary

YEAR_START = datetime(2027, 1, 1, tzinfo=UTC)
BRAND_ZONES = ("Europe/Paris", "America/New_York", "UTC", "Asia/Tokyo", "Europe/London")
MONTH = ("2027-05-01", "2027-05-31")  # dates: the whole of May in the brand's zone / UTC


# --- URLs: the project's, plus the calendar route if config/urls.py does not serve it yet ------


def _calendar_urlconf() -> str | None:
    """``None`` when the project serves the calendar, else this module (see ``urlpatterns``)."""
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/v1/workspaces/x/calendar/")
        return None
    except Resolver404:
        return __name__


def __getattr__(name: str):
    # Built lazily (needs Django set up): used only as ROOT_URLCONF when the calendar route is
    # not wired into config/urls.py yet.
    if name == "urlpatterns":
        from django.urls import path

        from calendar_app.api.views.calendar import CalendarView
        from config.urls import urlpatterns as project

        return [
            path(
                "api/v1/workspaces/<slug:workspace_slug>/calendar/",
                CalendarView.as_view(),
                name="bench-calendar",
            ),
            *project,
        ]
    raise AttributeError(name)


# --- seed -------------------------------------------------------------------------------------


def seed(items: int, events: int, *, brands: int = 5, rng: random.Random) -> dict:
    from django.contrib.auth import get_user_model

    from calendar_app.fit_records import refresh_fits
    from calendar_app.models import (
        ApiToken,
        Brand,
        Channel,
        ContentItem,
        ContentStatus,
        Event,
        Membership,
        Publication,
        PublicationStatus,
        ReactiveTemplate,
        Role,
        Workspace,
    )
    from calendar_app.recurrence import last_occurrence_end

    started = time.monotonic()
    workspace = Workspace.objects.create(name="Bench API", slug=f"bench-api-{time.monotonic_ns()}")
    user = get_user_model().objects.create_user(f"benchapi{time.monotonic_ns()}", password="x")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    made_brands = [
        Brand.objects.create(
            workspace=workspace,
            name=f"Brand {i}",
            slug=f"brand-{i}",
            time_zone=BRAND_ZONES[i % len(BRAND_ZONES)],
            profile={"themes": ["sport", "music", "food"][i % 3 : i % 3 + 2], "values": ["fun"]},
        )
        for i in range(brands)
    ]
    channels = Channel.objects.bulk_create(
        Channel(
            workspace=workspace,
            brand=brand,
            network="sandbox",
            handle=f"@b{brand.pk}c{c}",
            secrets={},
        )
        for brand in made_brands
        for c in range(3)
    )
    by_brand = {b.pk: [c for c in channels if c.brand_id == b.pk] for b in made_brands}

    # Events: one-offs over the year, a fifth recurring (weekly, daily, monthly, endless yearly).
    rules = ["FREQ=WEEKLY;COUNT=20", "FREQ=DAILY;COUNT=10", "FREQ=MONTHLY", "FREQ=YEARLY"]
    themes = [["sport"], ["music"], ["food", "family"], ["fashion"], ["tech"]]
    rows = []
    for i in range(events):
        zone = BRAND_ZONES[i % len(BRAND_ZONES)]
        start = YEAR_START + timedelta(minutes=rng.randrange(0, 365 * 24 * 60, 15))
        end = start + timedelta(hours=rng.choice([1, 2, 4, 24, 72]))
        rule = rules[i % len(rules)] if i % 5 == 0 else ""
        rows.append(
            Event(
                workspace=workspace,
                title=f"Event {i}",
                starts_at=start,
                ends_at=end,
                time_zone=zone,
                rrule=rule,
                themes=themes[i % len(themes)],
                recurrence_ends_at=last_occurrence_end(
                    starts_at=start, ends_at=end, time_zone=zone, rule_text=rule
                ),
            )
        )
    made_events = Event.objects.bulk_create(rows, batch_size=500)
    refresh_fits(brands=made_brands, events=made_events)

    # Content items over the year: 15% drafts, 60% scheduled, 25% published (with a publication).
    through = ContentItem.channels.through
    batch = 2000
    statuses = [ContentStatus.DRAFT] * 3 + [ContentStatus.SCHEDULED] * 12
    statuses += [ContentStatus.PUBLISHED] * 5
    for offset in range(0, items, batch):
        chunk = []
        for i in range(offset, min(items, offset + batch)):
            brand = made_brands[i % brands]
            at = YEAR_START + timedelta(minutes=rng.randrange(0, 365 * 24 * 60, 5))
            chunk.append(
                ContentItem(
                    workspace=workspace,
                    brand=brand,
                    title=f"Post {i}",
                    body=f"Benchmark post {i} " + "lorem ipsum " * 10,
                    status=rng.choice(statuses),
                    scheduled_at=at,
                )
            )
        chunk = ContentItem.objects.bulk_create(chunk, batch_size=500)
        links, publications = [], []
        for item in chunk:
            picked = rng.sample(by_brand[item.brand_id], rng.randint(1, 3))
            links += [through(contentitem_id=item.pk, channel_id=c.pk) for c in picked]
            if item.status == ContentStatus.PUBLISHED:
                publications.append(
                    Publication(
                        workspace=workspace,
                        content_item=item,
                        channel=picked[0],
                        status=PublicationStatus.PUBLISHED,
                        due_at=item.scheduled_at,
                        next_attempt_at=item.scheduled_at,
                        published_at=item.scheduled_at + timedelta(seconds=rng.randint(1, 90)),
                    )
                )
        through.objects.bulk_create(links, batch_size=2000)
        Publication.objects.bulk_create(publications, batch_size=1000)

    ReactiveTemplate.objects.bulk_create(
        ReactiveTemplate(
            workspace=workspace,
            brand=made_brands[i % brands],
            name=f"Reaction {i}",
            body="What a moment: {{ moment }}!",
            valid_from=YEAR_START + timedelta(days=7 * i),
            valid_until=YEAR_START + timedelta(days=7 * i + 10),
        )
        for i in range(50)
    )
    _, clear = ApiToken.issue(workspace=workspace, name="bench", role=Role.VIEWER)
    return {
        "workspace": workspace,
        "brand": made_brands[0],
        "token": clear,
        "seconds": round(time.monotonic() - started, 1),
        "counts": {
            "content_items": ContentItem.objects.filter(workspace=workspace).count(),
            "events": Event.objects.filter(workspace=workspace).count(),
            "recurring_events": Event.objects.filter(workspace=workspace, rrule__gt="").count(),
            "channels_links": through.objects.filter(contentitem__workspace=workspace).count(),
            "publications": Publication.objects.filter(workspace=workspace).count(),
            "brands": brands,
        },
    }


# --- measure ----------------------------------------------------------------------------------


def measure(client, url: str, params: dict | None, requests: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
    latencies, queries = [], []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(url, params)
            latencies.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.content[:500]
        queries.append(len(captured))
    body = response.json()
    return {
        "latency_ms": summary(latencies, unit="ms", digits=1),
        "sql_queries_per_request": {"min": min(queries), "max": max(queries)},
        "rows_in_range": body.get("count"),
        "rows_on_page": len(body.get("results", [])),
        "response_kib": round(len(response.content) / 1024, 1),
    }


def _explain(workspace, brand) -> dict:
    """Which index each time-range query of the calendar uses (SQLite: EXPLAIN QUERY PLAN)."""
    from calendar_app.calendar_view import SCHEDULED_STATUSES
    from calendar_app.models import ContentItem, Event

    start, end = datetime(2027, 5, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    plans = {
        "events": Event.objects.visible_to(workspace).overlapping(start, end).order_by(),
        "content_brand": ContentItem.objects.filter(
            workspace=workspace,
            brand=brand,
            status__in=SCHEDULED_STATUSES,
            scheduled_at__gte=start,
            scheduled_at__lt=end,
        ),
        "content_workspace": ContentItem.objects.filter(
            workspace=workspace,
            status__in=SCHEDULED_STATUSES,
            scheduled_at__gte=start,
            scheduled_at__lt=end,
        ),
    }
    return {name: " | ".join(qs.explain().splitlines())[:300] for name, qs in plans.items()}


def run(*, quick: bool, scratch: Path) -> dict:
    from django.conf import settings
    from django.test import Client, override_settings

    items, events = (5_000, 100) if quick else (100_000, 1_000)
    requests = 20 if quick else 50
    world = seed(items, events, rng=random.Random(20270501))
    workspace, brand = world["workspace"], world["brand"]
    client = Client(HTTP_AUTHORIZATION=f"Token {world['token']}")
    base = f"/api/v1/workspaces/{workspace.slug}"
    urlconf = _calendar_urlconf()
    results: dict = {
        "seed": {"seconds": world["seconds"], **world["counts"]},
        "requests_per_scenario": requests,
        "transport": "django.test.Client in-process, real API token",
        "calendar_route": "config.urls" if urlconf is None else "benchmarks.api (not wired yet)",
    }
    calendar_params = {"start": MONTH[0], "end": MONTH[1], "page_size": 100}
    with override_settings(
        ROOT_URLCONF=urlconf or "config.urls",
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"api_key": "1000000/minute"},
        },
    ):
        results["calendar_brand_month"] = measure(
            client, f"{base}/calendar/", {**calendar_params, "brand": brand.pk}, requests
        )
        results["calendar_workspace_month"] = measure(
            client, f"{base}/calendar/", {**calendar_params, "tz": "Europe/Paris"}, requests
        )
        results["content_items_first_page"] = measure(
            client, f"{base}/content-items/", None, requests
        )
        depth = 20 if quick else 200
        url = f"{base}/content-items/"
        for _ in range(depth):
            url = client.get(url).json()["next"]
        results["content_items_deep_page"] = {
            "pages_deep": depth,
            **measure(client, url, None, requests),
        }
    results["query_plans"] = _explain(workspace, brand)
    results["peak_rss_mib"] = self_peak_rss_mib()
    return results
