"""The crisis endpoints: behaviour, bad input (a 4xx with the reason, never a 500), roles, and
tenancy for every route (another workspace's ids or slug answer 404 and change nothing)."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from calendar_app.crisis.api import crisis_router
from calendar_app.crisis.models import Activation, Playbook
from calendar_app.crisis.services import activate
from calendar_app.models import Publication, Role
from calendar_app.models import PublicationStatus as P
from calendar_app.reactive import approve_template
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import _routes, call, token_client
from tests.crisis.conftest import scheduled, statuses

pytestmark = pytest.mark.django_db
V, E, AP, AD = Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN

ROUTES = _routes(crisis_router, ("workspace_slug",))
REQUIRED = {
    "crisis-playbook": {
        "list": V,
        "retrieve": V,
        "create": AP,
        "update": AP,
        "partial_update": AP,
        "destroy": AP,
        "activate": AP,
        "drill": E,
    },
    "crisis": {"list": V, "retrieve": V, "held": V, "resume": AP},
}


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def build(workspace) -> dict:
    """A playbook never activated, another with an active crisis holding one post."""
    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    held = scheduled(brand, channel)
    admin = f.MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    busy = f.PlaybookFactory(workspace=workspace, brand=brand, name="Busy")
    crisis = activate(busy, Actor.for_user(admin, workspace), "on")
    quiet = f.PlaybookFactory(workspace=workspace, brand=f.BrandFactory(workspace=workspace))
    return {"crisis-playbook": quiet, "crisis": crisis, "held": held, "brand": brand}


def snapshot(world: dict) -> dict:
    return {
        key: model_to_dict(type(obj).objects.get(pk=obj.pk))
        for key, obj in world.items()
        if key != "brand"
    } | {"activations": Activation.objects.filter(workspace=world["brand"].workspace).count()}


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
    kwargs = {"pk": theirs[case.basename].pk} if case.detail else {}
    own_slug = url(case.url_name, workspace, **kwargs)
    their_slug = url(case.url_name, other_workspace, **kwargs)
    for target in (own_slug, their_slug) if case.detail else (their_slug,):
        response = call(client, case, target)
        assert response.status_code == 404, (case.id, target, response.content)
    assert snapshot(theirs) == before


@pytest.mark.parametrize("role", [V, E, AP, AD])
@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_role_matrix(case, role, workspace):
    world = build(workspace)
    client = token_client(workspace, role)
    kwargs = {"pk": world[case.basename].pk} if case.detail else {}
    response = call(client, case, url(case.url_name, workspace, **kwargs))
    if Role.at_least(role, REQUIRED[case.basename][case.action]):
        assert response.status_code not in (401, 403, 404), (case.id, role, response.content)
        assert response.status_code < 500
    else:
        assert response.status_code == 403, (case.id, role, response.content)
        assert response.json()["code"] == "permission_denied"


def test_lists_show_only_own_rows(workspace, other_workspace):
    mine, theirs = build(workspace), build(other_workspace)
    client = token_client(workspace, Role.VIEWER)
    playbooks = client.get(url("crisis-playbook-list", workspace)).json()["results"]
    assert mine["crisis-playbook"].pk in {p["id"] for p in playbooks}
    assert theirs["crisis-playbook"].pk not in {p["id"] for p in playbooks}
    crises = client.get(url("crisis-list", workspace)).json()["results"]
    assert [c["id"] for c in crises] == [mine["crisis"].pk]


def test_playbook_create_refuses_another_workspaces_rows(workspace, other_workspace):
    client = token_client(workspace, Role.APPROVER)
    foreign_brand = f.BrandFactory(workspace=other_workspace)
    foreign_channel = f.ChannelFactory(brand=foreign_brand, workspace=other_workspace)
    response = client.post(
        url("crisis-playbook-list", workspace),
        {"name": "Recall", "brand": foreign_brand.pk, "channels": [foreign_channel.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"brand", "channels"}
    assert not Playbook.objects.exists()


def test_playbook_create_and_bad_input(workspace, brand, channel, actor):
    client = token_client(workspace, Role.APPROVER)
    template = approve_template(
        f.ReactiveTemplateFactory(brand=brand, workspace=workspace, channels=[channel]),
        actor(Role.APPROVER),
    )
    other_brand = f.BrandFactory(workspace=workspace)
    good = {
        "name": "Checkout outage",
        "scenario": "outage",
        "brand": brand.pk,
        "channels": [channel.pk],
        "tag": "checkout",
        "holding_templates": [template.pk],
        "holding_values": {"moment": "now"},
        "fire_holding_statement": True,
        "required_role": "admin",
        "auto_end_after": "02:00:00",
        "notify_emails": ["press@example.com"],
    }
    response = client.post(url("crisis-playbook-list", workspace), good, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["is_active"] is False
    bad_cases = [
        ({"name": "Checkout outage"}, "name"),
        ({"required_role": "editor"}, "required_role"),
        ({"notify_emails": ["not an address"]}, "notify_emails"),
        ({"holding_values": ["x"]}, "holding_values"),
        # PostgreSQL cannot store NUL, in a key either: a field message on both databases.
        ({"holding_values": {"a\u0000b": "x"}}, "holding_values"),
        ({"auto_end_after": "-01:00:00"}, "auto_end_after"),
        ({"scenario": "alien invasion"}, "scenario"),
        ({"brand": other_brand.pk}, "channels"),
    ]
    for change, field in bad_cases:
        body = {**good, "name": "Another", **change}
        response = client.post(url("crisis-playbook-list", workspace), body, format="json")
        assert response.status_code == 400, (change, response.content)
        named = {name.split(".")[0] for name in response.json()["fields"]}
        assert field in named, (change, response.json())


def test_activate_resume_and_their_refusals(workspace, brand, channel):
    post = scheduled(brand, channel)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)
    client = token_client(workspace, Role.APPROVER)
    activate_url = url("crisis-playbook-activate", workspace, pk=playbook.pk)

    response = client.post(activate_url, {"reason": "Checkout down"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["held_count"] == 1 and body["is_active"] and body["still_held"] == 1
    assert body["reason"] == "Checkout down" and body["activated_by_label"].startswith("token ")
    crisis_id = body["id"]

    again = client.post(activate_url, {"reason": "twice"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_active"

    held = client.get(url("crisis-held", workspace, pk=crisis_id)).json()["results"]
    assert [(h["publication"], h["outcome"], h["status"]) for h in held] == [
        (post.pk, "held", "held")
    ]

    resume_url = url("crisis-resume", workspace, pk=crisis_id)
    stranger = scheduled(brand, f.ChannelFactory(brand=brand, workspace=workspace))
    for bad, code, status in (
        ({"publications": [post.pk, 999999]}, "not_held", 400),
        ({"publications": [stranger.pk]}, "not_held", 400),
        ({"publications": []}, "empty", 400),
        ({"publications": ["x"]}, "invalid", 400),
    ):
        response = client.post(resume_url, bad, format="json")
        assert response.status_code == status, (bad, response.content)
        assert response.json()["code"] == code
        assert any(name.startswith("publications") for name in response.json()["fields"])
    assert statuses(post) == [P.HELD]

    done = client.post(resume_url, {}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["released"] == 1 and done.json()["ended"] is True
    assert Publication.objects.get(pk=post.pk).status == P.PENDING
    twice = client.post(resume_url, {}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "not_active"


def test_firing_in_scope_during_a_crisis_is_a_409_with_the_reason(workspace, brand, channel, actor):
    template = approve_template(
        f.ReactiveTemplateFactory(brand=brand, workspace=workspace, channels=[channel]),
        actor(Role.APPROVER),
    )
    activate(f.PlaybookFactory(workspace=workspace, name="Recall"), actor(Role.APPROVER))
    client = token_client(workspace, Role.APPROVER)
    response = client.post(
        reverse(
            "api:reactive-template-fire",
            kwargs={"workspace_slug": workspace.slug, "pk": template.pk},
        ),
        {"values": {"moment": "now"}},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "crisis_active"
    assert "Recall" in response.json()["detail"]


def test_drill_by_an_editor_and_none_during_a_crisis(workspace, brand, channel, actor):
    scheduled(brand, channel)
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand)
    client = token_client(workspace, Role.EDITOR)
    drill_url = url("crisis-playbook-drill", workspace, pk=playbook.pk)
    response = client.post(drill_url, {"reason": "Rehearsal"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["is_drill"] and response.json()["report"]["would_hold"] == 1
    activate(playbook, actor(Role.APPROVER))
    response = client.post(drill_url, {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "crisis_active"
    drill_id = Activation.objects.get(is_drill=True).pk
    approver = token_client(workspace, Role.APPROVER)
    response = approver.post(url("crisis-resume", workspace, pk=drill_id), {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "is_drill"


def test_a_playbook_with_history_cannot_be_deleted(workspace, actor):
    playbook = f.PlaybookFactory(workspace=workspace)
    client = token_client(workspace, Role.ADMIN)
    fresh = f.PlaybookFactory(workspace=workspace)
    assert client.delete(url("crisis-playbook-detail", workspace, pk=fresh.pk)).status_code == 204
    activate(playbook, actor(Role.APPROVER))
    response = client.delete(url("crisis-playbook-detail", workspace, pk=playbook.pk))
    assert response.status_code == 409 and response.json()["code"] == "has_history"


def test_crisis_list_query_count_does_not_grow(workspace, actor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from calendar_app.crisis.services import drill, resume

    client = token_client(workspace, Role.VIEWER)
    playbook = f.PlaybookFactory(workspace=workspace)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("crisis-list", workspace)).status_code == 200
        return len(queries)

    resume(activate(playbook, actor(Role.APPROVER)), actor(Role.APPROVER))
    count()  # the key's first use is recorded once
    few = count()
    for _ in range(4):
        drill(playbook, actor(Role.EDITOR))
    assert count() == few
