"""The listening endpoints: roles, tenancy on every route, the inbox's cursor pagination and
filters, corrections, replies, purging, policy, and bad input (a 4xx on the field, never a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calendar_app.listening.api import listening_router
from calendar_app.models import ContentItem, Message, Role, Watch
from tests import factories as f
from tests.api.conftest import _routes, call, token_client

pytestmark = pytest.mark.django_db
V, E, AP, AD = Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN

ROUTES = _routes(listening_router, ("workspace_slug",))
CRUD_EDITOR = {
    "list": V,
    "retrieve": V,
    "create": E,
    "update": E,
    "partial_update": E,
    "destroy": E,
}
REQUIRED = {
    "listening-message": {
        "list": V,
        "retrieve": V,
        "partial_update": E,
        "reply": E,
        "purge": AD,
    },
    "listening-watch": CRUD_EDITOR,
    "listening-alert": {"list": V, "retrieve": V, "acknowledge": E},
}
BODIES = {
    ("listening-message", "partial_update"): {"tone": "negative"},
    ("listening-message", "reply"): {"body": "Thanks, we are on it."},
    ("listening-message", "purge"): {"handle": "@nobody"},
}


def url(name: str, workspace, **kwargs) -> str:
    return reverse(f"api:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def build(workspace) -> dict:
    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    watch = f.WatchFactory(brand=brand, workspace=workspace)
    message = f.MessageFactory(channel=channel, watch=watch)
    alert = f.AlertFactory(watch=watch)
    return {
        "listening-message": message,
        "listening-watch": watch,
        "listening-alert": alert,
        "brand": brand,
        "channel": channel,
    }


def snapshot(world: dict) -> dict:
    rows = {k: v for k, v in world.items() if k.startswith("listening-")}
    out = {
        key: model_to_dict(type(obj).objects.filter(pk=obj.pk).first() or obj)
        for key, obj in rows.items()
    }
    return out | {"messages": Message.objects.filter(workspace=world["brand"].workspace).count()}


def body_for(case, world) -> dict:
    if case.basename == "listening-watch" and case.action in ("create", "update"):
        return {"brand": world["brand"].pk, "name": f"w-{case.action}", "terms": ["acme"]}
    return BODIES.get((case.basename, case.action), {})


def test_every_route_is_specified():
    assert {(c.basename, c.action) for c in ROUTES} == {
        (b, a) for b, actions in REQUIRED.items() for a in actions
    }


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_foreign_ids_and_foreign_slug_answer_404_and_change_nothing(
    case, workspace, other_workspace
):
    """The attack: a member of one workspace names another workspace's rows or slug."""
    mine = build(workspace)
    theirs = build(other_workspace)
    theirs["listening-message"].author_handle = "@nobody"
    theirs["listening-message"].save()
    client = token_client(workspace, Role.ADMIN)
    before = snapshot(theirs)
    kwargs = {"pk": theirs[case.basename].pk} if case.detail else {}
    targets = [url(case.url_name, other_workspace, **kwargs)]
    if case.detail:
        targets.append(url(case.url_name, workspace, **kwargs))
    for target in targets:
        response = call(client, case, target, body_for(case, mine))
        assert response.status_code == 404, (case.id, target, response.content)
    if not case.detail and case.method == "POST" and case.action == "purge":
        call(client, case, url(case.url_name, workspace), {"handle": "@nobody"})
    assert snapshot(theirs) == before


@pytest.mark.parametrize("role", [V, E, AP, AD])
@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.id)
def test_role_matrix(case, role, workspace):
    world = build(workspace)
    client = token_client(workspace, role)
    kwargs = {"pk": world[case.basename].pk} if case.detail else {}
    response = call(client, case, url(case.url_name, workspace, **kwargs), body_for(case, world))
    if Role.at_least(role, REQUIRED[case.basename][case.action]):
        assert response.status_code not in (401, 403, 404), (case.id, role, response.content)
        assert response.status_code < 500
    else:
        assert response.status_code == 403, (case.id, role, response.content)


def test_inbox_cursor_pages_are_stable_and_constant_in_queries(workspace):
    world = build(workspace)
    channel = world["channel"]
    for n in range(30):
        f.MessageFactory(channel=channel, published_at=timezone.now() - timedelta(minutes=n))
    client = token_client(workspace, Role.VIEWER)
    seen, link = [], url("listening-message-list", workspace) + "?page_size=7"
    counts = []
    while link:
        with CaptureQueriesContext(connection) as queries:
            page = client.get(link).json()
        counts.append(len(queries))
        seen += [m["id"] for m in page["results"]]
        # A message arriving while a person reads must not shift the pages.
        f.MessageFactory(channel=channel)
        link = page["next"]
    assert len(seen) == len(set(seen)) == 31
    # The first call also records the token's use; every page after it costs the same.
    assert len(set(counts[1:])) == 1 and max(counts) <= 3, counts


def test_inbox_filters(workspace):
    world = build(workspace)
    channel = world["channel"]
    complaint = f.MessageFactory(channel=channel, category="complaint", tone="negative")
    client = token_client(workspace, Role.VIEWER)
    base = url("listening-message-list", workspace)
    got = client.get(base + "?category=complaint&tone=negative").json()["results"]
    assert [m["id"] for m in got] == [complaint.pk]
    got = client.get(base + f"?channel={channel.pk}&unanswered=true").json()["results"]
    assert len(got) == 2
    for bad in ("?tone=furious", "?unanswered=maybe", "?channel=999999", "?published_after=x"):
        response = client.get(base + bad)
        assert response.status_code == 400, bad
        assert response.json()["code"]


def test_correction_is_kept_and_reported(workspace):
    world = build(workspace)
    message = world["listening-message"]
    client = token_client(workspace, Role.EDITOR)
    target = url("listening-message-detail", workspace, pk=message.pk)
    response = client.patch(target, {"category": "complaint", "tone": "negative"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["corrected"] is True
    message.refresh_from_db()
    assert (message.category, message.tone) == ("complaint", "negative")
    for bad in ({}, {"tone": "angry"}, {"category": 3}, {"text": "rewritten"}):
        response = client.patch(target, bad, format="json")
        assert response.status_code == 400, bad
    message.refresh_from_db()
    assert message.text == "Love acme!"


def test_reply_is_one_draft_answering_the_message(workspace):
    world = build(workspace)
    message = world["listening-message"]
    client = token_client(workspace, Role.EDITOR)
    target = url("listening-message-reply", workspace, pk=message.pk)
    first = client.post(target, {"body": "Thank you!"}, format="json")
    again = client.post(target, {"body": "Thank you!"}, format="json")
    assert first.status_code == again.status_code == 201
    assert first.json()["content_item"] == again.json()["content_item"]
    item = ContentItem.objects.get(pk=first.json()["content_item"])
    assert item.status == "draft" and item.in_reply_to_id == message.pk
    assert list(item.channels.all()) == [message.channel]
    assert item.transitions.filter(action="create").exists()
    for bad in ({}, {"body": "   "}, {"body": "x" * 10_001}, {"body": 5}):
        assert client.post(target, bad, format="json").status_code == 400, bad


def test_purge_deletes_one_persons_messages(workspace):
    world = build(workspace)
    channel = world["channel"]
    f.MessageFactory(channel=channel, author_handle="@ana@example.social")
    f.MessageFactory(channel=channel, author_handle="@Ana@example.social")
    client = token_client(workspace, Role.ADMIN)
    response = client.post(
        url("listening-message-purge", workspace), {"handle": "ana@example.social"}, format="json"
    )
    assert response.json() == {"deleted": 2}
    assert Message.objects.filter(workspace=workspace).count() == 1
    for bad in ({}, {"handle": ""}, {"handle": "x" * 300}):
        response = client.post(url("listening-message-purge", workspace), bad, format="json")
        assert response.status_code == 400, bad


def test_watch_refuses_terms_that_match_everything(workspace):
    world = build(workspace)
    client = token_client(workspace, Role.EDITOR)
    target = url("listening-watch-list", workspace)
    for terms in (["a"], ["the"], ["*"], [], "acme", ["ok", "%"]):
        body = {"brand": world["brand"].pk, "name": "risky", "terms": terms}
        response = client.post(target, body, format="json")
        assert response.status_code == 400, terms
        assert "terms" in str(response.json()), response.json()
    ok = {"brand": world["brand"].pk, "name": "launch", "terms": ["#AcmeLaunch", "acme phone"]}
    assert client.post(target, ok, format="json").status_code == 201
    assert client.post(target, ok, format="json").status_code == 400  # same name
    assert Watch.objects.filter(workspace=workspace).count() == 2


def test_policy_read_and_change(workspace):
    viewer = token_client(workspace, Role.VIEWER)
    admin = token_client(workspace, Role.ADMIN)
    target = url("listening-policy", workspace)
    assert viewer.get(target).json() == {"retention_days": 180, "reply_window_days": 14}
    assert viewer.put(target, {"retention_days": 30}, format="json").status_code == 403
    assert admin.put(target, {"retention_days": 30}, format="json").json()["retention_days"] == 30
    for bad in ({"retention_days": 0}, {"retention_days": "30"}, {"reply_window_days": 1000}):
        assert admin.put(target, bad, format="json").status_code == 400, bad


def test_policy_answers_options_for_readers_and_admins(workspace):
    # DRF's OPTIONS describes the PUT form by fetching "the object": a singleton must say which.
    target = url("listening-policy", workspace)
    for role in (Role.VIEWER, Role.ADMIN):
        response = token_client(workspace, role).options(target)
        assert response.status_code == 200, (role, response.content)


def test_alert_acknowledge_and_links(workspace):
    world = build(workspace)
    template = f.ReactiveTemplateFactory(
        brand=world["brand"], workspace=workspace, scenario="crisis"
    )
    client = token_client(workspace, Role.EDITOR)
    alert = client.get(url("listening-alert-list", workspace) + "?open=true").json()["results"][0]
    assert [t["id"] for t in alert["links"]["templates"]] == [template.pk]
    done = client.post(url("listening-alert-acknowledge", workspace, pk=alert["id"]))
    assert done.json()["acknowledged_at"]
    assert client.get(url("listening-alert-list", workspace) + "?open=true").json()["results"] == []


def test_replies_per_variant(workspace):
    world = build(workspace)
    experiment = f.ExperimentFactory(brand=world["brand"], workspace=workspace)
    variant = f.VariantFactory(experiment=experiment)
    publication = f.PublicationFactory(
        content_item__brand=world["brand"],
        content_item__workspace=workspace,
        channel=world["channel"],
        variant=variant,
        status="published",
        published_at=timezone.now(),
        external_id="ext-1",
    )
    for tone in ("negative", "negative", "positive"):
        f.MessageFactory(
            channel=world["channel"], publication=publication, variant=variant, tone=tone
        )
    client = token_client(workspace, Role.VIEWER)
    rows = client.get(url("listening-experiment-replies", workspace, pk=experiment.pk)).json()
    mine = next(r for r in rows if r["variant"] == variant.pk)
    assert mine["replies"] == 3 and mine["replies_per_publication"] == 3.0
    assert mine["negative_share"] == pytest.approx(2 / 3)
    other = build(f.WorkspaceFactory())
    foreign = f.ExperimentFactory(brand=other["brand"], workspace=other["brand"].workspace)
    assert (
        client.get(url("listening-experiment-replies", workspace, pk=foreign.pk)).status_code == 404
    )


def test_a_reply_on_a_newsletter_channel_is_a_400_on_the_message(workspace):
    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace, network="email")
    message = f.MessageFactory(channel=channel, kind="reply", author_handle="ana@example.com")
    client = token_client(workspace, Role.EDITOR)
    response = client.post(
        url("listening-message-reply", workspace, pk=message.pk), {"body": "Hi"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "message" in response.json()["fields"]
    assert not ContentItem.objects.filter(in_reply_to=message).exists()
