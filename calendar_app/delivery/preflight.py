"""Would this item go out on every channel it targets, and as what? Asked when a person writes,
submits, approves or schedules it - not first at the due second, when nobody is there to fix it.

For each target channel (and each variant of its experiment), the item's post is built as
delivery will build it (placeholders, the call to action, UTM tags, every cross-cutting
transform), shown as the network will receive it (:meth:`publishers.Network.preview`: the exact
text, counted the network's way) and validated by the network and the ``validate_post`` hooks.
Problems name the channel and the field, so a marketer knows which text to shorten for which
network. A reactive template is previewed the same way, with the values typed in for a fire.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from calendar_app.audiences.ledger import audience_problems
from calendar_app.delivery.posts import channel_context, item_media
from calendar_app.models import Channel, ChannelStatus, ContentItem, ReactiveTemplate, Variant
from calendar_app.models.tracking import SHORT_CODE_BYTES
from calendar_app.plugins_runtime import get_plugins
from publishers import (
    CallToAction,
    Post,
    PostPreview,
    Problem,
    PublisherError,
    UnknownNetworkError,
    fill,
    render_post,
)

logger = logging.getLogger("kairos.delivery")


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    channel: Channel
    problem: Problem
    variant: str = ""

    def sentence(self) -> str:
        where = f"{self.channel.handle} ({self.channel.network})"
        if self.variant:
            where += f", variant {self.variant}"
        return f"On {where}: {self.problem.message}"


#: Stands for a tracked link's code, which exists only once the publication does: same length,
#: so lengths are counted right.
SAMPLE_CODE = "x" * math.ceil(SHORT_CODE_BYTES * 4 / 3)


def _tracked(cta: CallToAction | None) -> CallToAction | None:
    """``cta`` with its link as delivery will show it: a tracked short link when tracking is on."""
    base = settings.KAIROS_TRACKING_BASE_URL
    if cta is None or not cta.url or not base:
        return cta
    return CallToAction(cta.text, f"{base.rstrip('/')}/r/{SAMPLE_CODE}", cta.button_label)


def _ctas(
    source: ContentItem | ReactiveTemplate, experiment_id: int | None
) -> list[tuple[str, CallToAction | None]]:
    """The calls to action ``source`` can go out with: each variant's, else its own or the
    brand's default (unless it says it takes none)."""
    if experiment_id:
        variants = Variant.objects.filter(experiment_id=experiment_id)
        offers = [
            (
                v.key,
                CallToAction(v.cta_text, v.cta_url, v.cta_button)
                if v.cta_text or v.cta_url
                else None,
            )
            for v in variants
        ]
        if offers:
            return offers
    text, url, button = source.cta_text, source.cta_url, source.cta_button
    if not (text or url) and not source.without_cta:
        brand = source.brand
        text, url, button = brand.default_cta_text, brand.default_cta_url, brand.default_cta_button
    return [("", CallToAction(text, url, button) if text or url else None)]


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    """What one channel will receive for one variant: each part of the thread as the network
    shows it, and every problem that would stop it."""

    channel: Channel
    variant: str
    parts: tuple[PostPreview, ...]
    problems: tuple[Problem, ...]
    tracked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel.pk,
            "network": self.channel.network,
            "handle": self.channel.handle,
            "variant": self.variant,
            "ok": self.ok,
            "tracked_link": self.tracked,
            "parts": [part.to_dict() for part in self.parts],
            "problems": [
                {"code": p.code, "message": p.message, "field": p.field} for p in self.problems
            ],
        }


@dataclass(frozen=True, slots=True)
class _Source:
    """What a preview is built from: an item, or a template with the values of a fire."""

    body: str
    links: tuple[str, ...]
    ctas: list[tuple[str, CallToAction | None]]
    brand: Any
    load_media: Any
    values: Mapping[str, object] | None = None


def _preview(plugins: Any, channel: Channel, source: _Source) -> list[ChannelPreview]:
    context = channel_context(channel)
    try:
        network = plugins.network(channel.network)
    except UnknownNetworkError as exc:
        return [ChannelPreview(channel, "", (), (Problem(exc.code, str(exc), "channels"),))]
    try:
        media, thread = source.load_media()
    except ValidationError as exc:
        return [
            ChannelPreview(channel, "", (), (Problem("unknown_media", exc.messages[0], "media"),))
        ]
    found = []
    for variant, cta in source.ctas:
        shown = _tracked(cta)
        post = Post(
            body=source.body,
            links=source.links,
            media=media,
            thread=thread,
            cta=shown,
            variant_key=variant,
            language=source.brand.language,
            brand_name=source.brand.name,
            brand_slug=source.brand.slug,
        )
        rendered = render_post(
            post,
            context,
            values=source.values,
            resolver=lambda name, post=post, context=context: plugins.resolve_placeholder(
                name=name, post=post, channel=context
            ),
        )
        problems = list(rendered.problems)
        post = rendered.post
        parts: tuple[PostPreview, ...] = ()
        try:
            for transform in plugins.transforms():
                post = transform.apply(post, context)
            problems += plugins.validate(post, context, network)
            parts = tuple(network.preview(part, context) for part in post.parts())
        except PublisherError as exc:
            problems.append(Problem(exc.code, exc.reason, None))
        except Exception:  # a plugin's bug must not break a person's preview or submit
            logger.exception("a plugin failed while previewing for %s", channel)
            problems.append(
                Problem("plugin_error", "A plugin failed while checking the post.", None)
            )
        tracked = shown is not None and cta is not None and shown.url != cta.url
        found.append(ChannelPreview(channel, variant, parts, tuple(problems), tracked))
    found += [
        ChannelPreview(channel, "", (), (problem,))
        for problem in audience_problems(channel, network)
    ]
    return found


def previews_for(item: ContentItem) -> list[ChannelPreview]:
    """The item on each of its connected target channels, per variant, as it will go out."""
    plugins = get_plugins()
    source = _Source(
        body=item.body,
        links=tuple(item.links or ()),
        ctas=_ctas(item, item.experiment_id),
        brand=item.brand,
        load_media=lambda: item_media(item),
    )
    channels = item.channels.filter(status=ChannelStatus.CONNECTED).order_by("pk")
    return [found for channel in channels for found in _preview(plugins, channel, source)]


def template_previews(
    template: ReactiveTemplate,
    values: Mapping[str, object] | None = None,
    channels: list[Channel] | None = None,
) -> list[ChannelPreview]:
    """What firing ``template`` with ``values`` would post on each channel, before the click.

    Placeholders without a value are reported as problems (``missing_value``), so the same call
    shows an approver the template's words and a person firing it what is still to type.
    """
    plugins = get_plugins()
    values = values or {}
    links = tuple(fill(link, values)[0] for link in template.links or ())
    source = _Source(
        body=template.body,
        links=links,
        ctas=_ctas(template, template.experiment_id),
        brand=template.brand,
        load_media=lambda: ((), ()),
        values=values,
    )
    if channels is None:
        channels = list(template.channels.filter(status=ChannelStatus.CONNECTED).order_by("pk"))
    return [found for channel in channels for found in _preview(plugins, channel, source)]


def problems_for(item: ContentItem) -> list[ChannelProblem]:
    """Every reason the item would be refused by one of its connected target channels."""
    return [
        ChannelProblem(preview.channel, problem, preview.variant)
        for preview in previews_for(item)
        for problem in preview.problems
    ]
