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
from calendar_app.approvals.api import approvals_router, item_router
from calendar_app.audiences.api import audience_router, subscriber_router
from calendar_app.crisis.api import crisis_router
from calendar_app.listening.api import listening_router
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
from calendar_app.moments.api import moments_router
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
    features = feature_rows(workspace, brand, channel, item, publication, template)
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
            **features,
            "posting-slot": posting_slot,
            # An import writes content items: the foreign world's must stay as they are.
            "content-import": item,
            "content-series": series,
            "evergreen-item": evergreen,
            "transition": transition,
            "approval-record": approval,
            "fire": fire,
            # The reply rate per variant is read per experiment.
            "listening-experiment-replies": experiment,
        },
    )


def feature_rows(workspace, brand, channel, item, publication, template) -> dict[str, Any]:
    """One row of each feature package's resources (approvals, audiences, crisis, moments,
    listening)."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from calendar_app.approvals.models import ApprovalLink, Comment
    from calendar_app.audiences.models import AudienceSend
    from calendar_app.crisis.models import Activation
    from calendar_app.listening.models import ListeningPolicy
    from tests.audiences.conftest import AudienceListFactory, SubscriberFactory

    # The chain lives on a brand of its own: the world's items keep the one-step approval that
    # the permission matrix expects.
    chained = f.BrandFactory(workspace=workspace, name="Chained brand")
    policy = f.ApprovalPolicyFactory(brand=chained, workspace=workspace, separate_duties=False)
    step = f.ApprovalStepFactory(brand=chained, workspace=workspace, order=1)
    link = ApprovalLink.objects.create(
        workspace=workspace,
        content_item=item,
        version=item.version,
        step=step,
        name="Client",
        email="client@example.com",
        token_hash=uuid.uuid4().hex * 2,
        prefix="world",
        expires_at=timezone.now() + timedelta(days=1),
        created_by_label="world",
    )
    comment = Comment.objects.create(
        workspace=workspace,
        content_item=item,
        version=item.version,
        author_label="world",
        body="Hi",
    )
    audience = AudienceListFactory(brand=brand, workspace=workspace)
    subscriber = SubscriberFactory(audience=audience)
    send = AudienceSend.objects.create(
        workspace=workspace, publication=publication, audience=audience, total=0
    )
    playbook = f.PlaybookFactory(workspace=workspace, brand=brand, holding_templates=[template])
    activation = Activation.objects.create(
        workspace=workspace,
        playbook=playbook,
        is_drill=True,
        activated_by_label="world",
        started_at=timezone.now(),
        ended_at=timezone.now(),
    )
    moment = f.MomentFactory(workspace=workspace, brand=brand)
    watch = f.WatchFactory(brand=brand, workspace=workspace)
    message = f.MessageFactory(channel=channel, watch=watch, author_handle="@world@example.social")
    alert = f.AlertFactory(watch=watch)
    return {
        "approval-policy": policy,
        "approval-step": step,
        "approval-link-api": link,
        "content-item-approval-progress": step,
        "content-item-comment": comment,
        "audience": audience,
        "subscriber": subscriber,
        "audience-send": send,
        "crisis-playbook": playbook,
        "crisis": activation,
        "moment": moment,
        "listening-message": message,
        "listening-watch": watch,
        "listening-alert": alert,
        "listening-policy": ListeningPolicy.objects.get_or_create(workspace=workspace)[0],
    }


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
    #: URL keyword -> world basename of the parent row, for routes nested under one.
    parents: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.method} {self.basename}:{self.action}"


def _routes(router, parents: tuple[tuple[str, str], ...] = ()) -> list[RouteCase]:
    cases = []
    for _prefix, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if not hasattr(viewset, action):
                    continue
                name = route.name.format(basename=basename)
                cases.append(
                    RouteCase(basename, action, method.upper(), route.detail, name, parents)
                )
    return cases


#: Every workspace-scoped endpoint the routers serve, the features' own routers included (the
#: single source for the generated tenancy and permission tests).
ROUTES: list[RouteCase] = (
    _routes(workspace_router)
    + _routes(variant_router, (("experiment_pk", "experiment"),))
    + _routes(approvals_router)
    + _routes(item_router, (("item_pk", "content-item"),))
    + _routes(audience_router)
    + _routes(subscriber_router, (("audience_pk", "audience"),))
    + _routes(crisis_router)
    + _routes(moments_router)
    + _routes(listening_router)
    # The listening package's two plain paths beside its router.
    + [
        RouteCase("listening-policy", "show", "GET", False, "listening-policy"),
        RouteCase("listening-policy", "change", "PUT", False, "listening-policy"),
        RouteCase("listening-policy", "change", "PATCH", False, "listening-policy"),
        RouteCase(
            "listening-experiment-replies", "retrieve", "GET", True, "listening-experiment-replies"
        ),
    ]
)


def url_for(case: RouteCase, world: World, slug: str | None = None) -> str:
    kwargs: dict[str, Any] = {"workspace_slug": slug or world.workspace.slug}
    for keyword, parent in case.parents:
        kwargs[keyword] = world[parent].pk
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


__all__ = [
    "ROUTES",
    "Membership",
    "RouteCase",
    "World",
    "build_world",
    "call",
    "feature_rows",
    "url_for",
]
