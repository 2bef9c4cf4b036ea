"""``ContentItem.first_published_at`` is always the first publication time of the item, whatever
writes the publications or the item (calendar_app.models.first_published): a delivery's
``UPDATE``, a model save, ``bulk_create``, a publication moved or deleted, a stale item saved.

Runs on SQLite and PostgreSQL (the triggers are written for each).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendar_app.models import ContentItem, ContentStatus, Publication
from calendar_app.models import first_published as triggers
from tests.factories import ChannelFactory, ContentItemFactory, PublicationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # the night the clocks change in Europe
times = st.one_of(
    st.none(), st.integers(min_value=0, max_value=72).map(lambda h: T0 + timedelta(hours=h))
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 1), times),
        st.tuples(st.just("bulk_create"), st.integers(0, 1), times),
        st.tuples(st.just("update"), st.integers(0, 7), times),
        st.tuples(st.just("save"), st.integers(0, 7), times),
        st.tuples(st.just("move"), st.integers(0, 7), st.integers(0, 1)),
        st.tuples(st.just("delete"), st.integers(0, 7), st.none()),
        st.tuples(st.just("save_stale_item"), st.integers(0, 1), st.none()),
    ),
    min_size=1,
    max_size=12,
)


def _truth(item: ContentItem) -> datetime | None:
    times = [p.published_at for p in item.publications.all() if p.published_at is not None]
    return min(times) if times else None


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations)
def test_first_published_at_follows_the_publications(steps):
    items = ContentItemFactory.create_batch(2, status=ContentStatus.PUBLISHED, scheduled_at=T0)
    stale = [ContentItem.objects.get(pk=item.pk) for item in items]  # loaded before any delivery
    for op, which, value in steps:
        publications = list(Publication.objects.filter(content_item__in=items).order_by("pk"))
        if op == "create":
            PublicationFactory(content_item=items[which], published_at=value)
        elif op == "bulk_create":
            item = items[which]
            channel = ChannelFactory(brand=item.brand, workspace=item.workspace)
            Publication.objects.bulk_create(
                [
                    Publication(
                        content_item=item,
                        workspace=item.workspace,
                        channel=channel,
                        due_at=T0,
                        next_attempt_at=T0,
                        published_at=value,
                    )
                ]
            )
        elif not publications and op != "save_stale_item":
            continue
        elif op == "update":  # as a delivery attempt writes it
            target = publications[which % len(publications)]
            Publication.objects.filter(pk=target.pk).update(published_at=value)
        elif op == "save":
            target = publications[which % len(publications)]
            target.published_at = value
            target.save()
        elif op == "move":
            target = publications[which % len(publications)]
            Publication.objects.filter(pk=target.pk).update(content_item=items[value])
        elif op == "delete":
            publications[which % len(publications)].delete()
        elif op == "save_stale_item":  # every column written, first_published_at as loaded
            stale[which].title = f"edited {len(steps)}"
            stale[which].save()
        for item in items:
            item.refresh_from_db()
            assert item.first_published_at == _truth(item), (op, which, value)


def test_backfill_and_migrate_leave_the_triggers_in_place():
    item = ContentItemFactory(status=ContentStatus.PUBLISHED, scheduled_at=T0)
    PublicationFactory(content_item=item, published_at=T0 + timedelta(hours=2))
    PublicationFactory(content_item=item, published_at=T0 + timedelta(hours=1))
    assert set(triggers.trigger_names()) <= triggers.installed(connection)
    # lost (e.g. a later migration rebuilt the table on SQLite), then a migrate: back again
    triggers.uninstall(connection)
    assert not triggers.installed(connection)
    ContentItem.objects.filter(pk=item.pk).update(first_published_at=None)
    call_command("migrate", verbosity=0)
    assert set(triggers.trigger_names()) <= triggers.installed(connection)
    with connection.cursor() as cursor:  # the repair the migration runs
        cursor.execute(triggers.RECOMPUTE_ALL)
    item.refresh_from_db()
    assert item.first_published_at == T0 + timedelta(hours=1)


def test_an_item_without_publications_has_none():
    item = ContentItemFactory()
    PublicationFactory(content_item=item)  # pending, not out yet
    item.refresh_from_db()
    assert item.first_published_at is None
