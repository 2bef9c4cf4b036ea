"""Fan-out: one event, one delivery per matching active subscription (type and brand filters);
recorded with the change it reports, so a rolled-back change announces nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from calendar_app.models import WebhookDelivery, WebhookEvent
from calendar_app.outbound.events import (
    CATALOGUE,
    CONTENT_APPROVED,
    CONTENT_SUBMITTED,
    EVENT_TYPES,
    WEBHOOK_TEST,
    emit,
    new_event_id,
)
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_fan_out_follows_type_and_brand_filters(
    workspace, other_workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    brand_a = f.BrandFactory(workspace=workspace)
    brand_b = f.BrandFactory(workspace=workspace)
    everything, _ = subscribe(workspace)
    approvals, _ = subscribe(workspace, event_types=[CONTENT_APPROVED])
    only_b, _ = subscribe(workspace, brands=[brand_b])
    approvals_of_a, _ = subscribe(workspace, event_types=[CONTENT_APPROVED], brands=[brand_a])
    subscribe(workspace, is_active=False)
    subscribe(other_workspace)

    def targets(type_, brand):
        event = emit(workspace.pk, type_, {"x": 1}, brand and brand.pk)
        return {d.subscription_id for d in event.deliveries.all()} if event else set()

    assert targets(CONTENT_APPROVED, brand_a) == {everything.pk, approvals.pk, approvals_of_a.pk}
    assert targets(CONTENT_APPROVED, brand_b) == {everything.pk, approvals.pk, only_b.pk}
    assert targets(CONTENT_SUBMITTED, brand_a) == {everything.pk}
    assert targets(CONTENT_SUBMITTED, brand_b) == {everything.pk, only_b.pk}
    # An event of no brand reaches only subscriptions without a brand filter.
    assert targets(CONTENT_APPROVED, None) == {everything.pk, approvals.pk}


def test_nothing_is_stored_when_nobody_listens(workspace):
    assert emit(workspace.pk, CONTENT_APPROVED, {}, None) is None
    assert WebhookEvent.objects.count() == 0


def test_a_rolled_back_change_announces_nothing(workspace, subscribe, receiver):
    subscribe(workspace)
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(workspace.pk, CONTENT_APPROVED, {}, None)
        raise RuntimeError("the approval failed after all")
    assert WebhookEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert receiver.server.requests == []


def test_sending_waits_for_commit(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscribe(workspace)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        emit(workspace.pk, CONTENT_APPROVED, {}, None)
    assert receiver.server.requests == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert receiver.types() == [CONTENT_APPROVED]


def test_unknown_types_are_a_programming_error(workspace):
    with pytest.raises(ValueError, match="unknown webhook event type"):
        emit(workspace.pk, "content.exploded", {}, None)


def test_catalogue_and_ids():
    assert set(EVENT_TYPES) == set(CATALOGUE) - {WEBHOOK_TEST}
    assert len(EVENT_TYPES) == 21
    ids = [new_event_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(i.startswith("msg_") and len(i) == 30 for i in ids)
