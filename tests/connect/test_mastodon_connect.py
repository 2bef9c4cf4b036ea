"""Connecting a Mastodon channel by signing in: Kairos registers itself on the instance, sends
the person to authorise, exchanges the code and creates the channel - CONTRACT tests against
mastodon-mock on 127.0.0.1 (a mock of Mastodon's API, not Mastodon; its account picker stands
in for the person's sign-in)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calendar_app.connect.models import FlowStatus, OAuthFlow, OAuthRegistration
from calendar_app.delivery.posts import channel_context
from calendar_app.models import Channel, ChannelStatus, Role
from calendar_app.plugins_runtime import reset_plugins
from plugins.mastodon.network import MastodonNetwork
from publishers import Post
from tests import factories as f
from tests.plugins.mastodon_server import (  # noqa: F401  (mastodon is a fixture)
    mastodon_fixture,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def loopback_instance(monkeypatch, settings):
    monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "mastodon")
    settings.KAIROS_PUBLIC_BASE_URL = "https://kairos.example"
    reset_plugins()
    yield
    reset_plugins()


def start(client_for, workspace, brand, **settings):
    return client_for(Role.ADMIN).post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": brand.pk, "network": "mastodon", "settings": settings},
        format="json",
    )


def sign_in(authorize_url: str, username: str = "testuser") -> dict[str, str]:
    """What the person does on the instance: open the page, pick the account, allow. Returns
    the callback's query (code and state)."""
    picker = httpx.get(authorize_url)
    assert picker.status_code == 200 and "testuser" in picker.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    answer = httpx.post(
        f"{authorize_url.split('/oauth/')[0]}/oauth/authorize",
        data={
            "username": username,
            "redirect_uri": query["redirect_uri"],
            "client_id": query["client_id"],
            "scope": query["scope"],
            "state": query["state"],
        },
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("https://kairos.example/connect/callback?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def callback(**params):
    return Client().get(reverse("connect-callback"), params)


def test_signing_in_connects_a_channel_that_posts(mastodon, workspace, brand, client_for) -> None:
    response = start(client_for, workspace, brand, instance=mastodon.base_url)
    assert response.status_code == 201, response.content
    body = response.json()
    url = body["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert "write:statuses" in query["scope"][0] and body["status"] == "pending"
    assert "read:search" in query["scope"][0].split(), "watches search words"

    answer = callback(**sign_in(url))
    assert answer.status_code == 200 and b"is now connected" in answer.content
    channel = Channel.objects.get(brand=brand, network="mastodon")
    assert channel.handle == "@testuser" and channel.status == ChannelStatus.CONNECTED
    assert channel.settings == {"instance": mastodon.base_url}
    assert set(channel.secrets) == {"access_token"}
    flow = OAuthFlow.objects.get(pk=body["id"])
    assert (flow.status, flow.channel_id) == (FlowStatus.CONNECTED, channel.pk)
    result = MastodonNetwork().publish(
        Post(body="Connected by OAuth"), channel_context(channel), "k1"
    )
    assert result.external_id

    detail = client_for(Role.ADMIN).get(
        reverse("api:connection-detail", kwargs={"workspace_slug": workspace.slug, "pk": flow.pk})
    )
    assert detail.json()["status"] == "connected" and detail.json()["channel"] == channel.pk
    assert detail.json()["authorize_url"] is None


def test_the_instance_registration_is_reused_and_a_reconnect_updates_the_channel(
    mastodon, workspace, brand, client_for
) -> None:
    for _ in range(2):
        url = start(client_for, workspace, brand, instance=mastodon.base_url).json()[
            "authorize_url"
        ]
        assert callback(**sign_in(url)).status_code == 200
    assert OAuthRegistration.objects.count() == 1, "one app per instance, not per connection"
    assert Channel.objects.filter(brand=brand, network="mastodon").count() == 1


def test_an_app_registered_before_read_search_is_registered_again(
    mastodon, workspace, brand, client_for
) -> None:
    """Mastodon refuses to authorise scopes its app was not registered for: the client Kairos
    registered before it asked for ``read:search`` is replaced, once."""
    OAuthRegistration.objects.create(
        network="mastodon",
        server=mastodon.base_url,
        redirect_uri="https://kairos.example/connect/callback",
        client_id="registered-without-search",
        secrets={"client_secret": "old"},
        scopes="read:accounts read:statuses read:notifications write:statuses write:media",
    )
    url = start(client_for, workspace, brand, instance=mastodon.base_url).json()["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] != ["registered-without-search"]
    assert "read:search" in query["scope"][0].split()
    registration = OAuthRegistration.objects.get()
    assert "read:search" in registration.scopes.split()
    assert registration.client_id == query["client_id"][0]
    assert callback(**sign_in(url)).status_code == 200
    again = start(client_for, workspace, brand, instance=mastodon.base_url).json()
    assert parse_qs(urlsplit(again["authorize_url"]).query)["client_id"] == query["client_id"]


def test_a_replayed_callback_is_refused_and_changes_nothing(
    mastodon, workspace, brand, client_for
) -> None:
    url = start(client_for, workspace, brand, instance=mastodon.base_url).json()["authorize_url"]
    params = sign_in(url)
    assert callback(**params).status_code == 200
    secrets_before = Channel.objects.get(brand=brand).secrets
    replay = callback(**params)
    assert replay.status_code == 400 and b"already used" in replay.content
    assert Channel.objects.get(brand=brand).secrets == secrets_before


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"error": "access_denied"}, "consent_refused", b"did not allow"),
        ({"code": "not-a-code"}, "token_refused", b"refused the authorisation code"),
        ({}, "missing_code", b"no authorisation code"),
        (
            {"error": "server_error", "error_description": "down & <script>x()</script>\u202e"},
            "oauth_error",
            b"down &amp; x()",
        ),
    ],
)
def test_a_refused_or_broken_sign_in_leaves_no_channel(
    mastodon, workspace, brand, client_for, params, code, text
) -> None:
    flow_id = start(client_for, workspace, brand, instance=mastodon.base_url).json()["id"]
    flow = OAuthFlow.objects.get(pk=flow_id)
    answer = callback(state=flow.state, **params)
    assert answer.status_code == 400 and text in answer.content
    assert b"<script" not in answer.content and "\u202e".encode() not in answer.content
    flow.refresh_from_db()
    assert flow.status == FlowStatus.FAILED and flow.reason.startswith(code)
    assert not Channel.objects.filter(brand=brand).exists()


def test_an_expired_or_unknown_flow_is_refused(mastodon, workspace, brand, client_for) -> None:
    url = start(client_for, workspace, brand, instance=mastodon.base_url).json()["authorize_url"]
    params = sign_in(url)
    OAuthFlow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = callback(**params)
    assert expired.status_code == 400 and b"more than 10 minutes" in expired.content
    unknown = Client().get(
        reverse("connect-callback"), {"state": "nope", "code": "x"}, HTTP_ACCEPT="application/json"
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_state"
    assert not Channel.objects.filter(brand=brand).exists()


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"network": "sandbox", "settings": {}}, "network", "pasting credentials"),
        ({"network": "mastodon", "settings": {}}, "settings.instance", "required"),
        ({"network": "mastodon", "settings": {"instance": 3}}, "settings.instance", "string"),
        ({"network": "nope", "settings": {}}, "network", "No network"),
        ({"network": "mastodon", "settings": ["x"]}, "settings", "object"),
    ],
)
def test_bad_starts_get_a_field_message_and_start_nothing(
    workspace, brand, client_for, payload, field, text
) -> None:
    response = client_for(Role.ADMIN).post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": brand.pk, **payload},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert text in " ".join(response.json()["fields"][field])
    assert not OAuthFlow.objects.exists()


def test_a_private_instance_is_refused_unless_the_operator_allows_it(
    mastodon, workspace, brand, client_for, monkeypatch
) -> None:
    monkeypatch.delenv("KAIROS_ALLOW_PRIVATE_NETWORKS")
    response = start(client_for, workspace, brand, instance=mastodon.base_url)
    assert response.status_code == 400
    assert "private or reserved" in response.json()["fields"]["settings"][0]


def test_another_workspaces_brand_is_unknown(workspace, other_workspace, client_for) -> None:
    foreign = f.BrandFactory(workspace=other_workspace)
    response = client_for(Role.ADMIN).post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": foreign.pk, "network": "mastodon", "settings": {"instance": "https://x.example"}},
        format="json",
    )
    assert response.status_code == 400 and "brand" in response.json()["fields"]
