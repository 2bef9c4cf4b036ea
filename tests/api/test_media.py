"""Media through the API: upload, what Kairos learns from the bytes, the public address, items
that refer to media and carry threads, and the bad input around them."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from calendar_app.models import ContentItem, MediaAsset, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def media_url(workspace, pk=None) -> str:
    kwargs = {"workspace_slug": workspace.slug}
    if pk is None:
        return reverse("api:media-list", kwargs=kwargs)
    return reverse("api:media-detail", kwargs={**kwargs, "pk": pk})


def items_url(workspace, pk=None) -> str:
    kwargs = {"workspace_slug": workspace.slug}
    if pk is None:
        return reverse("api:content-item-list", kwargs=kwargs)
    return reverse("api:content-item-detail", kwargs={**kwargs, "pk": pk})


def upload(client, workspace, content: bytes, name: str = "pic.png", **extra):
    return client.post(
        media_url(workspace),
        {"file": SimpleUploadedFile(name, content, content_type="image/png"), **extra},
        format="multipart",
    )


def test_an_upload_is_known_by_its_bytes_and_served_at_its_public_address(
    workspace, client_for
) -> None:
    png = f.png_bytes(40, 30)
    response = upload(client_for(Role.EDITOR), workspace, png, alt_text="A red banner")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mime_type"] == "image/png" and (body["width"], body["height"]) == (40, 30)
    assert body["size"] == len(png) and body["sha256"] == hashlib.sha256(png).hexdigest()
    assert body["alt_text"] == "A red banner" and "file" not in body
    path = body["url"].split("://", 1)[1].split("/", 1)[1]
    served = Client().get("/" + path)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == png
    assert served["X-Content-Type-Options"] == "nosniff"


def test_a_file_that_lies_about_its_type_is_refused_with_a_field_message(
    workspace, client_for
) -> None:
    response = upload(client_for(Role.EDITOR), workspace, b"<script>alert(1)</script>", "x.png")
    assert response.status_code == 400
    assert "not a picture or video" in response.json()["fields"]["file"][0]
    assert not MediaAsset.objects.exists()


def test_an_empty_or_oversized_file_is_refused(workspace, client_for) -> None:
    client = client_for(Role.EDITOR)
    assert upload(client, workspace, b"").status_code == 400
    with override_settings(KAIROS_MEDIA_MAX_BYTES=100):
        response = upload(client, workspace, f.png_bytes(200, 200, "blue") + b"\0" * 200)
    assert response.status_code == 400
    assert "larger than" in response.json()["fields"]["file"][0]


def test_a_video_is_recognised_by_its_container_signature(workspace, client_for) -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    response = upload(client_for(Role.EDITOR), workspace, mp4, "clip.mp4")
    assert response.status_code == 201 and response.json()["mime_type"] == "video/mp4"


def test_an_unknown_token_is_a_404_and_the_address_takes_no_writes(workspace) -> None:
    assert Client().get("/m/" + "x" * 32).status_code == 404
    asset = f.MediaAssetFactory(workspace=workspace)
    assert Client().post(f"/m/{asset.token}").status_code == 405


def test_alt_text_can_change_but_the_file_cannot(workspace, client_for) -> None:
    asset = f.MediaAssetFactory(workspace=workspace)
    client = client_for(Role.EDITOR)
    response = client.patch(
        media_url(workspace, asset.pk), {"alt_text": "Now described"}, format="json"
    )
    assert response.status_code == 200 and response.json()["alt_text"] == "Now described"
    asset.refresh_from_db()
    assert asset.alt_text == "Now described"


def test_an_item_refers_to_stored_media_and_carries_a_thread(workspace, brand, client_for) -> None:
    asset = f.MediaAssetFactory(workspace=workspace)
    payload = {
        "brand": brand.pk,
        "title": "Launch thread",
        "body": "1/3 We are live",
        "media": [{"asset": asset.pk, "alt_text": "The product"}, "https://cdn.example/a.jpg"],
        "thread": [
            {"body": "2/3 Here is why", "media": [{"asset": asset.pk}]},
            "3/3 Thanks for reading",
        ],
    }
    response = client_for(Role.EDITOR).post(items_url(workspace), payload, format="json")
    assert response.status_code == 201, response.content
    item = ContentItem.objects.get(pk=response.json()["id"])
    assert item.media == [
        {"asset": asset.pk, "alt_text": "The product"},
        {"url": "https://cdn.example/a.jpg"},
    ]
    assert item.thread == [
        {"body": "2/3 Here is why", "media": [{"asset": asset.pk}]},
        {"body": "3/3 Thanks for reading", "media": []},
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("media", [{"asset": 10**9}], "No medium with id"),
        ("media", [{"asset": 1, "url": "https://x.example/a.png"}], "exactly one of"),
        ("media", [{"url": "javascript:alert(1)"}], "http(s) URL"),
        ("media", [{"url": "https://x.example/a.png", "size": 3}], "unknown key"),
        ("media", "https://x.example/a.png", "must be a list"),
        ("media", [{"asset": True}], "medium's id"),
        ("thread", [{"body": ""}], "needs text or media"),
        ("thread", [{"body": "x", "colour": 1}], "a part is"),
        ("thread", ["x"] * 30, "at most 25 parts"),
        ("thread", [{"body": "x" * 10_001}], "at most 10000"),
    ],
)
def test_bad_media_and_threads_get_a_field_message_and_write_nothing(
    workspace, brand, client_for, field, value, message
) -> None:
    payload = {"brand": brand.pk, "title": "t", "body": "b", field: value}
    response = client_for(Role.EDITOR).post(items_url(workspace), payload, format="json")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["fields"][field])
    assert not ContentItem.objects.exists()


def test_another_workspaces_medium_is_unknown_here(
    workspace, other_workspace, brand, client_for
) -> None:
    foreign = f.MediaAssetFactory(workspace=other_workspace)
    payload = {"brand": brand.pk, "title": "t", "body": "b", "media": [{"asset": foreign.pk}]}
    response = client_for(Role.EDITOR).post(items_url(workspace), payload, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["media"] == [
        f"No medium with id {foreign.pk} in this workspace."
    ]
    assert client_for(Role.ADMIN).get(media_url(workspace, foreign.pk)).status_code == 404
    assert client_for(Role.ADMIN).delete(media_url(workspace, foreign.pk)).status_code == 404
    assert MediaAsset.objects.filter(pk=foreign.pk).exists()


def test_a_medium_in_use_cannot_be_deleted_and_an_unused_one_can(
    workspace, brand, client_for
) -> None:
    used = f.MediaAssetFactory(workspace=workspace)
    spare = f.MediaAssetFactory(workspace=workspace)
    f.ContentItemFactory(
        workspace=workspace, brand=brand, thread=[{"body": "2/2", "media": [{"asset": used.pk}]}]
    )
    client = client_for(Role.EDITOR)
    refused = client.delete(media_url(workspace, used.pk))
    assert refused.status_code == 400 and "still use" in refused.json()["fields"]["id"][0]
    assert client.delete(media_url(workspace, spare.pk)).status_code == 204
    assert not MediaAsset.objects.filter(pk=spare.pk).exists()
    assert not spare.file.storage.exists(spare.file.name)
