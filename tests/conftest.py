"""Fixtures shared by every part of the suite."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from calendar_app.models import Role
from calendar_app.workflow import Actor
from tests import factories as f

#: The schema fuzz's counters, added up over the xdist workers (tests.api.fuzzing.report_stats).
_FUZZ_TOTALS = pytest.StashKey[dict[str, Counter]]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    totals = node.config.stash.setdefault(_FUZZ_TOTALS, {})
    for label, stats in getattr(node, "workeroutput", {}).get("fuzz_stats", {}).items():
        totals.setdefault(label, Counter()).update(stats)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    totals = config.stash.get(_FUZZ_TOTALS, {})
    if totals:
        from tests.api.fuzzing import stats_line

        for label, stats in totals.items():
            terminalreporter.write_line(stats_line(label, stats))


@pytest.fixture
def workspace(db):
    return f.WorkspaceFactory()


@pytest.fixture
def other_workspace(db):
    """A second tenant: nothing of it may ever be visible from ``workspace``."""
    return f.WorkspaceFactory()


@pytest.fixture
def brand(workspace):
    return f.BrandFactory(workspace=workspace)


@pytest.fixture
def member(workspace):
    """``member(role)`` returns a user with that role in ``workspace``."""

    def make(role: str = Role.EDITOR):
        return f.MembershipFactory(workspace=workspace, role=role).user

    return make


@pytest.fixture
def actor(workspace, member):
    """``actor(role)`` returns a workflow Actor holding that role in ``workspace``."""

    def make(role: str = Role.EDITOR) -> Actor:
        return Actor.for_user(member(role), workspace)

    return make
