"""Reading engagement back from the networks for recent publications.

A collection run is split into bounded tasks. The schedule (``kairos.collect_metrics``) runs
:func:`enqueue_batches`, which only reads the ids of the publications in the window and queues one
``collect_batch`` task per :data:`~django.conf.settings.KAIROS_METRICS_BATCH` of them; every worker
then takes batches as it frees up. One task never holds a worker for long (a 10,000-post burst was
one task of about 250 s, past the cluster's time-out), a failed batch loses only its own snapshots,
and the work of each publication is flat: the batch loads its publications in one query and stores
their snapshots in one ``INSERT``, so a publication costs its network read plus a fixed share.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from calendar_app.audiences.ledger import metrics_ledger_for
from calendar_app.delivery import channel_context, publication_ref
from calendar_app.models import MetricSnapshot, Publication, PublicationStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import METRIC_NAMES, PublisherError
from publishers.audience import audience_kwargs

logger = logging.getLogger("kairos.metrics")


def collect_for(publication: Publication) -> MetricSnapshot | None:
    """Fetch and store one snapshot; a network error is logged and skipped until the next round."""
    read = _read(publication)
    if read is None:
        return None
    row = MetricSnapshot.objects.create(**_snapshot_fields(publication, read[0]))
    get_plugins().notify_metrics(ref=read[1], snapshot=read[0], channel=read[2])
    return row


def _read(publication: Publication):
    """``(snapshot, ref, channel)`` read from the network, or ``None`` (logged) on failure."""
    plugins = get_plugins()
    channel = channel_context(publication.channel)
    try:
        network = plugins.network(publication.channel.network)
        ledger = metrics_ledger_for(publication, network)
        snapshot = network.fetch_metrics(
            publication_ref(publication),
            channel,
            **audience_kwargs(network, ledger, "fetch_metrics"),
        )
    except PublisherError as exc:
        logger.warning(
            "metrics for publication %s not read: %s (%s)", publication.pk, exc.reason, exc.code
        )
        return None
    except Exception:
        logger.exception("metrics plugin failed for publication %s", publication.pk)
        return None
    return snapshot, publication_ref(publication), channel


def _snapshot_fields(publication: Publication, snapshot) -> dict:
    return {
        "workspace_id": publication.workspace_id,
        "publication": publication,
        "collected_at": snapshot.collected_at,
        **{name: getattr(snapshot, name) for name in METRIC_NAMES},
    }


def collect_batch(publication_ids: list[int]) -> int:
    """Snapshots for these publications (one bounded task): one query to load them, one network
    read each, one ``INSERT`` for all the snapshots, then the ``metrics_collected`` hooks."""
    publications = Publication.objects.filter(
        pk__in=publication_ids, status=PublicationStatus.PUBLISHED
    ).select_related("channel", "variant")
    reads = [
        (publication, read)
        for publication in publications.order_by("pk")
        if (read := _read(publication)) is not None
    ]
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(**_snapshot_fields(publication, read[0])) for publication, read in reads
    )
    plugins = get_plugins()
    for _, (snapshot, ref, channel) in reads:
        plugins.notify_metrics(ref=ref, snapshot=snapshot, channel=channel)
    return len(reads)


def _batches(now=None):
    """The ids of the publications in the window, ``KAIROS_METRICS_BATCH`` at a time."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.KAIROS_METRICS_WINDOW_DAYS)
    ids = (
        Publication.objects.filter(status=PublicationStatus.PUBLISHED, published_at__gte=since)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    size = settings.KAIROS_METRICS_BATCH
    batch: list[int] = []
    for pk in ids.iterator(chunk_size=2000):
        batch.append(pk)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def enqueue_batches(now=None) -> int:
    """Queue one ``collect_batch`` task per batch of the window's publications; returns how many.

    What the schedule runs: it reads ids only, so it takes milliseconds whatever the window holds.
    """
    queued = 0
    for batch in _batches(now):
        async_task(
            "calendar_app.tasks.collect_metrics_batch",
            batch,
            task_name="kairos-metrics",
            group="kairos-metrics",
            save=False,
        )
        queued += 1
    return queued


def collect_recent(now=None) -> int:
    """Snapshots for every publication published within ``KAIROS_METRICS_WINDOW_DAYS``, here and
    now, batch by batch (demos, tests and the ``collect_metrics`` command)."""
    return sum(collect_batch(batch) for batch in _batches(now))
