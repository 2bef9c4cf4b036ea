"""Experiment figures: analysing a big experiment, and serving tracked-link redirects.

* ``seed``: one experiment, 4 arms, 1,000 publications on 4 networks and 1,000,000 metric
  snapshots (1,000 per publication), written with ``executemany`` in batches.
* ``aggregate_counts`` / ``analyse_experiment``: latency over repeated runs, and the SQL
  queries one analysis makes (the aggregation runs in the database: one query whatever the size).
* ``redirects``: a threaded WSGI server (``wsgiref`` + ``ThreadingMixIn`` + Django's WSGI
  handler) in a child process on 127.0.0.1, hit on ``/r/<code>`` by a bounded pool of
  ``httpx`` clients; requests per second, latency, and the server's peak memory. Each request
  is a real counted click (a browser user agent, so the bot filter lets it through).

``python -m benchmarks experiments [--quick]`` runs it; ``python -m benchmarks.experiments
--serve`` is the server child it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.stats import peak_rss_mib, self_peak_rss_mib, summary

ROOT = Path(__file__).resolve().parent.parent
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
NETWORKS = ("sandbox", "mastodon", "x", "email-digest")
ARMS = (("control", 0.020), ("b", 0.021), ("c", 0.023), ("d", 0.019))


def seed(publications: int, snapshots_per_publication: int) -> dict:
    """The experiment and its rows; returns the ids and how long writing took."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from calendar_app.models import (
        Brand,
        Channel,
        ContentItem,
        ContentStatus,
        Experiment,
        ExperimentStatus,
        Membership,
        MetricSnapshot,
        Publication,
        PublicationStatus,
        Role,
        TrackedLink,
        Variant,
        Workspace,
    )

    started = time.monotonic()
    stamp = time.monotonic_ns()
    t0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
    workspace = Workspace.objects.create(name="Bench experiments", slug=f"bench-exp-{stamp}")
    user = get_user_model().objects.create_user(f"bench-exp-{stamp}", password="x")
    Membership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)
    brand = Brand.objects.create(
        workspace=workspace, name="Bench brand", slug=f"bench-{stamp}", time_zone="Europe/Paris"
    )
    channels = [
        Channel.objects.create(
            workspace=workspace, brand=brand, network=network, handle=f"@bench-{network}"
        )
        for network in NETWORKS
    ]
    experiment = Experiment.objects.create(
        workspace=workspace,
        brand=brand,
        name="Four calls to action",
        status=ExperimentStatus.RUNNING,
        started_at=t0,
    )
    variants = [
        Variant.objects.create(
            experiment=experiment,
            key=key,
            name=key,
            is_control=key == "control",
            cta_text=f"CTA {key}",
            cta_url=f"https://example.com/{key}",
        )
        for key, _rate in ARMS
    ]
    items = ContentItem.objects.bulk_create(
        ContentItem(
            workspace=workspace,
            brand=brand,
            title=f"bench {i}",
            body=f"Benchmark post {i}",
            status=ContentStatus.PUBLISHED,
            scheduled_at=t0 + timedelta(hours=i),
            experiment=experiment,
        )
        for i in range(publications)
    )
    pubs = Publication.objects.bulk_create(
        Publication(
            workspace=workspace,
            content_item=item,
            channel=channels[i % len(channels)],
            variant=variants[(i // len(channels)) % len(variants)],
            status=PublicationStatus.PUBLISHED,
            due_at=item.scheduled_at,
            next_attempt_at=item.scheduled_at,
            published_at=item.scheduled_at,
            external_id=f"bench-{i}",
        )
        for i, item in enumerate(items)
    )
    links = TrackedLink.objects.bulk_create(
        TrackedLink(
            workspace=workspace,
            publication=pub,
            variant=pub.variant,
            target_url=f"https://example.com/landing?p={pub.pk}",
        )
        for pub in pubs
    )

    # One million snapshots: cumulative impressions and clicks growing over the post's life.
    rng = np.random.default_rng(2026)
    table = MetricSnapshot._meta.db_table
    columns = (
        "workspace_id",
        "publication_id",
        "collected_at",
        "impressions",
        "clicks",
        "reactions",
        "shares",
        "replies",
        "conversions",
        "created_at",
        "updated_at",
    )
    sql = (
        f"INSERT INTO {connection.ops.quote_name(table)} "
        f"({', '.join(connection.ops.quote_name(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    rates = dict(ARMS)
    steps = np.arange(1, snapshots_per_publication + 1)
    written = 0
    batch: list[tuple] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for pub in pubs:
            audience = int(rng.integers(500, 20_000))
            # per-post rate around the arm's rate: the overdispersion real posts show
            rate = float(rng.beta(rates[pub.variant.key] * 200, 200))
            impressions = np.floor(audience * -np.expm1(-steps / (snapshots_per_publication / 4)))
            clicks = np.floor(impressions * rate)
            base = pub.published_at
            for k in range(snapshots_per_publication):
                at = base + timedelta(minutes=10 * (k + 1))
                batch.append(
                    (
                        workspace.pk,
                        pub.pk,
                        at,
                        int(impressions[k]),
                        int(clicks[k]),
                        None,
                        None,
                        None,
                        None,
                        at,
                        at,
                    )
                )
            if len(batch) >= 50_000:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return {
        "experiment": experiment,
        "codes": [link.code for link in links],
        "figures": {
            "arms": len(variants),
            "publications": len(pubs),
            "metric_snapshots": written,
            "seconds": round(time.monotonic() - started, 1),
        },
    }


def measure_analysis(experiment, repeats: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from calendar_app import experiments

    experiments.aggregate_counts(experiment)  # warm caches once
    aggregate, analyse = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        experiments.aggregate_counts(experiment)
        aggregate.append(time.perf_counter() - started)
    for _ in range(repeats):
        started = time.perf_counter()
        result = experiments.analyse_experiment(experiment)
        analyse.append(time.perf_counter() - started)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        result = experiments.analyse_experiment(experiment)
    report = result["report"]
    return {
        "aggregate_counts": summary(aggregate),
        "analyse_experiment": summary(analyse),
        "sql_queries_per_analysis": len(queries),
        "decision": result["decision"]["action"],
        "design_effects": {a["key"]: round(a["design_effect"], 2) for a in report["arms"]}
        if report
        else None,
    }


# --- the redirect server ----------------------------------------------------------------------


def serve() -> None:
    """Child process: Django's WSGI app on a threaded ``wsgiref`` server, port printed first."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        request_queue_size = 256

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:  # one line per request would dominate
            pass

    app = get_wsgi_application()
    httpd = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=Quiet)
    print(f"PORT {httpd.server_port}", flush=True)
    httpd.serve_forever()


def measure_redirects(codes: list[str], requests: int, concurrency: int) -> dict:
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.experiments", "--serve"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"the server did not start: {line}{server.stderr.read()}")
        base = f"http://127.0.0.1:{int(line.split()[1])}"
        headers = {"User-Agent": BROWSER_UA}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        with httpx.Client(base_url=base, headers=headers, limits=limits, timeout=30) as client:
            for code in codes[:5]:  # warm up: imports, first connection
                client.get(f"/r/{code}")

            def hit(index: int) -> tuple[float, int]:
                started = time.perf_counter()
                response = client.get(f"/r/{codes[index % len(codes)]}?utm_source=bench")
                return time.perf_counter() - started, response.status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                results = list(pool.map(hit, range(requests)))
            elapsed = time.perf_counter() - started
        statuses: dict[str, int] = {}
        for _latency, status in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        return {
            "server": "wsgiref ThreadingMixIn + Django WSGI, 1 process",
            "requests": requests,
            "concurrency": concurrency,
            "statuses": statuses,
            "requests_per_s": round(requests / elapsed, 1),
            "latency": summary([latency for latency, _ in results]),
            "server_peak_rss_mib": peak_rss_mib(server.pid),
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run(*, quick: bool, scratch: Path) -> dict:
    from calendar_app.models import Click

    publications, per_publication = (100, 200) if quick else (1_000, 1_000)
    seeded = seed(publications, per_publication)
    results: dict = {"seed": seeded["figures"]}
    results.update(measure_analysis(seeded["experiment"], repeats=5 if quick else 20))
    requests = 300 if quick else 3_000
    results["redirects"] = measure_redirects(seeded["codes"], requests, concurrency=8)
    results["redirects"]["clicks_recorded"] = Click.objects.filter(
        link__publication__content_item__experiment=seeded["experiment"]
    ).count()
    results["peak_rss_mib"] = {"benchmark_process": self_peak_rss_mib()}
    return results


if __name__ == "__main__":
    if "--serve" in sys.argv:
        import django

        django.setup()
        serve()
