"""The admin's "Connect" button on a brand's page runs the same flow as the API (against the
Authlib server on 127.0.0.1), picker included, for the brand's workspace admins only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from calendar_app.connect.models import FlowStatus, OAuthFlow
from calendar_app.models import Channel, Role
from tests import factories as f
from tests.connect.oauth_network import KEY

pytestmark = [pytest.mark.e2e, pytest.mark.django_db, pytest.mark.usefixtures("demo_network")]


def staff(workspace, role):
    user = f.UserFactory(is_staff=True)
    f.MembershipFactory(workspace=workspace, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def test_the_brand_page_has_a_connect_button_that_connects(server, workspace, brand) -> None:
    admin = staff(workspace, Role.ADMIN)
    page = admin.get(reverse("admin:calendar_app_brand_change", args=[brand.pk]))
    connect_url = reverse("admin:calendar_app_brand_connect", args=[brand.pk, KEY])
    assert page.status_code == 200 and connect_url.encode() in page.content
    assert b"Connect OAuth demo" in page.content
    answer = admin.get(connect_url)
    assert answer.status_code == 302 and answer["Location"].startswith(server.base_url)
    params = server.sign_in(answer["Location"])
    done = Client().get(reverse("connect-callback"), params)
    assert done.status_code == 200 and b"is now connected" in done.content
    assert Channel.objects.get(brand=brand).handle == "@alice"


def test_the_admin_picker(server, workspace, brand) -> None:
    server.accounts["alice"].managed = [
        {"id": "p1", "name": "Acme Shoes", "access_token": "page-token-1"},
        {"id": "p2", "name": "Acme Outlet", "access_token": "page-token-2"},
    ]
    admin = staff(workspace, Role.ADMIN)
    answer = admin.get(reverse("admin:calendar_app_brand_connect", args=[brand.pk, KEY]))
    done = Client().get(reverse("connect-callback"), server.sign_in(answer["Location"]))
    flow = OAuthFlow.objects.get()
    choose_url = reverse("admin:calendar_app_brand_choose", args=[brand.pk, flow.pk])
    assert done.status_code == 200 and choose_url.encode() in done.content
    picker = admin.get(choose_url)
    assert b"Acme Outlet" in picker.content and b"page-token" not in picker.content
    picked = admin.post(choose_url, {"account": "p1"})
    assert picked.status_code == 302
    assert Channel.objects.get(brand=brand).handle == "Acme Shoes"
    assert OAuthFlow.objects.get().status == FlowStatus.CONNECTED


def test_editors_and_other_workspaces_cannot_connect(
    server, workspace, other_workspace, brand
) -> None:
    connect_url = reverse("admin:calendar_app_brand_connect", args=[brand.pk, KEY])
    editor = staff(workspace, Role.EDITOR)
    assert editor.get(connect_url).status_code == 404
    outsider = staff(other_workspace, Role.ADMIN)
    assert outsider.get(connect_url).status_code == 404
    assert not OAuthFlow.objects.exists()


def test_an_unknown_network_is_a_message_not_an_error(workspace, brand) -> None:
    admin = staff(workspace, Role.ADMIN)
    answer = admin.get(
        reverse("admin:calendar_app_brand_connect", args=[brand.pk, "sandbox"]), follow=True
    )
    assert answer.status_code == 200 and b"connects by signing in" in answer.content
    assert not OAuthFlow.objects.exists()


def test_a_network_that_needs_a_server_asks_for_it_first(workspace, brand) -> None:
    from calendar_app.plugins_runtime import reset_plugins

    reset_plugins()  # the installed networks: Mastodon needs its instance before signing in
    admin = staff(workspace, Role.ADMIN)
    page = admin.get(reverse("admin:calendar_app_brand_connect", args=[brand.pk, "mastodon"]))
    assert page.status_code == 200 and b'name="instance"' in page.content
    refused = admin.post(
        reverse("admin:calendar_app_brand_connect", args=[brand.pk, "mastodon"]),
        {"instance": "not a url"},
        follow=True,
    )
    assert refused.status_code == 200 and b"must be an http(s) URL" in refused.content
    assert not OAuthFlow.objects.exists()
