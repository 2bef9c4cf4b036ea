"""django-q2 entry points of outbound webhooks. Thin, and they take ids only."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from calendar_app.models import (
    IdempotencyRecord,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
)
from calendar_app.outbound import sender


def send(delivery_id: int) -> str:
    """Send one delivery (enqueued after commit by ``emit``, a replay or the sweep)."""
    return sender.send_delivery(delivery_id)


def sweep() -> dict[str, int]:
    """Every minute: queue due retries (and deliveries whose task was lost), then clean up
    expired idempotency records and events past their retention."""
    now = timezone.now()
    queued = sender.dispatch_due(now)
    expired, _ = IdempotencyRecord.objects.filter(expires_at__lt=now).delete()
    return {"queued": len(queued), "idempotency_expired": expired, "events_purged": purge(now)}


def purge(now=None) -> int:
    """Delete events older than ``KAIROS_WEBHOOKS_RETENTION_DAYS`` (30 by default) that have no
    delivery still open; their deliveries and attempts go with them."""
    now = now or timezone.now()
    days = int(getattr(settings, "KAIROS_WEBHOOKS_RETENTION_DAYS", 30))
    open_deliveries = WebhookDelivery.objects.filter(
        event=OuterRef("pk"), status__in=WebhookDeliveryStatus.open_states()
    )
    old = WebhookEvent.objects.filter(occurred_at__lt=now - timedelta(days=days)).filter(
        ~Exists(open_deliveries)
    )
    ids = list(old.values_list("pk", flat=True)[:1000])
    if not ids:
        return 0
    WebhookEvent.objects.filter(pk__in=ids).delete()
    return len(ids)
