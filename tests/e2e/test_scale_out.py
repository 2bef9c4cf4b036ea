"""Scaling out on django-q2 itself: two clusters and two dispatchers share one database (and one
Redis when CI provides it). Their claims must never collide: every publication reaches the
receiver in exactly one request, with one attempt, whichever worker of whichever cluster took it."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.models import (
    ContentItem,
    ContentStatus,
    Publication,
    PublicationStatus,
    WorkerHeartbeat,
)
from publishers.testing import FakeServer, Reply
from tests import factories as f
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PUBLICATIONS = 120


class CountingReceiver:
    """Counts every request per idempotency key: a collision shows up as a key seen twice."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()

    def __call__(self, request) -> Reply:
        with self.lock:
            self.requests[request.headers["idempotency-key"]] += 1
        return Reply(200, json={"id": request.headers["idempotency-key"]})


def test_two_clusters_and_two_dispatchers_never_collide(processes) -> None:
    receiver = CountingReceiver()
    with FakeServer(handler=receiver) as server:
        brand = f.BrandFactory()
        channels = [
            f.ChannelFactory(
                brand=brand,
                workspace=brand.workspace,
                network="webhook",
                settings={"url": f"{server.url}/hook/{i}", "read_timeout": 10},
                secrets={"signing_secret": "scale-out-secret"},
            )
            for i in range(4)
        ]
        # Nothing is killed here, so nothing should be recovered: the production time-outs
        # (a 60 s task, not the fixture's 10 s), and leases that a busy machine cannot let lapse.
        # With the fixture's, a loaded CI machine (another test beside this one) once had a
        # worker killed at its task time-out mid-post, or a lease lapse before renewal: the
        # publication was then sent again by design (at least once, same idempotency key),
        # which is recovery working, not two claims colliding, what this test is about.
        processes.env.update(
            KAIROS_Q_TIMEOUT="60",
            KAIROS_Q_RETRY="90",
            KAIROS_CLAIM_TTL="30",
            KAIROS_RECOVERY_BOUND="60",
        )
        for name in ("a", "b"):
            processes.start(f"qcluster-{name}", "qcluster")
            processes.start(f"dispatcher-{name}", "run_dispatcher", "--interval", "0.1")
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(role="worker").count() >= 2,
            timeout=60,
            what="workers of both clusters",
            processes=processes,
        )
        due = timezone.now() + timedelta(seconds=2)
        items = ContentItem.objects.bulk_create(
            ContentItem(
                workspace=brand.workspace,
                brand=brand,
                title=f"scale {i}",
                body=f"Scale-out post {i}",
                status=ContentStatus.SCHEDULED,
                scheduled_at=due,
            )
            for i in range(PUBLICATIONS // len(channels))
        )
        Publication.objects.bulk_create(
            Publication(
                workspace=brand.workspace,
                content_item=item,
                channel=channel,
                due_at=due,
                next_attempt_at=due,
            )
            for item in items
            for channel in channels
        )
        rows = Publication.objects.filter(content_item__in=items)
        wait_for(
            lambda: rows.filter(status=PublicationStatus.PUBLISHED).count() == PUBLICATIONS,
            timeout=120,
            what=f"{PUBLICATIONS} publications delivered",
            processes=processes,
        )
    assert len(receiver.requests) == PUBLICATIONS
    assert set(receiver.requests.values()) == {1}, "a publication was sent by two workers"
    assert set(rows.values_list("attempts", flat=True)) == {1}
    workers = {
        owner.rsplit(":", 1)[0] for owner in rows.values_list("attempt_log__worker", flat=True)
    }
    print(f"{PUBLICATIONS} publications delivered by {len(workers)} worker processes")
    assert len(workers) >= 2, "both clusters took part"
