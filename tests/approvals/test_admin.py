"""Approvals in the admin: refusals shown as messages (separation of duties, step order), the
Send an approval link… action, the chain and comments on the item's page, step members
limited to the brand's workspace."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse, reverse_lazy

from calendar_app.approvals.models import ApprovalLink, ApprovalStep, Comment
from calendar_app.models import ContentStatus, Role
from tests import factories as f
from tests.admin.helpers import messages_of

pytestmark = pytest.mark.django_db
ITEMS = reverse_lazy("admin:calendar_app_contentitem_changelist")


def act(client, url, action, obj, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk], "index": 0, **extra}
    return client.post(url, data, follow=True)


def test_the_author_is_refused_with_the_reason(brand, staff_member, login):
    author = staff_member(Role.ADMIN)
    f.ApprovalPolicyFactory(brand=brand)
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW, created_by=author)
    done = act(login(author), ITEMS, "approve_items", item)
    assert "separates duties" in " ".join(messages_of(done))
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW


def test_out_of_order_is_refused_with_the_reason(brand, staff_member, login):
    first, second = staff_member(Role.APPROVER), staff_member(Role.APPROVER)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[first])
    f.ApprovalStepFactory(brand=brand, order=2, name="Brand", members=[second])
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    done = act(login(second), ITEMS, "approve_items", item)
    assert "“Legal” (step 1 of 2) decides first" in " ".join(messages_of(done))


def test_send_an_approval_link(brand, staff_member, login):
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    client = login(staff_member(Role.EDITOR))
    page = act(client, ITEMS, "send_approval_link", item)
    assert "Create the link" in page.content.decode()
    assert not ApprovalLink.objects.exists()
    done = act(
        client,
        ITEMS,
        "send_approval_link",
        item,
        apply="1",
        name="Dana",
        email="dana@client.example",
        expires_in_hours="72",
    )
    text = " ".join(messages_of(done))
    assert "/approve/" in text and "Dana" in text
    assert ApprovalLink.objects.get().content_item == item


def test_the_item_page_shows_the_chain_and_comments(brand, staff_member, login):
    viewer = staff_member(Role.VIEWER)
    f.ApprovalStepFactory(brand=brand, order=1, name="Legal", members=[viewer])
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    Comment.objects.create(
        workspace=brand.workspace,
        content_item=item,
        version=1,
        author_label="ana",
        body="Legal, please check the claim",
    )
    page = login(viewer).get(reverse("admin:calendar_app_contentitem_change", args=[item.pk]))
    html = page.content.decode()
    assert "… Legal" in html
    assert "Legal, please check the claim" in html


def test_step_members_must_belong_to_the_brands_workspace(
    brand, staff_member, login, other_workspace
):
    admin_user = staff_member(Role.ADMIN)
    stranger = f.MembershipFactory(workspace=other_workspace).user
    f.MembershipFactory(workspace=other_workspace, user=admin_user, role=Role.ADMIN)
    response = login(admin_user).post(
        reverse("admin:calendar_app_approvalstep_add"),
        {"brand": brand.pk, "order": 1, "name": "Legal", "rule": "one", "members": [stranger.pk]},
    )
    assert response.status_code == 200
    assert "Not members of this workspace" in response.content.decode()
    assert not ApprovalStep.objects.exists()


def test_the_approval_queue_counts_comments(brand, staff_member, login):
    approver = staff_member(Role.APPROVER)
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    for body in ("One", "Two"):
        Comment.objects.create(
            workspace=brand.workspace, content_item=item, version=1, author_label="a", body=body
        )
    page = login(approver).get(f"{ITEMS}?status__exact=in_review")
    row = next(r for r in page.context["cl"].result_list if r.pk == item.pk)
    assert row._comments == 2 and row._channels == 1


def test_add_a_comment_with_a_mention(brand, staff_member, login, other_workspace):
    editor, legal = staff_member(Role.EDITOR), staff_member(Role.APPROVER)
    stranger = f.MembershipFactory(workspace=other_workspace).user
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    client = login(editor)
    refused = act(client, ITEMS, "add_comment", item, apply="1", body=f"@{stranger.username} look")
    assert "Not a member of this workspace" in refused.content.decode()
    assert not Comment.objects.exists()
    done = act(client, ITEMS, "add_comment", item, apply="1", body=f"@{legal.username} please")
    assert f"@{legal.username}" in " ".join(messages_of(done))
    assert list(Comment.objects.get().mentions.all()) == [legal]


def test_a_viewer_cannot_comment(brand, staff_member, login):
    item = f.ContentItemFactory(brand=brand, status=ContentStatus.IN_REVIEW)
    done = act(login(staff_member(Role.VIEWER)), ITEMS, "add_comment", item, apply="1", body="x")
    assert not Comment.objects.exists()
    assert done.status_code in (200, 403)
