"""Web workers stay lean: numpy, scipy, pandas and statsmodels load only where analysis runs.

A worker that imports them at start carries ~190,000 more objects, and every full garbage
collection during a request walks them (about 80 ms each, the p99 of every list). So a fresh
process that loads the WSGI application and the whole URLconf, then serves the requests of the
hot paths (lists, detail, the calendar, a tracked-link redirect) and loads every network
plugin, must not have imported any of
them. Then an experiment's analysis in the same process does load them: the laziness is real, not
a module that was deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "scipy", "pandas", "statsmodels", "gbstats")

SEED = """
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from datetime import UTC, datetime
from django.contrib.auth import get_user_model
from calendar_app.models import (
    ApiToken, Brand, Channel, ContentItem, ContentStatus, Experiment, Membership, Publication,
    PublicationStatus, Role, TrackedLink, Workspace,
)
ws = Workspace.objects.create(name="Lean", slug="lean")
user = get_user_model().objects.create_user("lean", password="x")
Membership.objects.create(workspace=ws, user=user, role=Role.ADMIN)
brand = Brand.objects.create(workspace=ws, name="B", slug="b", time_zone="Europe/Paris")
channel = Channel.objects.create(workspace=ws, brand=brand, network="sandbox", handle="@b", secrets={})
at = datetime(2027, 5, 10, 9, tzinfo=UTC)
item = ContentItem.objects.create(
    workspace=ws, brand=brand, title="Post", body="Hello", status=ContentStatus.PUBLISHED,
    scheduled_at=at,
)
item.channels.set([channel])
publication = Publication.objects.create(
    workspace=ws, content_item=item, channel=channel, status=PublicationStatus.PUBLISHED,
    due_at=at, next_attempt_at=at, published_at=at,
)
link = TrackedLink.objects.create(
    workspace=ws, publication=publication, target_url="https://example.com/offer"
)
_, token = ApiToken.issue(workspace=ws, name="lean", role=Role.ADMIN)
print(json.dumps({"token": token, "item": item.pk, "code": link.code}))
"""

SERVE = """
import io, json, sys
from wsgiref.util import setup_testing_defaults
from config.wsgi import application
from django.urls import get_resolver

def walk(patterns):  # import every view module the URLconf names
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
        elif hasattr(pattern, "callback"):
            pattern.callback

walk(get_resolver().url_patterns)
world = json.loads(sys.argv[1])
api = "/api/v1/workspaces/lean/"
paths = [
    (api + "content-items/", ""),
    (api + f"content-items/{world['item']}/", ""),
    (api + "calendar/", "start=2027-05-01&end=2027-05-31"),
    (api + "events/", ""),
    (api + "publications/", ""),
    (api + "experiments/", ""),
    ("/r/" + world["code"], ""),
]
statuses = []
for path, query in paths:
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": "127.0.0.1",
               "HTTP_AUTHORIZATION": "Token " + world["token"], "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    seen = []
    body = b"".join(application(environ, lambda status, headers: seen.append(status)))
    statuses.append([path, seen[0], len(body)])
from calendar_app.plugins_runtime import get_plugins
get_plugins()  # a web worker loads every plugin to validate posts
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
import gc
frozen = gc.get_freeze_count()
from calendar_app.experiments import analyse_experiment  # the place analysis runs
import calendar_app.analysis as analysis
analysis.analyse  # touching it loads the statistics
loaded_after = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY})
print(json.dumps({"statuses": statuses, "heavy": heavy, "after_analysis": loaded_after,
                  "frozen": frozen}))
"""


def _run(code: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.e2e
def test_hot_paths_never_import_the_scientific_libraries(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAIROS_", "DJANGO_"))}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "KAIROS_ENV": "development",
        "KAIROS_VAR_DIR": str(tmp_path / "var"),
        "KAIROS_SANDBOX_DIR": str(tmp_path / "sandbox"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'lean.sqlite3'}",
        "KAIROS_LOG_LEVEL": "WARNING",
        "KAIROS_ALLOWED_HOSTS": "127.0.0.1",
    }
    world = _run(SEED, env)
    report = json.loads(_run(f"HEAVY = {HEAVY!r}\n" + SERVE, env, world))
    for path, status, size in report["statuses"]:
        assert status.split()[0] in ("200", "302"), (path, status, size)
    assert report["heavy"] == [], report["heavy"]
    assert {"numpy", "scipy"} <= set(report["after_analysis"])
    # what the application loaded at start is out of the collector's sight (config/wsgi.py)
    assert report["frozen"] > 50_000
