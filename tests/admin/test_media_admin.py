"""The item page's media field: files uploaded with a preview, alt text per medium, removal, and
every refusal shown on the field (a file that is no picture, another workspace's medium)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calendar_app.media.models import MediaAsset
from calendar_app.models import Role
from tests import factories as f
from tests.admin.helpers import form_data
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(brand):
    return f.ContentItemFactory(brand=brand, workspace=brand.workspace, title="With media")


def change_url(item) -> str:
    return reverse("admin:calendar_app_contentitem_change", args=[item.pk])


def page_and_data(client, item):
    page = client.get(change_url(item))
    assert page.status_code == 200
    return page, form_data(page, "contentitem_form")


def media_errors(response) -> list[str]:
    return list(response.context["adminform"].form.errors.get("media", []))


def test_a_picture_is_uploaded_with_its_description_and_previewed(
    item, staff_member, login
) -> None:
    client = login(staff_member(Role.EDITOR))
    page, data = page_and_data(client, item)
    html = page.content.decode()
    assert 'type="file"' in html and 'enctype="multipart/form-data"' in html
    assert "No picture or video yet." in html
    data["media-upload"] = SimpleUploadedFile("team.png", png_bytes(), content_type="image/png")
    data["media-upload_alt_text"] = "The team on stage"
    response = client.post(change_url(item), data)
    assert response.status_code == 302, media_errors(response)
    item.refresh_from_db()
    asset = MediaAsset.objects.get()
    assert asset.workspace_id == item.workspace_id and asset.original_name == "team.png"
    assert item.media == [{"asset": asset.pk, "alt_text": "The team on stage"}]
    again = client.get(change_url(item)).content.decode()
    assert f'/m/{asset.token}"' in again  # the preview, from the medium's own address
    assert 'value="The team on stage"' in again


def test_a_file_that_is_no_picture_is_refused_on_the_field(item, staff_member, login) -> None:
    client = login(staff_member(Role.EDITOR))
    _, data = page_and_data(client, item)
    data["media-upload"] = SimpleUploadedFile("notes.txt", b"hello", content_type="image/png")
    response = client.post(change_url(item), data)
    assert response.status_code == 200
    errors = media_errors(response)
    assert errors and errors[0].startswith("notes.txt: This file is not a picture or video")
    assert not MediaAsset.objects.exists()
    item.refresh_from_db()
    assert item.media == []


def test_another_workspaces_medium_cannot_be_slipped_in(
    item, other_workspace, staff_member, login
) -> None:
    """The attack: the row's hidden entry names a medium of another workspace. Before this
    field, the JSON box stored any id; now it is refused like an unknown one."""
    foreign = f.MediaAssetFactory(workspace=other_workspace)
    client = login(staff_member(Role.EDITOR))
    _, data = page_and_data(client, item)
    data.update({"media-count": "1", "media-0-entry": json.dumps({"asset": foreign.pk})})
    response = client.post(change_url(item), data)
    assert response.status_code == 200
    assert media_errors(response) == [f"No medium with id {foreign.pk} in this workspace."]
    item.refresh_from_db()
    assert item.media == []


def test_a_medium_is_described_again_or_removed(brand, staff_member, login) -> None:
    first = f.MediaAssetFactory(workspace=brand.workspace)
    second = f.MediaAssetFactory(workspace=brand.workspace)
    item = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        media=[{"asset": first.pk, "alt_text": "Old"}, {"asset": second.pk}],
    )
    client = login(staff_member(Role.EDITOR))
    _, data = page_and_data(client, item)
    assert data["media-count"] == "2"
    data["media-0-alt_text"] = "New words"
    data["media-1-remove"] = "1"
    response = client.post(change_url(item), data)
    assert response.status_code == 302, media_errors(response)
    item.refresh_from_db()
    assert item.media == [{"asset": first.pk, "alt_text": "New words"}]


def test_a_bad_web_address_and_a_tampered_row_are_field_messages(item, staff_member, login) -> None:
    client = login(staff_member(Role.EDITOR))
    _, data = page_and_data(client, item)
    data["media-url"] = "javascript:alert(1)"
    response = client.post(change_url(item), data)
    assert response.status_code == 200
    assert media_errors(response) == ["Medium 1: url must be an http(s) URL."]
    _, data = page_and_data(client, item)
    data.update({"media-count": "1", "media-0-entry": "{not json"})
    response = client.post(change_url(item), data)
    assert response.status_code == 200
    assert "was not understood" in media_errors(response)[0]


def test_a_new_item_takes_its_picture_on_the_add_page(brand, staff_member, login) -> None:
    client = login(staff_member(Role.EDITOR))
    add = reverse("admin:calendar_app_contentitem_add")
    page = client.get(add, {"brand": brand.pk})
    data = form_data(page, "contentitem_form")
    data.update(
        {
            "brand": str(brand.pk),
            "title": "Fresh",
            "body": "Hello",
            "media-upload": SimpleUploadedFile("a.png", png_bytes(), content_type="image/png"),
        }
    )
    response = client.post(add, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    asset = MediaAsset.objects.get()
    assert asset.workspace_id == brand.workspace_id
    created = brand.content_items.get(title="Fresh")
    assert created.media == [{"asset": asset.pk}]


def test_no_medium_is_stored_in_a_workspace_where_one_only_reads(
    brand, other_workspace, staff_member, login
) -> None:
    """The attack: an editor of one workspace, a viewer of another, picks the other's brand on
    the add page with a file. The save is refused, and no file lands in the other workspace."""
    user = staff_member(Role.EDITOR)
    f.MembershipFactory(workspace=other_workspace, user=user, role=Role.VIEWER)
    theirs = f.BrandFactory(workspace=other_workspace)
    client = login(user)
    add = reverse("admin:calendar_app_contentitem_add")
    data = form_data(client.get(add, {"brand": brand.pk}), "contentitem_form")
    data.update(
        {
            "brand": str(theirs.pk),
            "title": "Sneaky",
            "body": "Hello",
            "media-upload": SimpleUploadedFile("a.png", png_bytes(), content_type="image/png"),
        }
    )
    response = client.post(add, data)
    assert response.status_code == 200
    assert not MediaAsset.objects.exists()
    assert not theirs.content_items.exists()


def test_a_post_that_went_out_shows_its_media_as_thumbnails(brand, staff_member, login) -> None:
    from calendar_app.models import ContentItem, ContentStatus

    asset = f.MediaAssetFactory(workspace=brand.workspace)
    item = f.ContentItemFactory(
        brand=brand, workspace=brand.workspace, media=[{"asset": asset.pk, "alt_text": "Red"}]
    )
    ContentItem.objects.filter(pk=item.pk).update(status=ContentStatus.PUBLISHED)
    html = login(staff_member(Role.EDITOR)).get(change_url(item)).content.decode()
    assert f'/m/{asset.token}" alt="Red"' in html
    assert '"asset":' not in html and 'type="file"' not in html
