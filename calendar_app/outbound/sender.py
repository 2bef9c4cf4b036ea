"""Sending one webhook delivery, retrying it with back-off, and the people's actions on them.

Like pretix's ``send_webhook``: one attempt row per try; a 2xx is a success; ``410 Gone`` switches
the subscription off for good; anything else (another status, a time-out, a refused connection)
is retried with exponential back-off and full jitter, from seconds to hours, for about three
days (:data:`WEBHOOK_POLICY`), after which the delivery is ``gave_up``. A URL that is not
http(s) or points into our own network (SSRF) fails at once, without a retry.

The next attempt is stored on the row (``next_attempt_at``) and picked up by the periodic sweep
(:func:`dispatch_due`, ``SELECT … FOR UPDATE SKIP LOCKED`` where the database has it), never left
to broker redelivery. A worker *claims* a delivery with one conditional UPDATE before sending,
so a duplicate task or two sweeps send it once.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from calendar_app.models import (
    Role,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from calendar_app.outbound.events import WEBHOOK_TEST, emit, enqueue, enqueue_on_commit, iso
from calendar_app.outbound.signing import generate_secret, signature_headers
from publishers import (
    ClientPool,
    PermanentError,
    RetryPolicy,
    Target,
    TransientError,
    next_delay,
    resolve_target,
)
from publishers.errors import excerpt as remote_excerpt

logger = logging.getLogger("kairos.webhooks")
S = WebhookDeliveryStatus

#: 5 s, 15 s, 45 s … growing ×3 up to 12 h (full jitter: each wait is drawn below that bound),
#: 20 attempts in all: about 2.8 days on average before giving up (pretix: about three days).
WEBHOOK_POLICY = RetryPolicy(
    base=5.0, factor=3.0, cap=12 * 3600.0, max_attempts=20, max_retry_after=24 * 3600.0
)
EXCERPT_BYTES = 2048
USER_AGENT = "Kairos-Webhooks/1"
CLAIM_TTL = timedelta(seconds=90)
ROTATION_GRACE = timedelta(hours=24)
PRIVATE_HINT = "private targets are allowed only when KAIROS_WEBHOOKS_ALLOW_PRIVATE is on"


def allow_private() -> bool:
    return bool(getattr(settings, "KAIROS_WEBHOOKS_ALLOW_PRIVATE", False))


def timeout() -> httpx.Timeout:
    connect = float(getattr(settings, "KAIROS_WEBHOOKS_CONNECT_TIMEOUT", 5.0))
    read = float(getattr(settings, "KAIROS_WEBHOOKS_READ_TIMEOUT", 10.0))
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def check_url(url: str) -> Target:
    """Resolve and check a subscription URL (SSRF guard shared with the webhook network plugin).

    :raises PermanentError: not http(s), or (``AddressRefused``) a private or reserved address.
    :raises TransientError: the name does not resolve right now.
    """
    return resolve_target(url, allow_private=allow_private(), hint=PRIVATE_HINT)


# --- the request -------------------------------------------------------------------------------


def body_of(delivery: WebhookDelivery) -> bytes:
    """The JSON body: the same bytes for every attempt and replay of one event."""
    event = delivery.event
    document = {
        "type": event.type,
        "timestamp": iso(event.occurred_at),
        "workspace": delivery.workspace.slug,
        "data": event.payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_secrets(subscription: WebhookSubscription, now: datetime | None = None) -> list[str]:
    """The current secret, plus the previous one during a rotation's grace period."""
    stored = subscription.secret or {}
    found = [stored["current"]] if stored.get("current") else []
    until = stored.get("previous_until")
    if stored.get("previous") and until:
        try:
            still = datetime.fromisoformat(until) > (now or timezone.now())
        except ValueError:
            still = False
        if still:
            found.append(stored["previous"])
    return found


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got back. ``kind``: ``ok``, ``gone``, ``retry`` or ``refused``."""

    kind: str
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    duration_ms: int = 0
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


#: Kept-alive connections to subscribers, one client per (scheme, host, port) and at most 64
#: hosts per worker: a burst of events to one receiver reuses its connection instead of paying
#: a TCP (and TLS) handshake per delivery.
CLIENTS = ClientPool(max_clients=64)


def post(url: str, headers: dict[str, str], body: bytes) -> Answer:
    """POST ``body`` to ``url`` once: SSRF-checked and pinned, no redirects, bounded time-outs,
    and at most :data:`EXCERPT_BYTES` of the answer read."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = check_url(url)
    except PermanentError as exc:
        return Answer("refused", error=f"[{exc.code}] {exc.reason}", duration_ms=elapsed())
    except TransientError as exc:
        return Answer("retry", error=f"[{exc.code}] {exc.reason}", duration_ms=elapsed())
    request_headers = {
        **headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": target.host_header,
    }
    try:
        with CLIENTS.client_for(target).stream(
            "POST",
            target.pinned_url(url),
            headers=request_headers,
            content=body,
            extensions=target.extensions,
            timeout=timeout(),
        ) as response:
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) >= EXCERPT_BYTES:
                    break
            status = response.status_code
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except httpx.TimeoutException as exc:
        return Answer("retry", error=f"time-out: {exc!r}", duration_ms=elapsed())
    except httpx.HTTPError as exc:
        return Answer("retry", error=f"connection failed: {exc!r}", duration_ms=elapsed())
    # A short, sanitised excerpt only: the subscriber's answer is shown in the delivery log,
    # which must not become a window onto whatever the URL reached.
    excerpt = remote_excerpt(received[:EXCERPT_BYTES])
    if 200 <= status < 300:
        return Answer("ok", status, excerpt=excerpt, duration_ms=elapsed())
    kind = "gone" if status == 410 else "retry"
    return Answer(
        kind,
        status,
        error=f"HTTP {status}",
        excerpt=excerpt,
        duration_ms=elapsed(),
        retry_after=retry_after if status in (429, 503) else None,
    )


# --- one delivery ------------------------------------------------------------------------------


def claim(delivery_id: int, now: datetime) -> bool:
    """Take a due delivery for this worker; of two racing workers exactly one gets it."""
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status__in=S.open_states(), next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_TTL, attempts=F("attempts") + 1, updated_at=now)
    )


def send_delivery(delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else has it. Safe to call any number of times.

    :returns: ``not-claimed``, ``succeeded``, ``retrying``, ``gave_up``, ``failed`` or
        ``disabled`` (410: the subscription was switched off).
    """
    now = timezone.now()
    if not claim(delivery_id, now):
        return "not-claimed"
    delivery = WebhookDelivery.objects.select_related("subscription", "event", "workspace").get(
        pk=delivery_id
    )
    subscription = delivery.subscription
    if not subscription.is_active:
        _finish(delivery, S.FAILED, error="The subscription is disabled.", count_attempt=False)
        return S.FAILED
    body = body_of(delivery)
    headers = signature_headers(signing_secrets(subscription, now), delivery.event.event_id, body)
    answer = post(subscription.url, headers, body)
    return _record(delivery, answer, now)


def _record(delivery: WebhookDelivery, answer: Answer, started: datetime) -> str:
    finished = timezone.now()
    fields: dict[str, Any] = {}
    if answer.kind == "ok":
        status = S.SUCCEEDED
        fields.update(succeeded_at=finished, next_attempt_at=None)
    elif answer.kind in ("gone", "refused"):
        status = S.FAILED
        fields.update(next_attempt_at=None)
    else:
        delay = next_delay(delivery.attempts, retry_after=answer.retry_after, policy=WEBHOOK_POLICY)
        if delay is None:
            status = S.GAVE_UP
            fields.update(next_attempt_at=None)
        else:
            status = S.RETRYING
            fields.update(next_attempt_at=finished + timedelta(seconds=delay))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=started,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            outcome=status,
            error=answer.error,
            response_excerpt=answer.excerpt,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            claimed_until=None,
            last_status_code=answer.status_code,
            last_error=answer.error,
            response_excerpt=answer.excerpt,
            duration_ms=answer.duration_ms,
            updated_at=finished,
            **fields,
        )
        if answer.kind == "gone":
            disable(
                delivery.subscription,
                f"The receiver answered 410 Gone on {finished:%Y-%m-%d %H:%M} UTC.",
            )
            return "disabled"
    if status == S.GAVE_UP:
        logger.warning(
            "webhook delivery %s gave up after %s attempts: %s",
            delivery.pk,
            delivery.attempts,
            answer.error,
        )
    return status


def _finish(delivery: WebhookDelivery, status: str, *, error: str, count_attempt: bool) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        claimed_until=None,
        next_attempt_at=None,
        last_error=error,
        attempts=F("attempts") if count_attempt else F("attempts") - 1,
        updated_at=timezone.now(),
    )


def disable(subscription: WebhookSubscription, reason: str) -> None:
    """Switch a subscription off; its deliveries still waiting fail with the reason."""
    now = timezone.now()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        is_active=False, disabled_reason=reason[:500], disabled_at=now, updated_at=now
    )
    WebhookDelivery.objects.filter(
        subscription=subscription, status__in=S.open_states(), claimed_until__isnull=True
    ).update(
        status=S.FAILED,
        next_attempt_at=None,
        last_error=f"The subscription was disabled: {reason}"[:1000],
        updated_at=now,
    )


# --- the sweep ---------------------------------------------------------------------------------


def dispatch_due(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Enqueue every open delivery whose time has come and that nobody holds; returns the ids."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            WebhookDelivery.objects.filter(status__in=S.open_states(), next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_attempt_at", "pk")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
    enqueue(ids)
    return ids


# --- people's actions --------------------------------------------------------------------------


class WebhookActionError(Exception):
    """A refused action; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def _require(actor: Any, role: str, what: str) -> None:
    if not actor.may(role):
        raise WebhookActionError(
            "permission_denied",
            f"{what} needs the {role} role; {actor.label} has {actor.role or 'no role'}.",
        )


def new_secret_value() -> tuple[dict[str, str], str]:
    """A fresh stored secret and its clear text."""
    clear = generate_secret()
    return {"current": clear}, clear


@transaction.atomic
def rotate_secret(subscription: WebhookSubscription, actor: Any) -> str:
    """A new signing secret, returned in clear once. The old one keeps signing alongside the new
    one for :data:`ROTATION_GRACE`, so receivers can switch without dropping a message."""
    _require(actor, Role.ADMIN, "Rotating a webhook secret")
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    clear = generate_secret()
    previous = (subscription.secret or {}).get("current", "")
    stored = {"current": clear}
    if previous:
        stored["previous"] = previous
        stored["previous_until"] = (timezone.now() + ROTATION_GRACE).isoformat()
    subscription.secret = stored
    subscription.save(update_fields=["secret", "updated_at"])
    return clear


@transaction.atomic
def replay(delivery: WebhookDelivery, actor: Any) -> WebhookDelivery:
    """Send a delivery's event again to its subscription, as a new delivery (approver or admin).

    The replay carries the event's own ``webhook-id``: it is the same message, so a receiver
    that did process it already can recognise it and answer 2xx without acting twice.
    """
    _require(actor, Role.APPROVER, "Replaying a webhook")
    subscription = delivery.subscription
    if not subscription.is_active:
        raise WebhookActionError(
            "subscription_disabled",
            "The subscription is disabled"
            + (f" ({subscription.disabled_reason})" if subscription.disabled_reason else "")
            + "; enable it before replaying.",
        )
    replayed = WebhookDelivery.objects.create(
        workspace_id=delivery.workspace_id,
        subscription=subscription,
        event_id=delivery.event_id,
        status=S.PENDING,
        next_attempt_at=timezone.now(),
        replay_of=delivery,
        requested_by=actor.label[:200],
    )
    enqueue_on_commit([replayed.pk])
    return replayed


@transaction.atomic
def send_test(subscription: WebhookSubscription, actor: Any) -> WebhookDelivery:
    """Send a ``webhook.test`` event to this subscription only (whatever its filters)."""
    _require(actor, Role.ADMIN, "Testing a webhook")
    if not subscription.is_active:
        raise WebhookActionError(
            "subscription_disabled", "The subscription is disabled; enable it before testing."
        )
    event = emit(
        subscription.workspace_id,
        WEBHOOK_TEST,
        {"subscription": subscription.pk, "message": "Kairos says hello."},
        subscriptions=[subscription],
        requested_by=actor.label,
    )
    assert event is not None
    return event.deliveries.get()
