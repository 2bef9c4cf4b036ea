"""Security review #6: who may create tokens for whom, a token's effective role, and audit records
that name who really acted (``calendar_app.token_policy``).

The attack comes first: a workspace admin mints a member token for an approver and approves as
them.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from calendar_app.models import (
    ApiToken,
    Approval,
    ContentStatus,
    Fire,
    ReactiveTemplate,
    Role,
    Transition,
)
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def tokens_url(workspace) -> str:
    return reverse("api:token-list", kwargs={"workspace_slug": workspace.slug})


def token_url(workspace, pk: int) -> str:
    return reverse("api:token-detail", kwargs={"workspace_slug": workspace.slug, "pk": pk})


def item_action(workspace, item, action: str) -> str:
    url = reverse(
        "api:content-item-detail", kwargs={"workspace_slug": workspace.slug, "pk": item.pk}
    )
    return f"{url}{action}/"


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def with_token(clear: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear}")
    return client


def in_review(workspace, brand):
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    return f.ContentItemFactory(
        brand=brand, workspace=workspace, channels=[channel], status=ContentStatus.IN_REVIEW
    )


# --- the attack ----------------------------------------------------------------------------


def test_an_admin_cannot_mint_a_token_for_an_approver_and_approve_as_them(workspace, brand):
    admin = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    body = {"name": "as approver", "role": "approver", "username": approver.username}

    for client in (session(admin), token_client(workspace, Role.ADMIN, user=admin)):
        response = client.post(tokens_url(workspace), body, format="json")
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
        assert f"Only {approver.username} can create a token" in response.json()["detail"]
    # A workspace API key with the admin role cannot either.
    key = token_client(workspace, Role.ADMIN)
    assert key.post(tokens_url(workspace), body, format="json").status_code == 403
    assert not ApiToken.objects.filter(user=approver).exists()


# --- who may create what -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN])
def test_every_member_creates_their_own_token_up_to_their_role(workspace, role):
    user = f.MembershipFactory(workspace=workspace, role=role).user
    client = session(user)
    created = client.post(
        tokens_url(workspace),
        {"name": "mine", "role": role, "username": user.username},
        format="json",
    )
    assert created.status_code == 201, created.content
    token = ApiToken.objects.get(pk=created.json()["id"])
    assert (token.user, token.role, token.created_by) == (user, role, user)
    higher = [r for r in Role if Role.rank(r) > Role.rank(role)]
    for above in higher:
        refused = client.post(
            tokens_url(workspace),
            {"name": "more", "role": above, "username": user.username},
            format="json",
        )
        assert refused.status_code == 400
        assert refused.json()["code"] == "role_too_high"
        assert "role" in refused.json()["fields"]


def test_a_token_creating_a_token_counts_with_its_effective_role(workspace):
    user = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    editor_token = token_client(workspace, Role.EDITOR, user=user)
    refused = editor_token.post(
        tokens_url(workspace),
        {"name": "escalate", "role": "admin", "username": user.username},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "role_too_high"


def test_only_admins_create_workspace_api_keys(workspace):
    editor = f.MembershipFactory(workspace=workspace, role=Role.EDITOR).user
    refused = session(editor).post(
        tokens_url(workspace), {"name": "integration", "role": "viewer"}, format="json"
    )
    assert refused.status_code == 403
    assert "Only workspace admins create workspace API keys" in refused.json()["detail"]
    assert repr(editor.username) in refused.json()["detail"]
    admin = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    created = session(admin).post(
        tokens_url(workspace), {"name": "integration", "role": "admin"}, format="json"
    )
    assert created.status_code == 201
    key = ApiToken.objects.get(pk=created.json()["id"])
    assert key.user is None and key.created_by == admin


def test_a_non_admin_workspace_key_manages_no_tokens(workspace):
    key = token_client(workspace, Role.APPROVER)
    for response in (
        key.get(tokens_url(workspace)),
        key.post(tokens_url(workspace), {"name": "x", "role": "viewer"}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_members_see_and_revoke_their_own_tokens_admins_everyones(workspace):
    alice = f.MembershipFactory(workspace=workspace, role=Role.EDITOR).user
    bob = f.MembershipFactory(workspace=workspace, role=Role.EDITOR).user
    mine, _ = ApiToken.issue(workspace=workspace, name="a", role=Role.EDITOR, user=alice)
    theirs, _ = ApiToken.issue(workspace=workspace, name="b", role=Role.EDITOR, user=bob)
    service, _ = ApiToken.issue(workspace=workspace, name="s", role=Role.VIEWER)
    client = session(alice)
    listed = client.get(tokens_url(workspace)).json()["results"]
    assert [row["id"] for row in listed] == [mine.pk]
    assert client.delete(token_url(workspace, theirs.pk)).status_code == 404
    assert client.delete(token_url(workspace, service.pk)).status_code == 404
    assert client.delete(token_url(workspace, mine.pk)).status_code == 204
    admin = session(f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user)
    assert {row["id"] for row in admin.get(tokens_url(workspace)).json()["results"]} == {
        mine.pk,
        theirs.pk,
        service.pk,
    }
    assert admin.delete(token_url(workspace, theirs.pk)).status_code == 204
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None


def test_another_workspaces_member_is_not_a_member_here(workspace, other_workspace):
    stranger = f.MembershipFactory(workspace=other_workspace, role=Role.ADMIN).user
    admin = session(f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user)
    for username in (stranger.username, "nobody-at-all"):
        response = admin.post(
            tokens_url(workspace),
            {"name": "x", "role": "viewer", "username": username},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["fields"] == {"username": ["Not a member of this workspace."]}
    # Nor can the stranger's own session reach this workspace's tokens.
    assert session(stranger).get(tokens_url(workspace)).status_code == 404


# --- effective role ---------------------------------------------------------------------------


def test_a_demoted_persons_old_token_loses_its_power_at_once(workspace, brand):
    user = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    client = token_client(workspace, Role.APPROVER, user=user)
    first = in_review(workspace, brand)
    assert (
        client.post(item_action(workspace, first, "approve"), {}, format="json").status_code == 200
    )
    user.memberships.update(role=Role.EDITOR)
    second = in_review(workspace, brand)
    refused = client.post(item_action(workspace, second, "approve"), {}, format="json")
    assert refused.status_code == 403
    second.refresh_from_db()
    assert second.status == ContentStatus.IN_REVIEW


# --- audit records name who really acted ------------------------------------------------------


def test_an_approval_by_a_workspace_key_names_the_key_not_a_person(workspace, brand):
    key, clear = ApiToken.issue(workspace=workspace, name="Approval bot", role=Role.APPROVER)
    item = in_review(workspace, brand)
    response = with_token(clear).post(item_action(workspace, item, "approve"), {}, format="json")
    assert response.status_code == 200, response.content
    approval = Approval.objects.get(content_item=item)
    assert approval.decided_by is None
    assert approval.via_token == key
    assert key.prefix in approval.decided_by_label and "Approval bot" in approval.decided_by_label
    assert "workspace API key" in approval.decided_by_label
    step = Transition.objects.get(content_item=item, action="approve")
    assert (step.actor, step.via_token) == (None, key)


def test_an_approval_by_a_personal_token_names_the_person_and_the_token(workspace, brand):
    user = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    token, clear = ApiToken.issue(
        workspace=workspace, name="phone", role=Role.APPROVER, user=user, created_by=user
    )
    item = in_review(workspace, brand)
    with_token(clear).post(item_action(workspace, item, "approve"), {}, format="json")
    approval = Approval.objects.get(content_item=item)
    assert (approval.decided_by, approval.via_token) == (user, token)
    assert user.username in approval.decided_by_label and token.prefix in approval.decided_by_label


def test_a_session_approval_names_the_person_and_no_token(workspace, brand):
    user = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    item = in_review(workspace, brand)
    session(user).post(item_action(workspace, item, "approve"), {}, format="json")
    approval = Approval.objects.get(content_item=item)
    assert (approval.decided_by, approval.via_token, approval.decided_by_label) == (
        user,
        None,
        user.username,
    )


def test_template_approval_and_fire_name_the_token(
    workspace, brand, django_capture_on_commit_callbacks
):
    key, clear = ApiToken.issue(workspace=workspace, name="War room bot", role=Role.APPROVER)
    template = f.ReactiveTemplateFactory(brand=brand, workspace=workspace)
    client = with_token(clear)
    base = reverse(
        "api:reactive-template-detail", kwargs={"workspace_slug": workspace.slug, "pk": template.pk}
    )
    approved = client.post(f"{base}approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["approved_via_token"] == key.pk
    assert "War room bot" in approved.json()["approved_by_label"]
    template = ReactiveTemplate.objects.get(pk=template.pk)
    assert (template.approved_by, template.approved_via_token) == (None, key)
    with django_capture_on_commit_callbacks(execute=True):
        fired = client.post(
            f"{base}fire/", {"values": {"moment": "the lights went out"}}, format="json"
        )
    assert fired.status_code == 201, fired.content
    assert fired.json()["via_token"] == key.pk
    fire = Fire.objects.get()
    assert (fire.fired_by, fire.via_token) == (None, key)
    assert key.prefix in fire.fired_by_label


def test_audit_labels_fit_their_columns_with_the_longest_names(workspace, brand):
    user = f.UserFactory(username="u" * 150)
    f.MembershipFactory(workspace=workspace, user=user, role=Role.APPROVER)
    _, clear = ApiToken.issue(
        workspace=workspace, name="n" * 120, role=Role.APPROVER, user=user, created_by=user
    )
    item = in_review(workspace, brand)
    response = with_token(clear).post(item_action(workspace, item, "approve"), {}, format="json")
    assert response.status_code == 200, response.content
    assert len(Approval.objects.get(content_item=item).decided_by_label) <= 200
