"""What people do with the conversation: correct a label, purge a person, keep data no longer
than the workspace allows, answer a message, and read replies per experiment variant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from calendar_app.analysis.replies import VariantReplies, reply_summary
from calendar_app.listening.models import Category, ListeningPolicy, Message, Tone
from calendar_app.models import (
    ContentItem,
    ContentStatus,
    Publication,
    PublicationStatus,
    Transition,
    Variant,
)
from calendar_app.outbound import events
from calendar_app.outbound.catalogue import LISTENING_MESSAGE_CORRECTED, LISTENING_PURGED
from calendar_app.plugins_runtime import get_plugins
from calendar_app.workflow import Actor
from publishers import UnknownNetworkError

#: Which role may do what (the API and the admin both check these).
READ_ROLE = "viewer"
CORRECT_ROLE = "editor"
REPLY_ROLE = "editor"
WATCH_ROLE = "editor"
PURGE_ROLE = "admin"
POLICY_ROLE = "admin"


class ListeningError(Exception):
    """A refusal a person can act on; ``field`` names the input at fault, if any."""

    def __init__(self, message: str, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def answered() -> Exists:
    """True for a message whose reply reached the network."""
    return Exists(
        Publication.objects.filter(
            content_item__in_reply_to=OuterRef("pk"), status=PublicationStatus.PUBLISHED
        )
    )


def correct(
    message: Message, actor: Actor, *, category: str | None = None, tone: str | None = None
) -> Message:
    """Store a person's labels; the classifier never overwrites a corrected message."""
    if category is not None and category not in Category.values:
        raise ListeningError("Unknown category.", "invalid_choice", "category")
    if tone is not None and tone not in Tone.values:
        raise ListeningError("Unknown tone.", "invalid_choice", "tone")
    before = {"category": message.category, "tone": message.tone}
    message.category = category or message.category
    message.tone = tone or message.tone
    message.corrected_by = actor.user
    message.corrected_at = timezone.now()
    message.method = "corrected by a person"
    message.save(
        update_fields=["category", "tone", "corrected_by", "corrected_at", "method", "updated_at"]
    )
    events.emit_safely(
        message.workspace_id,
        LISTENING_MESSAGE_CORRECTED,
        {
            "message": message.pk,
            "before": before,
            "after": {"category": message.category, "tone": message.tone},
            "by": actor.label,
        },
        message.brand_id,
    )
    return message


def purge_author(workspace_id: int, handle: str, actor: Actor) -> int:
    """Delete every message of one person (by handle, as the network shows it), on request.
    Returns how many were deleted. The event records the count and who asked, not the handle."""
    handle = handle.strip()
    if not handle or "\x00" in handle or len(handle) > 255:
        raise ListeningError(
            "Give the person's handle as the network shows it.", "invalid", "handle"
        )
    variants = {handle, handle.lstrip("@"), "@" + handle.lstrip("@")}
    rows = Message.objects.filter(workspace_id=workspace_id).filter(
        Q(author_handle__in=variants)
        | Q(author_handle__iexact=handle)
        | Q(author_handle__iexact="@" + handle.lstrip("@"))
    )
    with transaction.atomic():
        ContentItem.objects.filter(in_reply_to__in=rows).update(in_reply_to=None)
        deleted, _ = rows.delete()
        events.emit_safely(
            workspace_id, LISTENING_PURGED, {"deleted": deleted, "by": actor.label}, None
        )
    return deleted


def purge_expired(now: datetime | None = None) -> int:
    """The daily retention schedule: delete each workspace's messages older than its policy
    (180 days when it set none)."""
    now = now or timezone.now()
    total = 0
    custom = dict(ListeningPolicy.objects.values_list("workspace_id", "retention_days"))
    default_days = ListeningPolicy._meta.get_field("retention_days").default
    for workspace_id, days in custom.items():
        total += _delete_before(
            Message.objects.filter(workspace_id=workspace_id), now - timedelta(days=days)
        )
    others = Message.objects.exclude(workspace_id__in=list(custom))
    total += _delete_before(others, now - timedelta(days=default_days))
    return total


def _delete_before(rows: QuerySet, cutoff: datetime) -> int:
    old = rows.filter(published_at__lt=cutoff)
    ContentItem.objects.filter(in_reply_to__in=old).update(in_reply_to=None)
    deleted, _ = old.delete()
    return deleted


def _check_can_answer(message: Message) -> None:
    """Refuse a reply the channel cannot send as an answer to one person's message: a
    newsletter (one message per subscriber) would send "Reply to ana@..." to the whole list,
    and a network without threads would post it as a plain post."""
    try:
        caps = get_plugins().network(message.channel.network).capabilities
    except UnknownNetworkError:  # its plugin is gone: nothing can be sent on it anyway
        return
    if caps.per_recipient_split or not caps.supports_threads:
        raise ListeningError(
            "This channel cannot answer one message (it sends to a whole list, or has no "
            "replies); answer from the network or the mailbox itself.",
            "not_supported",
            "message",
        )


def draft_reply(message: Message, actor: Actor, body: str) -> ContentItem:
    """Start a reply as an ordinary content item (a draft on the message's channel, answering
    it): it is then submitted, approved and scheduled like any other post, delivered with the
    idempotency key of its publication, and its transitions are the audit trail.

    One open reply per message: asking again returns the reply already started (not cancelled).
    """
    body = (body or "").strip()
    if not body:
        raise ListeningError("Write the reply.", "required", "body")
    if "\x00" in body or len(body) > 10_000:
        raise ListeningError("The reply is too long or holds a NUL character.", "invalid", "body")
    _check_can_answer(message)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        existing = (
            ContentItem.objects.filter(in_reply_to=locked)
            .exclude(status=ContentStatus.CANCELLED)
            .first()
        )
        if existing is not None:
            return existing
        item = ContentItem.objects.create(
            workspace_id=locked.workspace_id,
            brand_id=locked.brand_id,
            title=f"Reply to {locked.author_handle or 'a message'}"[:200],
            body=body,
            without_cta=True,
            in_reply_to=locked,
            status=ContentStatus.DRAFT,
            created_by=actor.user,
        )
        item.channels.set([locked.channel_id])
        Transition.objects.create(
            content_item=item,
            action="create",
            from_status=ContentStatus.DRAFT,
            to_status=ContentStatus.DRAFT,
            actor=actor.user,
            actor_label=actor.label[:200],
            via_token=actor.token,
            version=item.version,
            note=f"Reply drafted from the listening inbox (message {locked.pk}).",
        )
    return item


def conversation(brand_id: int, start: datetime, end: datetime, limit: int = 20) -> dict[str, Any]:
    """What people said about a brand between two instants: counts by tone and category, and
    the newest messages (for the moment's live page). Two queries."""
    rows = Message.objects.filter(brand_id=brand_id, published_at__gte=start, published_at__lt=end)
    counts = rows.aggregate(
        count=Count("id"),
        **{f"tone_{t}": Count("id", filter=Q(tone=t)) for t in Tone.values},
        **{f"category_{c}": Count("id", filter=Q(category=c)) for c in Category.values},
    )
    latest = rows.order_by("-published_at", "-id")[:limit]
    return {
        "count": counts["count"],
        "by_tone": {t: counts[f"tone_{t}"] for t in Tone.values},
        "by_category": {c: counts[f"category_{c}"] for c in Category.values},
        "latest": [
            {
                "id": m.pk,
                "kind": m.kind,
                "author_handle": m.author_handle,
                "text": m.text[:280],
                "published_at": events.iso(m.published_at),
                "url": m.url,
                "category": m.category,
                "tone": m.tone,
            }
            for m in latest
        ],
    }


@dataclass(frozen=True)
class ReplyStats:
    variant_id: int
    key: str
    summary: VariantReplies

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.variant_id, "key": self.key, **self.summary.as_dict()}


def replies_per_variant(experiment_id: int) -> list[ReplyStats]:
    """Reply rate and tone per variant of an experiment: replies stored by listening, over the
    publications delivered (one query for the publications, one for the replies)."""
    variants = list(Variant.objects.filter(experiment_id=experiment_id).order_by("pk"))
    published = dict(
        Publication.objects.filter(
            variant__experiment_id=experiment_id, status=PublicationStatus.PUBLISHED
        )
        .values_list("variant_id")
        .annotate(n=Count("id"))
    )
    counts: dict[int, dict[str, int]] = {}
    rows = (
        Message.objects.filter(variant__experiment_id=experiment_id)
        .values_list("variant_id", "tone")
        .annotate(n=Count("id"))
    )
    for variant_id, tone, n in rows:
        counts.setdefault(variant_id, {})[tone] = n
    return [
        ReplyStats(v.pk, v.key, reply_summary(published.get(v.pk, 0), counts.get(v.pk, {})))
        for v in variants
    ]
