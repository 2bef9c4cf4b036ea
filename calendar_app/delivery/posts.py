"""The plain, immutable values a plugin receives for one publication: post, channel, reference.

Plugins never see model instances (DESIGN.md, "The plugin contract"), so everything a network
needs is copied out of the rows here, once per attempt, from rows loaded with ``select_related``
by the claim: building a post costs no query unless the post carries an experiment's arms or a
tracked link, or answers a listened message (one query for the message).
"""

from __future__ import annotations

from django.conf import settings

from calendar_app import allocation
from calendar_app.delivery.progress import thread_results
from calendar_app.media.entries import asset_ids, normalise_entries, normalise_thread
from calendar_app.media.refs import media_refs
from calendar_app.models import Channel, ContentItem, MediaAsset, Message, Publication, Variant
from calendar_app.tracking import tracked_url_for
from publishers import (
    CallToAction,
    ChannelContext,
    MediaRef,
    Post,
    PublicationRef,
    PublishResult,
    ReplyTarget,
    ThreadPart,
    VariantOffer,
)


def channel_context(channel: Channel) -> ChannelContext:
    return ChannelContext(
        id=str(channel.pk),
        network=channel.network,
        handle=channel.handle,
        settings=channel.settings or {},
        secrets=channel.secrets or {},
        facts=channel.facts or {},
    )


def item_media(item: ContentItem) -> tuple[tuple[MediaRef, ...], tuple[ThreadPart, ...]]:
    """The item's media and its thread's later parts as plugin values. One query, and only when
    the item refers to stored media.

    :raises ValidationError: a stored medium the item refers to no longer exists.
    """
    thread = item.thread or []
    entries = [*(item.media or [])]
    for part in thread:
        entries.extend(part.get("media") or [] if isinstance(part, dict) else [])
    ids = asset_ids(normalise_entries(entries))
    assets = MediaAsset.objects.in_bulk(ids) if ids else {}
    media = media_refs(item.media or [], assets)
    parts = tuple(
        ThreadPart(body=p["body"], media=media_refs(p["media"], assets, index))
        for index, p in enumerate(normalise_thread(thread), start=1)
    )
    return media, parts


def _cta_parts(source, item: ContentItem) -> tuple[str, str, str]:
    """(text, url, button) of ``source`` (a variant or the item), else the brand's default -
    unless the item takes no call to action (an outage apology must not sell anything)."""
    text, url, button = source.cta_text, source.cta_url, source.cta_button
    if not (text or url) and not item.without_cta:
        brand = item.brand
        text, url, button = brand.default_cta_text, brand.default_cta_url, brand.default_cta_button
    return text, url, button


def _cta(publication: Publication, variant: Variant | None = None) -> CallToAction | None:
    """The variant's call to action, else the item's, else the brand's default (a promoted winner).

    Its link becomes a tracked short link (``/r/<code>``) when ``KAIROS_TRACKING_BASE_URL`` is
    set, so clicks are counted per publication and variant even where the network reports none.
    ``variant`` is given for a per-recipient publication (which has none of its own): the link
    is then that variant's.
    """
    item = publication.content_item
    text, url, button = _cta_parts(variant or publication.variant or item, item)
    if not (text or url):
        return None
    if url and settings.KAIROS_TRACKING_BASE_URL:
        url = tracked_url_for(publication, url, variant=variant)
    return CallToAction(text=text, url=url, button_label=button)


def splits_per_recipient(publication: Publication) -> bool:
    """Whether ``publication`` hands its experiment's arms to the network: the item has an
    experiment, the publication no variant, and the network splits per recipient."""
    return (
        publication.content_item.experiment_id is not None
        and publication.variant_id is None
        and allocation.per_recipient_split(publication.channel.network)
    )


def _variant_offers(publication: Publication) -> tuple[VariantOffer, ...]:
    """Every arm of the item's experiment, each with its own (tracked) call to action."""
    variants = Variant.objects.filter(experiment_id=publication.content_item.experiment_id)
    return tuple(VariantOffer(v.key, v.weight, _cta(publication, v)) for v in variants)


def build_post(publication: Publication) -> Post:
    item = publication.content_item
    metadata = {"content_item_id": item.pk, "workspace": item.workspace_id}
    if item.event_id:
        metadata["event_id"] = item.event_id
    if item.fire_id:
        metadata["fire_id"] = item.fire_id
    if splits_per_recipient(publication):
        cta, variants, experiment_key = None, _variant_offers(publication), str(item.experiment_id)
    else:
        cta, variants = _cta(publication), ()
        experiment_key = str(publication.variant.experiment_id) if publication.variant_id else ""
    media, thread = item_media(item)
    reply_to = reply_target(item.in_reply_to) if item.in_reply_to_id else None
    return Post(
        body=item.body,
        links=tuple(item.links or ()),
        media=media,
        thread=thread,
        cta=cta,
        variants=variants,
        variant_key=publication.variant.key if publication.variant_id else "",
        experiment_key=experiment_key,
        language=item.brand.language,
        brand_name=item.brand.name,
        brand_slug=item.brand.slug,
        publication_id=str(publication.pk),
        scheduled_for=publication.due_at,
        metadata=metadata,
        reply_to=reply_to,
    )


def reply_target(message: Message) -> ReplyTarget:
    """Where a reply to a listened message goes: under the message itself (``parent``) and
    under its conversation's first post (``root``) when the network said which one it is
    (``extra["root_id"]`` with ``root_``-prefixed extras, Bluesky's ``root_cid``)."""
    extra = dict(message.extra or {})
    parent = PublishResult(
        message.network_id,
        message.url if message.url.startswith(("http://", "https://")) else "",
        message.published_at,
        extra={k: str(v) for k, v in extra.items() if not k.startswith("root_")},
    )
    root_id = str(extra.get("root_id") or "")
    if not root_id:
        return ReplyTarget(root=parent, parent=parent)
    root_extra = {
        k[5:]: str(v) for k, v in extra.items() if k.startswith("root_") and k != "root_id"
    }
    return ReplyTarget(root=PublishResult(root_id, extra=root_extra), parent=parent)


def publication_ref(publication: Publication) -> PublicationRef:
    return PublicationRef(
        publication_id=str(publication.pk),
        idempotency_key=publication.idempotency_key,
        network=publication.channel.network,
        external_id=publication.external_id,
        url=publication.external_url,
        variant_key=publication.variant.key if publication.variant_id else "",
        extra=first_part_extra(publication),
        thread=thread_results(publication),
    )


def first_part_extra(publication: Publication) -> dict[str, str]:
    first = ((publication.progress or {}).get("parts") or {}).get("0") or {}
    return dict(first.get("extra") or {})


def sent_text(post: Post | None) -> str:
    """The text a network received for ``post`` (the outcome's post: rendered, transformed),
    stored on the publication so the item page can show what went out even after the item is
    edited or its template changes. A thread's later parts follow the first, each under a
    "part n of N" line, so a marketer reads the thread in order."""
    if post is None:
        return ""
    count = 1 + len(post.thread)
    texts = [post.body.rstrip()]
    for number, part in enumerate(post.thread, start=2):
        texts.append(f"— part {number} of {count} —\n{part.body.rstrip()}")
    return "\n\n".join(texts)
