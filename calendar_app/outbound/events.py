"""The event catalogue, and :func:`emit`, which records an event for every matching subscription.

``emit`` runs inside the caller's transaction (an outbox): the event and its deliveries are
written with the change they report, and sending starts only after commit, by a django-q2 task
that gets ids only. A rolled-back change therefore announces nothing, and a crash after commit
loses nothing: the sweep picks up deliveries whose task never ran.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from calendar_app.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)
from calendar_app.models.webhooks import new_event_id
from calendar_app.outbound.catalogue import (  # noqa: F401 - re-exported for callers
    CATALOGUE,
    CHANNEL_EXPIRED,
    CONTENT_APPROVAL_ESCALATED,
    CONTENT_APPROVAL_EXPIRED,
    CONTENT_APPROVED,
    CONTENT_CREATED,
    CONTENT_SCHEDULED,
    CONTENT_SUBMITTED,
    EVENT_TYPES,
    EXPERIMENT_DECIDED,
    PUBLICATION_FAILED,
    PUBLICATION_RETRIED,
    PUBLICATION_SUCCEEDED,
    PUBLICATION_UNCONFIRMED,
    TEMPLATE_FIRED,
    WEBHOOK_TEST,
)

logger = logging.getLogger("kairos.webhooks")

SEND_TASK = "calendar_app.outbound.tasks.send"
TASK_GROUP = "kairos-webhooks"


def iso(value: datetime | None) -> str | None:
    """An instant as ISO-8601 UTC with a ``Z``, the way the REST API writes it."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def enqueue(delivery_ids: Iterable[int]) -> None:
    """Hand deliveries to django-q2 (ids only). Call after commit."""
    for delivery_id in delivery_ids:
        async_task(SEND_TASK, delivery_id, task_name=f"webhook-{delivery_id}", group=TASK_GROUP)


def enqueue_on_commit(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: enqueue(delivery_ids))


def matching_subscriptions(
    workspace_id: int, event_type: str, brand_id: int | None
) -> list[WebhookSubscription]:
    """Active subscriptions of the workspace whose type and brand filters let the event through
    (two queries, whatever the number of subscriptions)."""
    subscriptions = list(
        WebhookSubscription.objects.filter(workspace_id=workspace_id, is_active=True)
    )
    if not subscriptions:
        return []
    through = WebhookSubscription.brands.through
    brands: dict[int, set[int]] = {}
    for sub_id, b_id in through.objects.filter(
        webhooksubscription_id__in=[s.pk for s in subscriptions]
    ).values_list("webhooksubscription_id", "brand_id"):
        brands.setdefault(sub_id, set()).add(b_id)
    return [s for s in subscriptions if s.wants(event_type, brand_id, brands.get(s.pk, set()))]


def emit(
    workspace_id: int,
    type: str,
    payload: Mapping[str, Any],
    brand_id: int | None = None,
    *,
    occurred_at: datetime | None = None,
    subscriptions: list[WebhookSubscription] | None = None,
    requested_by: str = "",
) -> WebhookEvent | None:
    """Record event ``type`` and one delivery per matching active subscription; sending starts
    after commit. Returns the event, or ``None`` when no subscription wants it (nothing stored).

    :param subscriptions: send to exactly these (the test action), bypassing the filters.
    """
    if type not in CATALOGUE:
        raise ValueError(f"unknown webhook event type {type!r}")
    targets = (
        subscriptions
        if subscriptions is not None
        else matching_subscriptions(workspace_id, type, brand_id)
    )
    if not targets:
        return None
    now = timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            workspace_id=workspace_id,
            event_id=new_event_id(),
            type=type,
            brand_id=brand_id,
            payload=dict(payload),
            occurred_at=occurred_at or now,
        )
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    workspace_id=workspace_id,
                    subscription=subscription,
                    event=event,
                    status=WebhookDeliveryStatus.PENDING,
                    next_attempt_at=now,
                    requested_by=requested_by[:200],
                )
                for subscription in targets
            ]
        )
    ids = [d.pk for d in deliveries if d.pk is not None]
    if len(ids) != len(deliveries):  # a backend without RETURNING: read them back
        ids = list(event.deliveries.values_list("pk", flat=True))
    enqueue_on_commit(ids)
    return event


def emit_safely(
    workspace_id: int, type: str, payload: Mapping[str, Any], brand_id: int | None
) -> None:
    """:func:`emit` for signal receivers and hooks: a failure is logged and never breaks the
    change being reported (the savepoint in :func:`emit` is rolled back on its own)."""
    try:
        emit(workspace_id, type, payload, brand_id)
    except Exception:
        logger.exception("could not record webhook event %s for workspace %s", type, workspace_id)
