"""Client links: revoked through the API and the admin (then they answer 410 and decide
nothing), emailed to the client when asked (the message holds the working link and its expiry),
and their expiry and state shown."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from calendar_app.approvals.links import create_link, revoke_link
from calendar_app.approvals.models import ApprovalLink
from calendar_app.models import Approval, ContentStatus, Role
from tests import factories as f
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def test_revoked_link_answers_410_and_decides_nothing(in_review, actor, workspace):
    item = in_review()
    new = create_link(item, actor(Role.EDITOR), "Dana", "dana@client.example")
    client = token_client(workspace, Role.EDITOR)
    response = client.post(url("approval-link-api-revoke", workspace, pk=new.link.pk))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked" and response.json()["revoked_at"]
    page = reverse("approval-link", kwargs={"token": new.token})
    assert Client().get(page).status_code == 410
    decided = Client().post(page, {"decision": "approve"})
    assert decided.status_code == 410
    assert "withdrawn" in decided.content.decode()
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW and not Approval.objects.exists()
    again = client.post(url("approval-link-api-revoke", workspace, pk=new.link.pk))
    assert again.status_code == 409 and again.json()["code"] == "link_revoked"


def test_a_used_link_cannot_be_revoked(in_review, actor, workspace):
    item = in_review()
    new = create_link(item, actor(Role.EDITOR), "Dana", "dana@client.example")
    Client().post(reverse("approval-link", kwargs={"token": new.token}), {"decision": "approve"})
    client = token_client(workspace, Role.EDITOR)
    response = client.post(url("approval-link-api-revoke", workspace, pk=new.link.pk))
    assert response.status_code == 409 and response.json()["code"] == "link_used"
    assert ApprovalLink.objects.get(pk=new.link.pk).revoked_at is None


def test_another_workspaces_link_cannot_be_revoked(in_review, actor, workspace, other_workspace):
    item = in_review()
    new = create_link(item, actor(Role.EDITOR), "Dana", "dana@client.example")
    stranger = token_client(other_workspace, Role.ADMIN)
    response = stranger.post(url("approval-link-api-revoke", other_workspace, pk=new.link.pk))
    assert response.status_code == 404
    assert ApprovalLink.objects.get(pk=new.link.pk).revoked_at is None


def test_revoking_needs_an_editor(in_review, actor):
    new = create_link(in_review(), actor(Role.EDITOR), "Dana", "dana@client.example")
    with pytest.raises(Exception) as refused:
        revoke_link(new.link, actor(Role.VIEWER))
    assert refused.value.code == "permission_denied"


def test_the_link_is_emailed_when_asked(in_review, workspace):
    item = in_review(title="Launch post")
    client = token_client(workspace, Role.EDITOR)
    response = client.post(
        url("approval-link-api-list", workspace),
        {
            "content_item": item.pk,
            "name": "Dana Client",
            "email": "dana@client.example",
            "expires_in_hours": 48,
            "send_email": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["emailed_at"] and body["status"] == "open" and body["expires_at"]
    [message] = mail.outbox
    assert message.to == ["dana@client.example"]
    assert "Launch post" in message.subject
    assert body["url"] in message.body
    assert "expires on" in message.body
    token = re.search(r"/approve/([A-Za-z0-9_-]+)/", message.body).group(1)
    assert Client().get(reverse("approval-link", kwargs={"token": token})).status_code == 200


def test_no_email_unless_asked_and_bad_input(in_review, workspace):
    item = in_review()
    client = token_client(workspace, Role.EDITOR)
    plain = client.post(
        url("approval-link-api-list", workspace),
        {"content_item": item.pk, "name": "Dana", "email": "dana@client.example"},
        format="json",
    )
    assert plain.status_code == 201 and plain.json()["emailed_at"] is None
    assert mail.outbox == []
    bad = client.post(
        url("approval-link-api-list", workspace),
        {"content_item": item.pk, "name": "Dana", "email": "dana@x.example", "send_email": "yes!"},
        format="json",
    )
    assert bad.status_code == 400 and "send_email" in bad.json()["fields"]


def test_admin_revokes_and_shows_the_state(in_review, actor, login, staff_member):
    new = create_link(in_review(), actor(Role.EDITOR), "Dana", "dana@client.example")
    client = login(staff_member(Role.EDITOR))
    changelist = reverse("admin:calendar_app_approvallink_changelist")
    listed = client.get(changelist).content.decode()
    assert "open" in listed
    client.post(changelist, {"action": "revoke_links", "_selected_action": [new.link.pk]})
    link = ApprovalLink.objects.get(pk=new.link.pk)
    assert link.revoked_at is not None and link.revoked_by_label
    assert "revoked" in client.get(changelist).content.decode()


def test_admin_emails_the_link(in_review, login, staff_member, brand):
    item = in_review()
    client = login(staff_member(Role.EDITOR, ws=brand.workspace))
    changelist = reverse("admin:calendar_app_contentitem_changelist")
    client.post(
        changelist,
        {
            "action": "send_approval_link",
            "_selected_action": [item.pk],
            "apply": "1",
            "name": "Dana",
            "email": "dana@client.example",
            "expires_in_hours": 24,
            "send_email": "on",
        },
    )
    [message] = mail.outbox
    assert message.to == ["dana@client.example"]
    assert ApprovalLink.objects.get().emailed_at is not None


def test_staff_of_another_workspace_cannot_revoke(in_review, actor, login, other_workspace):
    new = create_link(in_review(), actor(Role.EDITOR), "Dana", "dana@client.example")
    stranger = f.UserFactory(is_staff=True)
    f.MembershipFactory(workspace=other_workspace, user=stranger, role=Role.ADMIN)
    client = login(stranger)
    client.post(
        reverse("admin:calendar_app_approvallink_changelist"),
        {"action": "revoke_links", "_selected_action": [new.link.pk]},
    )
    assert ApprovalLink.objects.get(pk=new.link.pk).revoked_at is None
