"""Reactive templates are approved through the brand's chain and separation of duties, like
items; while a crisis covers a template, approving it needs the playbook's role; the API and
the admin both go through the same rule."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.approvals.models import TemplateStepVote
from calendar_app.approvals.template_votes import may_approve_template, template_progress
from calendar_app.crisis import services as crisis
from calendar_app.models import ReactiveTemplate, Role, StepRule
from calendar_app.reactive import FireRefused, approve_template, fire_template
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def fresh(template: ReactiveTemplate) -> ReactiveTemplate:
    return ReactiveTemplate.objects.get(pk=template.pk)


@pytest.fixture
def template(brand):
    channel = f.ChannelFactory(brand=brand, workspace=brand.workspace)
    return f.ReactiveTemplateFactory(brand=brand, workspace=brand.workspace, channels=[channel])


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def test_each_step_in_order_then_approved_and_fireable(brand, approvers, template):
    (legal, legal_a), (b1, b1_a), (b2, b2_a) = approvers(3)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[legal])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", rule=StepRule.ALL, members=[b1, b2])
    with pytest.raises(FireRefused) as refused:
        approve_template(template, b1_a)
    assert refused.value.code == "out_of_order"
    approve_template(template, legal_a)
    assert not fresh(template).is_approved
    with pytest.raises(FireRefused) as refused:
        fire_template(template, legal_a, {"moment": "x"})
    assert refused.value.code == "not_approved"
    approve_template(template, b1_a)
    assert not fresh(template).is_approved  # "all": b2 still to approve
    with pytest.raises(FireRefused) as refused:
        approve_template(template, b1_a)
    assert refused.value.code == "already_voted"
    approve_template(template, b2_a)
    done = fresh(template)
    assert done.is_approved and done.approved_by_label == b2_a.label
    assert [s.done for s in template_progress(done)] == [True, True]
    assert fire_template(done, legal_a, {"moment": "x"}).pk


def test_a_change_starts_the_chain_again(brand, approvers, template, workspace):
    (legal, legal_a), (other, other_a) = approvers(2)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[legal])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", members=[other])
    approve_template(template, legal_a)
    client = token_client(workspace, Role.EDITOR)
    changed = client.patch(
        url("reactive-template-detail", workspace, pk=template.pk),
        {"body": "Another take: {{ moment }}"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    with pytest.raises(FireRefused) as refused:
        approve_template(fresh(template), other_a)
    assert refused.value.code == "out_of_order"  # legal again, for the new version
    assert TemplateStepVote.objects.filter(template=template).count() == 1


def test_separation_of_duties_for_the_author_and_the_last_editor(
    brand, workspace, member, approvers
):
    f.ApprovalPolicyFactory(brand=brand, separate_duties=True)
    writer = member(Role.APPROVER)
    writer_client = token_client(workspace, Role.APPROVER, user=writer)
    created = writer_client.post(
        url("reactive-template-list", workspace),
        {"brand": brand.pk, "name": "Goal", "body": "Goal! {{ moment }}"},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    refused = writer_client.post(url("reactive-template-approve", workspace, pk=pk))
    assert refused.status_code == 409, refused.content
    assert refused.json()["code"] == "separation_of_duties"
    assert not fresh(ReactiveTemplate(pk=pk)).is_approved
    key = token_client(workspace, Role.APPROVER)  # a workspace key names nobody
    assert key.post(url("reactive-template-approve", workspace, pk=pk)).status_code == 409
    [(other, other_a)] = approvers(1)
    approve_template(ReactiveTemplate.objects.get(pk=pk), other_a)
    assert fresh(ReactiveTemplate(pk=pk)).is_approved
    # The last editor may not approve the version they made.
    other_client = token_client(workspace, Role.APPROVER, user=other)
    other_client.patch(
        url("reactive-template-detail", workspace, pk=pk), {"max_fires": 5}, format="json"
    )
    template = ReactiveTemplate.objects.get(pk=pk)
    assert template.last_edited_by_id == other.pk and not template.is_approved
    assert not may_approve_template(template, other_a)
    with pytest.raises(FireRefused) as caught:
        approve_template(template, other_a)
    assert caught.value.code == "separation_of_duties"
    assert not may_approve_template(template, Actor.for_user(writer, workspace))  # wrote it
    [(_third, third_a)] = approvers(1)
    assert may_approve_template(template, third_a)


def test_a_crisis_requires_its_role_to_approve_a_template_in_scope(
    brand, workspace, template, actor
):
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand, required_role=Role.ADMIN)
    playbook.holding_templates.set([template])
    crisis.activate(playbook, Actor.system("incident"))
    with pytest.raises(FireRefused) as refused:
        approve_template(template, actor(Role.APPROVER))
    assert refused.value.code == "permission_denied"
    assert not fresh(template).is_approved
    approve_template(template, actor(Role.ADMIN))
    assert fresh(template).is_approved


def test_progress_endpoint(brand, approvers, template, workspace):
    [(legal, legal_a)] = approvers(1)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[legal])
    approve_template(template, legal_a)
    client = token_client(workspace, Role.VIEWER)
    response = client.get(
        url("template-approval-progress-list", workspace, template_pk=template.pk)
    )
    assert response.status_code == 200
    assert response.json() == [
        {
            "step": response.json()[0]["step"],
            "order": 1,
            "name": "Legal",
            "rule": "one",
            "done": True,
            "approved_by": [legal_a.label],
        }
    ]


def test_admin_approval_goes_through_the_chain(brand, approvers, template, login, staff_member):
    first = staff_member(Role.APPROVER)
    second = staff_member(Role.APPROVER)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[first])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", members=[second])
    changelist = reverse("admin:calendar_app_reactivetemplate_changelist")
    action = {"action": "approve_templates", "_selected_action": [template.pk]}
    login(second).post(changelist, action)
    assert not fresh(template).is_approved  # out of order: refused
    login(first).post(changelist, action)
    assert not fresh(template).is_approved
    login(second).post(changelist, action)
    assert fresh(template).is_approved
