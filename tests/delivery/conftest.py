"""Delivery tests run the real sandbox plugin (found by its entry point) writing to a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calendar_app.plugins_runtime import reset_plugins, use_plugins


@pytest.fixture(autouse=True)
def sandbox_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("KAIROS_SANDBOX_DIR", str(directory))
    reset_plugins()
    yield directory
    reset_plugins()


@pytest.fixture(autouse=True)
def fresh_policies():
    """Retry policies are cached per process; each test reads its own settings."""
    from calendar_app.delivery.policy import policy_for

    policy_for.cache_clear()
    yield
    policy_for.cache_clear()


@pytest.fixture
def plugins_with():
    """``plugins_with(plugin, ...)``: the installed plugins plus test-only ones."""
    from publishers import build_plugin_manager

    def install(*extra: object) -> None:
        use_plugins(build_plugin_manager(extra_plugins=extra))

    return install


def sandbox_posts(directory: Path) -> list[dict]:
    records = []
    for path in sorted(directory.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["type"] == "post"]


def claimed_by(owner: str, publication, *, started: bool = False):
    """Claim ``publication`` for ``owner`` as a worker does; ``started=True`` also opens its
    attempt, as a worker does just before calling the network (a crash after that point may
    have posted). Returns the claimed row, or ``None`` when it was not ours to take."""
    from django.utils import timezone

    from calendar_app.delivery.claims import claim_ids
    from calendar_app.models import DeliveryAttempt

    claimed = claim_ids(owner, [publication.pk])
    if not claimed:
        return None
    if started:
        DeliveryAttempt.objects.create(
            publication=claimed[0],
            number=claimed[0].attempts + 1,
            worker=owner,
            started_at=timezone.now(),
        )
    return claimed[0]


def scheduled_item(brand, actor, *, channels=None, when=None, **fields):
    """An item taken through submit, approve and schedule (due a second ago by default)."""
    from datetime import timedelta

    from django.utils import timezone

    from calendar_app import workflow
    from calendar_app.models import Role
    from tests import factories as f

    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=channels, **fields)
    admin = actor(Role.ADMIN)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    workflow.schedule(item, admin, when=when or timezone.now() - timedelta(seconds=1))
    item.refresh_from_db()
    return item


def channel(brand, **settings):
    """A sandbox channel of ``brand`` with these settings (scripted failures, directory...)."""
    from tests import factories as f

    return f.ChannelFactory(brand=brand, workspace=brand.workspace, settings=settings)
