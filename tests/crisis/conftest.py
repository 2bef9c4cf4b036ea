"""Crisis tests run the real sandbox plugin, like the delivery tests, and a few helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calendar_app.models import ContentStatus, Publication, PublicationStatus, Role
from tests import factories as f
from tests.admin.conftest import login, staff_member  # noqa: F401 (fixtures)
from tests.delivery.conftest import fresh_policies, sandbox_dir  # noqa: F401 (fixtures)


def scheduled(brand, channel, *, due=None, event=None, status=PublicationStatus.PENDING, **item):
    """One scheduled item on ``channel`` with its publication (due in an hour by default)."""
    due = due or timezone.now() + timedelta(hours=1)
    content = f.ContentItemFactory(
        brand=brand,
        workspace=brand.workspace,
        channels=[channel],
        event=event,
        status=ContentStatus.SCHEDULED,
        scheduled_at=due,
        **item,
    )
    return f.PublicationFactory(
        content_item=content,
        channel=channel,
        workspace=brand.workspace,
        due_at=due,
        next_attempt_at=due,
        status=status,
    )


def statuses(*publications: Publication) -> list[str]:
    return [Publication.objects.get(pk=p.pk).status for p in publications]


@pytest.fixture
def approver(actor):
    return actor(Role.APPROVER)


@pytest.fixture
def channel(brand):
    return f.ChannelFactory(brand=brand, workspace=brand.workspace)


def many_scheduled(brand, channel, n: int, *, due=None) -> list[int]:
    """``n`` scheduled items with one publication each on ``channel``, in three bulk inserts
    (factories would take minutes for the 1,000-publication cases)."""
    from calendar_app.models import ContentItem

    due = due or timezone.now() + timedelta(hours=2)
    items = ContentItem.objects.bulk_create(
        [
            ContentItem(
                workspace=brand.workspace,
                brand=brand,
                title=f"Bulk {i}",
                body="Evergreen post",
                status=ContentStatus.SCHEDULED,
                scheduled_at=due,
            )
            for i in range(n)
        ]
    )
    if items and items[0].pk is None:  # a backend without RETURNING
        items = list(ContentItem.objects.filter(brand=brand, title__startswith="Bulk "))
    ContentItem.channels.through.objects.bulk_create(
        [ContentItem.channels.through(contentitem_id=i.pk, channel_id=channel.pk) for i in items]
    )
    Publication.objects.bulk_create(
        [
            Publication(
                workspace=brand.workspace,
                content_item=i,
                channel=channel,
                due_at=due,
                next_attempt_at=due,
            )
            for i in items
        ]
    )
    return [i.pk for i in items]
