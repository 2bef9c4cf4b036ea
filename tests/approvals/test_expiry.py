"""Approval expiry: an item still waiting for approval when its time comes does not go out; it
goes back to draft with a transition saying why and a ``content.approval_expired`` event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.approvals.services import expire_waiting
from calendar_app.models import ContentStatus, Publication, Transition, WebhookEvent
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_an_item_still_in_review_at_its_time_expires(
    in_review, workspace, django_capture_on_commit_callbacks
):
    f.webhook_rows(workspace)  # a subscription to every event type
    now = timezone.now()
    late = in_review(scheduled_at=now - timedelta(minutes=1))
    waiting = in_review(scheduled_at=now + timedelta(hours=1))
    approved = f.ContentItemFactory(
        brand=late.brand, status=ContentStatus.APPROVED, scheduled_at=now - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks():
        assert expire_waiting(now) == 1
    late.refresh_from_db()
    assert late.status == ContentStatus.DRAFT
    transition = Transition.objects.get(content_item=late, action="expire")
    assert transition.from_status == ContentStatus.IN_REVIEW
    assert transition.actor_label == "approval expiry"
    assert "came before it was approved" in transition.note
    assert not Publication.objects.filter(content_item=late).exists()
    event = WebhookEvent.objects.get(type="content.approval_expired")
    assert event.payload["content_item"]["id"] == late.pk
    assert event.payload["transition"]["action"] == "expire"
    waiting.refresh_from_db()
    approved.refresh_from_db()
    assert waiting.status == ContentStatus.IN_REVIEW
    assert approved.status == ContentStatus.APPROVED


def test_running_twice_expires_once(in_review):
    now = timezone.now()
    in_review(scheduled_at=now - timedelta(minutes=5))
    assert expire_waiting(now) == 1
    assert expire_waiting(now) == 0
    assert Transition.objects.filter(action="expire").count() == 1
