"""The admin's token page follows the same rules as the API (``calendar_app.token_policy``):
nobody mints a token for another person, nobody above their own role, and an issued token's
person and role are fixed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calendar_app.models import ApiToken, Role
from tests import factories as f
from tests.admin.helpers import form_data

pytestmark = pytest.mark.django_db


def add(client, workspace, **fields):
    url = reverse("admin:calendar_app_apitoken_add")
    data = form_data(client.get(url), "apitoken_form")
    data.update({"workspace": workspace.pk, "name": "minted", "role": "viewer", **fields})
    return client.post(url, data)


def test_an_admin_cannot_mint_a_token_for_another_person(workspace, staff_member, login):
    admin = staff_member(Role.ADMIN)
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    response = add(login(admin), workspace, user=approver.pk, role="approver")
    assert response.status_code == 200  # the form again, with the error
    assert f"Only {approver.username} can create a token" in response.content.decode()
    assert not ApiToken.objects.filter(user=approver).exists()


def test_a_superuser_cannot_either(workspace, superuser, login):
    member = f.MembershipFactory(workspace=workspace, role=Role.EDITOR).user
    response = add(login(superuser), workspace, user=member.pk)
    assert response.status_code == 200
    assert not ApiToken.objects.filter(user=member).exists()


def test_an_admin_mints_workspace_keys_and_their_own_tokens(workspace, staff_member, login):
    admin = staff_member(Role.ADMIN)
    client = login(admin)
    assert add(client, workspace, role="admin").status_code == 302
    assert add(client, workspace, user=admin.pk, role="admin", name="mine").status_code == 302
    assert set(ApiToken.objects.values_list("name", "user_id", "created_by_id")) == {
        ("minted", None, admin.pk),
        ("mine", admin.pk, admin.pk),
    }


def test_an_issued_tokens_person_and_role_cannot_be_changed(workspace, staff_member, login):
    admin = staff_member(Role.ADMIN)
    other = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    token, _ = ApiToken.issue(workspace=workspace, name="key", role=Role.VIEWER)
    client = login(admin)
    url = reverse("admin:calendar_app_apitoken_change", args=[token.pk])
    data = form_data(client.get(url), "apitoken_form")
    data.update({"user": other.pk, "role": "admin", "name": "renamed"})
    assert client.post(url, data).status_code == 302
    token.refresh_from_db()
    assert (token.name, token.user, token.role) == ("renamed", None, Role.VIEWER)


def test_tokens_minted_for_someone_else_can_be_found(workspace, staff_member, login):
    admin = staff_member(Role.ADMIN)
    victim = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    ApiToken.issue(
        workspace=workspace, name="legacy-minted", role=Role.APPROVER, user=victim, created_by=admin
    )
    ApiToken.issue(
        workspace=workspace, name="own-token", role=Role.ADMIN, user=admin, created_by=admin
    )
    ApiToken.issue(workspace=workspace, name="service-key", role=Role.VIEWER, created_by=admin)
    url = reverse("admin:calendar_app_apitoken_changelist")
    page = login(admin).get(url, {"minted": "other"}).content.decode()
    assert "legacy-minted" in page
    assert "own-token" not in page and "service-key" not in page
