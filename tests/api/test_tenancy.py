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
from tests import factories as f
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


WITH_FOREIGN_IDS = [c for c in ROUTES if c.detail or c.parents]


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
    body = response.json()
    if case.basename == "content-item-approval-progress":  # the item's chain, not rows
        assert isinstance(body, list)
        return
    rows = body["results"] if isinstance(body, dict) else body
    ids = {row["id"] for row in rows}
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


def _package_list_routes() -> list[tuple[str, type]]:
    """(basename, viewset) of every list endpoint directly under a workspace, packages included."""
    from calendar_app.api.urls import workspace_router
    from calendar_app.approvals.api import approvals_router
    from calendar_app.audiences.api import audience_router
    from calendar_app.crisis.api import crisis_router
    from calendar_app.moments.api import moments_router

    routers = (workspace_router, approvals_router, audience_router, crisis_router, moments_router)
    return [
        (basename, viewset)
        for router in routers
        for _prefix, viewset, basename in router.registry
        if hasattr(viewset, "list")
    ]


def _id_filters(viewset) -> list[tuple[str, type]]:
    """The list endpoint's filters that take an id, with the model the id names."""
    from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter

    from calendar_app.api.filters import KairosFilterBackend

    model = getattr(viewset, "model", None) or viewset.queryset.model
    filterset = KairosFilterBackend().get_filterset_class(viewset(), model.objects.all())
    if filterset is None:
        return []
    found = []
    for name, flt in filterset.base_filters.items():
        if isinstance(flt, ModelChoiceFilter | ModelMultipleChoiceFilter):
            chosen = flt.queryset(None) if callable(flt.queryset) else flt.queryset
            found.append((name, chosen.model))
    return found


ID_FILTERS = [
    (basename, name, model)
    for basename, viewset in _package_list_routes()
    for name, model in _id_filters(viewset)
]


def _row_of(model: type, world: World) -> Any:
    """A row of ``model`` in the world's workspace: the world's own, or one made for the test."""
    from calendar_app.audiences.models import AudienceList
    from calendar_app.crisis.models import Playbook

    for obj in world.objects.values():
        if isinstance(obj, model):
            return obj
    if model is Playbook:
        return f.PlaybookFactory(workspace=world.workspace)
    if model is AudienceList:
        return AudienceList.objects.create(
            workspace=world.workspace, brand=world["brand"], name="Newsletter"
        )
    return None


@pytest.mark.parametrize(
    ("basename", "name", "model"), ID_FILTERS, ids=lambda v: getattr(v, "__name__", v)
)
def test_a_foreign_id_in_a_filter_is_refused_like_an_unknown_one(
    basename, name, model, world, other_world
):
    """``?brand=<another workspace's brand>`` must not answer an empty page (which tells the
    caller the row exists) while an unknown id answers 400: both are a 400 on the parameter."""
    foreign = _row_of(model, other_world)
    assert foreign is not None, f"the other world has no {model.__name__}"
    client = token_client(world.workspace, Role.ADMIN)
    url = reverse(f"api:{basename}-list", kwargs={"workspace_slug": world.workspace.slug})
    unknown = client.get(url, {name: 2_000_000_000})
    response = client.get(url, {name: foreign.pk})
    assert unknown.status_code == 400, (basename, name, unknown.content)
    assert response.status_code == 400, (basename, name, response.content)
    assert unknown.json()["code"] == response.json()["code"]
    assert name in str(response.json()), response.json()
