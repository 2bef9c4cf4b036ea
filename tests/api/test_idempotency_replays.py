"""Security review #3: the idempotency store never holds a secret, and never answers a caller it
has not authenticated and authorised again (``calendar_app.api.idempotency``).

The attacks come first: a stored answer replayed to a revoked token, to a demoted member, to
another caller reusing the key; then the secrets: read the stored row itself.
"""

from __future__ import annotations

import importlib
import json
import re

import pytest
from django.urls import reverse
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.test import APIClient

from calendar_app.api.idempotency import REDACTED_HEADER, REPLAYED_HEADER, storable_answer
from calendar_app.api.serializers.common import ShownOnceField
from calendar_app.models import ApiToken, CalendarFeed, IdempotencyRecord, Role, WebhookSubscription
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def tokens_url(workspace) -> str:
    return reverse("api:token-list", kwargs={"workspace_slug": workspace.slug})


def webhooks_url(workspace) -> str:
    return reverse("api:webhook-subscription-list", kwargs={"workspace_slug": workspace.slug})


def token_of(client: APIClient) -> ApiToken:
    return ApiToken.objects.get(prefix=client.token.split(".")[0])


def person_client(workspace, role: str) -> tuple[APIClient, object]:
    """A member with a personal token of their own role."""
    user = f.MembershipFactory(workspace=workspace, role=role).user
    return token_client(workspace, role, user=user), user


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


# --- authenticate before replaying -------------------------------------------------------------


def test_a_revoked_token_gets_401_not_the_stored_answer(workspace):
    """The review's attack: store an answer, revoke the token, replay the key."""
    admin = token_client(workspace, Role.ADMIN)
    body = {"name": "CI", "role": "editor"}
    first = post(admin, tokens_url(workspace), body, "mint-1")
    assert first.status_code == 201, first.content
    token_of(admin).revoke()

    replay = post(admin, tokens_url(workspace), body, "mint-1")

    assert replay.status_code == 401
    assert replay.json()["code"] == "authentication_failed"
    assert REPLAYED_HEADER not in replay
    assert ApiToken.objects.filter(name="CI").count() == 1


def test_an_expired_token_gets_401_not_the_stored_answer(workspace):
    from datetime import timedelta

    from django.utils import timezone

    admin = token_client(workspace, Role.ADMIN)
    assert post(admin, webhooks_url(workspace), {"url": "https://h.example.com/"}, "w").status_code
    ApiToken.objects.filter(pk=token_of(admin).pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    replay = post(admin, webhooks_url(workspace), {"url": "https://h.example.com/"}, "w")
    assert replay.status_code == 401 and REPLAYED_HEADER not in replay


def test_a_demoted_member_gets_403_not_the_stored_answer(workspace):
    client, user = person_client(workspace, Role.ADMIN)
    body = {"url": "https://hooks.example.com/k"}
    assert post(client, webhooks_url(workspace), body, "hook").status_code == 201
    user.memberships.update(role=Role.VIEWER)

    replay = post(client, webhooks_url(workspace), body, "hook")

    assert replay.status_code == 403 and REPLAYED_HEADER not in replay
    assert replay.json()["code"] == "permission_denied"


def test_a_removed_member_or_deactivated_user_gets_no_replay(workspace):
    client, user = person_client(workspace, Role.ADMIN)
    body = {"url": "https://hooks.example.com/k"}
    assert post(client, webhooks_url(workspace), body, "hook").status_code == 201
    user.is_active = False
    user.save()
    assert post(client, webhooks_url(workspace), body, "hook").status_code == 401
    user.is_active = True
    user.save()
    user.memberships.all().delete()
    assert post(client, webhooks_url(workspace), body, "hook").status_code == 404


def test_another_caller_reusing_a_key_acts_on_its_own(workspace):
    one = token_client(workspace, Role.ADMIN)
    two = token_client(workspace, Role.ADMIN)
    body = {"name": "Same", "role": "viewer"}
    first = post(one, tokens_url(workspace), body, "shared")
    second = post(two, tokens_url(workspace), body, "shared")
    assert first.status_code == second.status_code == 201
    assert REPLAYED_HEADER not in second
    assert first.json()["id"] != second.json()["id"]
    rows = IdempotencyRecord.objects.filter(key="shared")
    assert {(r.token_id, r.workspace_id) for r in rows} == {
        (token_of(one).pk, workspace.pk),
        (token_of(two).pk, workspace.pk),
    }


def test_a_persons_session_and_token_are_different_callers(workspace, brand):
    token, user = person_client(workspace, Role.EDITOR)
    session = APIClient()
    session.force_login(user)
    url = reverse("api:content-item-list", kwargs={"workspace_slug": workspace.slug})
    body = {"brand": brand.pk, "title": "T", "body": "B"}
    assert post(token, url, body, "k").status_code == 201
    assert REPLAYED_HEADER not in post(session, url, body, "k")
    assert post(session, url, body, "k")[REPLAYED_HEADER] == "true"


def test_one_persons_key_is_bound_to_one_workspace(workspace, other_workspace):
    user = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    f.MembershipFactory(workspace=other_workspace, user=user, role=Role.ADMIN)
    session = APIClient()
    session.force_login(user)
    here = post(session, webhooks_url(workspace), {"url": "https://a.example.com/"}, "k")
    there = post(session, webhooks_url(other_workspace), {"url": "https://a.example.com/"}, "k")
    assert here.status_code == there.status_code == 201
    assert REPLAYED_HEADER not in there
    assert WebhookSubscription.objects.filter(workspace=other_workspace).count() == 1
    assert set(IdempotencyRecord.objects.values_list("workspace_id", flat=True)) == {
        workspace.pk,
        other_workspace.pk,
    }


# --- no secret in the store ------------------------------------------------------------------


def assert_not_stored(secret: str) -> None:
    for record in IdempotencyRecord.objects.all():
        stored = bytes(record.response_body) + json.dumps(record.response_headers).encode()
        assert secret.encode() not in stored, record


def test_a_new_tokens_clear_text_is_never_stored_and_the_replay_is_redacted(workspace):
    admin = token_client(workspace, Role.ADMIN)
    body = {"name": "CI", "role": "editor"}
    first = post(admin, tokens_url(workspace), body, "mint")
    clear = first.json()["token"]
    assert clear and clear.startswith(first.json()["prefix"] + ".")
    assert_not_stored(clear)
    assert_not_stored(clear.split(".", 1)[1])

    replay = post(admin, tokens_url(workspace), body, "mint")

    assert replay.status_code == 201
    assert replay[REPLAYED_HEADER] == "true"
    assert replay[REDACTED_HEADER] == "token"
    replayed = replay.json()
    assert replayed["token"] is None
    assert {k: v for k, v in replayed.items() if k != "token"} == {
        k: v for k, v in first.json().items() if k != "token"
    }
    assert ApiToken.objects.filter(name="CI").count() == 1


def test_a_webhook_signing_secret_is_never_stored_on_create_or_rotate(workspace):
    admin = token_client(workspace, Role.ADMIN)
    body = {"url": "https://hooks.example.com/kairos"}
    created = post(admin, webhooks_url(workspace), body, "create")
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    rotate = reverse(
        "api:webhook-subscription-rotate-secret",
        kwargs={"workspace_slug": workspace.slug, "pk": created.json()["id"]},
    )
    rotated = post(admin, rotate, {}, "rotate")
    new_secret = rotated.json()["secret"]
    assert rotated.status_code == 200 and new_secret != secret
    assert_not_stored(secret)
    assert_not_stored(new_secret)
    for url, data, key in [
        (webhooks_url(workspace), body, "create"),
        (rotate, {}, "rotate"),
    ]:
        replay = post(admin, url, data, key)
        assert replay[REPLAYED_HEADER] == "true" and replay[REDACTED_HEADER] == "secret"
        assert replay.json()["secret"] is None
    assert WebhookSubscription.objects.count() == 1


def test_a_calendar_feed_url_is_never_stored(workspace, brand):
    editor = token_client(workspace, Role.EDITOR)
    url = reverse("api:calendar-feed-list", kwargs={"workspace_slug": workspace.slug})
    body = {"brand": brand.pk, "name": "Social team"}
    created = post(editor, url, body, "feed")
    assert created.status_code == 201, created.content
    token = created.json()["token"]
    assert_not_stored(token)
    replay = post(editor, url, body, "feed")
    assert replay.status_code == 201 and replay[REPLAYED_HEADER] == "true"
    assert {"token", "url", "webcal_url"} == set(replay[REDACTED_HEADER].split(", "))
    assert replay.json()["url"] is None and replay.json()["token_prefix"]
    assert CalendarFeed.objects.count() == 1


def test_a_client_approval_link_is_never_stored(workspace, brand, actor):
    """The link holds its secret token: a replay must not hand it out again."""
    from calendar_app import workflow
    from tests import factories as f

    item = f.ContentItemFactory(brand=brand, workspace=workspace)
    workflow.submit(item, actor(Role.EDITOR))
    editor = token_client(workspace, Role.EDITOR)
    url = reverse("api:approval-link-api-list", kwargs={"workspace_slug": workspace.slug})
    body = {"content_item": item.pk, "name": "Client", "email": "client@example.com"}
    created = post(editor, url, body, "link")
    assert created.status_code == 201, created.content
    link = created.json()["url"]
    assert "/approve/" in link
    assert_not_stored(link.rsplit("/approve/", 1)[1].strip("/"))
    replay = post(editor, url, body, "link")
    assert replay.status_code == 201 and replay[REPLAYED_HEADER] == "true"
    assert replay[REDACTED_HEADER] == "url" and replay.json()["url"] is None


# --- the redaction itself --------------------------------------------------------------------


class _Issued(serializers.Serializer):
    name = serializers.CharField()
    secret = ShownOnceField()


class _Wrapper(serializers.Serializer):
    issued = _Issued()
    many = _Issued(many=True)


def test_nested_and_listed_secrets_are_redacted():
    data = _Wrapper(
        {"issued": {"name": "a", "secret": "s1"}, "many": [{"name": "b", "secret": "s2"}]}
    ).data
    response = Response(data, status=201)
    response["Content-Type"] = "application/json"
    response.content = json.dumps(data).encode()
    status, body, headers = storable_answer(response)
    assert status == 201
    assert json.loads(body) == {
        "issued": {"name": "a", "secret": None},
        "many": [{"name": "b", "secret": None}],
    }
    assert headers == {REDACTED_HEADER: "issued.secret, many[0].secret"}


def test_a_secret_echoed_in_another_field_is_stored_as_a_refusal():
    data = _Issued({"name": "echo s3cret-value", "secret": "s3cret-value"}).data
    response = Response(data, status=201)
    response["Content-Type"] = "application/json"
    response.content = json.dumps(data).encode()
    status, body, _ = storable_answer(response)
    assert status == 409
    assert b"s3cret-value" not in body
    assert json.loads(body)["code"] == "secret_shown_once"


def test_a_secret_in_an_answer_that_is_not_json_is_stored_as_a_refusal():
    data = _Issued({"name": "x", "secret": "in-html"}).data
    response = Response(data, status=201)
    response["Content-Type"] = "text/html; charset=utf-8"
    response.content = b"<pre>in-html</pre>"
    status, body, headers = storable_answer(response)
    assert status == 409 and b"in-html" not in body
    assert headers["Content-Type"] == "application/json"


def test_an_answer_without_secrets_is_kept_byte_for_byte():
    response = Response({"a": 1}, status=201)
    response.content = b'{"a":1}'
    assert storable_answer(response) == (201, b'{"a":1}', {})


# --- siblings: every answer field that looks like a secret is marked shown-once ------------------

SECRET_NAME = re.compile(r"(^|_)(token|secret|password|verifier|state|authorize_url|webcal_url)$")
#: Names that match but hold no secret (what they are, for the reviewer).
NOT_SECRET = {
    "via_token",  # the id of the token an actor used
    "approved_via_token",  # the same, for a template's approval
}


def _all_serializers() -> list[type[serializers.Serializer]]:
    for module in ("calendar_app.api.urls", "calendar_app.audiences.api"):
        importlib.import_module(module)  # imports every API module, so every serializer

    seen, todo = [], [serializers.Serializer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return [s for s in seen if s.__module__.startswith("calendar_app")]


def test_every_secret_looking_answer_field_is_shown_once():
    unmarked = []
    for serializer_class in _all_serializers():
        declared = getattr(serializer_class, "_declared_fields", {})
        for name, field in declared.items():
            if not SECRET_NAME.search(name) or name in NOT_SECRET or field.write_only:
                continue
            if not getattr(field, "shown_once", False):
                unmarked.append(f"{serializer_class.__module__}.{serializer_class.__name__}.{name}")
        meta_fields = getattr(getattr(serializer_class, "Meta", None), "fields", None) or []
        for name in meta_fields if isinstance(meta_fields, list | tuple) else []:
            if name in declared or name in NOT_SECRET or not SECRET_NAME.search(name):
                continue
            unmarked.append(f"{serializer_class.__module__}.{serializer_class.__name__}.{name}")
    assert unmarked == []
