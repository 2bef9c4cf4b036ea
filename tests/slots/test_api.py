"""The posting-slot API: slots, next free slot, add to queue, re-planning answered, bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import ContentStatus, PostingSlot, Role
from tests import factories as f
from tests.api.conftest import token_client


def url(workspace, name: str = "posting-slot-list", **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


@pytest.fixture
def client(workspace):
    return token_client(workspace, Role.EDITOR)


def test_create_read_and_next_free_in_the_brands_zone(workspace, brand, client):
    brand.time_zone = "America/New_York"
    brand.save()
    created = client.post(
        url(workspace),
        {"brand": brand.pk, "weekday": 6, "local_time": "02:30:45", "label": "Night owls"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["local_time"] == "02:30"
    assert created.json()["time_zone"] == "America/New_York"
    assert "ETag" in client.get(url(workspace, "posting-slot-detail", pk=created.json()["id"]))
    answer = client.get(
        url(workspace, "posting-slot-next-free"),
        {"brand": brand.pk, "after": "2026-03-07T00:00:00Z"},
    ).json()
    # The spring-forward Sunday: 02:30 does not exist, the slot falls at 03:30 EDT.
    assert answer["at"] == "2026-03-08T07:30:00Z"
    assert answer["local"].startswith("2026-03-08T03:30:00-04:00")


def test_next_free_is_null_without_slots(workspace, brand, client):
    answer = client.get(url(workspace, "posting-slot-next-free"), {"brand": brand.pk})
    assert answer.status_code == 200
    assert answer.json()["at"] is None


def test_bad_input_gets_field_messages_and_writes_nothing(workspace, brand, client):
    foreign = f.ChannelFactory()  # another workspace's channel
    other_brand_channel = f.ChannelFactory(brand=f.BrandFactory(workspace=workspace))
    cases = [
        ({"brand": brand.pk, "weekday": 7, "local_time": "09:00"}, "weekday"),
        ({"brand": brand.pk, "weekday": 1, "local_time": "25:00"}, "local_time"),
        ({"brand": brand.pk, "weekday": "1", "local_time": "09:00"}, "weekday"),
        (
            {"brand": brand.pk, "weekday": 1, "local_time": "09:00", "channel": foreign.pk},
            "channel",
        ),
        (
            {
                "brand": brand.pk,
                "weekday": 1,
                "local_time": "09:00",
                "channel": other_brand_channel.pk,
            },
            "channel",
        ),
    ]
    for body, field in cases:
        response = client.post(url(workspace), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["fields"], (body, response.json())
    assert not PostingSlot.objects.exists()
    ok = {"brand": brand.pk, "weekday": 1, "local_time": "09:00"}
    assert client.post(url(workspace), ok, format="json").status_code == 201
    twin = client.post(url(workspace), ok, format="json")
    assert twin.status_code == 400
    assert "local_time" in twin.json()["fields"]
    response = client.get(url(workspace, "posting-slot-next-free"), {"brand": "x"})
    assert response.status_code == 400 and "brand" in response.json()["fields"]


def test_queue_then_move_and_remove_the_slot_through_the_api(workspace, brand, client, actor):
    channel = f.ChannelFactory(brand=brand)
    slot = f.PostingSlotFactory(brand=brand, weekday=1)
    item = f.approved_item(brand, actor(Role.ADMIN), channels=[channel])
    draft = f.ContentItemFactory(brand=brand)
    refused = client.post(
        url(workspace, "posting-slot-queue"), {"content_item": draft.pk}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["fields"]["content_item"]
    queued = client.post(
        url(workspace, "posting-slot-queue"),
        {"content_item": item.pk, "after": "2030-01-01T00:00:00Z"},
        format="json",
    )
    assert queued.status_code == 200, queued.json()
    assert queued.json()["scheduled_at"] == "2030-01-01T08:00:00Z"
    assert queued.json()["slot"] == slot.pk
    item.refresh_from_db()
    assert item.status == ContentStatus.SCHEDULED
    detail = url(workspace, "posting-slot-detail", pk=slot.pk)
    etag = client.get(detail)["ETag"]
    moved = client.patch(detail, {"weekday": 3}, format="json", HTTP_IF_MATCH=etag)
    assert moved.status_code == 200, moved.json()
    assert len(moved.json()["replanned"]) == 1
    assert "Thursday" in moved.json()["replanned"][0]["message"]
    stale = client.patch(detail, {"weekday": 4}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    removed = client.delete(detail)
    assert removed.status_code == 200
    assert removed.json()["replanned"][0]["moved_to"] is None
    assert not PostingSlot.objects.filter(pk=slot.pk).exists()


def test_queueing_another_workspaces_item_answers_does_not_exist(workspace, client):
    foreign = f.ContentItemFactory()
    response = client.post(
        url(workspace, "posting-slot-queue"), {"content_item": foreign.pk}, format="json"
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["fields"]["content_item"][0]
