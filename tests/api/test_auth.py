"""Tokens: shown once, stored hashed, prefix visible, revocable, expiring; throttled per key."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from calendar_app.models import ApiToken, Role
from tests import factories as f
from tests.api.conftest import token_client


def brands_url(ws) -> str:
    return reverse("api:brand-list", kwargs={"workspace_slug": ws.slug})


def test_issue_through_the_api_shows_the_secret_once(workspace, client_for):
    admin = client_for(Role.ADMIN)
    url = reverse("api:token-list", kwargs={"workspace_slug": workspace.slug})
    created = admin.post(url, {"name": "CI", "role": "editor"}, format="json")
    assert created.status_code == 201
    body = created.json()
    prefix, secret = body["token"].split(".", 1)
    assert body["prefix"] == prefix
    stored = ApiToken.objects.get(pk=body["id"])
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64
    listed = admin.get(url).json()["results"]
    assert all("token" not in row for row in listed)
    assert admin.get(f"{url}{body['id']}/").json().get("token") is None
    new = APIClient()
    new.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert new.get(brands_url(workspace)).status_code == 200


def test_revoked_and_expired_tokens_are_refused(workspace, client_for):
    admin = client_for(Role.ADMIN)
    victim = token_client(workspace, Role.EDITOR)
    token = ApiToken.objects.get(prefix=victim.token.split(".")[0])
    assert victim.get(brands_url(workspace)).status_code == 200
    url = reverse("api:token-detail", kwargs={"workspace_slug": workspace.slug, "pk": token.pk})
    assert admin.delete(url).status_code == 204
    response = victim.get(brands_url(workspace))
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    expired = token_client(workspace, Role.EDITOR, expires_at=timezone.now() - timedelta(seconds=1))
    assert expired.get(brands_url(workspace)).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token a b",
        "Token nodot",
        "Token deadbeef.wrong",
        "Token \u00e9\u00e9.x",
        "Token .x",
        "Token dead\x00eef.x",  # a NUL byte: PostgreSQL refuses it in a query
        "Token DEADBEEF.x",  # issued prefixes are lower-case hex
        "Token deadbeef00.x",  # of one length
    ],
)
def test_malformed_tokens_get_401(workspace, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(brands_url(workspace))
    assert response.status_code == 401
    assert set(response.json()) == {"code", "detail", "fields"}


def test_last_used_is_written_at_most_once_a_minute(workspace):
    client = token_client(workspace, Role.VIEWER)
    token = ApiToken.objects.get(prefix=client.token.split(".")[0])
    client.get(brands_url(workspace))
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(brands_url(workspace))
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get(brands_url(workspace))
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=1)


def test_session_login_works_for_the_browsable_api(workspace):
    user = f.MembershipFactory(workspace=workspace, role=Role.VIEWER).user
    client = APIClient()
    # through the real login form, so the lock-out backend sees the request (tests/calendar_app/
    # test_login_lockout.py); Client.login() calls authenticate() without one
    login = client.post(
        "/api/auth/login/",
        {"username": user.username, "password": "pw-for-tests"},
        format="multipart",
    )
    assert login.status_code == 302
    response = client.get(brands_url(workspace), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content.lower()


def test_create_api_token_command(workspace):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token",
        workspace.slug,
        "--role",
        "approver",
        "--name",
        "CLI",
        stdout=out,
        stderr=err,
    )
    clear = out.getvalue().strip()
    token = ApiToken.objects.get(prefix=clear.split(".")[0])
    assert token.role == "approver" and token.user is None and token.matches(clear.split(".", 1)[1])
    assert "not shown again" in err.getvalue()
    with pytest.raises(CommandError):
        call_command("create_api_token", "nope", stdout=out, stderr=err)
    with pytest.raises(CommandError):
        call_command(
            "create_api_token", workspace.slug, "--user", "stranger", stdout=out, stderr=err
        )
