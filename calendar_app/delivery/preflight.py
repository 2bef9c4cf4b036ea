"""Would this item go out on every channel it targets? Asked when a person submits, approves or
schedules it - not first at the due second, when nobody is there to fix the text.

For each target channel, the item's post is built as delivery will build it (placeholders, the
call to action of each variant, UTM tags, every cross-cutting transform) and validated by the
channel's network and the ``validate_post`` hooks. The answer names the channel and the field,
so a marketer knows which text to shorten for which network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from calendar_app.audiences.ledger import audience_problems
from calendar_app.delivery.posts import channel_context, item_media
from calendar_app.models import Channel, ChannelStatus, ContentItem, Variant
from calendar_app.plugins_runtime import get_plugins
from publishers import (
    CallToAction,
    Post,
    Problem,
    PublisherError,
    UnknownNetworkError,
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


def _ctas(item: ContentItem) -> list[tuple[str, CallToAction | None]]:
    """The calls to action the item can go out with: each variant's, else its own or the brand's."""
    if item.experiment_id:
        variants = Variant.objects.filter(experiment_id=item.experiment_id)
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
    text, url, button = item.cta_text, item.cta_url, item.cta_button
    if not (text or url):
        brand = item.brand
        text, url, button = brand.default_cta_text, brand.default_cta_url, brand.default_cta_button
    return [("", CallToAction(text, url, button) if text or url else None)]


def problems_for(item: ContentItem) -> list[ChannelProblem]:
    """Every reason the item would be refused by one of its connected target channels."""
    plugins = get_plugins()
    found: list[ChannelProblem] = []
    channels = item.channels.filter(status=ChannelStatus.CONNECTED).order_by("pk")
    for channel in channels:
        context = channel_context(channel)
        try:
            network = plugins.network(channel.network)
        except UnknownNetworkError as exc:
            found.append(ChannelProblem(channel, Problem(exc.code, str(exc), "channels")))
            continue
        try:
            media, thread = item_media(item)
        except ValidationError as exc:
            found.append(
                ChannelProblem(channel, Problem("unknown_media", exc.messages[0], "media"))
            )
            continue
        for variant, cta in _ctas(item):
            post = Post(
                body=item.body,
                links=tuple(item.links or ()),
                media=media,
                thread=thread,
                cta=cta,
                variant_key=variant,
                language=item.brand.language,
                brand_name=item.brand.name,
                brand_slug=item.brand.slug,
            )
            rendered = render_post(
                post,
                context,
                resolver=lambda name, post=post, context=context: plugins.resolve_placeholder(
                    name=name, post=post, channel=context
                ),
            )
            problems = list(rendered.problems)
            post = rendered.post
            try:
                for transform in plugins.transforms():
                    post = transform.apply(post, context)
                problems += plugins.validate(post, context, network)
            except PublisherError as exc:
                problems.append(Problem(exc.code, exc.reason, None))
            except Exception:  # a plugin's bug must not break a person's submit
                logger.exception("a plugin failed while checking item %s for %s", item.pk, channel)
                problems.append(
                    Problem("plugin_error", "A plugin failed while checking the post.", None)
                )
            found += [ChannelProblem(channel, p, variant) for p in problems]
        found += [ChannelProblem(channel, p) for p in audience_problems(channel, network)]
    return found
