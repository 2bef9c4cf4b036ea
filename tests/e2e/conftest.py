"""Real processes: a django-q2 cluster and the dispatcher, sharing the test database.

The test writes rows with ``transactional_db`` (committed, so other processes see them); the
processes get a ``DATABASE_URL`` that points at the test database itself. When CI provides a
Redis server (``KAIROS_TEST_REDIS_URL``), the cluster uses it as its broker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from calendar_app.models import WorkerHeartbeat
from calendar_app.processes import ProcessGroup


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def redis_url() -> str | None:
    """CI's Redis (``KAIROS_TEST_REDIS_URL``) as this test process's broker, or None.

    Under pytest-xdist (``make test`` runs ``-n auto``) every worker has a test database of its
    own, and its clusters must not take the tasks of another worker's clusters from a shared
    queue: worker ``gwN`` uses Redis database ``N + 1``, a plain run the database of the URL.
    """
    url = os.environ.get("KAIROS_TEST_REDIS_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url or None
    return urlunsplit(urlsplit(url)._replace(path=f"/{int(worker[2:]) + 1}"))


@pytest.fixture
def processes(transactional_db, tmp_path) -> Iterator[ProcessGroup]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        KAIROS_ENV="test",
        DATABASE_URL=database_url(),
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        KAIROS_ENCRYPTION_KEYS=",".join(settings.KAIROS_ENCRYPTION_KEYS),
        KAIROS_SANDBOX_DIR=str(tmp_path / "sandbox"),
        KAIROS_Q_WORKERS="2",
        KAIROS_Q_TIMEOUT="10",
        KAIROS_Q_RETRY="20",
        KAIROS_CLAIM_TTL="3",
        # The loopback receivers of these tests are reachable only by the operator's leave.
        KAIROS_ALLOW_PRIVATE_NETWORKS="webhook,matrix",
        KAIROS_LOG_LEVEL="INFO",
    )
    if broker := redis_url():
        env["KAIROS_REDIS_URL"] = broker
    procs = ProcessGroup(env=env, log_dir=tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_for(predicate, *, timeout: float, what: str, processes: ProcessGroup | None = None):
    """Poll until ``predicate()`` is truthy; fail with the processes' logs otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    logs = processes.logs() if processes else ""
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")


def start_kairos(processes: ProcessGroup) -> None:
    """Start the cluster and the dispatcher, and wait until a task has gone through a worker."""
    processes.start("qcluster", "qcluster")
    processes.start("dispatcher", "run_dispatcher", "--interval", "0.1")
    wait_for(
        lambda: WorkerHeartbeat.objects.filter(role="worker").exists(),
        timeout=60,
        what="a worker heartbeat",
        processes=processes,
    )
