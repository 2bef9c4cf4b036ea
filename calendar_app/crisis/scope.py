"""What a playbook covers: publications (for the hold), templates (for firing) and items (for
approval). One set of rules, so what is held and what is refused can never disagree.

A playbook's scope is its workspace, narrowed by each condition it sets: a brand, some channels,
a tag (a theme of the item's or template's event, compared without case). Conditions combine
with "and"; a playbook that sets none covers the whole workspace.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from calendar_app.crisis.models import Playbook
from calendar_app.models import ContentItem, Event, Publication, PublicationStatus, ReactiveTemplate


def has_tag(themes: object, tag: str) -> bool:
    wanted = tag.strip().casefold()
    return isinstance(themes, list) and any(
        isinstance(t, str) and t.strip().casefold() == wanted for t in themes
    )


def tagged_event_ids(playbook: Playbook) -> list[int]:
    """Events with the playbook's tag among those the workspace's open publications point at
    (one query: JSON "contains" is not portable, so the themes are compared here)."""
    rows = (
        Event.objects.filter(
            content_items__workspace_id=playbook.workspace_id,
            content_items__publications__status__in=PublicationStatus.open_states(),
        )
        .distinct()
        .values_list("pk", "themes")
    )
    return [pk for pk, themes in rows if has_tag(themes, playbook.tag)]


def publication_filter(playbook: Playbook, channel_ids: Iterable[int] | None = None) -> Q:
    """The ``Publication`` filter for everything the playbook covers, whatever the status."""
    condition = Q(workspace_id=playbook.workspace_id)
    if playbook.brand_id:
        condition &= Q(content_item__brand_id=playbook.brand_id)
    channels = (
        list(channel_ids)
        if channel_ids is not None
        else list(playbook.channels.values_list("pk", flat=True))
    )
    if channels:
        condition &= Q(channel_id__in=channels)
    if playbook.tag:
        condition &= Q(content_item__event_id__in=tagged_event_ids(playbook))
    return condition


def _channels_meet(playbook_channels: set[int], channels: Iterable[int]) -> bool:
    return not playbook_channels or bool(playbook_channels & set(channels))


def covers_template(playbook: Playbook, template: ReactiveTemplate) -> bool:
    """Would firing ``template`` post into this playbook's scope?"""
    if playbook.workspace_id != template.workspace_id:
        return False
    if playbook.brand_id and playbook.brand_id != template.brand_id:
        return False
    own = {c.pk for c in playbook.channels.all()}
    if not _channels_meet(own, template.channels.values_list("pk", flat=True)):
        return False
    if playbook.tag:
        return template.event_id is not None and has_tag(template.event.themes, playbook.tag)
    return True


def covers_item(playbook: Playbook, item: ContentItem) -> bool:
    """Does the playbook cover (some of) ``item``'s posts?"""
    if playbook.workspace_id != item.workspace_id:
        return False
    if playbook.brand_id and playbook.brand_id != item.brand_id:
        return False
    own = {c.pk for c in playbook.channels.all()}
    if not _channels_meet(own, item.channels.values_list("pk", flat=True)):
        return False
    if playbook.tag:
        return item.event_id is not None and has_tag(item.event.themes, playbook.tag)
    return True


def covers_publication(playbook: Playbook, publication: Publication, item: ContentItem) -> bool:
    if playbook.brand_id and playbook.brand_id != item.brand_id:
        return False
    own = {c.pk for c in playbook.channels.all()}
    if own and publication.channel_id not in own:
        return False
    if playbook.tag:
        return item.event_id is not None and has_tag(item.event.themes, playbook.tag)
    return playbook.workspace_id == item.workspace_id
