"""A step's deadline: an item waiting at a step longer than ``escalate_after`` tells the step's
members and ``escalate_to`` once per version, with a ``content.approval_escalated`` event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from calendar_app import workflow
from calendar_app.approvals.models import StepEscalation
from calendar_app.approvals.services import escalate_late_steps
from calendar_app.models import Role, WebhookEvent
from calendar_app.workflow import Actor
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_a_late_step_is_escalated_once_per_version(
    brand, workspace, actor, django_capture_on_commit_callbacks
):
    f.webhook_rows(workspace)
    legal = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    step = f.ApprovalStepFactory(
        brand=brand,
        name="Legal",
        members=[legal],
        escalate_after=timedelta(hours=4),
        escalate_to=["lead@agency.example"],
    )
    editor = actor(Role.EDITOR)
    item = f.ContentItemFactory(brand=brand)
    workflow.submit(item, editor)
    now = timezone.now()
    assert escalate_late_steps(now + timedelta(hours=3)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_late_steps(now + timedelta(hours=5)) == 1
    assert escalate_late_steps(now + timedelta(hours=6)) == 0  # told once
    escalation = StepEscalation.objects.get()
    assert escalation.step == step
    assert set(escalation.notified) == {legal.email, "lead@agency.example"} - {""}
    assert len(mail.outbox) == 1 and "Legal" in mail.outbox[0].subject
    event = WebhookEvent.objects.get(type="content.approval_escalated")
    assert event.payload["step"]["name"] == "Legal"
    # A new version waits afresh, and is told again when late.
    workflow.edit(item, editor, {"body": "New words for legal."})
    assert escalate_late_steps(now + timedelta(hours=3)) == 0
    assert escalate_late_steps(timezone.now() + timedelta(hours=5)) == 1


def test_steps_without_a_deadline_never_escalate(brand, workspace, approvers):
    ((user, _),) = approvers(1)
    f.ApprovalStepFactory(brand=brand, members=[user])
    item = f.ContentItemFactory(brand=brand)
    workflow.submit(item, Actor.for_user(user, workspace))
    assert escalate_late_steps(timezone.now() + timedelta(days=30)) == 0
