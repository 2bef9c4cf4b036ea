"""The webhook endpoints: admins manage subscriptions (the secret shown once), approvers read
the delivery log and replay; another workspace sees and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from calendar_app.api.urls import workspace_router
from calendar_app.models import Role, WebhookDelivery, WebhookDeliveryStatus, WebhookSubscription
from calendar_app.outbound.events import CONTENT_APPROVED, WEBHOOK_TEST, emit
from calendar_app.outbound.signing import verify
from publishers.testing import Reply
from tests.api.conftest import RouteCase, _routes, call, token_client
from tests.outbound import urls as test_urls

pytestmark = pytest.mark.django_db


def url(name: str, workspace, **kwargs: Any) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def create(client, workspace, **data):
    body = {"url": "https://hooks.example.com/kairos", **data}
    return client.post(url("webhook-subscription-list", workspace), body, format="json")


def test_admin_creates_and_sees_the_secret_once(workspace, brand):
    client = token_client(workspace, Role.ADMIN)
    response = create(
        client, workspace, event_types=[CONTENT_APPROVED, CONTENT_APPROVED], brands=[brand.pk]
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["secret"].startswith("whsec_")
    assert data["event_types"] == [CONTENT_APPROVED]
    assert data["brands"] == [brand.pk]
    subscription = WebhookSubscription.objects.get(pk=data["id"])
    assert subscription.secret == {"current": data["secret"]}
    detail = client.get(url("webhook-subscription-detail", workspace, pk=data["id"]))
    listing = client.get(url("webhook-subscription-list", workspace))
    for response in (detail, listing):
        assert response.status_code == 200
        assert data["secret"] not in response.content.decode()
        assert b'"secret"' not in response.content


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.APPROVER])
def test_only_admins_manage_subscriptions(workspace, role):
    client = token_client(workspace, role)
    assert create(client, workspace).status_code == 403
    assert client.get(url("webhook-subscription-list", workspace)).status_code == 403


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"url": "ftp://hooks.example.com/"}, "url", "invalid_url"),
        ({"url": "http://127.0.0.1/hook"}, "url", "address_refused"),
        ({"url": "http://169.254.169.254/latest"}, "url", "address_refused"),
        ({"url": "http://localhost:8000/"}, "url", "address_refused"),
        ({"event_types": ["content.exploded"]}, "event_types.0", "invalid_choice"),
        ({"brands": [999999]}, "brands", "does_not_exist"),
    ],
)
def test_bad_subscriptions_are_field_errors(settings, workspace, data, field, code):
    settings.KAIROS_WEBHOOKS_ALLOW_PRIVATE = False
    response = create(token_client(workspace, Role.ADMIN), workspace, **data)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["fields"], body
    assert body["code"] in (code, "invalid")


def test_a_brand_of_another_workspace_is_refused(workspace, other_workspace):
    from tests import factories as f

    foreign = f.BrandFactory(workspace=other_workspace)
    response = create(token_client(workspace, Role.ADMIN), workspace, brands=[foreign.pk])
    assert response.status_code == 400
    assert "brands" in response.json()["fields"]


def test_rotate_secret_then_both_sign_for_a_day(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscription, old = subscribe(workspace)
    client = token_client(workspace, Role.ADMIN)
    response = client.post(url("webhook-subscription-rotate-secret", workspace, pk=subscription.pk))
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    with django_capture_on_commit_callbacks(execute=True):
        emit(workspace.pk, CONTENT_APPROVED, {}, None)
    [request] = receiver.server.requests
    assert len(request.headers["webhook-signature"].split()) == 2
    assert verify(new, request.headers, request.body)
    assert verify(old, request.headers, request.body)


def test_test_action_sends_a_test_event_to_that_subscription_only(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscription, _ = subscribe(workspace, event_types=[CONTENT_APPROVED])
    subscribe(workspace)  # another one, which must not get the test
    client = token_client(workspace, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("webhook-subscription-test", workspace, pk=subscription.pk))
    assert response.status_code == 202, response.content
    assert response.json()["event_type"] == WEBHOOK_TEST
    assert receiver.types() == [WEBHOOK_TEST]
    delivery = WebhookDelivery.objects.get()
    assert delivery.subscription == subscription
    assert delivery.status == WebhookDeliveryStatus.SUCCEEDED


def test_disabling_and_enabling_through_the_api(workspace, subscribe):
    subscription, _ = subscribe(workspace)
    client = token_client(workspace, Role.ADMIN)
    detail = url("webhook-subscription-detail", workspace, pk=subscription.pk)
    off = client.patch(detail, {"is_active": False}, format="json").json()
    assert off["is_active"] is False and off["disabled_reason"]
    assert (
        client.post(url("webhook-subscription-test", workspace, pk=subscription.pk)).status_code
        == 409
    )
    on = client.patch(detail, {"is_active": True}, format="json").json()
    assert on["is_active"] is True and on["disabled_reason"] == ""


def test_delivery_log_filters_and_replay_keeps_the_webhook_id(
    workspace, subscribe, receiver, django_capture_on_commit_callbacks
):
    subscribe(workspace)
    receiver.server.reply(Reply(500))
    with django_capture_on_commit_callbacks(execute=True):
        failing = emit(workspace.pk, CONTENT_APPROVED, {"n": 1}, None)
        emit(workspace.pk, WEBHOOK_TEST, {"n": 2}, None)
    client = token_client(workspace, Role.APPROVER)
    listing = url("webhook-delivery-list", workspace)
    assert len(client.get(listing).json()["results"]) == 2
    retrying = client.get(listing, {"status": "retrying"}).json()["results"]
    assert [d["event_id"] for d in retrying] == [failing.event_id]
    assert retrying[0]["attempt_log"][0]["status_code"] == 500
    assert retrying[0]["payload"] == {"n": 1}
    by_type = client.get(listing, {"event_type": WEBHOOK_TEST}).json()["results"]
    assert [d["event_type"] for d in by_type] == [WEBHOOK_TEST]
    assert client.get(listing, {"status": "nonsense"}).status_code == 400

    original = WebhookDelivery.objects.get(event=failing)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("webhook-delivery-replay", workspace, pk=original.pk))
    assert response.status_code == 201, response.content
    replayed = response.json()
    assert replayed["id"] != original.pk
    assert replayed["replay_of"] == original.pk
    assert replayed["event_id"] == failing.event_id
    assert replayed["requested_by"].startswith("token ")
    ids = [r.headers["webhook-id"] for r in receiver.server.requests]
    assert ids.count(failing.event_id) == 2  # the first attempt and the replay: same message
    assert WebhookDelivery.objects.get(pk=replayed["id"]).status == WebhookDeliveryStatus.SUCCEEDED


def test_viewers_and_editors_cannot_read_or_replay_deliveries(workspace, subscribe):
    subscribe(workspace)
    event = emit(workspace.pk, CONTENT_APPROVED, {}, None)
    delivery = event.deliveries.get()
    for role in (Role.VIEWER, Role.EDITOR):
        client = token_client(workspace, role)
        assert client.get(url("webhook-delivery-list", workspace)).status_code == 403
        assert (
            client.post(url("webhook-delivery-replay", workspace, pk=delivery.pk)).status_code
            == 403
        )
    assert WebhookDelivery.objects.count() == 1


# --- tenancy, generated from the webhook routes like tests/api/test_tenancy.py --------------


@pytest.fixture
def webhook_world(subscribe):
    def build(workspace):
        subscription, _ = subscribe(workspace, description=f"hooks of {workspace.slug}")
        event = emit(workspace.pk, CONTENT_APPROVED, {"w": workspace.slug}, None)
        return {"webhook-subscription": subscription, "webhook-delivery": event.deliveries.get()}

    return build


ROUTES: list[RouteCase] = [
    case
    for case in _routes(workspace_router, ()) + _routes(test_urls.router, ())
    if case.basename in ("webhook-subscription", "webhook-delivery")
]


def test_routes_cover_the_webhook_endpoints():
    served = {(c.basename, c.action) for c in ROUTES}
    assert served == {
        ("webhook-subscription", a)
        for a in (
            "list",
            "create",
            "retrieve",
            "update",
            "partial_update",
            "destroy",
            "rotate_secret",
            "test",
        )
    } | {("webhook-delivery", a) for a in ("list", "retrieve", "replay")}


def _url(case: RouteCase, slug: str, objects: dict) -> str:
    kwargs: dict[str, Any] = {"workspace_slug": slug}
    if case.detail:
        kwargs["pk"] = objects[case.basename].pk
    return reverse(f"api:{case.url_name}", kwargs=kwargs)


def _snapshot(objects: dict) -> dict:
    state = {}
    for name, obj in objects.items():
        fresh = type(obj).objects.filter(pk=obj.pk).first()
        state[name] = None if fresh is None else (model_to_dict(fresh), str(fresh.updated_at))
    return state


@pytest.mark.parametrize("case", [c for c in ROUTES if c.detail], ids=lambda c: c.id)
def test_foreign_ids_answer_404_and_change_nothing(case, workspace, other_workspace, webhook_world):
    webhook_world(workspace)
    theirs = webhook_world(other_workspace)
    before = _snapshot(theirs)
    client = token_client(workspace, Role.ADMIN)
    response = call(client, case, _url(case, workspace.slug, theirs))
    assert response.status_code == 404, (case.id, response.content)
    assert response.json()["code"] == "not_found"
    assert _snapshot(theirs) == before
    assert WebhookDelivery.objects.filter(workspace=other_workspace).count() == 1


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_foreign_workspace_in_url_answers_404(case, workspace, other_workspace, webhook_world):
    webhook_world(workspace)
    theirs = webhook_world(other_workspace)
    before = _snapshot(theirs)
    client = token_client(workspace, Role.ADMIN)
    response = call(client, case, _url(case, other_workspace.slug, theirs))
    assert response.status_code == 404, (case.id, response.content)
    assert _snapshot(theirs) == before


@pytest.mark.parametrize("case", [c for c in ROUTES if c.action == "list"], ids=lambda c: c.id)
def test_lists_show_only_own_rows(case, workspace, other_workspace, webhook_world):
    ours = webhook_world(workspace)
    theirs = webhook_world(other_workspace)
    client = token_client(workspace, Role.ADMIN)
    ids = {row["id"] for row in client.get(_url(case, workspace.slug, ours)).json()["results"]}
    assert ours[case.basename].pk in ids
    assert theirs[case.basename].pk not in ids
