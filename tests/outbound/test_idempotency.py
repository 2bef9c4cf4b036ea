"""``Idempotency-Key`` on API POSTs (the middleware as the lead installs it, right after
``AuthenticationMiddleware``): replay, in flight, reuse with another body, per-credential keys,
nothing acted twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models.signals import post_save
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from calendar_app.api.idempotency import IN_FLIGHT_TIMEOUT
from calendar_app.models import ContentItem, Fire, IdempotencyRecord, Role
from calendar_app.outbound import tasks
from calendar_app.reactive import approve_template
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("with_idempotency")]


def items_url(workspace) -> str:
    return reverse("api:content-item-list", kwargs={"workspace_slug": workspace.slug})


def post_item(client, workspace, brand, key, title="Dunk in the dark", **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    body = {"brand": brand.pk, "title": title, "body": "You can still dunk in the dark."}
    return client.post(items_url(workspace), body, format="json", **headers, **extra)


def test_a_repeated_create_replays_the_first_answer_and_creates_one_row(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    first = post_item(client, workspace, brand, "create-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    second = post_item(client, workspace, brand, "create-1")
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert ContentItem.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.workspace == workspace and not record.in_flight
    assert abs(record.expires_at - record.created_at - timedelta(hours=24)) < timedelta(seconds=5)
    # Without a key, or with a new one, the call acts again.
    assert post_item(client, workspace, brand, None).status_code == 201
    assert post_item(client, workspace, brand, "create-2").status_code == 201
    assert ContentItem.objects.count() == 3


def test_same_key_with_another_body_is_refused(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    assert post_item(client, workspace, brand, "k").status_code == 201
    response = post_item(client, workspace, brand, "k", title="Something else")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert set(response.json()) == {"code", "detail", "fields"}
    assert ContentItem.objects.count() == 1


def test_same_key_on_another_path_is_refused(workspace, brand):
    client = token_client(workspace, Role.ADMIN)
    assert post_item(client, workspace, brand, "k").status_code == 201
    other = reverse("api:brand-list", kwargs={"workspace_slug": workspace.slug})
    response = client.post(
        other, {"name": "X", "slug": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 422


def test_a_duplicate_while_the_first_runs_gets_409(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    seen = {}

    def duplicate_arrives(sender, instance, created, **kwargs):
        if created and "response" not in seen:
            seen["response"] = post_item(client, workspace, brand, "slow")

    post_save.connect(duplicate_arrives, sender=ContentItem, dispatch_uid="test_dup")
    try:
        first = post_item(client, workspace, brand, "slow")
    finally:
        post_save.disconnect(sender=ContentItem, dispatch_uid="test_dup")
    assert first.status_code == 201
    duplicate = seen["response"]
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "idempotency_in_flight"
    assert int(duplicate["Retry-After"]) > 0
    assert ContentItem.objects.count() == 1
    # Once the first is done, the duplicate gets its answer.
    again = post_item(client, workspace, brand, "slow")
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content


def test_a_marker_left_by_a_crashed_request_is_taken_over(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    post_item(client, workspace, brand, "crash")
    IdempotencyRecord.objects.update(
        in_flight=True, created_at=timezone.now() - IN_FLIGHT_TIMEOUT - timedelta(seconds=1)
    )
    response = post_item(client, workspace, brand, "crash")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_keys_belong_to_one_credential(workspace, brand):
    one = token_client(workspace, Role.EDITOR)
    two = token_client(workspace, Role.EDITOR)
    assert post_item(one, workspace, brand, "shared").status_code == 201
    response = post_item(two, workspace, brand, "shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert ContentItem.objects.count() == 2
    assert IdempotencyRecord.objects.values("credential_hash").distinct().count() == 2


def test_session_users_have_their_own_keys(workspace, brand):
    users = [f.MembershipFactory(workspace=workspace, role=Role.EDITOR).user for _ in range(2)]
    clients = []
    for user in users:
        client = APIClient()
        client.force_login(user)
        clients.append(client)
    assert post_item(clients[0], workspace, brand, "s").status_code == 201
    assert post_item(clients[0], workspace, brand, "s")["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in post_item(clients[1], workspace, brand, "s")
    assert ContentItem.objects.count() == 2


@pytest.mark.parametrize("key", ["x" * 256, "", "tab\there", "é"])
def test_bad_keys_are_400_in_the_error_shape(workspace, brand, key):
    client = token_client(workspace, Role.EDITOR)
    response = post_item(client, workspace, brand, key)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in body["fields"]
    assert ContentItem.objects.count() == 0


def test_a_255_character_key_is_fine(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    assert post_item(client, workspace, brand, "k" * 255).status_code == 201


def test_errors_are_replayed_but_conflicts_are_not_stored(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    bad = {"brand": brand.pk, "title": "", "body": "x"}
    first = client.post(items_url(workspace), bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == 400
    again = client.post(items_url(workspace), bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert again["Idempotent-Replayed"] == "true"
    # A 409 (a refused transition) is meant to be retried: not stored.
    item = f.ContentItemFactory(brand=brand, workspace=workspace)
    approve = reverse(
        "api:content-item-approve", kwargs={"workspace_slug": workspace.slug, "pk": item.pk}
    )
    approver = token_client(workspace, Role.APPROVER)
    conflict = approver.post(approve, {}, format="json", HTTP_IDEMPOTENCY_KEY="approve")
    assert conflict.status_code == 409
    assert not IdempotencyRecord.objects.filter(key="approve").exists()


def test_firing_twice_with_one_key_fires_once(workspace, brand, django_capture_on_commit_callbacks):
    template = f.ReactiveTemplateFactory(brand=brand, workspace=workspace)
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    approve_template(template, Actor.for_user(approver, workspace))
    client = token_client(workspace, Role.APPROVER)
    fire = reverse(
        "api:reactive-template-fire", kwargs={"workspace_slug": workspace.slug, "pk": template.pk}
    )
    body = {"values": {"moment": "the lights went out"}}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(fire, body, format="json", HTTP_IDEMPOTENCY_KEY="blackout")
        second = client.post(fire, body, format="json", HTTP_IDEMPOTENCY_KEY="blackout")
    assert first.status_code == 201, first.content
    assert second.status_code == 201 and second["Idempotent-Replayed"] == "true"
    assert Fire.objects.count() == 1


def test_gets_and_anonymous_calls_are_not_tracked(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    assert client.get(items_url(workspace), HTTP_IDEMPOTENCY_KEY="g").status_code == 200
    anonymous = post_item(APIClient(), workspace, brand, "anon")
    assert anonymous.status_code == 401
    assert IdempotencyRecord.objects.count() == 0


def test_the_sweep_deletes_expired_records(workspace, brand):
    client = token_client(workspace, Role.EDITOR)
    post_item(client, workspace, brand, "old")
    post_item(client, workspace, brand, "new")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now())
    assert tasks.sweep()["idempotency_expired"] == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    # An expired key acts again.
    assert "Idempotent-Replayed" not in post_item(client, workspace, brand, "old")
