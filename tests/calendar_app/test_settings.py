"""Production refuses development conveniences; the system checks guard the task queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]


def import_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAIROS_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = import_settings(KAIROS_ENV="production", KAIROS_ENCRYPTION_KEYS="x")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_encryption_keys() -> None:
    result = import_settings(KAIROS_ENV="production", DJANGO_SECRET_KEY="a-real-production-secret")
    assert result.returncode != 0
    assert "KAIROS_ENCRYPTION_KEYS must be set" in result.stderr


def test_production_starts_with_real_keys() -> None:
    result = import_settings(
        KAIROS_ENV="production",
        DJANGO_SECRET_KEY="a-real-production-secret",
        KAIROS_ENCRYPTION_KEYS="k",
    )
    assert result.returncode == 0, result.stderr


def test_checks_refuse_timeout_not_below_retry(settings) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 100, "retry": 50}
    ids = {message.id for message in run_checks()}
    assert "kairos.E001" in ids
