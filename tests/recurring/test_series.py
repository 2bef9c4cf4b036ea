"""Recurring content: bounded rules, one item per occurrence with its own state, EXDATE, edit
one or all, stop; the evergreen queue with a minimum gap."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calendar_app import workflow
from calendar_app.models import ContentItem, ContentStatus, EvergreenItem, Role
from calendar_app.recurring import services
from tests import factories as f
from tests.api.conftest import token_client

START = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # Monday 09:00 in Paris


@pytest.fixture
def admin(actor):
    return actor(Role.ADMIN)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("FREQ=WEEKLY", "rrule"),  # never ends
        ("FREQ=DAILY;COUNT=401", "rrule"),  # more than 400 posts
        ("FREQ=HOURLY;COUNT=3", "rrule"),
        ("FREQ=WEEKLY;COUNT=0", "rrule"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2", "rrule"),
        ("FREQ=DAILY;UNTIL=29990101T000000Z", "rrule"),
    ],
)
def test_runaway_or_broken_rules_are_refused(rule, field):
    planned = services.plan(rule, START, "Europe/Paris")
    assert field in planned.problems, planned


def test_exdates_skip_and_wall_clock_time_holds_across_dst():
    planned = services.plan(
        "FREQ=WEEKLY;COUNT=14", START, "Europe/Paris", exdates=["2030-01-14T09:00"]
    )
    assert len(planned.instants) == 13
    assert START + timedelta(weeks=1) not in planned.instants
    # After 31 March 2030 Paris is UTC+2: 09:00 is 07:00 UTC.
    assert planned.instants[-1] == datetime(2030, 4, 8, 7, 0, tzinfo=UTC)


def test_each_occurrence_is_its_own_scheduled_item_and_edit_all_spares_edited_ones(brand, admin):
    source = f.approved_item(brand, admin, title="Monday tip")
    series = services.create_series(
        source, admin, rrule="FREQ=WEEKLY;COUNT=3", starts_at=START, exdates=[]
    )
    occurrences = list(series.occurrences.select_related("content_item"))
    assert [o.occurs_at for o in occurrences] == [START + timedelta(weeks=n) for n in range(3)]
    for occurrence in occurrences:
        item = occurrence.content_item
        assert item.status == ContentStatus.SCHEDULED
        assert item.publications.get().due_at == occurrence.occurs_at
        assert "Covered by the approval" in item.approvals.get().note
    one = occurrences[1].content_item
    workflow.edit(one, admin, {"body": "Just this Monday."})
    changed = services.edit_all(series, admin, {"body": "Every Monday, new words."})
    assert sorted(changed) == sorted(
        [occurrences[0].content_item_id, occurrences[2].content_item_id]
    )
    one.refresh_from_db()
    assert one.body == "Just this Monday."
    first = ContentItem.objects.get(pk=occurrences[0].content_item_id)
    assert first.body == "Every Monday, new words."
    assert first.status == ContentStatus.IN_REVIEW  # new words need a new approval
    assert services.stop_series(series, admin) == 3
    assert not ContentItem.objects.filter(
        pk__in=[o.content_item_id for o in occurrences], status=ContentStatus.SCHEDULED
    ).exists()


def test_a_draft_cannot_repeat(brand, admin):
    with pytest.raises(services.SeriesError) as refused:
        services.create_series(
            f.ContentItemFactory(brand=brand),
            admin,
            rrule="FREQ=DAILY;COUNT=2",
            starts_at=START,
            exdates=[],
        )
    assert refused.value.field == "source"


def test_evergreen_repeats_keep_their_minimum_gap(brand, admin):
    channel = f.ChannelFactory(brand=brand)
    for day in range(7):
        f.PostingSlotFactory(brand=brand, weekday=day, local_time=time(12, 0))
    source = f.approved_item(brand, admin, channels=[channel], title="Our story")
    EvergreenItem.objects.create(
        workspace=brand.workspace, content_item=source, min_gap=timedelta(days=10)
    )
    first = services.refill_evergreen(brand, admin, horizon=timedelta(days=30))
    assert len(first) == 1  # one repeat planned; the next waits for the gap
    again = services.refill_evergreen(brand, admin, horizon=timedelta(days=30))
    assert len(again) == 1
    assert again[0][1] - first[0][1] >= timedelta(days=10)
    repeat = ContentItem.objects.get(pk=first[0][0])
    assert repeat.status == ContentStatus.SCHEDULED and repeat.body == source.body
    assert repeat.scheduled_at > timezone.now()


def test_series_api_create_read_edit_all_and_stop(workspace, brand, admin):
    client = token_client(workspace, Role.EDITOR)
    source = f.approved_item(brand, admin)
    base = reverse("api:content-series-list", kwargs={"workspace_slug": workspace.slug})
    bad = client.post(
        base,
        {"source": source.pk, "rrule": "FREQ=WEEKLY", "starts_at": "2030-01-07T09:00:00"},
        format="json",
    )
    assert bad.status_code == 400 and "rrule" in bad.json()["fields"]
    gap = client.post(
        base,
        {"source": source.pk, "rrule": "FREQ=DAILY;COUNT=2", "starts_at": "2030-03-31T02:30:00"},
        format="json",
    )
    assert gap.status_code == 400 and "starts_at" in gap.json()["fields"]
    created = client.post(
        base,
        {"source": source.pk, "rrule": "FREQ=WEEKLY;COUNT=2", "starts_at": "2030-01-07T09:00:00"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert [o["occurs_at"] for o in created.json()["occurrences"]] == [
        "2030-01-07T08:00:00Z",
        "2030-01-14T08:00:00Z",
    ]
    detail = reverse(
        "api:content-series-detail",
        kwargs={"workspace_slug": workspace.slug, "pk": created.json()["id"]},
    )
    edited = client.post(detail + "edit-all/", {"title": "New title"}, format="json")
    assert edited.status_code == 200 and len(edited.json()["changed"]) == 2
    stopped = client.delete(detail)
    assert stopped.status_code == 200 and stopped.json()["cancelled"] == 2
