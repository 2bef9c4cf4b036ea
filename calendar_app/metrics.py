"""Reading engagement back from the networks for recent publications."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from calendar_app.audiences.ledger import metrics_ledger_for
from calendar_app.delivery import channel_context, publication_ref
from calendar_app.models import MetricSnapshot, Publication, PublicationStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import METRIC_NAMES, PublisherError
from publishers.audience import audience_kwargs

logger = logging.getLogger("kairos.metrics")


def collect_for(publication: Publication) -> MetricSnapshot | None:
    """Fetch and store one snapshot; a network error is logged and skipped until the next round."""
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
    row = MetricSnapshot.objects.create(
        workspace_id=publication.workspace_id,
        publication=publication,
        collected_at=snapshot.collected_at,
        **{name: getattr(snapshot, name) for name in METRIC_NAMES},
    )
    plugins.notify_metrics(ref=publication_ref(publication), snapshot=snapshot, channel=channel)
    return row


def collect_recent(now=None) -> int:
    """Snapshots for every publication published within ``KAIROS_METRICS_WINDOW_DAYS``."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.KAIROS_METRICS_WINDOW_DAYS)
    publications = Publication.objects.filter(
        status=PublicationStatus.PUBLISHED, published_at__gte=since
    ).select_related("channel", "variant")
    return sum(
        1 for publication in publications.iterator(chunk_size=200) if collect_for(publication)
    )
