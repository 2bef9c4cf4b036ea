"""The approval endpoints: behaviour, bad input (a 4xx with the reason, never a 500), roles, and
tenancy for every route (another workspace's ids or slug answer 404 and change nothing)."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from calendar_app.approvals.api import approvals_router, item_router, template_router
from calendar_app.approvals.links import create_link
from calendar_app.approvals.models import ApprovalLink, ApprovalStep, Comment
from calendar_app.models import ContentStatus, Role
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import _routes, call, token_client

pytestmark = pytest.mark.django_db
V, E, AP, AD = Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN

ROUTES = (
    _routes(approvals_router, ("workspace_slug",))
    + _routes(item_router, ("workspace_slug", "item_pk"))
    + _routes(template_router, ("workspace_slug", "template_pk"))
)
CRUD_ADMIN = {
    "list": V,
    "retrieve": V,
    "create": AD,
    "update": AD,
    "partial_update": AD,
    "destroy": AD,
}
REQUIRED = {
    "approval-policy": CRUD_ADMIN,
    "approval-step": CRUD_ADMIN,
    "approval-link-api": {"list": E, "retrieve": E, "create": E, "revoke": E},
    "content-item-approval-progress": {"list": V},
    "content-item-comment": {"list": V, "create": E},
    "template-approval-progress": {"list": V},
}
NESTED = {"content-item-approval-progress", "content-item-comment"}
TEMPLATE_NESTED = {"template-approval-progress"}


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def build(workspace) -> dict:
    """A brand with a policy and a one-step chain, an item in review with a link and a comment."""
    brand = f.BrandFactory(workspace=workspace)
    approver = f.MembershipFactory(workspace=workspace, role=Role.APPROVER).user
    policy = f.ApprovalPolicyFactory(brand=brand, workspace=workspace)
    step = f.ApprovalStepFactory(brand=brand, workspace=workspace, members=[approver])
    item = f.ContentItemFactory(brand=brand, workspace=workspace, status=ContentStatus.IN_REVIEW)
    link = create_link(item, Actor.for_user(approver, workspace), "Dana", "dana@example.com").link
    comment = Comment.objects.create(
        workspace=workspace, content_item=item, version=1, author_label="x", body="Looks good"
    )
    template = f.ReactiveTemplateFactory(brand=brand, workspace=workspace)
    return {
        "approval-policy": policy,
        "approval-step": step,
        "approval-link-api": link,
        "content-item": item,
        "comment": comment,
        "template": template,
    }


def route_kwargs(case, world) -> dict:
    kwargs = {"pk": world[case.basename].pk} if case.detail else {}
    if case.basename in NESTED:
        kwargs["item_pk"] = world["content-item"].pk
    if case.basename in TEMPLATE_NESTED:
        kwargs["template_pk"] = world["template"].pk
    return kwargs


def snapshot(world: dict) -> dict:
    rows = {key: model_to_dict(type(o).objects.get(pk=o.pk)) for key, o in world.items()}
    item = world["content-item"]
    return rows | {
        "steps": ApprovalStep.objects.filter(workspace=item.workspace).count(),
        "links": ApprovalLink.objects.filter(workspace=item.workspace).count(),
        "comments": Comment.objects.filter(workspace=item.workspace).count(),
    }


def test_every_route_is_specified():
    assert {(c.basename, c.action) for c in ROUTES} == {
        (b, a) for b, actions in REQUIRED.items() for a in actions
    }


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_foreign_ids_and_foreign_slug_answer_404_and_change_nothing(
    case, workspace, other_workspace
):
    build(workspace)
    theirs = build(other_workspace)
    client = token_client(workspace, Role.ADMIN)
    before = snapshot(theirs)
    kwargs = route_kwargs(case, theirs)
    targets = [url(case.url_name, other_workspace, **kwargs)]
    if case.detail or case.basename in NESTED | TEMPLATE_NESTED:
        targets.append(url(case.url_name, workspace, **kwargs))
    for target in targets:
        response = call(client, case, target, {"body": "hi", "name": "x"})
        assert response.status_code == 404, (case.id, target, response.content)
    assert snapshot(theirs) == before


@pytest.mark.parametrize("role", [V, E, AP, AD])
@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_role_matrix(case, role, workspace):
    world = build(workspace)
    client = token_client(workspace, role)
    response = call(client, case, url(case.url_name, workspace, **route_kwargs(case, world)))
    if Role.at_least(role, REQUIRED[case.basename][case.action]):
        assert response.status_code not in (401, 403, 404), (case.id, role, response.content)
        assert response.status_code < 500
    else:
        assert response.status_code == 403, (case.id, role, response.content)
        assert response.json()["code"] == "permission_denied"


def test_step_create_refuses_foreign_brand_and_members(workspace, other_workspace, brand):
    client = token_client(workspace, AD)
    stranger = f.MembershipFactory(workspace=other_workspace, role=AD).user
    foreign = f.BrandFactory(workspace=other_workspace)
    response = client.post(
        url("approval-step-list", workspace),
        {"brand": foreign.pk, "order": 1, "name": "Legal", "members": [stranger.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"brand", "members"}
    assert not ApprovalStep.objects.exists()


def test_step_create_and_duplicates(workspace, brand):
    client = token_client(workspace, AD)
    legal = f.MembershipFactory(workspace=workspace, role=AP).user
    body = {"brand": brand.pk, "order": 1, "name": "Legal", "members": [legal.pk], "rule": "all"}
    created = client.post(url("approval-step-list", workspace), body, format="json")
    assert created.status_code == 201, created.content
    again = client.post(url("approval-step-list", workspace), body, format="json")
    assert again.status_code == 400
    assert "order" in again.json()["fields"]
    empty = client.post(
        url("approval-step-list", workspace),
        {**body, "order": 2, "name": "Brand", "members": []},
        format="json",
    )
    assert empty.status_code == 400
    assert "members" in empty.json()["fields"]


def test_one_policy_per_brand(workspace, brand):
    client = token_client(workspace, AD)
    first = client.post(
        url("approval-policy-list", workspace),
        {"brand": brand.pk, "separate_duties": True},
        format="json",
    )
    assert first.status_code == 201
    second = client.post(url("approval-policy-list", workspace), {"brand": brand.pk}, format="json")
    assert second.status_code == 400
    assert "brand" in second.json()["fields"]


def test_separation_of_duties_through_the_api(workspace, brand):
    writer = f.MembershipFactory(workspace=workspace, role=AP).user
    f.ApprovalPolicyFactory(brand=brand, workspace=workspace)
    item = f.ContentItemFactory(
        brand=brand, workspace=workspace, status=ContentStatus.IN_REVIEW, created_by=writer
    )
    approve = url("content-item-approve", workspace, pk=item.pk)
    response = token_client(workspace, AP, user=writer).post(approve, {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "separation_of_duties"
    key = token_client(workspace, AD).post(approve, {}, format="json")  # a workspace key
    assert key.status_code == 409
    assert "names no person" in key.json()["detail"]
    item.refresh_from_db()
    assert item.status == ContentStatus.IN_REVIEW


def test_out_of_order_through_the_api(workspace, brand):
    first, second = (f.MembershipFactory(workspace=workspace, role=AP).user for _ in range(2))
    f.ApprovalStepFactory(brand=brand, workspace=workspace, order=1, members=[first])
    f.ApprovalStepFactory(brand=brand, workspace=workspace, order=2, members=[second])
    item = f.ContentItemFactory(brand=brand, workspace=workspace, status=ContentStatus.IN_REVIEW)
    approve = url("content-item-approve", workspace, pk=item.pk)
    response = token_client(workspace, AP, user=second).post(approve, {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_order"
    ok = token_client(workspace, AP, user=first).post(approve, {}, format="json")
    assert ok.status_code == 200
    assert ok.json()["status"] == "in_review"
    progress = token_client(workspace, V).get(
        url("content-item-approval-progress-list", workspace, item_pk=item.pk)
    )
    assert [s["done"] for s in progress.json()] == [True, False]
    done = token_client(workspace, AP, user=second).post(approve, {}, format="json")
    assert done.json()["status"] == "approved"


def test_link_create_answers_the_url_once(workspace, brand):
    item = f.ContentItemFactory(brand=brand, workspace=workspace, status=ContentStatus.IN_REVIEW)
    client = token_client(workspace, E)
    response = client.post(
        url("approval-link-api-list", workspace),
        {"content_item": item.pk, "name": "Dana", "email": "dana@client.example"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "/approve/" in body["url"]
    token = body["url"].rstrip("/").rsplit("/", 1)[1]
    link = ApprovalLink.objects.get()
    assert token not in str(model_to_dict(link).values())  # only the hash is stored
    listed = client.get(url("approval-link-api-detail", workspace, pk=link.pk)).json()
    assert "url" not in listed


def test_link_create_bad_input(workspace, brand, other_workspace):
    draft = f.ContentItemFactory(brand=brand, workspace=workspace)
    foreign = f.ContentItemFactory(workspace=other_workspace, status=ContentStatus.IN_REVIEW)
    client = token_client(workspace, E)
    link_url = url("approval-link-api-list", workspace)
    bad = client.post(
        link_url,
        {"content_item": foreign.pk, "name": "", "email": "nope", "expires_in_hours": 0},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"content_item", "name", "email", "expires_in_hours"}
    not_in_review = client.post(
        link_url, {"content_item": draft.pk, "name": "D", "email": "d@x.example"}, format="json"
    )
    assert not_in_review.status_code == 409
    assert not ApprovalLink.objects.exists()


def test_comments_with_mentions(workspace, brand):
    ana = f.MembershipFactory(workspace=workspace, role=AP).user
    item = f.ContentItemFactory(brand=brand, workspace=workspace, status=ContentStatus.IN_REVIEW)
    client = token_client(workspace, E)
    comments = url("content-item-comment-list", workspace, item_pk=item.pk)
    body = f"@{ana.username}, can legal read this? Mail me at someone@example.com."
    created = client.post(comments, {"body": body}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["mentions"] == [ana.username]
    listed = client.get(comments).json()["results"]
    assert [c["body"] for c in listed] == [body]


def test_mentioning_a_stranger_is_refused(workspace, brand, other_workspace):
    stranger = f.MembershipFactory(workspace=other_workspace).user
    item = f.ContentItemFactory(brand=brand, workspace=workspace)
    client = token_client(workspace, E)
    response = client.post(
        url("content-item-comment-list", workspace, item_pk=item.pk),
        {"body": f"@{stranger.username} and @nobody-here"},
        format="json",
    )
    assert response.status_code == 400
    assert "@nobody-here" in response.json()["fields"]["body"][0]
    assert not Comment.objects.exists()
