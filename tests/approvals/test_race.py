"""Two clicks at the same moment: the same client link posted twice decides once; two members of
a one-member step both approving record one vote and one approval. Needs real concurrent
connections, so it runs on PostgreSQL (SQLite serialises writers anyway)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from calendar_app import workflow
from calendar_app.approvals.links import LinkRefused, create_link, decide
from calendar_app.approvals.models import StepVote
from calendar_app.models import Approval, ContentStatus, Role
from calendar_app.workflow import Actor, WorkflowError
from tests import factories as f

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs concurrent database connections"
    ),
]


def race(*calls: Callable[[], None]) -> list[str]:
    start = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], None]) -> None:
        try:
            start.wait()
            call()
            outcomes.append("ok")
        except (LinkRefused, WorkflowError) as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


def test_a_link_posted_twice_at_once_decides_once():
    brand = f.BrandFactory()
    editor = f.MembershipFactory(workspace=brand.workspace, role=Role.EDITOR).user
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    token = create_link(item, Actor.for_user(editor, brand.workspace), "Dana", "d@x.example").token
    outcomes = race(lambda: decide(token, "approve"), lambda: decide(token, "approve"))
    assert outcomes == ["link_used", "ok"]
    assert Approval.objects.filter(content_item=item).count() == 1


def test_two_members_of_a_one_step_approve_at_once():
    brand = f.BrandFactory()
    ws = brand.workspace
    a, b = (f.MembershipFactory(workspace=ws, role=Role.APPROVER).user for _ in range(2))
    f.ApprovalStepFactory(brand=brand, order=1, members=[a, b])
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    outcomes = race(
        lambda: workflow.approve(item, Actor.for_user(a, ws)),
        lambda: workflow.approve(item, Actor.for_user(b, ws)),
    )
    assert outcomes == ["invalid_transition", "ok"]
    assert StepVote.objects.filter(content_item=item).count() == 1
    assert Approval.objects.filter(content_item=item).count() == 1
