"""Admin actions go through the workflow, with the acting user's role, and report per item."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse, reverse_lazy

from calendar_app import workflow
from calendar_app.models import (
    Approval,
    ApprovalDecision,
    ContentItem,
    ContentStatus,
    PublicationStatus,
    ReactiveTemplate,
    Role,
)
from calendar_app.workflow import Actor
from tests import factories as f
from tests.admin.helpers import messages_of

CHANGELIST = reverse_lazy("admin:calendar_app_contentitem_changelist")
TEMPLATES = reverse_lazy("admin:calendar_app_reactivetemplate_changelist")


def act(client, action: str, items, url: str = CHANGELIST, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in items], "index": 0, **extra}
    return client.post(url, data, follow=True)


@pytest.fixture
def in_review(brand, actor):
    item = f.ContentItemFactory(brand=brand, title="Dunk in the dark")
    return workflow.submit(item, actor(Role.EDITOR))


def test_a_viewer_is_not_offered_the_workflow_actions_and_a_forged_one_does_nothing(
    in_review, staff_member, login
):
    client = login(staff_member(Role.VIEWER))
    page = client.get(CHANGELIST)
    offered = {value for value, _ in page.context["action_form"].fields["action"].choices}
    assert not offered & {"approve_items", "submit_items", "schedule_items", "cancel_items"}
    assert "add_comment" in offered
    response = act(client, "approve_items", [in_review])
    assert response.status_code == 200
    in_review.refresh_from_db()
    assert in_review.status == ContentStatus.IN_REVIEW
    assert not Approval.objects.exists()


def test_approving_where_one_is_only_a_viewer_is_refused_with_the_workflow_message(
    in_review, staff_member, login, other_workspace
):
    user = staff_member(Role.VIEWER)
    f.MembershipFactory(workspace=other_workspace, user=user, role=Role.APPROVER)
    client = login(user)
    response = act(client, "approve_items", [in_review])
    assert response.status_code == 200
    text = " ".join(messages_of(response))
    assert "Cannot approve “Dunk in the dark”" in text
    assert "needs the approver role" in text
    in_review.refresh_from_db()
    assert in_review.status == ContentStatus.IN_REVIEW
    assert not Approval.objects.exists()


def test_approver_approves_and_an_approval_is_recorded(in_review, staff_member, login):
    approver = staff_member(Role.APPROVER)
    response = act(login(approver), "approve_items", [in_review])
    assert "approve done" in " ".join(messages_of(response))
    in_review.refresh_from_db()
    assert in_review.status == ContentStatus.APPROVED
    approval = Approval.objects.get()
    assert (approval.decided_by, approval.version, approval.decision) == (
        approver,
        1,
        ApprovalDecision.APPROVED,
    )
    assert approval.content_hash == in_review.content_hash()


def test_each_item_is_reported_on_its_own(brand, in_review, staff_member, login):
    draft = f.ContentItemFactory(brand=brand, title="Still a draft")
    response = act(login(staff_member(Role.APPROVER)), "approve_items", [in_review, draft])
    text = messages_of(response)
    assert any("“Dunk in the dark”: approve done" in m for m in text)
    assert any("Cannot approve “Still a draft” while it is draft" in m for m in text)


def test_reject_asks_for_a_note_then_sends_back_to_draft(in_review, staff_member, login):
    client = login(staff_member(Role.APPROVER))
    page = act(client, "reject_items", [in_review])
    assert page.status_code == 200
    assert page.templates[0].name == "admin/calendar_app/contentitem/reject.html"
    empty = act(client, "reject_items", [in_review], apply="1", note="  ")
    assert empty.status_code == 200
    assert empty.context["form"].errors["note"]
    done = act(
        client, "reject_items", [in_review], apply="1", note="Too close to the halftime show."
    )
    assert "reject done" in " ".join(messages_of(done))
    in_review.refresh_from_db()
    assert in_review.status == ContentStatus.DRAFT
    assert Approval.objects.get().note == "Too close to the halftime show."


def test_submit_schedule_cancel_reopen(brand, staff_member, login, actor):
    item = f.ContentItemFactory(brand=brand)
    client = login(staff_member(Role.EDITOR))
    act(client, "submit_items", [item])
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW

    response = act(client, "schedule_items", [item])
    assert "Cannot schedule" in " ".join(messages_of(response))

    workflow.approve(item, actor(Role.APPROVER))
    act(client, "schedule_items", [item])
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    assert item.publications.get().status == PublicationStatus.PENDING

    act(client, "cancel_items", [item])
    item.refresh_from_db()
    assert item.status == ContentStatus.CANCELLED
    assert item.publications.get().status == PublicationStatus.CANCELLED

    act(client, "reopen_items", [item])
    item.refresh_from_db()
    assert item.status == ContentStatus.DRAFT
    actions = list(item.transitions.values_list("action", flat=True))
    assert actions == ["submit", "approve", "schedule", "cancel", "reopen"]


def test_schedule_without_time_or_channel_is_reported_not_a_crash(
    brand, staff_member, login, actor
):
    item = f.ContentItemFactory(brand=brand, scheduled_at=None, title="No time")
    workflow.submit(item, actor(Role.EDITOR))
    workflow.approve(item, actor(Role.APPROVER))
    response = act(login(staff_member(Role.EDITOR)), "schedule_items", [item])
    assert response.status_code == 200
    assert "Cannot schedule “No time”: Say when it should go out." in messages_of(response)
    item.refresh_from_db()
    assert item.status == ContentStatus.APPROVED


def test_template_approval_by_viewer_refused_by_approver_recorded(brand, staff_member, login):
    template = f.ReactiveTemplateFactory(brand=brand, name="Blackout")
    # A viewer is not offered the action; forging it changes nothing.
    act(login(staff_member(Role.VIEWER)), "approve_templates", [template], url=TEMPLATES)
    template.refresh_from_db()
    assert not template.is_approved

    approver = staff_member(Role.APPROVER)
    response = act(login(approver), "approve_templates", [template], url=TEMPLATES)
    assert "“Blackout” v1 approved." in messages_of(response)
    template.refresh_from_db()
    assert template.is_approved
    assert (template.approved_by, template.approved_version) == (approver, 1)
    assert template.approved_hash == template.content_hash()
    assert template.approved_at is not None


def test_editing_an_approved_template_voids_the_approval(brand, staff_member, login):
    from tests.admin.helpers import form_data

    approver = staff_member(Role.APPROVER)
    template = f.ReactiveTemplateFactory(brand=brand, name="Blackout")
    client = login(approver)
    act(client, "approve_templates", [template], url=TEMPLATES)
    url = reverse("admin:calendar_app_reactivetemplate_change", args=[template.pk])
    data = form_data(client.get(url), "reactivetemplate_form")
    data["body"] = "Lights out, {{ moment }}!"
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    template.refresh_from_db()
    assert template.body == "Lights out, {{ moment }}!"
    assert template.version == 2
    assert not template.is_approved


class FakeFire:
    def __init__(self) -> None:
        self.calls = []

    def __call__(self, template, actor, values):
        self.calls.append((template.pk, actor.role, dict(values)))
        return "fire #1"


def test_fire_action_asks_for_placeholder_values_and_calls_the_hook(
    brand, staff_member, login, monkeypatch
):
    from calendar_app.admin import reactive as reactive_admin

    fake = FakeFire()
    monkeypatch.setattr(reactive_admin, "fire_function", lambda: fake)
    template = f.ReactiveTemplateFactory(
        brand=brand, name="Blackout", body="Out: {{ brand_line }}!"
    )
    client = login(staff_member(Role.APPROVER))
    page = act(client, "fire_template_action", [template], url=TEMPLATES)
    assert page.status_code == 200
    assert "value_brand_line" in page.content.decode()
    done = act(
        client,
        "fire_template_action",
        [template],
        url=TEMPLATES,
        apply="1",
        value_brand_line="Crunchette",
    )
    assert "“Blackout” fired (fire #1): it is going out now." in messages_of(done)
    assert fake.calls == [(template.pk, Role.APPROVER, {"brand_line": "Crunchette"})]


def test_fire_refusal_is_a_message(brand, staff_member, login, monkeypatch):
    from calendar_app.admin import reactive as reactive_admin

    def refuse(template, actor, values):
        raise RuntimeError("the cool-down has not passed")

    monkeypatch.setattr(reactive_admin, "fire_function", lambda: refuse)
    template = f.ReactiveTemplateFactory(brand=brand, name="Blackout", body="plain")
    done = act(
        login(staff_member(Role.APPROVER)),
        "fire_template_action",
        [template],
        url=TEMPLATES,
        apply="1",
    )
    assert done.status_code == 200
    assert "Cannot fire “Blackout”: the cool-down has not passed" in messages_of(done)


def test_real_fire_hook_is_wired_when_reactive_module_exists(brand, superuser, login):

    response = login(superuser).get(TEMPLATES)
    choices = dict(response.context["action_form"].fields["action"].choices)
    assert "fire_template_action" in choices


def test_viewer_firing_for_real_is_refused(brand, staff_member, login):
    template = f.ReactiveTemplateFactory(brand=brand, name="Blackout", body="plain")
    template.approved_version, template.approved_hash = 1, template.content_hash()
    ReactiveTemplate.objects.filter(pk=template.pk).update(
        approved_version=1, approved_hash=template.approved_hash
    )
    done = act(
        login(staff_member(Role.VIEWER)),
        "fire_template_action",
        [template],
        url=TEMPLATES,
        apply="1",
    )
    assert done.status_code == 200  # not offered to a viewer: a forged post fires nothing
    assert not template.fires.exists()


def test_firing_where_one_is_only_a_viewer_is_refused(brand, staff_member, login, other_workspace):
    template = f.ReactiveTemplateFactory(brand=brand, name="Blackout", body="plain")
    ReactiveTemplate.objects.filter(pk=template.pk).update(
        approved_version=1, approved_hash=template.content_hash()
    )
    user = staff_member(Role.VIEWER)
    f.MembershipFactory(workspace=other_workspace, user=user, role=Role.APPROVER)
    done = act(login(user), "fire_template_action", [template], url=TEMPLATES, apply="1")
    assert any(m.startswith("Cannot fire “Blackout”") for m in messages_of(done))
    assert not template.fires.exists()


def test_actor_comes_from_membership_not_staff_flag(in_review, login):
    outsider_ws = f.WorkspaceFactory()
    staff = f.MembershipFactory(
        workspace=outsider_ws, role=Role.ADMIN, user=f.UserFactory(is_staff=True)
    ).user
    assert Actor.for_user(staff, in_review.workspace).role is None
    # The item is not in the outsider's change list, so the action cannot even reach it.
    response = act(login(staff), "approve_items", [in_review])
    assert response.status_code == 200
    in_review.refresh_from_db()
    assert in_review.status == ContentStatus.IN_REVIEW
    assert ContentItem.objects.filter(status=ContentStatus.APPROVED).count() == 0
