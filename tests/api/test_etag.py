"""ETag on reads, If-Match on writes: a stale write is refused with 412 and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import ContentItem, ReactiveTemplate


@pytest.mark.parametrize("basename", ["content-item", "reactive-template"])
def test_stale_if_match_is_refused(basename, world, client_for):
    client = client_for("admin")
    obj = world[basename]
    url = reverse(
        f"api:{basename}-detail", kwargs={"workspace_slug": world.workspace.slug, "pk": obj.pk}
    )
    first = client.get(url)
    etag = first["ETag"]
    assert etag.startswith('"')
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    ok = client.patch(url, {"body": "Fresh words"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200, ok.content
    assert ok["ETag"] != etag
    stale = client.patch(url, {"body": "Lost update"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert type(obj).objects.get(pk=obj.pk).body == "Fresh words"
    assert client.delete(url, HTTP_IF_MATCH=etag).status_code == 412


def test_workflow_actions_honour_if_match(world, client_for):
    client = client_for("admin")
    item = world["content-item"]
    url = reverse(
        "api:content-item-detail", kwargs={"workspace_slug": world.workspace.slug, "pk": item.pk}
    )
    etag = client.get(url)["ETag"]
    client.patch(url, {"title": "Renamed"}, format="json")
    response = client.post(f"{url}submit/", {}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    assert ContentItem.objects.get(pk=item.pk).status == "draft"


def test_template_edit_voids_the_approval(world, client_for):
    client = client_for("admin")
    template = world["reactive-template"]
    url = reverse(
        "api:reactive-template-detail",
        kwargs={"workspace_slug": world.workspace.slug, "pk": template.pk},
    )
    approved = client.post(f"{url}approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["is_approved"] is True
    changed = client.patch(url, {"body": "New words {{ moment }}"}, format="json")
    assert changed.json()["is_approved"] is False
    assert ReactiveTemplate.objects.get(pk=template.pk).version == 2
