"""The four commercial networks end to end on loopback, as an agency uses them: connect an X
account, a Facebook Page, an Instagram business account and a LinkedIn organisation through the
"Connect" flow (each against its CONTRACT server, whose sign-in is Authlib's OAuth 2.0 server),
schedule one post with one picture to all four, let the dispatcher and the workers deliver it -
and each contract server holds exactly one post, carrying that picture."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from calendar_app.delivery.dispatcher import dispatch_due
from calendar_app.models import Channel, PublicationStatus, Role
from calendar_app.plugins_runtime import reset_plugins
from tests import factories as f
from tests.api.conftest import client_for as api_client_for
from tests.delivery.conftest import scheduled_item
from tests.plugins.linkedin_server import ORG, LinkedInContractServer
from tests.plugins.meta_server import IG_USER, PAGE, MetaContractServer
from tests.plugins.x_server import XContractServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]
client_for = api_client_for  # the API's token clients, as a fixture here


@pytest.fixture
def servers(monkeypatch, settings):
    with XContractServer() as x, MetaContractServer() as meta, LinkedInContractServer() as li:
        env = {
            "KAIROS_ALLOW_PRIVATE_NETWORKS": "x,facebook,instagram,linkedin",
            "KAIROS_X_API_URL": x.base_url,
            "KAIROS_X_AUTHORIZE_URL": f"{x.base_url}/i/oauth2/authorize",
            "KAIROS_META_GRAPH_URL": meta.base_url,
            "KAIROS_META_AUTHORIZE_URL": f"{meta.base_url}/dialog/oauth",
            "KAIROS_LINKEDIN_API_URL": li.base_url,
            "KAIROS_LINKEDIN_AUTHORIZE_URL": f"{li.base_url}/oauth/v2/authorization",
            "KAIROS_LINKEDIN_TOKEN_URL": f"{li.base_url}/oauth/v2/accessToken",
        }
        for network, server in (
            ("X", x),
            ("FACEBOOK", meta),
            ("INSTAGRAM", meta),
            ("LINKEDIN", li),
        ):
            env[f"KAIROS_OAUTH_{network}_CLIENT_ID"] = server.client.client_id
            env[f"KAIROS_OAUTH_{network}_CLIENT_SECRET"] = server.client.client_secret
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.KAIROS_PUBLIC_BASE_URL = "https://kairos.example"
        reset_plugins()
        yield {"x": x, "meta": meta, "linkedin": li}
        reset_plugins()


def connect(client_for, workspace, brand, network, server, user, pick=None) -> Channel:
    api = client_for(Role.ADMIN)
    started = api.post(
        reverse("api:connection-list", kwargs={"workspace_slug": workspace.slug}),
        {"brand": brand.pk, "network": network},
        format="json",
    )
    assert started.status_code == 201, started.content
    params = server.sign_in(started.json()["authorize_url"], user=user)
    answer = Client().get(reverse("connect-callback"), params, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    if pick is not None:
        assert answer.json()["status"] == "choosing"
        chosen = api.post(
            reverse(
                "api:connection-choose",
                kwargs={"workspace_slug": workspace.slug, "pk": started.json()["id"]},
            ),
            {"account": pick},
            format="json",
        )
        assert chosen.status_code == 200, chosen.content
        return Channel.objects.get(pk=chosen.json()["channel"])
    return Channel.objects.get(pk=answer.json()["channel"])


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_one_post_with_a_picture_reaches_the_four_networks_once(
    servers, client_for, workspace, brand, actor
) -> None:
    x, meta, li = servers["x"], servers["meta"], servers["linkedin"]
    started = time.perf_counter()
    channels = [
        connect(client_for, workspace, brand, "x", x, "kairos_brand"),
        connect(client_for, workspace, brand, "facebook", meta, "maria", pick=PAGE["id"]),
        connect(client_for, workspace, brand, "instagram", meta, "maria"),
        connect(
            client_for,
            workspace,
            brand,
            "linkedin",
            li,
            "lena",
            pick=f"urn:li:organization:{ORG['id']}",
        ),
    ]
    connected_in = (time.perf_counter() - started) / 4
    assert [c.network for c in channels] == ["x", "facebook", "instagram", "linkedin"]
    assert channels[2].settings == {"ig_user_id": IG_USER["id"]}

    content = jpeg()
    asset = f.MediaAssetFactory(workspace=workspace, content=content, original_name="drop.jpg")
    item = scheduled_item(
        brand,
        actor,
        channels=channels,
        body="The autumn drop is here",
        media=[{"asset": asset.pk, "alt_text": "Three sneakers on a bench"}],
    )
    for server in (x, meta, li):
        server.calls.clear()
    dispatch_due()
    publications = {p.channel.network: p for p in item.publications.select_related("channel")}
    instagram = publications["instagram"]
    instagram.refresh_from_db()
    assert instagram.status == PublicationStatus.PENDING, "its container is still processing"
    assert instagram.last_error_code == "container_in_progress"
    # The worker was released; when the retry comes due, the stored container is reused.
    type(instagram).objects.filter(pk=instagram.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    dispatch_due()
    for network, publication in publications.items():
        publication.refresh_from_db()
        assert publication.status == PublicationStatus.PUBLISHED, (
            network,
            publication.last_error_reason,
        )

    (x_post,) = x.x_posts.values()
    assert x.x_media[x_post["media_ids"][0]]["bytes"] == content
    (page_post,) = meta.feed.values()
    assert [meta.photos[p]["bytes"] for p in page_post["attached"]] == [content]
    (ig_post,) = meta.ig_media.values()
    assert ig_post["image_urls"] == [f"https://kairos.example/m/{asset.token}"]
    assert len(meta.containers) == 1
    (li_post,) = li.li_posts.values()
    assert li.uploads[li_post["content"]["media"]["id"]]["bytes"] == content
    for post_text in (
        x_post["text"],
        page_post["message"],
        ig_post["caption"],
        li_post["commentary"],
    ):
        assert post_text.startswith("The autumn drop is here")

    calls = {
        "x": len(x.calls),
        "facebook": sum(1 for c in meta.calls if "/101000000000001/" in c),
        "instagram": sum(1 for c in meta.calls if "/101000000000001/" not in c),
        "linkedin": len(li.calls),
    }
    print(f"\nconnect -> channel: {connected_in * 1000:.0f} ms each; calls per post: {calls}")
