"""Sending deliveries to a real HTTP receiver on 127.0.0.1: signatures, back-off, 410, give-up,
SSRF refusal, claims and the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.models import WebhookDelivery, WebhookDeliveryStatus
from calendar_app.outbound import sender, tasks
from calendar_app.outbound.events import CONTENT_APPROVED, emit
from calendar_app.outbound.sender import WEBHOOK_POLICY
from calendar_app.outbound.signing import verify
from plugins.webhook import addresses as plugin_addresses
from publishers import resolve_target
from publishers.errors import MAX_DETAIL
from publishers.testing import Reply

pytestmark = pytest.mark.django_db
S = WebhookDeliveryStatus


def emit_one(workspace, brand=None):
    return emit(workspace.pk, CONTENT_APPROVED, {"content_item": {"id": 1}}, brand and brand.pk)


def due_now(delivery: WebhookDelivery) -> None:
    """Time passes: the delivery's next attempt is due."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_delivery_reaches_the_receiver_signed(
    workspace, brand, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscribe(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        event = emit(workspace.pk, CONTENT_APPROVED, {"content_item": {"id": 7}}, brand.pk)
    assert receiver.rejected == []
    [request] = receiver.verified
    assert request.path == "/hooks/kairos"
    assert request.headers["webhook-id"] == event.event_id
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "type": "content.approved",
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "workspace": workspace.slug,
        "data": {"content_item": {"id": 7}},
    }
    delivery = event.deliveries.get()
    assert delivery.status == S.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 204
    assert delivery.succeeded_at is not None
    assert delivery.attempt_log.get().outcome == S.SUCCEEDED


def test_deliveries_to_one_receiver_reuse_one_connection(
    workspace, brand, subscribe, receiver, django_capture_on_commit_callbacks
):
    """A burst of events to one subscriber pays one TCP handshake, not one per delivery."""
    sender.CLIENTS.close()
    subscribe(workspace)
    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            emit(workspace.pk, CONTENT_APPROVED, {"content_item": {"id": n}}, brand.pk)
    assert len(receiver.verified) == 3
    assert len({request.peer for request in receiver.server.requests}) == 1
    sender.CLIENTS.close()  # a closed pool opens a new connection
    with django_capture_on_commit_callbacks(execute=True):
        emit(workspace.pk, CONTENT_APPROVED, {"content_item": {"id": 9}}, brand.pk)
    assert len({request.peer for request in receiver.server.requests}) == 2


def test_500_is_retried_with_back_off_then_succeeds(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    _, secret = subscribe(workspace)
    receiver.server.reply(Reply(500, body=b"oops"), Reply(503, headers={"Retry-After": "30"}))
    with django_capture_on_commit_callbacks(execute=True):
        event = emit_one(workspace)
    delivery = event.deliveries.get()
    assert delivery.status == S.RETRYING
    assert delivery.last_status_code == 500
    assert delivery.response_excerpt == "oops"
    first_wait = delivery.next_attempt_at - delivery.updated_at
    assert timedelta(0) <= first_wait <= timedelta(seconds=WEBHOOK_POLICY.base)
    # Not due yet: the sweep leaves it alone, and a stray task does not send it early.
    assert tasks.sweep()["queued"] == 0
    assert sender.send_delivery(delivery.pk) == "not-claimed"

    due_now(delivery)
    assert tasks.sweep()["queued"] == 1  # sync django-q2: sent inline
    delivery.refresh_from_db()
    assert delivery.status == S.RETRYING and delivery.last_status_code == 503
    # Retry-After is a floor under the jittered delay.
    assert delivery.next_attempt_at - delivery.updated_at >= timedelta(seconds=29)

    due_now(delivery)
    tasks.sweep()
    delivery.refresh_from_db()
    assert delivery.status == S.SUCCEEDED
    assert delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 204]
    assert [a.outcome for a in delivery.attempt_log.all()] == [S.RETRYING, S.RETRYING, S.SUCCEEDED]
    # Every attempt carried the same webhook-id and body, each with a valid signature.
    requests = receiver.server.requests
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(verify(secret, r.headers, r.body) == event.event_id for r in requests)


def test_back_off_grows_from_seconds_to_hours_for_about_three_days():
    bounds = [
        min(WEBHOOK_POLICY.cap, WEBHOOK_POLICY.base * WEBHOOK_POLICY.factor ** (n - 1))
        for n in range(1, WEBHOOK_POLICY.max_attempts)
    ]
    assert bounds[0] == 5 and bounds[-1] == 12 * 3600
    expected_total = sum(bounds) / 2  # full jitter: on average half the bound
    assert 2.5 * 86400 < expected_total < 3.5 * 86400


def test_410_disables_the_subscription_and_fails_what_waits(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscription, _ = subscribe(workspace)
    receiver.server.reply(Reply(410))
    waiting = emit_one(workspace)  # created before, not sent yet (no commit callbacks run)
    with django_capture_on_commit_callbacks(execute=True):
        event = emit_one(workspace)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert "410" in subscription.disabled_reason
    assert event.deliveries.get().status == S.FAILED
    assert waiting.deliveries.get().status == S.FAILED
    assert "disabled" in waiting.deliveries.get().last_error
    # A disabled subscription gets nothing new.
    assert emit_one(workspace) is None


def test_gives_up_after_the_last_attempt(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscribe(workspace)
    receiver.server.handler = lambda request: Reply(502)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = emit_one(workspace).deliveries.get()
    for _ in range(WEBHOOK_POLICY.max_attempts - 1):
        due_now(delivery)
        sender.send_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == S.GAVE_UP
    assert delivery.attempts == WEBHOOK_POLICY.max_attempts
    assert delivery.next_attempt_at is None
    assert len(receiver.server.requests) == WEBHOOK_POLICY.max_attempts
    assert tasks.sweep()["queued"] == 0


def test_private_targets_are_refused_without_the_setting(
    settings, workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    settings.KAIROS_WEBHOOKS_ALLOW_PRIVATE = False
    subscribe(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        delivery = emit_one(workspace).deliveries.get()
    delivery.refresh_from_db()
    assert delivery.status == S.FAILED  # refused for good, never retried
    assert "address_refused" in delivery.last_error
    assert "KAIROS_WEBHOOKS_ALLOW_PRIVATE" in delivery.last_error
    assert receiver.server.requests == []


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "http://[::1"])
def test_invalid_urls_fail_without_retry(workspace, subscribe, url):
    subscription, _ = subscribe(workspace)
    subscription.url = url  # the API refuses these; a row edited by hand must not crash
    subscription.save()
    delivery = emit_one(workspace).deliveries.get()
    assert sender.send_delivery(delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert "invalid_url" in delivery.last_error


def test_redirects_are_not_followed(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscribe(workspace)
    receiver.server.reply(Reply(302, headers={"Location": "http://169.254.169.254/"}))
    with django_capture_on_commit_callbacks(execute=True):
        delivery = emit_one(workspace).deliveries.get()
    delivery.refresh_from_db()
    assert delivery.status == S.RETRYING
    assert delivery.last_status_code == 302
    assert len(receiver.server.requests) == 1


def test_only_a_short_sanitised_excerpt_of_the_answer_is_kept(workspace, subscribe, receiver):
    """The delivery log must not become a window onto what a URL reached (security review #2)."""
    subscribe(workspace)
    page = b"<html><body><pre>" + b"db_password=hunter2-internal\n" * 5000 + b"</pre></body></html>"
    receiver.server.reply(Reply(400, body=page))
    delivery = emit_one(workspace).deliveries.get()
    sender.send_delivery(delivery.pk)
    delivery.refresh_from_db()
    for kept in (delivery.response_excerpt, delivery.attempt_log.get().response_excerpt):
        assert len(kept) <= MAX_DETAIL
        assert kept.startswith("db_password=hunter2-internal db_password")
        assert "<" not in kept and "\n" not in kept


def test_unreachable_receiver_is_retried(workspace, subscribe, receiver):
    subscribe(workspace, url="http://127.0.0.1:9/closed")
    delivery = emit_one(workspace).deliveries.get()
    assert sender.send_delivery(delivery.pk) == S.RETRYING
    delivery.refresh_from_db()
    assert "connection failed" in delivery.last_error


def test_a_delivery_is_sent_once_by_racing_workers(workspace, subscribe, receiver):
    subscribe(workspace)
    delivery = emit_one(workspace).deliveries.get()
    now = timezone.now()
    assert sender.claim(delivery.pk, now) is True
    assert sender.claim(delivery.pk, now) is False
    assert sender.send_delivery(delivery.pk) == "not-claimed"
    assert receiver.server.requests == []
    # A worker that died holding the claim: once the claim expires the sweep sends it.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=now - timedelta(seconds=1))
    assert tasks.sweep()["queued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == S.SUCCEEDED
    assert len(receiver.verified) == 1


def test_sweep_sends_deliveries_whose_task_was_lost(workspace, subscribe, receiver):
    subscribe(workspace)
    emit_one(workspace)  # the on-commit task never ran (crash, lost broker message)
    assert tasks.sweep()["queued"] == 1
    assert len(receiver.verified) == 1


def test_webhook_plugin_keeps_its_address_names():
    assert plugin_addresses.resolve_target is resolve_target
    assert plugin_addresses.AddressRefused.default_code == "address_refused"
