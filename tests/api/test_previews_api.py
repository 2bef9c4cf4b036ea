"""Previews through the API: any member sees what each channel will receive, before approving
or firing; nothing is written, and another workspace's rows are not there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import Fire, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def preview_url(world, basename: str, pk: int) -> str:
    return reverse(
        f"api:{basename}-preview", kwargs={"workspace_slug": world.workspace.slug, "pk": pk}
    )


def test_an_item_s_preview_shows_each_channel_s_text_and_count(world, client_for) -> None:
    item = world["content-item"]
    item.body = "Half-time: {{ brand.name }} is on {{ channel.handle }}."
    item.save()
    answer = client_for(Role.VIEWER).get(preview_url(world, "content-item", item.pk))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["ok"] is True
    [preview] = body["previews"]
    assert preview["channel"] == item.channels.get().pk and preview["network"] == "sandbox"
    [part] = preview["parts"]
    handle = item.channels.get().handle
    assert part["text"].startswith(f"Half-time: {item.brand.name} is on {handle}.")
    assert part["length"] == len(part["text"]) and part["over_by"] == 0
    assert preview["problems"] == []


def test_a_too_long_item_shows_by_how_much(world, client_for) -> None:
    item = world["content-item"]
    item.body = "z" * 6000
    item.save()
    body = client_for(Role.VIEWER).get(preview_url(world, "content-item", item.pk)).json()
    assert body["ok"] is False
    [preview] = body["previews"]
    assert preview["parts"][0]["over_by"] >= 1000
    assert preview["problems"][0]["code"] == "text_too_long"


def test_a_template_preview_fills_the_values_and_fires_nothing(world, client_for) -> None:
    template = world["reactive-template"]
    fires = Fire.objects.count()  # the world holds one fire, for the fire history
    template.body = "Lights out at {{ venue }}!"
    template.save()
    url = preview_url(world, "reactive-template", template.pk)
    answer = client_for(Role.VIEWER).post(url, {"values": {"venue": "the dome"}}, format="json")
    assert answer.status_code == 200, answer.content
    texts = [p["parts"][0]["text"] for p in answer.json()["previews"]]
    assert texts and all(t.startswith("Lights out at the dome!") for t in texts)
    assert Fire.objects.count() == fires
    missing = client_for(Role.VIEWER).post(url, {}, format="json").json()
    assert missing["ok"] is False
    assert missing["previews"][0]["problems"][0]["code"] == "unknown_placeholder"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"values": ["not", "an", "object"]}, "values"),
        ({"values": {"venue": {"nested": 1}}}, "values"),
        ({"channels": ["x"]}, "channels"),
        ({"channels": [999_999_999]}, "channels"),
    ],
)
def test_bad_template_preview_input_is_a_field_error(world, client_for, payload, field) -> None:
    url = preview_url(world, "reactive-template", world["reactive-template"].pk)
    answer = client_for(Role.VIEWER).post(url, payload, format="json")
    assert answer.status_code == 400, answer.content
    assert any(name.split(".")[0] == field for name in answer.json()["fields"])


def test_another_workspace_s_channel_cannot_be_previewed_through_a_template(
    world, other_world, client_for
) -> None:
    foreign = other_world["channel"]
    url = preview_url(world, "reactive-template", world["reactive-template"].pk)
    answer = client_for(Role.VIEWER).post(url, {"channels": [foreign.pk]}, format="json")
    assert answer.status_code == 400
    assert str(foreign.pk) in answer.json()["fields"]["channels"][0]


@pytest.mark.parametrize("basename", ["content-item", "reactive-template"])
def test_another_workspace_s_rows_are_not_found(world, other_world, client_for, basename) -> None:
    client = client_for(Role.ADMIN)
    url = preview_url(world, basename, other_world[basename].pk)
    answer = client.get(url) if basename == "content-item" else client.post(url, {}, format="json")
    assert answer.status_code == 404


def test_no_call_to_action_with_one_is_refused_by_field(world, client_for) -> None:
    item = world["content-item"]
    url = reverse(
        "api:content-item-detail", kwargs={"workspace_slug": world.workspace.slug, "pk": item.pk}
    )
    client = client_for(Role.EDITOR)
    answer = client.patch(url, {"without_cta": True, "cta_text": "Buy"}, format="json")
    assert answer.status_code == 400, answer.content
    assert "without_cta" in answer.json()["fields"]
    template = f.ReactiveTemplateFactory(
        brand=item.brand, workspace=item.workspace, cta_url="https://shop.example/"
    )
    answer = client.patch(
        reverse(
            "api:reactive-template-detail",
            kwargs={"workspace_slug": world.workspace.slug, "pk": template.pk},
        ),
        {"without_cta": True},
        format="json",
    )
    assert answer.status_code == 400 and "without_cta" in answer.json()["fields"]
