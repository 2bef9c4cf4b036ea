"""Bulk import of content: a 10,000-row CSV, dry run then import, through the API (issue 12).

The request goes through Django's test ``Client`` in this process with a real API token, so
parsing the multipart upload, authentication, the row checks and the bulk insert all run; only
the HTTP server is left out. Figures: wall time of the dry run and of the import (one request
each, median of a few runs on a fresh workspace for the import), the SQL queries each ran, the
file's size, and peak memory. ``--quick`` uses 1,000 rows.

The rows look like a marketer's month: three brands in different zones, one or two channels a
row, a local date and time, a link and a call to action.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmarks.stats import self_peak_rss_mib

ZONES = ("Europe/Paris", "America/New_York", "Asia/Tokyo")


def _sheet(rows: int, brands: list[tuple[str, list[str]]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    from calendar_app.imports.content import COLUMNS

    writer.writerow(COLUMNS)
    for n in range(rows):
        slug, handles = brands[n % len(brands)]
        day = 1 + n % 28
        writer.writerow(
            [
                slug,
                f"Post {n}",
                f"Row {n}: something worth reading today, with a link below.",
                " ".join(handles[: 1 + n % 2]),
                f"2027-05-{day:02d} {8 + n % 10:02d}:{(n * 7) % 60:02d}",
                f"https://example.com/p/{n}",
                "Read more",
                f"https://example.com/cta/{n}",
                "Open",
            ]
        )
    return out.getvalue().encode()


def _workspace(index: int):
    from tests import factories as f

    workspace = f.WorkspaceFactory(slug=f"import-bench-{index}")
    brands = []
    for b, zone in enumerate(ZONES):
        brand = f.BrandFactory(workspace=workspace, slug=f"brand-{b}", time_zone=zone)
        handles = [f.ChannelFactory(brand=brand, handle=f"@b{b}c{c}").handle for c in range(2)]
        brands.append((brand.slug, handles))
    return workspace, brands


def _post(client, workspace, data: bytes, dry_run: bool):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("plan.csv", data, content_type="text/csv")
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.post(
            f"/api/v1/workspaces/{workspace.slug}/content-imports/",
            {"file": upload, "dry_run": "true" if dry_run else "false"},
        )
        seconds = time.perf_counter() - started
    assert response.status_code == (200 if dry_run else 201), response.content[:500]
    return seconds, len(captured), response.json()


def run(*, quick: bool, scratch: Path) -> dict:
    from django.test import Client

    from calendar_app.models import ApiToken, ContentItem, Role

    rows = 1_000 if quick else 10_000
    repeats = 3
    dry, imports, queries = [], [], {}
    for index in range(repeats):
        workspace, brands = _workspace(index)
        _, clear = ApiToken.issue(workspace=workspace, name="bench", role=Role.EDITOR)
        client = Client(HTTP_AUTHORIZATION=f"Token {clear}")
        data = _sheet(rows, brands)
        seconds, count, answer = _post(client, workspace, data, dry_run=True)
        assert answer["valid"] and answer["rows"] == rows, answer["problems"][:3]
        dry.append(seconds)
        queries["dry_run"] = count
        seconds, count, answer = _post(client, workspace, data, dry_run=False)
        assert len(answer["created"]) == rows
        imports.append(seconds)
        queries["import"] = count
        assert ContentItem.objects.filter(workspace=workspace).count() == rows
    return {
        "rows": rows,
        "file_bytes": len(data),
        "dry_run_seconds_median": round(statistics.median(dry), 2),
        "import_seconds_median": round(statistics.median(imports), 2),
        "import_seconds_max": round(max(imports), 2),
        "rows_per_second": round(rows / statistics.median(imports)),
        "queries": queries,
        "peak_rss_mib": self_peak_rss_mib(),
        "runs": repeats,
    }
