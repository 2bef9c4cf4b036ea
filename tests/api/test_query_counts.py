"""Every list runs a constant number of SQL queries whatever the page holds (1 row vs 20)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calendar_app.approvals.models import Comment
from calendar_app.models import (
    ApiToken,
    Approval,
    ContentSeries,
    EvergreenItem,
    Fire,
    PublicationStatus,
    Role,
    SeriesOccurrence,
    Transition,
    WebhookAttempt,
)
from tests import factories as f
from tests.api.conftest import ROUTES, World, feature_rows, token_client, url_for
from tests.audiences.conftest import SubscriberFactory


def add_rows(basename: str, world: World, n: int) -> None:
    """``n`` more rows of ``basename``, each with its own related rows (the expensive case)."""
    ws = world.workspace
    brand = world["brand"]
    for i in range(n):
        if basename == "member":
            f.MembershipFactory(workspace=ws)
        elif basename == "token":
            ApiToken.issue(
                workspace=ws,
                name=f"k{i}",
                role=Role.VIEWER,
                user=f.MembershipFactory(workspace=ws).user,
            )
        elif basename == "brand":
            f.BrandFactory(workspace=ws)
        elif basename == "channel":
            f.ChannelFactory(workspace=ws, brand=f.BrandFactory(workspace=ws))
        elif basename == "event":
            f.EventFactory(workspace=ws)
        elif basename == "content-item":
            other = f.BrandFactory(workspace=ws)
            f.ContentItemFactory(
                workspace=ws, brand=other, channels=[f.ChannelFactory(brand=other, workspace=ws)]
            )
        elif basename == "reactive-template":
            f.ReactiveTemplateFactory(workspace=ws, brand=f.BrandFactory(workspace=ws))
        elif basename == "experiment":
            experiment = f.ExperimentFactory(workspace=ws, brand=brand)
            f.VariantFactory(experiment=experiment)
        elif basename == "variant":
            f.VariantFactory(experiment=world["experiment"])
        elif basename in ("publication", "metric-snapshot"):
            item = f.ContentItemFactory(
                workspace=ws, brand=f.BrandFactory(workspace=ws), channels=[]
            )
            publication = f.PublicationFactory(content_item=item, status=PublicationStatus.PENDING)
            if basename == "metric-snapshot":
                f.MetricSnapshotFactory(publication=publication, workspace=ws)
        elif basename in ("webhook-subscription", "webhook-delivery"):
            subscription, delivery = f.webhook_rows(ws)
            subscription.brands.set([f.BrandFactory(workspace=ws)])
            WebhookAttempt.objects.create(
                delivery=delivery, number=1, started_at=timezone.now(), outcome="failed"
            )
        elif basename == "media":
            f.MediaAssetFactory(workspace=ws)
        elif basename == "connection":
            f.oauth_flow(f.BrandFactory(workspace=ws))
        elif basename == "content-item-comment":
            Comment.objects.create(
                workspace=ws,
                content_item=world["content-item"],
                version=1,
                author_label=f"member {i}",
                body=f"@nobody {i}",
            )
        elif basename == "subscriber":
            SubscriberFactory(audience=world["audience"])
        elif basename in FEATURE_BASENAMES:
            other = f.BrandFactory(workspace=ws)
            channel = f.ChannelFactory(brand=other, workspace=ws)
            item = f.ContentItemFactory(workspace=ws, brand=other, channels=[channel])
            publication = f.PublicationFactory(content_item=item, channel=channel, workspace=ws)
            template = f.ReactiveTemplateFactory(workspace=ws, brand=other, channels=[channel])
            feature_rows(ws, other, channel, item, publication, template)
        elif basename == "posting-slot":
            other = f.BrandFactory(workspace=ws)
            f.PostingSlotFactory(brand=other, channel=f.ChannelFactory(brand=other, workspace=ws))
        elif basename == "content-series":
            item = f.ContentItemFactory(workspace=ws, brand=f.BrandFactory(workspace=ws))
            series = ContentSeries.objects.create(
                workspace=ws, source=item, rrule="FREQ=DAILY;COUNT=2", starts_at=timezone.now()
            )
            occurrence = f.ContentItemFactory(workspace=ws, brand=item.brand)
            SeriesOccurrence.objects.create(
                workspace=ws, series=series, content_item=occurrence, occurs_at=timezone.now()
            )
        elif basename == "evergreen-item":
            item = f.ContentItemFactory(workspace=ws, brand=f.BrandFactory(workspace=ws))
            EvergreenItem.objects.create(workspace=ws, content_item=item)
        elif basename in ("transition", "approval-record"):
            item = world["content-item"]
            token, _ = ApiToken.issue(workspace=ws, name=f"t{i}", role=Role.EDITOR)
            Transition.objects.create(
                content_item=item,
                action="submit",
                from_status="draft",
                to_status="in_review",
                actor_label="x",
                version=1,
                via_token=token,
            )
            Approval.objects.create(
                content_item=item,
                version=1,
                content_hash="h",
                decision="approved",
                decided_by_label="x",
                via_token=token,
            )
        elif basename == "fire":
            template = f.ReactiveTemplateFactory(workspace=ws, brand=brand)
            fire = Fire.objects.create(
                workspace=ws,
                template=template,
                template_version=1,
                fired_by_label="x",
                fired_at=timezone.now(),
            )
            f.ContentItemFactory(workspace=ws, brand=brand, fire=fire)
        else:  # pragma: no cover - a new list endpoint must be taught here
            raise AssertionError(f"teach add_rows about {basename}")


#: Feature resources whose rows come from ``feature_rows`` (one of each per call).
FEATURE_BASENAMES = {
    "approval-policy",
    "approval-step",
    "approval-link-api",
    "audience",
    "audience-send",
    "crisis-playbook",
    "crisis",
    "moment",
    "listening-message",
    "listening-watch",
    "listening-alert",
}

#: Every list, except the item's approval progress: its length is the brand's chain, not rows.
LISTS = [c for c in ROUTES if c.action == "list" and c.basename != "content-item-approval-progress"]


def count_queries(client, url: str) -> int:
    client.get(url)  # warm-up: last_used_at and other once-a-minute writes
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": 50})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("case", LISTS, ids=lambda c: c.id)
def test_list_query_count_is_constant(case, world):
    client = token_client(world.workspace, Role.ADMIN)
    url = url_for(case, world)
    few, rows_few = count_queries(client, url)
    add_rows(case.basename, world, 19)
    many, rows_many = count_queries(client, url)
    assert rows_many >= rows_few + 19
    assert many == few, f"{case.id}: {few} queries for {rows_few} rows, {many} for {rows_many}"


def test_every_list_is_paginated(world):
    client = token_client(world.workspace, Role.ADMIN)
    for case in LISTS:
        body = client.get(url_for(case, world), {"page_size": 1}).json()
        assert set(body) >= {"results", "next", "previous"}, case.id
        assert len(body["results"]) <= 1
