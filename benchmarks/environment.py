"""A throwaway Kairos for benchmarking: its own database, keys and sandbox directory.

Runs on a fresh SQLite file by default; ``--database-url`` points it at PostgreSQL (the database
is emptied first with ``flush``). Child processes (cluster, dispatcher, web server) inherit the
same environment, so they see the same data.

The scratch directory (the SQLite file, logs, the sandbox's files) is removed when the process
exits; set ``KAIROS_BENCH_KEEP_SCRATCH=1`` to keep it for a post-mortem (its path is printed).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path


def prepare(database_url: str | None = None, *, redis_url: str | None = None) -> Path:
    """Set the environment and Django up; returns the scratch directory."""
    scratch = Path(tempfile.mkdtemp(prefix="kairos-bench-"))
    if os.environ.get("KAIROS_BENCH_KEEP_SCRATCH") == "1":
        print(f"scratch directory kept: {scratch}", file=sys.stderr)
    else:  # a 100,000-item run leaves ~100 MB behind otherwise
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        KAIROS_ENV="development",
        KAIROS_VAR_DIR=str(scratch / "var"),
        KAIROS_SANDBOX_DIR=str(scratch / "sandbox"),
        DATABASE_URL=database_url or f"sqlite:///{scratch / 'bench.sqlite3'}",
        KAIROS_LOG_LEVEL="WARNING",
        KAIROS_DEBUG="0",
        KAIROS_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
    )
    os.environ.pop("KAIROS_Q_SYNC", None)
    if redis_url:
        os.environ["KAIROS_REDIS_URL"] = redis_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if database_url:
        call_command("flush", verbosity=0, interactive=False)
        call_command("migrate", verbosity=0, interactive=False)
    return scratch
