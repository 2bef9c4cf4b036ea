"""API fixtures: token clients per role, and a "world" holding one row of every resource.

The tenancy and permission tests are generated from the router; ``ROUTES`` lists every
(basename, action, method, detail) it serves, and :func:`url_for` builds the URL for a world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from calendar_app.api.urls import variant_router, workspace_router
from calendar_app.models import (
    ApiToken,
    Approval,
    ContentSeries,
    EvergreenItem,
    Fire,
    Membership,
    PublicationStatus,
    Role,
    Transition,
    Workspace,
)
from tests import factories as f


@pytest.fixture(autouse=True)
def _fresh_throttle_budget():
    """Throttle counters live in the cache; every test starts with a full budget."""
    cache.clear()
    yield
    cache.clear()


def token_client(workspace: Workspace, role: str = Role.ADMIN, **issue: Any) -> APIClient:
    _, clear = ApiToken.issue(workspace=workspace, name=f"{role} key", role=role, **issue)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {clear}")
    client.token = clear
    return client


@pytest.fixture
def client_for(workspace):
    """``client_for(role)``: an APIClient with a workspace API key of that role."""

    def make(role: str = Role.ADMIN, ws: Workspace | None = None) -> APIClient:
        return token_client(ws or workspace, role)

    return make


@dataclass
class World:
    """One row of every resource in one workspace."""

    workspace: Workspace
    objects: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, basename: str) -> Any:
        return self.objects[basename]


def build_world(workspace: Workspace) -> World:
    brand = f.BrandFactory(workspace=workspace)
    channel = f.ChannelFactory(brand=brand, workspace=workspace)
    event = f.EventFactory(workspace=workspace, themes=["sport"])
    experiment = f.ExperimentFactory(brand=brand, workspace=workspace)
    control = f.VariantFactory(experiment=experiment, key="control", is_control=True)
    f.VariantFactory(experiment=experiment, key="challenger")
    item = f.ContentItemFactory(brand=brand, workspace=workspace, channels=[channel], event=event)
    template = f.ReactiveTemplateFactory(brand=brand, workspace=workspace, channels=[channel])
    publication = f.PublicationFactory(
        content_item=item,
        channel=channel,
        variant=control,
        workspace=workspace,
        status=PublicationStatus.FAILED,
    )
    snapshot = f.MetricSnapshotFactory(publication=publication, workspace=workspace)
    member = f.MembershipFactory(workspace=workspace, role=Role.VIEWER)
    token, _ = ApiToken.issue(workspace=workspace, name="world key", role=Role.VIEWER)
    webhook_subscription, webhook_delivery = f.webhook_rows(workspace)
    medium = f.MediaAssetFactory(workspace=workspace)
    connection = f.oauth_flow(brand)
    posting_slot = f.PostingSlotFactory(brand=brand, workspace=workspace, channel=channel)
    series = ContentSeries.objects.create(
        workspace=workspace, source=item, rrule="FREQ=WEEKLY;COUNT=2", starts_at=item.scheduled_at
    )
    evergreen = EvergreenItem.objects.create(workspace=workspace, content_item=item)
    transition = Transition.objects.create(
        content_item=item,
        action="submit",
        from_status="draft",
        to_status="in_review",
        actor_label="world",
        version=1,
    )
    approval = Approval.objects.create(
        content_item=item,
        version=1,
        content_hash=item.content_hash(),
        decision="approved",
        decided_by_label="world",
    )
    # A fire of a template of its own: the world's template keeps its guardrails untouched.
    fire = Fire.objects.create(
        workspace=workspace,
        template=f.ReactiveTemplateFactory(brand=brand, workspace=workspace, channels=[channel]),
        template_version=1,
        fired_by_label="world",
        fired_at=item.created_at,
    )
    return World(
        workspace,
        {
            "member": member,
            "token": token,
            "brand": brand,
            "channel": channel,
            "event": event,
            "content-item": item,
            "reactive-template": template,
            "experiment": experiment,
            "variant": control,
            "publication": publication,
            "metric-snapshot": snapshot,
            "webhook-subscription": webhook_subscription,
            "webhook-delivery": webhook_delivery,
            "media": medium,
            "connection": connection,
            "posting-slot": posting_slot,
            # An import writes content items: the foreign world's must stay as they are.
            "content-import": item,
            "content-series": series,
            "evergreen-item": evergreen,
            "transition": transition,
            "approval-record": approval,
            "fire": fire,
        },
    )


@pytest.fixture
def world(workspace) -> World:
    return build_world(workspace)


@pytest.fixture
def other_world(other_workspace) -> World:
    return build_world(other_workspace)


@dataclass(frozen=True)
class RouteCase:
    basename: str
    action: str
    method: str
    detail: bool
    url_name: str

    @property
    def id(self) -> str:
        return f"{self.method} {self.basename}:{self.action}"


def _routes(router, prefix_kwargs: tuple[str, ...]) -> list[RouteCase]:
    cases = []
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if not hasattr(viewset, action):
                    continue
                name = route.name.format(basename=basename)
                cases.append(RouteCase(basename, action, method.upper(), route.detail, name))
    return cases


#: Every workspace-scoped endpoint the routers serve (the single source for generated tests).
ROUTES: list[RouteCase] = _routes(workspace_router, ("workspace_slug",)) + _routes(
    variant_router, ("workspace_slug", "experiment_pk")
)


def url_for(case: RouteCase, world: World, slug: str | None = None) -> str:
    kwargs: dict[str, Any] = {"workspace_slug": slug or world.workspace.slug}
    if case.basename == "variant":
        kwargs["experiment_pk"] = world["experiment"].pk
    if case.detail:
        kwargs["pk"] = world[case.basename].pk
    return reverse(f"api:{case.url_name}", kwargs=kwargs)


def call(client: APIClient, case: RouteCase, url: str, data: Any = None) -> Any:
    method = getattr(client, case.method.lower())
    if case.method in ("GET", "HEAD", "OPTIONS"):
        return method(url)
    return method(url, data if data is not None else {}, format="json")


def role_member_client(workspace: Workspace, role: str) -> APIClient:
    """A session-authenticated member (the browsable API's way in)."""
    user = f.MembershipFactory(workspace=workspace, role=role).user
    client = APIClient()
    client.force_login(user)
    return client


__all__ = ["ROUTES", "Membership", "RouteCase", "World", "build_world", "call", "url_for"]
