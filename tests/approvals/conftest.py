"""Approval tests run the real sandbox plugin (the workflow checks every post can go out)."""

from __future__ import annotations

import pytest

from calendar_app.models import ContentStatus, Role
from calendar_app.workflow import Actor
from tests import factories as f
from tests.admin.conftest import login, staff_member  # noqa: F401 (fixtures)


@pytest.fixture
def in_review(brand):
    """``in_review(**fields)``: an item of ``brand`` waiting for approval."""

    def make(**fields):
        return f.ContentItemFactory(
            brand=brand, workspace=brand.workspace, status=ContentStatus.IN_REVIEW, **fields
        )

    return make


@pytest.fixture
def approvers(workspace):
    """``approvers(n)``: ``n`` members holding the approver role, with their actors."""

    def make(n: int = 1) -> list[tuple]:
        users = [
            f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user for _ in range(n)
        ]
        return [(u, Actor.for_user(u, workspace)) for u in users]

    return make
