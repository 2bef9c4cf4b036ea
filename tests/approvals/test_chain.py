"""Approval chains: ordered steps, each decided by one or all of its members; the item is
approved only when the last step completes; an edit starts the chain again; a brand without a
chain approves as before."""

from __future__ import annotations

import pytest

from calendar_app import workflow
from calendar_app.approvals.models import StepVote
from calendar_app.approvals.services import current_step, progress
from calendar_app.models import Approval, ContentStatus, Role, StepRule
from calendar_app.workflow import Actor, WorkflowError
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(brand, approvers):
    """Legal (one of two), then brand (both of two)."""
    people = approvers(4)
    legal = f.ApprovalStepFactory(
        brand=brand, order=1, name="Legal", members=[u for u, _ in people[:2]]
    )
    brand_step = f.ApprovalStepFactory(
        brand=brand, order=2, name="Brand", rule=StepRule.ALL, members=[u for u, _ in people[2:]]
    )
    return legal, brand_step, [a for _, a in people]


def status(item) -> str:
    item.refresh_from_db()
    return item.status


def test_each_step_in_order_then_approved(chain, in_review):
    _legal, brand_step, (l1, _l2, b1, b2) = chain
    item = in_review()
    workflow.approve(item, l1)
    assert status(item) == ContentStatus.IN_REVIEW
    assert current_step(item).step == brand_step
    workflow.approve(item, b1)
    assert status(item) == ContentStatus.IN_REVIEW  # "all": b2 still to approve
    workflow.approve(item, b2, note="Fine by brand")
    assert status(item) == ContentStatus.APPROVED
    assert workflow.current_approval(item).decided_by_label == b2.label
    assert [s.done for s in progress(item)] == [True, True]
    assert StepVote.objects.filter(content_item=item).count() == 3
    steps = list(item.transitions.filter(action="approve_step").values_list("note", flat=True))
    assert steps[0].startswith("Legal: approved; next “Brand”")


def test_out_of_order_is_refused_and_changes_nothing(chain, in_review):
    _legal, _brand, (_l1, _l2, b1, _b2) = chain
    item = in_review()
    with pytest.raises(WorkflowError) as caught:
        workflow.approve(item, b1)
    assert caught.value.code == "out_of_order"
    assert "“Legal” (step 1 of 2) decides first" in caught.value.reason
    assert not StepVote.objects.exists()
    assert status(item) == ContentStatus.IN_REVIEW


def test_an_approver_outside_the_chain_is_refused(chain, in_review, approvers):
    ((_, outsider),) = approvers(1)
    with pytest.raises(WorkflowError) as caught:
        workflow.approve(in_review(), outsider)
    assert caught.value.code == "permission_denied"


def test_voting_twice_on_an_all_step_is_refused(chain, in_review):
    _legal, _brand, (l1, _l2, b1, _b2) = chain
    item = in_review()
    workflow.approve(item, l1)
    workflow.approve(item, b1)
    with pytest.raises(WorkflowError) as caught:
        workflow.approve(item, b1)
    assert caught.value.code == "already_voted"


def test_an_edit_after_a_step_starts_the_chain_again(chain, in_review, actor):
    legal, _brand, (l1, _l2, b1, _b2) = chain
    item = in_review()
    workflow.approve(item, l1)
    workflow.edit(item, actor(Role.EDITOR), {"body": "A new promise, legal must read it."})
    assert status(item) == ContentStatus.IN_REVIEW
    assert current_step(item).step == legal
    with pytest.raises(WorkflowError):
        workflow.approve(item, b1)


def test_a_rejection_at_any_step_sends_it_back_to_draft(chain, in_review):
    _legal, _brand, (l1, _l2, b1, _b2) = chain
    item = in_review()
    workflow.approve(item, l1)
    workflow.reject(item, b1, "Too loud.")
    assert status(item) == ContentStatus.DRAFT
    assert Approval.objects.get(content_item=item).decision == "rejected"


def test_a_departed_member_does_not_block_an_all_step(chain, in_review, workspace):
    _legal, _brand_step, (l1, _l2, b1, b2) = chain
    item = in_review()
    workflow.approve(item, l1)
    workflow.approve(item, b1)
    workspace.memberships.filter(user=b2.user).delete()
    assert current_step(item) is None  # every remaining member approved
    workflow.approve(item, Actor.for_user(b1.user, workspace))
    assert status(item) == ContentStatus.APPROVED


def test_chains_are_per_brand(chain, workspace, approvers):
    other = f.BrandFactory(workspace=workspace)
    ((_, someone),) = approvers(1)
    item = f.ContentItemFactory(brand=other, workspace=workspace, status=ContentStatus.IN_REVIEW)
    assert workflow.approve(item, someone).status == ContentStatus.APPROVED
