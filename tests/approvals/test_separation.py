"""Separation of duties: whoever wrote or last edited an item cannot approve it, whatever role
or token they hold; a workspace API key (nobody's person) cannot approve at all."""

from __future__ import annotations

import pytest

from calendar_app import workflow
from calendar_app.models import ApiToken, Approval, ContentStatus, Role, Transition
from calendar_app.workflow import Actor, WorkflowError
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def separated(brand):
    return f.ApprovalPolicyFactory(brand=brand, workspace=brand.workspace)


def refused(item, actor) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        workflow.approve(item, actor)
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW
    assert not Approval.objects.filter(content_item=item).exists()
    return caught.value


def test_the_writer_cannot_approve_even_as_admin(separated, in_review, workspace):
    admin = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    item = in_review(created_by=admin)
    error = refused(item, Actor.for_user(admin, workspace))
    assert error.code == "separation_of_duties"
    assert "wrote it" in error.reason


def test_the_last_editor_cannot_approve(separated, in_review, workspace, approvers):
    (writer, writer_actor), (_editor, editor_actor) = approvers(2)
    item = in_review(created_by=writer)
    workflow.edit(item, editor_actor, {"body": "Changed by the second approver."})
    error = refused(item, editor_actor)
    assert "last edited" in error.reason
    # The writer did not write this version, yet wrote the item: still refused.
    assert refused(item, writer_actor).code == "separation_of_duties"


def test_someone_else_approves(separated, in_review, approvers):
    (writer, _), (_, other) = approvers(2)
    item = workflow.approve(in_review(created_by=writer), other)
    assert item.status == ContentStatus.APPROVED


def test_the_writers_own_token_is_refused_too(separated, in_review, workspace):
    writer = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    token, _ = ApiToken.issue(workspace=workspace, name="mine", role=Role.ADMIN, user=writer)
    error = refused(in_review(created_by=writer), Actor.for_token(token))
    assert error.code == "separation_of_duties"


def test_a_workspace_key_names_nobody_and_cannot_approve(separated, in_review, workspace):
    key, _ = ApiToken.issue(workspace=workspace, name="ci", role=Role.ADMIN)
    error = refused(in_review(), Actor.for_token(key))
    assert "names no person" in error.reason


def test_without_the_setting_the_writer_approves_as_today(in_review, approvers):
    ((writer, actor),) = approvers(1)
    item = workflow.approve(in_review(created_by=writer), actor)
    assert item.status == ContentStatus.APPROVED
    assert Transition.objects.filter(content_item=item, action="approve").count() == 1
