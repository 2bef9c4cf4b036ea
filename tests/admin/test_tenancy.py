"""Nobody sees across workspaces: rows, change pages, choices, autocompletes, calendar."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from calendar_app.models import Brand, ContentItem, Role
from tests import factories as f

TENANT_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "calendar_app"),
    key=lambda model: model._meta.label,
)


def _url(model, name: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


@pytest.fixture
def outsider(other_workspace, staff_member):
    """Staff, approver in another workspace, not a superuser."""
    f.BrandFactory(workspace=other_workspace, name="Outsider brand")
    return staff_member(Role.ADMIN, ws=other_workspace)


@pytest.mark.parametrize("model", TENANT_MODELS, ids=[m._meta.label for m in TENANT_MODELS])
def test_outsider_sees_no_row_and_no_change_page(world, outsider, login, model):
    client = login(outsider)
    theirs = [obj for obj in model._default_manager.all() if _in_world(obj, world)]
    response = client.get(_url(model, "changelist"))
    if response.status_code == 200:
        visible = set(response.context["cl"].queryset.values_list("pk", flat=True))
        assert not visible & {obj.pk for obj in theirs}
    else:
        assert response.status_code == 403
    for obj in theirs[:3]:
        response = client.get(_url(model, "change", obj.pk))
        assert response.status_code in (302, 403, 404), (model, obj)
        if response.status_code == 302:
            assert response.url == reverse("admin:index")


def _in_world(obj, world) -> bool:
    from calendar_app.admin.base import workspace_id_of

    return workspace_id_of(obj) == world["workspace"].pk


def test_outsider_choices_and_autocomplete_are_scoped(world, outsider, login):
    client = login(outsider)
    response = client.get(_url(ContentItem, "add"))
    assert response.status_code == 200
    brands = response.context["adminform"].form.fields["brand"].queryset
    assert list(brands.values_list("name", flat=True)) == ["Outsider brand"]
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "calendar_app",
            "model_name": "contentitem",
            "field_name": "brand",
            "term": "",
        },
    )
    assert response.status_code == 200
    names = [row["text"] for row in response.json()["results"]]
    assert names == ["Outsider brand"]
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "calendar_app",
            "model_name": "contentitem",
            "field_name": "channels",
            "term": "",
        },
    )
    assert world["channel"].handle not in response.content.decode()


def test_outsider_cannot_post_into_another_workspace(world, outsider, login):
    client = login(outsider)
    response = client.post(
        _url(ContentItem, "add"),
        {
            "brand": world["brand"].pk,
            "title": "Sneaky",
            "body": "hello",
            "links": "[]",
            "media": "[]",
            "lateness_policy": "send_late",
            "lateness_tolerance": "00:15:00",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["brand"]
    assert not ContentItem.objects.filter(title="Sneaky").exists()


def test_outsider_does_not_see_other_brands_in_the_calendar(world, outsider, login):
    client = login(outsider)
    response = client.get(_url(ContentItem, "calendar"), {"brand": world["brand"].pk})
    assert response.status_code == 200
    assert response.context["brand"] is None  # not theirs: their own workspace's brands
    assert [b.name for b in response.context["brands"]] == ["Outsider brand"]
    html = response.content.decode()
    assert world["brand"].name not in html and world["item"].title not in html
    other = client.get(_url(ContentItem, "calendar"), {"workspace": world["workspace"].pk})
    assert world["brand"].name not in other.content.decode()


def test_outsider_cannot_move_another_workspace_item(world, outsider, login):
    item = world["item"]
    before = item.scheduled_at
    response = login(outsider).post(
        reverse("admin:calendar_app_contentitem_move", args=[item.pk]),
        {"date": "2031-01-01", "time": "10:00"},
    )
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.scheduled_at == before


def test_member_sees_their_rows_and_viewer_cannot_change(world, staff_member, login):
    viewer = staff_member(Role.VIEWER)
    client = login(viewer)
    response = client.get(_url(ContentItem, "changelist"))
    mine = set(
        ContentItem.objects.filter(workspace=world["workspace"]).values_list("pk", flat=True)
    )
    shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
    assert world["item"].pk in shown and shown == mine
    response = client.get(_url(ContentItem, "change", world["item"].pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert client.get(_url(Brand, "add")).status_code == 403


def test_editor_cannot_see_channel_secrets_form_nor_change_channels(world, staff_member, login):
    client = login(staff_member(Role.EDITOR))
    response = client.get(_url(type(world["channel"]), "change", world["channel"].pk))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    assert 'name="new_secrets"' not in response.content.decode()


def test_non_member_staff_sees_nothing(world, login):
    client = login(f.UserFactory(is_staff=True))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert not response.context["app_list"]
    assert client.get(_url(ContentItem, "changelist")).status_code == 403
