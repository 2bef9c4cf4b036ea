"""Three rules around the chain: the planned time is part of the approval when the brand's
policy says so (API and admin, both ways); the "approve" hint is shown only to someone whose
approval would be taken; and a member leaving never leaves an "all" step waiting forever."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse

from calendar_app import workflow
from calendar_app.approvals.services import recompute_after_departure
from calendar_app.models import ContentStatus, Membership, PublicationStatus, Role, StepRule
from calendar_app.workflow import Actor, WorkflowError
from tests import factories as f
from tests.admin.helpers import form_data
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db
S = ContentStatus


def fresh(item):
    item.refresh_from_db()
    return item


@pytest.fixture
def scheduled(brand, actor):
    """``scheduled(time_needs_approval)``: an approved, scheduled item on a connected channel."""

    def make(time_needs_approval: bool):
        f.ApprovalPolicyFactory(
            brand=brand, separate_duties=False, time_needs_approval=time_needs_approval
        )
        channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
        item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=[channel])
        editor, approver = actor(Role.EDITOR), actor(Role.APPROVER)
        workflow.submit(item, editor)
        workflow.approve(item, approver)
        return workflow.schedule(item, editor)

    return make


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


# --- the time, when the chain says so ------------------------------------------------------------


@pytest.mark.parametrize("needs", [True, False])
def test_moving_a_scheduled_item_through_the_api(scheduled, workspace, needs):
    item = scheduled(needs)
    later = item.scheduled_at + timedelta(hours=3)
    client = token_client(workspace, Role.EDITOR)
    response = client.patch(
        url("content-item-detail", workspace, pk=item.pk),
        {"scheduled_at": later.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    item = fresh(item)
    assert item.scheduled_at == later
    statuses = set(item.publications.values_list("status", flat=True))
    if needs:
        assert item.status == S.IN_REVIEW and item.version == 2
        assert statuses == {PublicationStatus.CANCELLED}  # nothing goes out unapproved
        assert workflow.current_approval(item) is None
    else:
        assert item.status == S.SCHEDULED and item.version == 1
        assert statuses == {PublicationStatus.PENDING}


@pytest.mark.parametrize("needs", [True, False])
def test_the_reschedule_action(scheduled, workspace, needs):
    item = scheduled(needs)
    later = item.scheduled_at + timedelta(days=1)
    client = token_client(workspace, Role.EDITOR)
    response = client.post(
        url("content-item-reschedule", workspace, pk=item.pk),
        {"scheduled_at": later.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == (S.IN_REVIEW if needs else S.SCHEDULED)


@pytest.mark.parametrize("needs", [True, False])
def test_changing_the_time_of_an_approved_item(brand, actor, needs):
    f.ApprovalPolicyFactory(brand=brand, separate_duties=False, time_needs_approval=needs)
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, status=S.IN_REVIEW)
    workflow.approve(item, actor(Role.APPROVER))
    item = workflow.edit(
        fresh(item), actor(Role.EDITOR), {"scheduled_at": item.scheduled_at + timedelta(hours=1)}
    )
    assert item.status == (S.IN_REVIEW if needs else S.APPROVED)
    # Scheduling at another time than the approved one is refused while the time is approved.
    if not needs:
        return
    workflow.approve(item, actor(Role.APPROVER))
    with pytest.raises(WorkflowError) as refused:
        workflow.schedule(
            fresh(item), actor(Role.EDITOR), when=item.scheduled_at + timedelta(hours=2)
        )
    assert refused.value.code == "time_needs_approval"
    assert fresh(item).status == S.APPROVED


@pytest.mark.parametrize("needs", [True, False])
def test_moving_a_scheduled_item_in_the_admin(scheduled, login, staff_member, workspace, needs):
    item = scheduled(needs)
    client = login(staff_member(Role.EDITOR))
    change = reverse("admin:calendar_app_contentitem_change", args=[item.pk])
    data = form_data(client.get(change), "contentitem_form")
    data["scheduled_at_0"], data["scheduled_at_1"] = "2030-01-02", "10:00:00"
    client.post(change, data)
    item = fresh(item)
    # The admin takes times in the brand's zone.
    local = item.scheduled_at.astimezone(ZoneInfo(item.brand.time_zone))
    assert local.strftime("%Y-%m-%d %H:%M") == "2030-01-02 10:00"
    assert item.status == (S.IN_REVIEW if needs else S.SCHEDULED)


def test_the_policy_option_in_the_api(brand, workspace):
    client = token_client(workspace, Role.ADMIN)
    response = client.post(
        url("approval-policy-list", workspace),
        {"brand": brand.pk, "time_needs_approval": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["time_needs_approval"] is True
    bad = client.patch(
        url("approval-policy-detail", workspace, pk=response.json()["id"]),
        {"time_needs_approval": "sometimes"},
        format="json",
    )
    assert bad.status_code == 400 and "time_needs_approval" in bad.json()["fields"]


# --- allowed actions ---------------------------------------------------------------------------------


def test_approve_is_hinted_only_to_whom_the_chain_would_take(brand, approvers, in_review):
    (legal, legal_actor), (other, other_actor), (writer, writer_actor) = approvers(3)
    f.ApprovalPolicyFactory(brand=brand, separate_duties=True)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[legal, writer])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", members=[other])
    item = in_review(created_by=writer)
    assert "approve" in workflow.allowed_actions(item, legal_actor)
    assert "approve" not in workflow.allowed_actions(item, other_actor)  # a later step
    assert "approve" not in workflow.allowed_actions(item, writer_actor)  # wrote it
    assert "reject" in workflow.allowed_actions(item, other_actor)
    workflow.approve(item, legal_actor)
    item = fresh(item)
    assert "approve" not in workflow.allowed_actions(item, legal_actor)  # voted already
    assert "approve" in workflow.allowed_actions(item, other_actor)


def test_approve_hint_in_the_api_for_a_workspace_key_under_separation(brand, in_review, workspace):
    f.ApprovalPolicyFactory(brand=brand, separate_duties=True)
    item = in_review()
    key = token_client(workspace, Role.APPROVER)  # a workspace key names no person
    shown = key.get(url("content-item-detail", workspace, pk=item.pk)).json()
    assert "approve" not in shown["allowed_actions"]
    refused = key.post(url("content-item-approve", workspace, pk=item.pk), {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "separation_of_duties"


def test_approve_hint_during_a_crisis_needs_its_role(brand, workspace, in_review, actor):
    from calendar_app.crisis import services as crisis

    playbook = f.PlaybookFactory(workspace=workspace, brand=brand, required_role=Role.ADMIN)
    crisis.activate(playbook, Actor.system("incident"))
    item = in_review()
    assert "approve" not in workflow.allowed_actions(item, actor(Role.APPROVER))
    assert "approve" in workflow.allowed_actions(item, actor(Role.ADMIN))


# --- a member leaves ---------------------------------------------------------------------------------


def test_an_all_step_does_not_wait_for_a_member_who_left(
    brand, approvers, in_review, workspace, django_capture_on_commit_callbacks
):
    (a, a_actor), (b, _b_actor) = approvers(2)
    f.ApprovalStepFactory(brand=brand, order=1, name="Brand", rule=StepRule.ALL, members=[a, b])
    item = in_review()
    workflow.approve(item, a_actor)
    assert fresh(item).status == S.IN_REVIEW  # waits for b
    with django_capture_on_commit_callbacks(execute=True):
        Membership.objects.filter(workspace=workspace, user=b).delete()
    item = fresh(item)
    assert item.status == S.APPROVED
    assert workflow.current_approval(item) is not None
    assert "left the workspace" in item.transitions.get(action="approve").note


def test_a_step_left_without_members_tells_the_admins_once(
    brand, approvers, in_review, workspace, member, django_capture_on_commit_callbacks
):
    (a, _), (b, b_actor) = approvers(2)
    admin = member(Role.ADMIN)
    admin.email = "admin@example.com"
    admin.save()
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[b])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", rule=StepRule.ALL, members=[a])
    item = in_review()
    workflow.approve(item, b_actor)
    with django_capture_on_commit_callbacks(execute=True):
        Membership.objects.filter(workspace=workspace, user=a).delete()
    assert recompute_after_departure(workspace.pk, a.pk) == {"approved": 0, "stuck": 0}  # once
    item = fresh(item)
    assert item.status == S.IN_REVIEW
    assert "Nobody left to decide “Brand”" in item.transitions.last().note
    [notice] = mail.outbox
    assert notice.to == ["admin@example.com"] and item.title in notice.body


def test_another_workspace_leaving_changes_nothing(
    brand, approvers, in_review, other_workspace, django_capture_on_commit_callbacks
):
    (a, a_actor), (b, _) = approvers(2)
    f.ApprovalStepFactory(brand=brand, order=1, rule=StepRule.ALL, members=[a, b])
    item = in_review()
    workflow.approve(item, a_actor)
    stranger = f.MembershipFactory(workspace=other_workspace, user=b)
    with django_capture_on_commit_callbacks(execute=True):
        stranger.delete()
    assert fresh(item).status == S.IN_REVIEW


def test_the_approve_hint_costs_a_fixed_number_of_queries(brand, approvers, workspace):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    (legal, legal_a), (other, _) = approvers(2)
    f.ApprovalPolicyFactory(brand=brand, separate_duties=True)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[legal])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", members=[other])
    client = token_client(workspace, Role.APPROVER, user=legal)

    def listed() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url("content-item-list", workspace), {"status": "in_review"})
        return len(captured), [r["allowed_actions"] for r in response.json()["results"]]

    f.ContentItemFactory(brand=brand, workspace=workspace, status=S.IN_REVIEW)
    one, hints = listed()
    assert "approve" in hints[0]
    for _ in range(5):
        item = f.ContentItemFactory(brand=brand, workspace=workspace, status=S.IN_REVIEW)
    workflow.approve(item, legal_a)  # Legal passed: Brand decides next, not legal
    many, hints = listed()
    assert many == one
    assert sum("approve" in h for h in hints) == 5
