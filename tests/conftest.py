"""Fixtures shared by every part of the suite."""

from __future__ import annotations

import pytest

from calendar_app.models import Role
from calendar_app.workflow import Actor
from tests import factories as f


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
