"""Reading the conversation back: every connected channel's streams, by cursor, on a schedule.

Modelled on the metric collection (``calendar_app/metrics.py``): one schedule walks the channels
and each channel is isolated from the others, so one network's outage or a plugin's bug costs
only that channel's round. What makes it safe to run again and again, and on several workers:

* **Once per message**: rows are inserted with ``ignore_conflicts`` against the unique key
  ``(channel, network_id)``, so a retried page, a repeated message or two workers reading the
  same stream store each message once.
* **Cursor after the rows**: the cursor moves only in the transaction that stored the page, so
  a crash between the two reads the page again (and the unique key drops the repeats) instead of
  skipping it.
* **Stale cursors** (:class:`~publishers.StaleCursor`) start the stream again from ``""``.
* **Rate limits**: a :class:`~publishers.TransientError` stores ``retry_at`` (its
  ``retry_after``, else five minutes) and the stream is not asked again before then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from calendar_app.delivery import channel_context, publication_ref
from calendar_app.listening.classify import classify
from calendar_app.listening.models import (
    ListeningPolicy,
    Message,
    MessageKind,
    StreamCursor,
    Watch,
)
from calendar_app.listening.terms import matches
from calendar_app.models import Channel, ChannelStatus, Publication, PublicationStatus
from calendar_app.plugins_runtime import get_plugins
from publishers import (
    InboundMessage,
    MessagePage,
    Network,
    PublisherError,
    StaleCursor,
    TransientError,
)

logger = logging.getLogger("kairos.listening")

#: Pages read per stream per round; a network with more continues next round.
MAX_PAGES = 5
#: How long a stream rests after a transient error that named no ``retry_after``.
DEFAULT_BACKOFF = timedelta(minutes=5)
#: Most of our posts whose replies are asked for in one call.
MAX_POSTS = 200
STREAM_KINDS = {"replies": MessageKind.REPLY, "mentions": MessageKind.MENTION}


@dataclass
class StreamResult:
    stream: str
    stored: int = 0
    seen: int = 0
    skipped: int = 0
    error: str = ""
    reason: str = ""
    restarted: bool = False


@dataclass
class ChannelResult:
    channel_id: int
    streams: list[StreamResult] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.streams)


def _policy(workspace_id: int) -> ListeningPolicy:
    return ListeningPolicy.objects.filter(workspace_id=workspace_id).first() or ListeningPolicy(
        workspace_id=workspace_id
    )


def _recent_posts(channel: Channel, now: datetime) -> list[Publication]:
    days = _policy(channel.workspace_id).reply_window_days
    return list(
        Publication.objects.filter(
            channel=channel,
            status=PublicationStatus.PUBLISHED,
            published_at__gte=now - timedelta(days=days),
        )
        .exclude(external_id="")
        .select_related("channel", "variant")
        .order_by("-published_at", "-id")[:MAX_POSTS]
    )


def store(
    channel: Channel,
    messages: Iterable[InboundMessage],
    kind: str,
    *,
    watch: Watch | None = None,
    posts: Sequence[Publication] = (),
    watches: Sequence[Watch] = (),
) -> int:
    """Classify and insert the messages this channel does not hold yet; returns how many were
    new. Replies are linked to the post (and variant) they answer; any message whose text
    names an active watch's term is linked to that watch."""
    by_id: dict[str, InboundMessage] = {}
    for message in messages:
        by_id.setdefault(message.network_id, message)
    if not by_id:
        return 0
    known = set(
        Message.objects.filter(channel=channel, network_id__in=list(by_id)).values_list(
            "network_id", flat=True
        )
    )
    answered = {p.external_id: p for p in posts}
    rows = []
    for network_id, message in by_id.items():
        if network_id in known:
            continue
        verdict = classify(message.text, message.language)
        post = answered.get(message.in_reply_to) if message.in_reply_to else None
        hit = watch or next((w for w in watches if matches(w.terms, message.text)), None)
        rows.append(
            Message(
                workspace_id=channel.workspace_id,
                brand_id=channel.brand_id,
                channel=channel,
                kind=kind,
                network_id=network_id,
                author_handle=message.author_handle,
                author_name=message.author_name,
                text=message.text,
                language=message.language,
                published_at=message.published_at,
                url=message.url,
                in_reply_to=message.in_reply_to,
                extra=dict(message.extra),
                publication=post,
                variant_id=post.variant_id if post else None,
                watch=hit,
                category=verdict.category,
                tone=verdict.tone,
                tone_score=verdict.score,
                detected_language=verdict.language,
                method=verdict.method,
            )
        )
    # A concurrent worker may insert some of these first: the unique key drops ours.
    Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return len(rows)


def _read(
    row: StreamCursor,
    call: Callable[[str], MessagePage],
    keep: Callable[[MessagePage], int],
    now: datetime,
) -> StreamResult:
    result = StreamResult(row.stream)
    if row.retry_at and row.retry_at > now:
        result.error = "waiting"
        return result
    for _ in range(MAX_PAGES):
        try:
            page = call(row.cursor)
        except StaleCursor:
            if result.restarted or not row.cursor:
                result.error = "stale_cursor"
                break
            row.cursor, result.restarted = "", True
            row.restarts += 1
            continue
        except TransientError as exc:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else DEFAULT_BACKOFF
            row.retry_at = now + wait
            result.error = exc.code
            break
        except PublisherError as exc:
            result.error = exc.code
            # What a person reads in the inbox and on the watch ("reconnect to allow search").
            result.reason = exc.reason
            break
        except Exception:
            logger.exception(
                "listening plugin failed on channel %s (%s)", row.channel_id, row.stream
            )
            result.error = "plugin_error"
            break
        if not isinstance(page, MessagePage):
            logger.error(
                "channel %s %s: the plugin returned no MessagePage", row.channel_id, row.stream
            )
            result.error = "plugin_error"
            break
        with transaction.atomic():
            stored = keep(page)
            row.cursor = page.cursor
            row.stored_total += stored
            row.skipped_total += page.skipped
            row.retry_at = None
            row.last_error = ""
            row.last_run_at = now
            row.save()
        result.stored += stored
        result.seen += len(page.messages)
        result.skipped += page.skipped
        if not page.more:
            break
    if result.error and result.error != "waiting":
        row.last_error = f"{result.error}: {result.reason}" if result.reason else result.error
        row.last_run_at = now
        row.save(update_fields=["cursor", "retry_at", "last_error", "last_run_at", "restarts"])
    return result


def _cursor(channel: Channel, stream: str) -> StreamCursor:
    row, _ = StreamCursor.objects.get_or_create(
        channel=channel, stream=stream, defaults={"workspace_id": channel.workspace_id}
    )
    return row


def collect_channel(channel: Channel, now: datetime | None = None) -> ChannelResult:
    """Read every stream the channel's network claims; never raises for a network's sake."""
    now = now or timezone.now()
    out = ChannelResult(channel.pk)
    try:
        network: Network = get_plugins().network(channel.network)
    except Exception as exc:  # an uninstalled network: nothing to read
        logger.warning("listening skipped channel %s: %s", channel.pk, exc)
        return out
    context = channel_context(channel)
    claimed = network.capabilities_for(context).listening
    watches = list(Watch.objects.filter(brand_id=channel.brand_id, active=True))
    if "replies" in claimed:
        posts = _recent_posts(channel, now)
        refs = [publication_ref(p) for p in posts]
        out.streams.append(
            _read(
                _cursor(channel, "replies"),
                lambda cursor: network.fetch_replies(context, cursor, refs),
                lambda page: store(
                    channel, page.messages, MessageKind.REPLY, posts=posts, watches=watches
                ),
                now,
            )
        )
    if "mentions" in claimed:
        out.streams.append(
            _read(
                _cursor(channel, "mentions"),
                lambda cursor: network.fetch_mentions(context, cursor),
                lambda page: store(channel, page.messages, MessageKind.MENTION, watches=watches),
                now,
            )
        )
    if "search" in claimed:
        for watch in watches:
            terms = tuple(watch.terms)

            def search(cursor: str, terms: tuple[str, ...] = terms) -> MessagePage:
                return network.search_posts(context, terms, cursor)

            def keep(page: MessagePage, watch: Watch = watch) -> int:
                return store(channel, page.messages, MessageKind.WATCH, watch=watch)

            out.streams.append(_read(_cursor(channel, f"search:{watch.pk}"), search, keep, now))
    return out


def collect_all(now: datetime | None = None) -> int:
    """The schedule's entry point: every connected channel; returns how many messages were new."""
    now = now or timezone.now()
    total = 0
    channels = Channel.objects.filter(status=ChannelStatus.CONNECTED).order_by("pk")
    for channel in channels.iterator(chunk_size=200):
        try:
            total += collect_channel(channel, now).stored
        except Exception:
            logger.exception("listening round failed for channel %s", channel.pk)
    return total
