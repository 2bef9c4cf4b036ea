"""End to end with a real django-q2 cluster and dispatcher: on time, no duplicate, no loss."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import Publication, PublicationStatus, Role
from calendar_app.workflow import Actor
from publishers.testing import FakeServer, Reply
from tests import factories as f
from tests.e2e.conftest import start_kairos, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def schedule(brand, channels, due):
    admin = Actor.for_user(
        f.MembershipFactory(workspace=brand.workspace, role=Role.ADMIN).user, brand.workspace
    )
    item = f.ContentItemFactory(brand=brand, workspace=brand.workspace, channels=channels)
    workflow.submit(item, admin)
    workflow.approve(item, admin)
    workflow.schedule(item, admin, when=due)
    return item


def published(item):
    rows = list(item.publications.all())
    return rows if rows and all(p.status == PublicationStatus.PUBLISHED for p in rows) else None


def test_scheduled_item_is_delivered_on_time_by_the_real_cluster(processes) -> None:
    start_kairos(processes)
    brand = f.BrandFactory()
    channels = [f.ChannelFactory(brand=brand, workspace=brand.workspace) for _ in range(2)]
    due = timezone.now() + timedelta(seconds=3)
    item = schedule(brand, channels, due)
    rows = wait_for(lambda: published(item), timeout=60, what="delivery", processes=processes)
    for publication in rows:
        lateness = (publication.published_at - publication.due_at).total_seconds()
        print(f"publication {publication.pk}: lateness {lateness:.3f}s")
        assert publication.published_at >= publication.due_at, "never before its time"
        # Structural, not a speed test: django-q2's own scheduler ticks every ~30 s and the safety
        # sweep every 60 s, so anything under 15 s proves the dispatcher path delivered it.
        assert lateness < 15
        assert publication.attempts == 1
    # The item follows its publications in a transaction of its own, just after the last one
    # is written (workflow.settle): read at that moment, it is still "scheduled".
    wait_for(
        lambda: type(item).objects.get(pk=item.pk).status == "published",
        timeout=15,
        what="the item to settle as published",
        processes=processes,
    )


class DedupingReceiver:
    """A webhook receiver that, like a careful network, keeps one post per Idempotency-Key; the
    first request hangs long enough for the test to kill the worker mid-delivery."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: dict[str, dict] = {}
        self.requests = 0
        self.first_request = threading.Event()

    def __call__(self, request) -> Reply:
        with self.lock:
            self.requests += 1
            first = self.requests == 1
            key = request.headers["idempotency-key"]
            self.posts.setdefault(
                key, {"id": f"hook-{len(self.posts) + 1}", "body": json.loads(request.body)}
            )
            post_id = self.posts[key]["id"]
        if first:
            self.first_request.set()
            return Reply(200, json={"id": post_id}, delay=8)
        return Reply(200, json={"id": post_id})


def test_worker_killed_mid_delivery_posts_once_and_loses_nothing(processes) -> None:
    receiver = DedupingReceiver()
    with FakeServer(handler=receiver) as server:
        brand = f.BrandFactory()
        hook = f.ChannelFactory(
            brand=brand,
            workspace=brand.workspace,
            network="webhook",
            settings={
                "url": server.url + "/posts",
                "read_timeout": 30,
            },
            secrets={"signing_secret": "e2e-secret"},
        )
        start_kairos(processes)
        item = schedule(brand, [hook], timezone.now())
        assert receiver.first_request.wait(60), processes.logs()
        publication = item.publications.get()
        assert Publication.objects.get(pk=publication.pk).status == PublicationStatus.PUBLISHING
        processes.kill("qcluster")  # the worker dies while the network holds the request
        processes.start("qcluster", "qcluster")
        rows = wait_for(
            lambda: published(item), timeout=90, what="recovery and delivery", processes=processes
        )
    publication = rows[0]
    assert len(receiver.posts) == 1, "one post on the network, whatever the retries"
    assert receiver.requests >= 2, "the killed attempt was retried, not lost"
    assert publication.external_id == "hook-1"
    outcomes = list(publication.attempt_log.values_list("outcome", flat=True))
    assert outcomes[0] == "unconfirmed" and outcomes[-1] == "published", outcomes
