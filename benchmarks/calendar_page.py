"""The admin calendar's cost, server side: a month holding 5,000 posts and 200 events.

For each view (the month of all brands, the month of one brand, a week, the list), the figures are
the wall time of the whole request through Django's test client (middleware, view, template),
p50 and p95 over repeated runs, the SQL statements per page, and the page's size as sent (raw)
and gzip-compressed (what a proxy with compression sends over the wire; Kairos itself does not
compress). Static files (one small CSS and one small JS file) are not counted.

``python -m benchmarks calendar_page [--quick]`` runs it.
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks.stats import summary

MONTH = (2031, 5)
STATES = ["draft", "in_review", "approved", "scheduled", "published", "failed"]


def _fixtures(items: int, events: int):
    from django.contrib.auth import get_user_model

    from calendar_app.models import Brand, ContentItem, Event, Membership, Role, Workspace

    stamp = time.monotonic_ns()
    workspace = Workspace.objects.create(name="Bench", slug=f"bench-calendar-{stamp}")
    user = get_user_model().objects.create_user(f"cal{stamp}", password="x", is_staff=True)
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    brands = [
        Brand.objects.create(
            workspace=workspace, name=f"Brand {i}", slug=f"b{i}", time_zone="Europe/Paris"
        )
        for i in range(3)
    ]
    start = datetime(*MONTH, 1, 6, tzinfo=UTC)
    seconds = 30 * 86400 - 12 * 3600
    ContentItem.objects.bulk_create(
        [
            ContentItem(
                workspace=workspace,
                brand=brands[i % 3],
                title=f"Post number {i} of the month",
                body="Body",
                status=STATES[i % len(STATES)],
                scheduled_at=start + timedelta(seconds=(i * 7919) % seconds),
            )
            for i in range(items)
        ],
        batch_size=1000,
    )
    for i in range(events):
        begins = start + timedelta(hours=(i * 37) % (29 * 24))
        Event.objects.create(
            workspace=workspace,
            title=f"Event {i}",
            time_zone="Europe/Paris",
            starts_at=begins,
            ends_at=begins + timedelta(hours=2 + (i % 5) * 24),
        )
    return workspace, brands, user


def run(quick: bool = False, scratch: Path | None = None) -> dict:
    items, events, runs = (500, 20, 3) if quick else (5000, 200, 10)
    _, brands, user = _fixtures(items, events)
    client = Client()
    client.force_login(user)
    url = "/admin/calendar_app/contentitem/calendar/"
    pages = {
        "month_all_brands": {"date": f"{MONTH[0]}-{MONTH[1]:02d}-01", "all_events": "1"},
        "month_one_brand": {"date": f"{MONTH[0]}-{MONTH[1]:02d}-01", "brand": brands[0].pk},
        "week_all_brands": {"date": f"{MONTH[0]}-{MONTH[1]:02d}-12", "view": "week"},
        "list_all_brands": {"date": f"{MONTH[0]}-{MONTH[1]:02d}-01", "view": "list"},
    }
    figures: dict = {"items_in_month": items, "events_in_month": events, "runs": runs}
    for name, params in pages.items():
        client.get(url, params)  # warm: templates compiled, caches filled
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url, params)
                times.append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
        body = response.content
        figures[name] = {
            "time": summary(times),
            "sql_queries": len(queries.captured_queries),
            "bytes": len(body),
            "bytes_gzip": len(gzip.compress(body)),
        }
    return figures
