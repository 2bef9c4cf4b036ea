"""API figures with a realistic volume, measured from outside: 100,000 content items and 1,000
events in one workspace, served by gunicorn (4 sync workers) to 8 concurrent clients.

For each scenario the same server also serves a *bare* Django view (constant JSON, same
middleware) for the same time, the two taking turns (``ROUNDS``), so every figure comes with its
ratio to what the server and machine allow at that moment: ``throughput_vs_bare``. Clients are
separate processes, each opening a connection per request (sync workers do not keep connections
alive); latency is measured per request from the client (p50, p90, p99 in milliseconds). The SQL
queries of each request are counted in this process with Django's test client
(``CaptureQueriesContext``), with a real API token, so authentication, permissions,
serialization and pagination all run.

Scenarios (the targets of issue 16 are checked and reported in ``targets``):

* ``calendar_brand_month`` / ``calendar_workspace_month``: ``GET calendar/`` for May, one brand
  or every brand, first page of 100;
* ``content_items_first_page`` / ``content_items_deep_page``: the cursor-paginated list, its
  first page and a page reached by following ``next`` 150 times;
* ``content_item_detail``; ``tracked_redirect``: ``GET /r/<code>`` from a browser's user agent
  (records a click: one read, one INSERT; 302).

After the run each worker reports the objects its garbage collector tracks and whether a heavy
scientific library was imported (``bench/worker/``). ``--quick`` seeds 5,000 items and 100 events
and measures 2 s per scenario instead of 8.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.stats import self_peak_rss_mib, summary

YEAR_START = datetime(2027, 1, 1, tzinfo=UTC)
BRAND_ZONES = ("Europe/Paris", "America/New_York", "UTC", "Asia/Tokyo", "Europe/London")
MONTH = ("2027-05-01", "2027-05-31")  # dates: the whole of May in the brand's zone / UTC
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


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
        TrackedLink,
        Workspace,
    )
    from calendar_app.planner_statistics import refresh as refresh_statistics
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
    # As the daily kairos.planner_statistics schedule (or PostgreSQL's autovacuum) would have
    # done on a database that grew to this size: statistics, and on PostgreSQL the visibility
    # map that lets the calendar's counts read the index alone.
    refresh_statistics()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    publication = Publication.objects.filter(workspace=workspace).order_by("pk").first()
    link = TrackedLink.objects.create(
        workspace=workspace, publication=publication, target_url="https://example.com/offer"
    )
    return {
        "workspace": workspace,
        "brand": made_brands[0],
        "token": clear,
        "item": publication.content_item_id,
        "code": link.code,
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


# --- measure ----------------------------------------------------------------------------------------

WORKERS = 4
CLIENTS = 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with ``WORKERS`` sync workers on a free port, serving ``benchmarks.web_wsgi``."""

    def __init__(self, scratch: Path) -> None:
        self.port = _free_port()
        self.log = open(scratch / "gunicorn.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "benchmarks.web_wsgi:application",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--backlog",
                "256",
                "--log-level",
                "warning",
            ],
            cwd=Path(__file__).resolve().parent.parent,
            # As docs/production.md deploys it: gunicorn workers keep their connection.
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "benchmarks.web_settings",
                "KAIROS_DB_CONN_MAX_AGE": os.environ.get("KAIROS_DB_CONN_MAX_AGE", "60"),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(self.port, "/bench/bare/", {})[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start; see gunicorn.log in the scratch directory")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def _get(port: int, path: str, headers: dict) -> tuple[int, bytes]:
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection_.request("GET", path, headers=headers)
        response = connection_.getresponse()
        return response.status, response.read()
    finally:
        connection_.close()


def _client(port: int, path: str, headers: dict, until: float, results) -> None:
    """One client process: requests one after another until ``until`` (monotonic)."""
    latencies, statuses = [], {}
    while time.monotonic() < until:
        began = time.perf_counter()
        try:
            status, _ = _get(port, path, headers)
        except OSError as exc:
            status = type(exc).__name__
        latencies.append((time.perf_counter() - began) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    results.put((latencies, statuses, time.monotonic()))


def _run(port: int, path: str, headers: dict, seconds: float) -> tuple[list, dict, float]:
    """``CLIENTS`` processes hitting ``path`` for ``seconds``: latencies (ms), statuses and the
    time they took."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    began = time.monotonic()
    until = began + seconds
    clients = [
        context.Process(target=_client, args=(port, path, headers, until, results))
        for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    gathered = [results.get(timeout=seconds + 120) for _ in clients]
    for client in clients:
        client.join()
    latencies = [ms for got in gathered for ms in got[0]]
    statuses: dict = {}
    for got in gathered:
        for status, n in got[1].items():
            statuses[str(status)] = statuses.get(str(status), 0) + n
    return latencies, statuses, max(got[2] for got in gathered) - began


def _figures(latencies: list, statuses: dict, elapsed: float) -> dict:
    return {
        "requests": len(latencies),
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": summary(latencies, unit="ms", digits=1),
        "statuses": statuses,
    }


def load(port: int, path: str, headers: dict, seconds: float) -> dict:
    """``CLIENTS`` processes hitting ``path`` for ``seconds``: throughput and latency."""
    return _figures(*_run(port, path, headers, seconds))


#: The bare view and the scenario take turns this many times, each for an equal share of the
#: scenario's time: the machine's speed drifts (a shared machine's by a factor of two within a
#: run), and a ratio of two measurements minutes apart measured the drift as much as the code.
ROUNDS = 4


def _paired(port: int, path: str, headers: dict, seconds: float) -> tuple[dict, dict]:
    """The bare view and ``path`` in turns (``ROUNDS`` each): their figures, summed."""
    runs: dict[str, list] = {"bare": [[], {}, 0.0], "path": [[], {}, 0.0]}
    for _ in range(ROUNDS):
        for name, target, sent in (("bare", "/bench/bare/", {}), ("path", path, headers)):
            latencies, statuses, elapsed = _run(port, target, sent, seconds / ROUNDS)
            total = runs[name]
            total[0].extend(latencies)
            for status, n in statuses.items():
                total[1][status] = total[1].get(status, 0) + n
            total[2] += elapsed
    return _figures(*runs["bare"]), _figures(*runs["path"])


def queries_of(client, path: str) -> int:
    """SQL queries of one request, counted in this process (the server's code, same database)."""
    client.get(path)  # warm: the token's once-a-minute last_used_at write, caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code in (200, 302), (path, response.status_code)
    return len(captured)


def scenario(port: int, path: str, headers: dict, seconds: float) -> dict:
    """The bare view, then ``path``, for the same time each: figures and their ratio."""
    load(port, path, headers, min(1.0, seconds / 4))  # warm every worker on this path
    bare, measured = _paired(port, path, headers, seconds)
    latency = measured["latency_ms"]
    return {
        **measured,
        "bare_throughput_per_s": bare["throughput_per_s"],
        "bare_latency_ms": {k: bare["latency_ms"][k] for k in ("p50", "p99")},
        "throughput_vs_bare": round(measured["throughput_per_s"] / bare["throughput_per_s"], 3),
        "p99_over_p50": round(latency["p99"] / latency["p50"], 2),
    }


def _targets(results: dict) -> dict:
    """Issue 16's targets, each with the figure it is about and whether it holds."""

    def held(name: str, figure: str, value: float, limit: float, at_least: bool) -> dict:
        ok = value >= limit if at_least else value < limit
        return {"scenario": name, "figure": figure, "value": value, "target": limit, "met": ok}

    checks = [
        held(
            "calendar_brand_month",
            "p99_ms",
            results["calendar_brand_month"]["latency_ms"]["p99"],
            50,
            False,
        ),
        held(
            "calendar_brand_month",
            "throughput_vs_bare",
            results["calendar_brand_month"]["throughput_vs_bare"],
            0.10,
            True,
        ),
        held(
            "calendar_workspace_month",
            "p99_ms",
            results["calendar_workspace_month"]["latency_ms"]["p99"],
            150,
            False,
        ),
    ]
    for name in ("content_items_first_page", "content_items_deep_page", "content_item_detail"):
        checks.append(
            held(name, "throughput_vs_bare", results[name]["throughput_vs_bare"], 0.25, True)
        )
        checks.append(held(name, "p99_over_p50", results[name]["p99_over_p50"], 3.0, False))
    checks.append(
        held(
            "tracked_redirect",
            "throughput_vs_bare",
            results["tracked_redirect"]["throughput_vs_bare"],
            0.50,
            True,
        )
    )
    return {"all_met": all(c["met"] for c in checks), "checks": checks}


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
    from django.test import Client, override_settings

    items, events = (5_000, 100) if quick else (100_000, 1_000)
    seconds = 2.0 if quick else 8.0
    world = seed(items, events, rng=random.Random(20270501))
    workspace, brand = world["workspace"], world["brand"]
    # Every client says it is a browser: without a user agent the redirect takes its bot path
    # (one read, no click written) and would measure less than a real click costs.
    auth = {"Authorization": f"Token {world['token']}", "User-Agent": BROWSER}
    base = f"/api/v1/workspaces/{workspace.slug}"
    month = f"start={MONTH[0]}&end={MONTH[1]}&page_size=100"
    paths = {
        "calendar_brand_month": f"{base}/calendar/?{month}&brand={brand.pk}",
        "calendar_workspace_month": f"{base}/calendar/?{month}&tz=Europe/Paris",
        "content_items_first_page": f"{base}/content-items/",
        "content_items_deep_page": None,  # found below by following ``next``
        "content_item_detail": f"{base}/content-items/{world['item']}/",
        "tracked_redirect": f"/r/{world['code']}",
    }
    client = Client(HTTP_AUTHORIZATION=auth["Authorization"], HTTP_USER_AGENT=BROWSER)
    depth = 15 if quick else 150
    with override_settings(ROOT_URLCONF="benchmarks.web"):
        url = paths["content_items_first_page"]
        for _ in range(depth):
            url = client.get(url).json()["next"]
        parts = urlsplit(url)
        paths["content_items_deep_page"] = f"{parts.path}?{parts.query}"
        queries = {name: queries_of(client, path) for name, path in paths.items()}
        rows = {
            name: client.get(paths[name]).json()
            for name in ("calendar_brand_month", "calendar_workspace_month")
        }
    results: dict = {
        "seed": {"seconds": world["seconds"], **world["counts"]},
        "server": f"gunicorn, {WORKERS} sync workers, 127.0.0.1",
        "clients": f"{CLIENTS} processes, one connection per request",
        "seconds_per_scenario": seconds,
    }
    server = Server(scratch)
    try:
        for name, path in paths.items():
            results[name] = {
                "sql_queries_per_request": queries[name],
                **scenario(server.port, path, auth, seconds),
            }
            if name in rows:
                results[name]["rows_in_range"] = rows[name]["count"]
                results[name]["rows_on_page"] = len(rows[name]["results"])
            if name == "content_items_deep_page":
                results[name]["pages_deep"] = depth
        results["workers_after_run"] = [
            json.loads(_get(server.port, "/bench/worker/", {})[1]) for _ in range(WORKERS * 2)
        ]
    finally:
        server.stop()
    results["targets"] = _targets(results)
    results["query_plans"] = _explain(workspace, brand)
    results["peak_rss_mib"] = self_peak_rss_mib()
    return results
