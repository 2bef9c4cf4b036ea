"""The moment endpoints: behaviour, bad input (a 4xx with the field, never a 500), roles, and
tenancy for every route (another workspace's ids or slug answer 404 and change nothing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from calendar_app.models import Fire, Moment, Role
from calendar_app.moments.api import moments_router
from calendar_app.reactive import approve_template
from calendar_app.workflow import Actor
from tests import factories as f
from tests.api.conftest import _routes, call, token_client

pytestmark = pytest.mark.django_db
V, E, AP, AD = Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN

ROUTES = _routes(moments_router, ("workspace_slug",))
REQUIRED = {
    "moment": {
        "list": V,
        "retrieve": V,
        "create": E,
        "update": E,
        "partial_update": E,
        "destroy": E,
        "readiness": E,
        "fire": AP,
        "live": V,
        "report": V,
        "hold": E,
        "release": E,
        "holds": V,
    },
}


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def build(workspace) -> dict:
    """A moment whose window is open, arming one approved template."""
    brand = f.BrandFactory(workspace=workspace)
    admin = Actor.for_user(f.MembershipFactory(workspace=workspace, role=AD).user, workspace)
    template = approve_template(
        f.ReactiveTemplateFactory(brand=brand, workspace=workspace, cooldown=timedelta(0)), admin
    )
    now = timezone.now()
    moment = f.MomentFactory(
        brand=brand,
        templates=[template],
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    return {"moment": moment, "template": template, "brand": brand}


def snapshot(world: dict) -> dict:
    moment = Moment.objects.get(pk=world["moment"].pk)
    return model_to_dict(moment) | {
        "templates": sorted(moment.templates.values_list("pk", flat=True)),
        "fires": Fire.objects.filter(template=world["template"]).count(),
    }


def test_every_route_is_specified():
    assert {(c.basename, c.action) for c in ROUTES} == {
        (b, a) for b, actions in REQUIRED.items() for a in actions
    }


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_foreign_ids_and_foreign_slug_answer_404_and_change_nothing(
    case, workspace, other_workspace, sandbox_dir
):
    build(workspace)
    theirs = build(other_workspace)
    client = token_client(workspace, Role.ADMIN)
    before = snapshot(theirs)
    kwargs = {"pk": theirs[case.basename].pk} if case.detail else {}
    body = {"template": theirs["template"].pk, "values": {"moment": "x"}}
    for target in (
        (url(case.url_name, workspace, **kwargs), url(case.url_name, other_workspace, **kwargs))
        if case.detail
        else (url(case.url_name, other_workspace, **kwargs),)
    ):
        response = call(client, case, target, body)
        assert response.status_code == 404, (case.id, target, response.content)
    assert snapshot(theirs) == before


@pytest.mark.parametrize("role", [V, E, AP, AD])
@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_role_matrix(case, role, workspace, sandbox_dir):
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


def test_create_read_and_run_readiness(workspace, sandbox_dir, member):
    world = build(workspace)
    client = token_client(workspace, Role.EDITOR)
    user = member(Role.EDITOR)
    start = timezone.now() + timedelta(days=1)
    response = client.post(
        url("moment-list", workspace),
        {
            "name": "Cup final",
            "brand": world["brand"].pk,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "templates": [world["template"].pk],
            "sample_values": {"moment": "Goal"},
            "team": [{"user": user.pk, "role": "caller"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    ran = client.post(url("moment-readiness", workspace, pk=pk), format="json")
    assert ran.status_code == 200 and ran.json()["ok"] is True
    detail = client.get(url("moment-detail", workspace, pk=pk)).json()
    assert detail["readiness_ok"] is True and detail["readiness"]["green"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": "start"}, "ends_at"),
        ({"templates": [999999]}, "templates"),
        ({"templates": "foreign"}, "templates"),
        ({"brand": "foreign"}, "brand"),
        ({"team": [{"user": "stranger", "role": "x"}]}, "team"),
        ({"team": "nope"}, "team"),
        ({"sample_values": ["a"]}, "sample_values"),
        ({"name": "Taken"}, "name"),
    ],
)
def test_bad_input_is_a_400_on_the_field(change, field, workspace, other_workspace, sandbox_dir):
    world = build(workspace)
    foreign = build(other_workspace)
    f.MomentFactory(brand=world["brand"], name="Taken")
    stranger = f.MembershipFactory(workspace=other_workspace).user
    start = timezone.now() + timedelta(days=1)
    body = {
        "name": "Semi-final",
        "brand": world["brand"].pk,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "templates": [world["template"].pk],
    }
    for key, value in change.items():
        if value == "start":
            value = body["starts_at"]
        elif value == "foreign":
            value = [foreign["template"].pk] if key == "templates" else foreign["brand"].pk
        elif key == "team" and isinstance(value, list):
            value = [{"user": stranger.pk, "role": "x"}]
        body[key] = value
    before = Moment.objects.count()
    response = token_client(workspace, Role.EDITOR).post(
        url("moment-list", workspace), body, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert Moment.objects.count() == before


def test_fire_armed_and_unarmed(workspace, sandbox_dir, django_capture_on_commit_callbacks):
    world = build(workspace)
    client = token_client(workspace, Role.APPROVER)
    fire_url = url("moment-fire", workspace, pk=world["moment"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        fired = client.post(
            fire_url, {"template": world["template"].pk, "values": {"moment": "Goal"}}, "json"
        )
    assert fired.status_code == 201, fired.content
    live = client.get(url("moment-live", workspace, pk=world["moment"].pk)).json()
    assert live["fires"][0]["id"] == fired.json()["fire"]
    assert live["publications"][0]["status"] == "published"
    again = client.get(
        url("moment-live", workspace, pk=world["moment"].pk), {"since": live["cursor"]}
    )
    assert again.status_code == 200 and again.json()["publications"] == []
    unarmed = approve_template(
        f.ReactiveTemplateFactory(brand=world["brand"], workspace=workspace),
        Actor.system("test"),
    )
    refused = client.post(fire_url, {"template": unarmed.pk, "values": {"moment": "x"}}, "json")
    assert refused.status_code == 400
    assert "is not armed" in refused.json()["fields"]["template"][0]
    missing = client.post(fire_url, {"template": world["template"].pk}, "json")
    assert missing.status_code in (400, 409)
    assert (
        client.get(
            url("moment-live", workspace, pk=world["moment"].pk), {"since": "yesterday"}
        ).status_code
        == 400
    )
    report = client.get(url("moment-report", workspace, pk=world["moment"].pk)).json()
    assert report["fired"] == 1


def test_changing_the_brand_must_fit_the_armed_templates(workspace, sandbox_dir):
    world = build(workspace)
    other_brand = f.BrandFactory(workspace=workspace)
    response = token_client(workspace, Role.EDITOR).patch(
        url("moment-detail", workspace, pk=world["moment"].pk),
        {"brand": other_brand.pk},
        format="json",
    )
    assert response.status_code == 400 and "templates" in response.json()["fields"]
    assert Moment.objects.get(pk=world["moment"].pk).brand_id == world["brand"].pk
