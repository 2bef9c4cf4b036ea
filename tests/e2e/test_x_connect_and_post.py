"""End to end on loopback, as a marketer does it: connect an X account with the "Connect" flow
(OAuth 2.0 with PKCE against the X CONTRACT server, whose authorisation server is Authlib's),
schedule a post with a picture, let the dispatcher deliver it - and the contract server holds
exactly one post with the right picture. Then the token nears its expiry and the refresh
schedule renews it, and the next post goes out with the new token."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calendar_app.connect.models import ChannelToken
from calendar_app.connect.refresh import RefreshOutcome, refresh_due_tokens
from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import Channel, PublicationStatus, Role
from calendar_app.plugins_runtime import reset_plugins
from tests import factories as f
from tests.api.conftest import client_for as api_client_for
from tests.delivery.conftest import scheduled_item
from tests.plugins.x_server import XContractServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


@pytest.fixture
def x_api(monkeypatch, settings):
    with XContractServer() as server:
        monkeypatch.setenv("KAIROS_X_API_URL", server.base_url)
        monkeypatch.setenv("KAIROS_X_AUTHORIZE_URL", f"{server.base_url}/i/oauth2/authorize")
        monkeypatch.setenv("KAIROS_ALLOW_PRIVATE_NETWORKS", "x")
        monkeypatch.setenv("KAIROS_OAUTH_X_CLIENT_ID", server.client.client_id)
        monkeypatch.setenv("KAIROS_OAUTH_X_CLIENT_SECRET", server.client.client_secret)
        settings.KAIROS_PUBLIC_BASE_URL = "https://kairos.example"
        reset_plugins()
        yield server
        reset_plugins()


client_for = api_client_for  # the API's token clients, as a fixture here


def connect_x(x_api, client_for, workspace, brand) -> Channel:
    started = client_for(Role.ADMIN).post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": brand.pk, "network": "x"},
        format="json",
    )
    assert started.status_code == 201, started.content
    params = x_api.sign_in(started.json()["authorize_url"], user="kairos_brand")
    answer = Client().get(reverse("connect-callback"), params, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    return Channel.objects.get(pk=answer.json()["channel"])


def test_connect_schedule_with_a_picture_and_keep_the_token_alive(
    x_api, client_for, workspace, brand, actor
) -> None:
    started = time.perf_counter()
    channel = connect_x(x_api, client_for, workspace, brand)
    connected_in = time.perf_counter() - started
    assert (channel.handle, channel.settings) == ("@kairos_brand", {"user_id": "2244994945"})
    assert ChannelToken.objects.get(channel=channel).expires_at > timezone.now()

    asset = f.MediaAssetFactory(workspace=workspace)
    item = scheduled_item(
        brand,
        actor,
        channels=[channel],
        body="Kick-off in the dark",
        media=[{"asset": asset.pk, "alt_text": "The pitch at night"}],
    )
    x_api.calls.clear()
    assert dispatch_due() == 1
    publication = item.publications.get()
    assert publication.status == PublicationStatus.PUBLISHED, publication.last_error_reason
    print(f"\nX: connect -> channel {connected_in * 1000:.0f} ms; calls per post: {x_api.calls}")
    assert len(x_api.x_posts) == 1, "exactly one post"
    (post,) = x_api.x_posts.values()
    assert post["text"].startswith("Kick-off in the dark")
    (media_id,) = post["media_ids"]
    medium = x_api.x_media[media_id]
    assert medium["alt_text"] == "The pitch at night"
    assert medium["bytes"][:8] == b"\x89PNG\r\n\x1a\n" and len(medium["bytes"]) == asset.size
    assert publication.external_id == post["id"]

    old = dict(Channel.objects.get(pk=channel.pk).secrets)
    ChannelToken.objects.filter(channel=channel).update(
        expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert refresh_due_tokens()[RefreshOutcome.REFRESHED] == 1
    renewed = Channel.objects.get(pk=channel.pk)
    assert renewed.secrets["access_token"] != old["access_token"]
    assert all(t.revoked for t in x_api.tokens.values() if t.refresh_token == old["refresh_token"])
    second = scheduled_item(brand, actor, channels=[channel], body="Full time")
    assert dispatch_due() == 1
    assert second.publications.get().status == PublicationStatus.PUBLISHED
    assert len(x_api.x_posts) == 2
