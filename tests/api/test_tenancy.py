"""Another workspace's token sees and changes nothing — for every endpoint the routers serve.

Generated from ``ROUTES`` (the routers' own registry), so a new endpoint is covered the day it is
added: its detail URLs with a foreign id answer 404, and URLs naming the foreign workspace answer
404 whatever the method, and the foreign workspace's rows are byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from calendar_app.models import ApiToken, Role
from tests.api.conftest import ROUTES, World, call, token_client, url_for


def snapshot(world: World) -> dict[str, Any]:
    """Every field of every row of the world, re-read from the database."""
    state = {}
    for basename, obj in world.objects.items():
        fresh = type(obj).objects.filter(pk=obj.pk).first()
        state[basename] = (
            None if fresh is None else (model_to_dict(fresh), str(getattr(fresh, "updated_at", "")))
        )
    return state


WITH_FOREIGN_IDS = [c for c in ROUTES if c.detail or c.basename == "variant"]


@pytest.mark.parametrize("case", WITH_FOREIGN_IDS, ids=lambda c: c.id)
def test_foreign_ids_answer_404_and_change_nothing(case, world, other_world):
    """Own workspace in the URL, the other workspace's object ids in it: 404, nothing changes."""
    client = token_client(world.workspace, Role.ADMIN)
    before = snapshot(other_world)
    url = url_for(case, other_world, slug=world.workspace.slug)
    response = call(client, case, url)
    assert response.status_code == 404, (case.id, response.status_code, response.content)
    assert response.json()["code"] == "not_found"
    assert snapshot(other_world) == before


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_foreign_workspace_in_url_answers_404(case, world, other_world):
    """A token names another workspace's slug: 404 (not 403), for every method."""
    client = token_client(world.workspace, Role.ADMIN)
    before = snapshot(other_world)
    response = call(client, case, url_for(case, other_world))
    assert response.status_code == 404, (case.id, response.status_code, response.content)
    assert snapshot(other_world) == before


@pytest.mark.parametrize("case", [c for c in ROUTES if c.action == "list"], ids=lambda c: c.id)
def test_lists_show_only_own_rows(case, world, other_world):
    client = token_client(world.workspace, Role.ADMIN)
    response = client.get(url_for(case, world))
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    foreign = other_world[case.basename].pk
    own = world[case.basename].pk
    assert own in ids
    assert foreign not in ids or (
        case.basename == "event" and other_world["event"].workspace is None
    )


def test_every_router_basename_has_a_world_object(world):
    """A new resource must be added to the world (conftest.build_world) to be tested at all."""
    assert {c.basename for c in ROUTES} <= set(world.objects)


def test_workspace_list_shows_only_the_tokens_workspace(world, other_world):
    client = token_client(world.workspace, Role.VIEWER)
    response = client.get(reverse("api:workspace-list"))
    assert [w["slug"] for w in response.json()["results"]] == [world.workspace.slug]
    assert response.json()["results"][0]["role"] == "viewer"
    detail = client.get(
        reverse("api:workspace-detail", kwargs={"workspace_slug": other_world.workspace.slug})
    )
    assert detail.status_code == 404


def test_member_token_of_another_workspace_member_sees_nothing(world, other_world):
    """A person who is a member of both workspaces still has a token for one only."""
    from tests import factories as f

    user = f.MembershipFactory(workspace=world.workspace, role=Role.ADMIN).user
    f.MembershipFactory(workspace=other_world.workspace, user=user, role=Role.ADMIN)
    client = token_client(world.workspace, Role.ADMIN, user=user)
    url = reverse("api:brand-list", kwargs={"workspace_slug": other_world.workspace.slug})
    assert client.get(url).status_code == 404


def test_session_user_sees_only_their_memberships(world, other_world):
    from rest_framework.test import APIClient

    from tests import factories as f

    user = f.MembershipFactory(workspace=world.workspace, role=Role.EDITOR).user
    client = APIClient()
    client.force_login(user)
    slugs = [w["slug"] for w in client.get(reverse("api:workspace-list")).json()["results"]]
    assert slugs == [world.workspace.slug]
    url = reverse("api:brand-list", kwargs={"workspace_slug": other_world.workspace.slug})
    assert client.get(url).status_code == 404
    assert ApiToken.objects.count() == 2  # the worlds' own keys only: session auth issues none
