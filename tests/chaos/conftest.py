"""The chaos test's processes share the test database, like tests/e2e.

The test writes with ``transactional_db`` (committed rows, visible to other processes); the
children get a ``DATABASE_URL`` pointing at the test database itself and, when CI provides a
Redis server (``KAIROS_TEST_REDIS_URL``), use it as the django-q2 broker.

Chaos tests take minutes and restart the database server, so they run only when selected
(``-m chaos``, as ``.ci/run`` does in a step of its own) or with ``KAIROS_CHAOS=1``.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests.e2e.conftest import database_url, redis_url


@pytest.fixture(autouse=True)
def _only_when_selected(request: pytest.FixtureRequest) -> None:
    selected = "chaos" in (request.config.getoption("markexpr", "") or "")
    if not selected and os.environ.get("KAIROS_CHAOS") != "1":
        pytest.skip("chaos tests run only when selected: pytest -m chaos (or KAIROS_CHAOS=1)")


@pytest.fixture
def chaos_env(transactional_db, tmp_path) -> dict[str, str]:
    """The children's base environment; benchmarks.chaos adds its retry and lease settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        KAIROS_ENV="test",
        DATABASE_URL=database_url(),
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        KAIROS_ENCRYPTION_KEYS=",".join(settings.KAIROS_ENCRYPTION_KEYS),
        KAIROS_SANDBOX_DIR=str(tmp_path / "sandbox"),
        KAIROS_Q_WORKERS="2",
        KAIROS_LOG_LEVEL="INFO",
    )
    if broker := redis_url():
        env["KAIROS_REDIS_URL"] = broker
    return env
